// One SGD step with momentum (torch.optim.SGD, momentum != 0) over a flat
// range of n elements, which may hold every parameter of a model at once:
//   g = grad + weight_decay * p (if weight_decay != 0)
//   buf = first step ? g : momentum * buf + (1 - dampening) * g
//   g = nesterov ? g + momentum * buf : buf;  p = p - lr * g
// Updates p and buf in place (read and written); on the first step buf is
// only written, so it needs no initialisation (PyTorch creates it then).
// lr and the first-step flag come from the step-scalar buffer, so one
// recording serves every step. `precise`: no fused multiply-add.
// Also built as sgd_momentum_step_multi (many tensors per dispatch, multi_tensor.glsl).
#version 450
#include "common.glsl"
#define OPERANDS 3
#define TABLE_BINDING 4
#include "multi_tensor.glsl"

layout(std430, set = 0, binding = 0) buffer P { float p[]; };                   // (n)
layout(std430, set = 0, binding = 1) readonly buffer G { float grad[]; };       // (n)
layout(std430, set = 0, binding = 2) buffer B { float buf[]; };                 // (n) momentum buffer
layout(std430, set = 0, binding = 3) readonly buffer S { float scalars[4]; };   // {lr, first step, -, -}
layout(push_constant) uniform Push {
    uint n;
    float weight_decay; // L2
    float momentum;
    float one_minus_dampening;
    uint nesterov;
} pc;

void main() {
    float lr = scalars[0];
    bool first = scalars[1] != 0.0;
    FOR_EACH_ELEMENT(e, pc.n) {
        LOCATE_TENSOR(e);
        uint ip = OPERAND(e, 0), ig = OPERAND(e, 1), ib = OPERAND(e, 2);
        precise float pi = p[ip];
        precise float g = grad[ig];
        if (pc.weight_decay != 0.0) g = g + pc.weight_decay * pi;
        precise float b;
        if (first) {
            b = g;
        } else {
            b = buf[ib] * pc.momentum;
            b = b + pc.one_minus_dampening * g;
        }
        buf[ib] = b;
        if (pc.nesterov != 0u) g = g + pc.momentum * b;
        else g = b;
        pi = pi - lr * g;
        p[ip] = pi;
    }
}
