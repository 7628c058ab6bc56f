// dx = dy - exp(y) * sum(dy) over each row of (rows, cols), from the saved
// log_softmax output y. One workgroup per row. Writes (=) dx.
#version 450
#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Y { float y[]; };    // (rows, cols)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };  // (rows, cols)
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; }; // (rows, cols)
layout(push_constant) uniform Push { uint rows; uint cols; } pc;

void main() {
    const uint t = gl_LocalInvocationID.x, step = gl_WorkGroupSize.x;
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        const uint base = row * pc.cols;
        float s = 0.0;
        for (uint j = t; j < pc.cols; j += step) s += dy[base + j];
        s = workgroup_sum(s);
        for (uint j = t; j < pc.cols; j += step) dx[base + j] = dy[base + j] - exp(y[base + j]) * s;
    }
}
