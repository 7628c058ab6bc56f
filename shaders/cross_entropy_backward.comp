// dlogits = dloss / rows * (softmax(x) - q), q_j = (1 - eps) [j == target] +
// eps / cols, per row of (rows, cols): one workgroup per row. Writes (=)
// dlogits. A target outside [0, cols) gives a NaN row.
#version 450
#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };           // (rows, cols) logits
layout(std430, set = 0, binding = 1) readonly buffer Targets { int targets[]; }; // (rows)
layout(std430, set = 0, binding = 2) readonly buffer DLoss { float dloss[]; };   // (1) upstream gradient
layout(std430, set = 0, binding = 3) writeonly buffer DX { float dx[]; };        // (rows, cols)
layout(push_constant) uniform Push { uint rows; uint cols; float label_smoothing; } pc;

void main() {
    const uint t = gl_LocalInvocationID.x, step = gl_WorkGroupSize.x;
    const float eps = pc.label_smoothing;
    const float scale = dloss[0] / float(pc.rows);
    const float off = eps / float(pc.cols), on = (1.0 - eps) + off;
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        const uint base = row * pc.cols;
        float m = x[base];
        for (uint j = t; j < pc.cols; j += step) m = nan_max(m, x[base + j]);
        m = workgroup_max(m);
        float s = 0.0;
        for (uint j = t; j < pc.cols; j += step) s += exp(x[base + j] - m);
        const float inv = 1.0 / workgroup_sum(s);
        const int target = targets[row];
        const bool valid = target >= 0 && uint(target) < pc.cols;
        for (uint j = t; j < pc.cols; j += step) {
            const float q = int(j) == target ? on : off;
            dx[base + j] = valid ? scale * (exp(x[base + j] - m) * inv - q) : uintBitsToFloat(0x7fc00000u);
        }
    }
}
