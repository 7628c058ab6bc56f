// Second stage of the chunked training statistics, one workgroup per channel:
// mean = sum(n_p mean_p) / m, then m2 = sum(m2_p + n_p (mean_p - mean)^2)
// (the parallel-variance identity, deviations taken from the final mean), each
// a fixed-order tree over the chunks. Writes (=) save_mean, save_invstd;
// updates running_mean / running_var in place.
#version 450
#define BATCH_NORM2D_STATS_OUTPUTS
#include "batch_norm2d_common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Partials { float partials[]; }; // (C, chunks, 2)

void main() {
    const uint t = gl_LocalInvocationID.x;
    for (uint c = gl_WorkGroupID.x; c < pc.c; c += gl_NumWorkGroups.x) {
        const uint base = c * pc.chunks * 2u;
        float s = 0.0;
        for (uint p = t; p < pc.chunks; p += gl_WorkGroupSize.x) {
            const uvec2 r = chunk_range(p);
            s += float(r.y - r.x) * partials[base + p * 2u];
        }
        const float mean = workgroup_sum(s) / float(pc.m);
        float q = 0.0;
        for (uint p = t; p < pc.chunks; p += gl_WorkGroupSize.x) {
            const uvec2 r = chunk_range(p);
            const float d = partials[base + p * 2u] - mean;
            q += partials[base + p * 2u + 1u] + float(r.y - r.x) * d * d;
        }
        const float m2 = workgroup_sum(q);
        if (t == 0u) store_statistics(c, mean, m2);
    }
}
