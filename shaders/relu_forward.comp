// y = max(x, 0), elementwise. Writes (=) y.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (n)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (n)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    // Not max(): its NaN behaviour is undefined in GLSL, and PyTorch propagates NaN.
    FOR_EACH_ELEMENT(i, pc.n) y[i] = x[i] < 0.0 ? 0.0 : x[i];
}
