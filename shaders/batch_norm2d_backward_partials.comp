// First stage of the chunked gradient sums: workgroup (p, c) writes (=)
// partials[c][p] = (sum(dy), sum(dy * (x - mean))) over chunk p of channel c.
#version 450
#include "batch_norm2d_common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };                // (N, C, H, W)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };              // (N, C, H, W)
layout(std430, set = 0, binding = 2) readonly buffer SaveMean { float save_mean[]; };  // (C)
layout(std430, set = 0, binding = 3) writeonly buffer Partials { float partials[]; }; // (C, chunks, 2)

void main() {
    const uint t = gl_LocalInvocationID.x, p = gl_WorkGroupID.x;
    const uvec2 r = chunk_range(p);
    for (uint c = gl_WorkGroupID.y; c < pc.c; c += gl_NumWorkGroups.y) {
        const float mean = save_mean[c];
        float g = 0.0, gx = 0.0;
        for (uint j = r.x + t; j < r.y; j += gl_WorkGroupSize.x) {
            const uint i = channel_element(c, j);
            g += dy[i];
            gx += dy[i] * (x[i] - mean);
        }
        const float sum_dy = workgroup_sum(g);
        const float sum_dy_xc = workgroup_sum(gx);
        if (t == 0u) {
            partials[(c * pc.chunks + p) * 2u] = sum_dy;
            partials[(c * pc.chunks + p) * 2u + 1u] = sum_dy_xc;
        }
    }
}
