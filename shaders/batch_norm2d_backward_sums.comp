// Training backward, gradient sums, one workgroup per channel (grid-stride
// beyond the grid), fixed-order trees: dbias = sum(dy), dweight =
// sum(dy * (x - mean)) * invstd. Writes (=) dweight, dbias.
#version 450
#include "batch_norm2d_common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };                   // (N, C, H, W)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };                 // (N, C, H, W)
layout(std430, set = 0, binding = 2) readonly buffer SaveMean { float save_mean[]; };     // (C)
layout(std430, set = 0, binding = 3) readonly buffer SaveInvstd { float save_invstd[]; }; // (C)
layout(std430, set = 0, binding = 4) writeonly buffer DWeight { float dweight[]; };       // (C)
layout(std430, set = 0, binding = 5) writeonly buffer DBias { float dbias[]; };           // (C)

void main() {
    const uint t = gl_LocalInvocationID.x;
    for (uint c = gl_WorkGroupID.x; c < pc.c; c += gl_NumWorkGroups.x) {
        const float mean = save_mean[c];
        float g = 0.0, gx = 0.0;
        for (uint j = t; j < pc.m; j += gl_WorkGroupSize.x) {
            const uint i = channel_element(c, j);
            g += dy[i];
            gx += dy[i] * (x[i] - mean);
        }
        const float sum_dy = workgroup_sum(g);
        const float sum_dy_xc = workgroup_sum(gx);
        if (t == 0u) {
            dbias[c] = sum_dy;
            dweight[c] = sum_dy_xc * save_invstd[c];
        }
    }
}
