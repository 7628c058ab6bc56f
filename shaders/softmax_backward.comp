// dx = y * (dy - sum(dy * y)) over each row of (rows, cols), from the saved
// softmax output y. One workgroup per row. Writes (=) dx.
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
        float dot = 0.0;
        for (uint j = t; j < pc.cols; j += step) dot += dy[base + j] * y[base + j];
        dot = workgroup_sum(dot);
        for (uint j = t; j < pc.cols; j += step) dx[base + j] = y[base + j] * (dy[base + j] - dot);
    }
}
