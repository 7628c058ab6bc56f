// One SGD step without momentum (torch.optim.SGD, momentum 0) over a flat
// range of n elements, which may hold every parameter of a model at once:
//   g = grad + weight_decay * p (if weight_decay != 0);  p = p - lr * g
// Updates p in place (read and written). lr comes from the step-scalar buffer,
// so one recording serves every step and any learning-rate schedule.
// `precise`: no fused multiply-add, every operation rounds as on the CPU.
// Also built as sgd_step_multi (many tensors per dispatch, multi_tensor.glsl).
#version 450
#include "common.glsl"
#define OPERANDS 2
#define TABLE_BINDING 3
#include "multi_tensor.glsl"

layout(std430, set = 0, binding = 0) buffer P { float p[]; };                   // (n)
layout(std430, set = 0, binding = 1) readonly buffer G { float grad[]; };       // (n)
layout(std430, set = 0, binding = 2) readonly buffer S { float scalars[4]; };   // {lr, first step, -, -}
layout(push_constant) uniform Push {
    uint n;
    float weight_decay; // L2
} pc;

void main() {
    float lr = scalars[0];
    FOR_EACH_ELEMENT(e, pc.n) {
        LOCATE_TENSOR(e);
        uint ip = OPERAND(e, 0), ig = OPERAND(e, 1);
        precise float pi = p[ip];
        precise float g = grad[ig];
        if (pc.weight_decay != 0.0) g = g + pc.weight_decay * pi;
        pi = pi - lr * g;
        p[ip] = pi;
    }
}
