// dx = norm * (x - target) * dloss, norm = 2 / n (PyTorch's order). Writes (=)
// dx. `precise` forbids FMA contraction, so the bits match the CPU backend.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };          // (n)
layout(std430, set = 0, binding = 1) readonly buffer T { float target[]; };     // (n)
layout(std430, set = 0, binding = 2) readonly buffer DLoss { float dloss[]; };  // (1) upstream gradient
layout(std430, set = 0, binding = 3) writeonly buffer DX { float dx[]; };       // (n)
layout(push_constant) uniform Push { uint n; float norm; } pc;

void main() {
    const float g = dloss[0];
    FOR_EACH_ELEMENT(i, pc.n) {
        precise float v = pc.norm * (x[i] - target[i]) * g;
        dx[i] = v;
    }
}
