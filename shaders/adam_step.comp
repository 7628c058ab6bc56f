// One Adam / AdamW step (torch.optim.Adam, AdamW) over a flat range of n
// elements, which may hold every parameter of a model at once. Rounded as
// PyTorch's single-tensor path (see src/ops/optimizer.h):
//   AdamW: p = p * (1 - lr * wd);  Adam: g = grad + wd * p (if wd != 0)
//   m = lerp(m, g, 1 - beta1);  v = v * beta2 + ((1 - beta2) * g) * g
//   p = p - (step_size * m) / (sqrt(v) / sqrt(bc2) + eps),  step_size = lr / bc1
// Updates p, m and v in place (read and written). The per-step values
// (step_size, sqrt(bc2), 1 - lr * wd) come from the step-scalar buffer,
// computed by the host in double, so one recording serves every step.
// `precise`: no fused multiply-add, every operation rounds as on the CPU.
// Also built as adam_step_multi (many tensors per dispatch, multi_tensor.glsl).
#version 450
#include "common.glsl"
#define OPERANDS 4
#define TABLE_BINDING 5
#include "multi_tensor.glsl"

layout(std430, set = 0, binding = 0) buffer P { float p[]; };                   // (n)
layout(std430, set = 0, binding = 1) readonly buffer G { float grad[]; };       // (n)
layout(std430, set = 0, binding = 2) buffer M { float m[]; };                   // (n) first moment
layout(std430, set = 0, binding = 3) buffer V { float v[]; };                   // (n) second moment
layout(std430, set = 0, binding = 4) readonly buffer S { float scalars[4]; };   // {step_size, sqrt(bc2), decay, -}
layout(push_constant) uniform Push {
    uint n;
    float w1;           // 1 - beta1, the lerp weight
    float beta2;
    float w2;           // 1 - beta2
    float eps;
    float weight_decay; // L2 (Adam); 0 for AdamW
    uint decoupled;     // AdamW with weight_decay != 0
} pc;

void main() {
    float step_size = scalars[0], bc2_sqrt = scalars[1], decay = scalars[2];
    FOR_EACH_ELEMENT(e, pc.n) {
        LOCATE_TENSOR(e);
        uint ip = OPERAND(e, 0), ig = OPERAND(e, 1), im = OPERAND(e, 2), iv = OPERAND(e, 3);
        precise float pi = p[ip];
        if (pc.decoupled != 0u) pi = pi * decay;
        precise float g = grad[ig];
        if (pc.weight_decay != 0.0) g = g + pc.weight_decay * pi;
        precise float mi = m[im];
        precise float d = g - mi;
        // PyTorch's lerp: exact at the end nearer the weight.
        if (pc.w1 < 0.5) mi = mi + pc.w1 * d;
        else mi = g - d * (1.0 - pc.w1);
        precise float vi = v[iv] * pc.beta2;
        vi = vi + (pc.w2 * g) * g;
        precise float denom = sqrt(vi) / bc2_sqrt;
        denom = denom + pc.eps;
        pi = pi - (step_size * mi) / denom;
        p[ip] = pi;
        m[im] = mi;
        v[iv] = vi;
    }
}
