// y = x - max - log(sum(exp(x - max))) over each row of (rows, cols): one
// workgroup per row, fixed-order tree reductions. Writes (=) y.
#version 450
#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (rows, cols)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (rows, cols)
layout(push_constant) uniform Push { uint rows; uint cols; } pc;

void main() {
    const uint t = gl_LocalInvocationID.x, step = gl_WorkGroupSize.x;
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        const uint base = row * pc.cols;
        float m = x[base];
        for (uint j = t; j < pc.cols; j += step) m = nan_max(m, x[base + j]);
        m = workgroup_max(m);
        float s = 0.0;
        for (uint j = t; j < pc.cols; j += step) s += exp(x[base + j] - m);
        const float log_s = log(workgroup_sum(s));
        for (uint j = t; j < pc.cols; j += step) y[base + j] = x[base + j] - m - log_s;
    }
}
