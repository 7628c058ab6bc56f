// y = x > 0 ? x : x * slope (torch.nn.functional.leaky_relu), elementwise. Writes (=) y.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (n)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (n)
layout(push_constant) uniform Push { uint n; float slope; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) {
        float v = x[i];
        y[i] = v > 0.0 ? v : v * pc.slope; // NaN takes the second branch and stays NaN
    }
}
