// dx = x > 0 ? dy : dy * slope (PyTorch's leaky_relu_backward, from the input). Writes (=) dx.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };    // (n) forward input
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };  // (n)
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; }; // (n)
layout(push_constant) uniform Push { uint n; float slope; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) dx[i] = x[i] > 0.0 ? dy[i] : dy[i] * pc.slope;
}
