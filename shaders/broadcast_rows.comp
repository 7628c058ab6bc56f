// y[r, c] = x[r] * scale for a (rows, cols) y: the gradient of a per-row (or
// whole-tensor, rows = 1) sum or mean. Writes (=) y.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (rows)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (rows, cols)
layout(push_constant) uniform Push { uint n; uint cols; float scale; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) y[i] = x[i / pc.cols] * pc.scale;
}
