// y += x, elementwise: sums a second gradient into an existing one (a value
// used twice). Accumulates (+=) into y; each element is read and written by
// one invocation only, so no atomics are needed.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; }; // (n)
layout(std430, set = 0, binding = 1) buffer Y { float y[]; };          // (n) read and written
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) y[i] = y[i] + x[i];
}
