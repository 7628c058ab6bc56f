// Eval backward: invstd = 1 / sqrt(running_var + eps) per channel, for the
// gradient sums (batch_norm2d_backward_sums / _finish), which read an invstd
// as the training backward's saved one. Writes (=) invstd.
#version 450
#include "batch_norm2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer RunningVar { float running_var[]; }; // (C)
layout(std430, set = 0, binding = 1) writeonly buffer Invstd { float invstd[]; };         // (C)

void main() {
    FOR_EACH_ELEMENT(c, pc.c) invstd[c] = 1.0 / sqrt(running_var[c] + pc.eps);
}
