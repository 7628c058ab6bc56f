// y = (x - mean[c]) * invstd[c] * weight[c] + bias[c], elementwise. Training
// passes the batch's saved mean and invstd; eval (EVAL) the running mean and
// running variance, whose invstd is taken here. Writes (=) y.
#version 450
#include "batch_norm2d_common.glsl"

layout(constant_id = 3) const bool EVAL = false;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };         // (N, C, H, W)
layout(std430, set = 0, binding = 1) readonly buffer Mean { float mean[]; };   // (C)
layout(std430, set = 0, binding = 2) readonly buffer Stat { float stat[]; };   // (C) invstd, or running_var if EVAL
layout(std430, set = 0, binding = 3) readonly buffer Weight { float weight[]; }; // (C)
layout(std430, set = 0, binding = 4) readonly buffer Bias { float bias[]; };   // (C)
layout(std430, set = 0, binding = 5) writeonly buffer Y { float y[]; };        // (N, C, H, W)

void main() {
    FOR_EACH_ELEMENT(i, pc.m * pc.c) {
        const uint c = channel_of(i);
        const float invstd = EVAL ? 1.0 / sqrt(stat[c] + pc.eps) : stat[c];
        y[i] = (x[i] - mean[c]) * invstd * weight[c] + bias[c];
    }
}
