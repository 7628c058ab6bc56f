// y = a + b, same-shape elementwise. Writes (=) y.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };  // (n)
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };  // (n)
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; }; // (n)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) y[i] = a[i] + b[i];
}
