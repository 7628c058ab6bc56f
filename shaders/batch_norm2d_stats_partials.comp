// First stage of the chunked training statistics: workgroup (p, c) writes (=)
// partials[c][p] = (mean, sum of squared deviations from that mean) of chunk
// p of channel c, two-pass within the chunk. An empty chunk writes (0, 0).
#version 450
#include "batch_norm2d_common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };                // (N, C, H, W)
layout(std430, set = 0, binding = 1) writeonly buffer Partials { float partials[]; }; // (C, chunks, 2)

void main() {
    const uint t = gl_LocalInvocationID.x, p = gl_WorkGroupID.x;
    const uvec2 r = chunk_range(p);
    const float count = float(r.y - r.x);
    for (uint c = gl_WorkGroupID.y; c < pc.c; c += gl_NumWorkGroups.y) {
        float s = 0.0;
        for (uint j = r.x + t; j < r.y; j += gl_WorkGroupSize.x) s += x[channel_element(c, j)];
        const float total = workgroup_sum(s);
        const float mean = count > 0.0 ? total / count : 0.0;
        float q = 0.0;
        for (uint j = r.x + t; j < r.y; j += gl_WorkGroupSize.x) {
            const float d = x[channel_element(c, j)] - mean;
            q += d * d;
        }
        const float m2 = workgroup_sum(q);
        if (t == 0u) {
            partials[(c * pc.chunks + p) * 2u] = mean;
            partials[(c * pc.chunks + p) * 2u + 1u] = m2;
        }
    }
}
