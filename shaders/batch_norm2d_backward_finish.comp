// Second stage of the chunked gradient sums, one workgroup per channel: the
// chunks' sums added in a fixed-order tree. Writes (=) dbias = sum(dy),
// dweight = sum(dy * (x - mean)) * invstd.
#version 450
#include "batch_norm2d_common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Partials { float partials[]; };     // (C, chunks, 2)
layout(std430, set = 0, binding = 1) readonly buffer SaveInvstd { float save_invstd[]; }; // (C)
layout(std430, set = 0, binding = 2) writeonly buffer DWeight { float dweight[]; };       // (C)
layout(std430, set = 0, binding = 3) writeonly buffer DBias { float dbias[]; };           // (C)

void main() {
    const uint t = gl_LocalInvocationID.x;
    for (uint c = gl_WorkGroupID.x; c < pc.c; c += gl_NumWorkGroups.x) {
        const uint base = c * pc.chunks * 2u;
        float g = 0.0, gx = 0.0;
        for (uint p = t; p < pc.chunks; p += gl_WorkGroupSize.x) {
            g += partials[base + p * 2u];
            gx += partials[base + p * 2u + 1u];
        }
        const float sum_dy = workgroup_sum(g);
        const float sum_dy_xc = workgroup_sum(gx);
        if (t == 0u) {
            dbias[c] = sum_dy;
            dweight[c] = sum_dy_xc * save_invstd[c];
        }
    }
}
