// Per-row cross-entropy with fused log_softmax and label smoothing (formula in
// src/ops/cross_entropy.h): one workgroup per row, fixed-order trees. Writes
// (=) row_loss; the mean is a second, fixed-order pass (reduce_*.comp).
// A target outside [0, cols) gives a NaN row loss (shaders cannot throw).
#version 450
#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };            // (rows, cols) logits
layout(std430, set = 0, binding = 1) readonly buffer Targets { int targets[]; };  // (rows) class indices
layout(std430, set = 0, binding = 2) writeonly buffer Loss { float row_loss[]; }; // (rows)
layout(push_constant) uniform Push { uint rows; uint cols; float label_smoothing; } pc;

void main() {
    const uint t = gl_LocalInvocationID.x, step = gl_WorkGroupSize.x;
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        const uint base = row * pc.cols;
        float m = x[base];
        for (uint j = t; j < pc.cols; j += step) m = nan_max(m, x[base + j]);
        m = workgroup_max(m);
        float s = 0.0, sx = 0.0;
        for (uint j = t; j < pc.cols; j += step) {
            s += exp(x[base + j] - m);
            sx += x[base + j] - m;
        }
        s = workgroup_sum(s);
        sx = workgroup_sum(sx);
        if (t == 0u) {
            const int target = targets[row];
            const float eps = pc.label_smoothing;
            // Relative to the max (lse - x_t = log(s) - (x_t - max)): forming lse = max + log(s)
            // first would round away the low bits when the logits are large.
            const float log_s = log(s);
            if (target < 0 || uint(target) >= pc.cols) {
                row_loss[row] = uintBitsToFloat(0x7fc00000u); // NaN
            } else {
                const float nll = log_s - (x[base + uint(target)] - m);
                const float smoothed = log_s - sx / float(pc.cols);
                row_loss[row] = (1.0 - eps) * nll + eps * smoothed;
            }
        }
    }
}
