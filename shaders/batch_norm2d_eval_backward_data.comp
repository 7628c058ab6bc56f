// Eval backward, dx elementwise: the running statistics are constants, so
// dx = dy * weight * invstd with invstd = 1 / sqrt(running_var + eps), taken
// here (as the eval forward does) so dx waits on no other kernel. Writes (=) dx.
#version 450
#include "batch_norm2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };                  // (N, C, H, W)
layout(std430, set = 0, binding = 1) readonly buffer RunningVar { float running_var[]; }; // (C)
layout(std430, set = 0, binding = 2) readonly buffer Weight { float weight[]; };          // (C)
layout(std430, set = 0, binding = 3) writeonly buffer DX { float dx[]; };                 // (N, C, H, W)

void main() {
    FOR_EACH_ELEMENT(i, pc.m * pc.c) {
        const uint c = channel_of(i);
        dx[i] = dy[i] * (weight[c] * (1.0 / sqrt(running_var[c] + pc.eps)));
    }
}
