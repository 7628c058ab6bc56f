// dx = dy * (1 - y) * y from the saved output y, in PyTorch's order. Writes (=) dx.
// `precise` forbids fusing into FMAs, so the bits match the CPU backend.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Y { float y[]; };    // (n) forward output
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };  // (n)
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; }; // (n)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) {
        precise float g = dy[i] * (1.0 - y[i]) * y[i];
        dx[i] = g;
    }
}
