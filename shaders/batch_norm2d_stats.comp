// Training statistics, one workgroup per channel (grid-stride beyond the
// grid): the mean first, then the sum of squared deviations from it, each a
// fixed-order tree, so a large common offset does not cancel. Writes (=)
// save_mean, save_invstd; updates running_mean / running_var in place.
#version 450
#define BATCH_NORM2D_STATS_OUTPUTS
#include "batch_norm2d_common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; }; // (N, C, H, W)

void main() {
    const uint t = gl_LocalInvocationID.x;
    for (uint c = gl_WorkGroupID.x; c < pc.c; c += gl_NumWorkGroups.x) {
        float s = 0.0;
        for (uint j = t; j < pc.m; j += gl_WorkGroupSize.x) s += x[channel_element(c, j)];
        const float mean = workgroup_sum(s) / float(pc.m);
        float q = 0.0;
        for (uint j = t; j < pc.m; j += gl_WorkGroupSize.x) {
            const float d = x[channel_element(c, j)] - mean;
            q += d * d;
        }
        const float m2 = workgroup_sum(q);
        if (t == 0u) store_statistics(c, mean, m2);
    }
}
