// y = 1 / (1 + exp(-x)), elementwise. Writes (=) y. exp overflows to +inf for
// x < -88, and 1 / inf = 0, the right limit; no clamp needed.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (n)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (n)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) y[i] = 1.0 / (1.0 + exp(-x[i]));
}
