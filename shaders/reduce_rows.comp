// Per-row sum or mean of a (rows, cols) matrix: one workgroup per row
// (grid-stride over rows), a fixed-order tree. Writes (=) y.
#version 450
#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (rows, cols)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (rows)
layout(push_constant) uniform Push { uint rows; uint cols; uint mean; } pc;

void main() {
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        float s = 0.0;
        for (uint j = gl_LocalInvocationID.x; j < pc.cols; j += gl_WorkGroupSize.x) s += x[row * pc.cols + j];
        s = workgroup_sum(s);
        if (gl_LocalInvocationID.x == 0u) y[row] = pc.mean != 0u ? s / float(pc.cols) : s;
    }
}
