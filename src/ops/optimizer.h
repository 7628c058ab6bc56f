// Optimizer steps as ops: SGD (momentum, dampening, Nesterov, L2 weight decay),
// Adam and AdamW, with torch.optim's semantics. References (float/double), CPU
// kernels and launches of shaders/sgd_step.comp, sgd_momentum_step.comp and
// adam_step.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace vkcnn::ops {

// Flat ranges: every kernel updates n contiguous elements, and p, grad and
// each state tensor (buf, m, v) are n-element ranges in the same layout; the
// update is elementwise, so a range may hold several tensors back to back.
// Where the operands of several tensors lie apart (a model's parameters in
// the persistent buffer, their gradients wherever the arena put them), the
// multi-tensor launches below step them all in one dispatch through a table
// of offsets.
//
// Recorded once, replayed every step: what changes per step (lr, the step
// number t through the bias corrections, SGD's first-step flag) is read by the
// kernels from a small storage buffer, the step scalars, which the host fills
// with sgd_step_scalars / adam_step_scalars before each replay. The fixed
// hyper-parameters (momentum, dampening, nesterov, betas, eps, weight decay)
// are push constants, baked into the recording.
//
// Hyper-parameters are doubles, like PyTorch's Python floats: derived
// constants (1 - beta1, 1 - dampening, lr / (1 - beta1^t), ...) are formed in
// double and rounded to float once, as PyTorch does before its float kernels.
// No maximize / amsgrad / foreach / fused variants.

// torch.optim.SGD. Per element, in this order (t counts steps from 1):
//   g = grad + weight_decay * p                      (if weight_decay != 0)
//   if momentum != 0:
//     buf = t == 1 ? g : momentum * buf + (1 - dampening) * g
//     g = nesterov ? g + momentum * buf : buf
//   p = p - lr * g
struct SgdAttrs {
    double lr = 1e-3;  // PyTorch's default; may change between steps (only the step scalars carry it)
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0; // L2, added to the gradient
    bool nesterov = false;
    bool operator==(const SgdAttrs&) const = default;
};

// torch.optim.Adam, and AdamW when decoupled_weight_decay (PyTorch's Adam flag
// of that name; AdamW is Adam with it set and weight_decay 1e-2 by default).
// Per element, with bc1 = 1 - beta1^t, bc2 = 1 - beta2^t:
//   if decoupled: p = p * (1 - lr * weight_decay)   (before anything else)
//   else:         g = grad + weight_decay * p        (if weight_decay != 0)
//   m = lerp(m, g, 1 - beta1)     = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - lr * (m / bc1) / (sqrt(v / bc2) + eps)
// computed as PyTorch's single-tensor (CPU) path rounds it:
//   m: lerp_(g, w) with w = 1 - beta1: w < 0.5 ? m + w * (g - m) : g - (g - m) * (1 - w)
//   v = v * beta2 + ((1 - beta2) * g) * g           (mul_, then addcmul_)
//   denom = sqrt(v) / sqrt(bc2) + eps;  p = p - (step_size * m) / denom,
//   step_size = lr / bc1                             (addcdiv_(m, denom, -step_size))
struct AdamAttrs {
    double lr = 1e-3; // may change between steps (only the step scalars carry it)
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    bool decoupled_weight_decay = false; // true: AdamW
    bool operator==(const AdamAttrs&) const = default;
};

// torch.optim.AdamW's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2.
inline AdamAttrs adamw_attrs() { return AdamAttrs{.weight_decay = 1e-2, .decoupled_weight_decay = true}; }

// Throw vkcnn::Error on hyper-parameters PyTorch rejects (negative lr,
// momentum, eps or weight decay; betas outside [0, 1); Nesterov without
// momentum or with dampening), and on NaN or infinite ones.
void check_sgd_attrs(const SgdAttrs& attrs);
void check_adam_attrs(const AdamAttrs& attrs);

// The step scalars: 16 bytes, the shaders' std430 `float s[4]`.
//   SGD:  {lr, 1 if t == 1 else 0 (momentum buffer starts as g), 0, 0}
//   Adam: {lr / bc1, sqrt(bc2), decoupled ? 1 - lr * weight_decay : 1, 0}
// The bias corrections are computed on the host in double and stored as float,
// not left to the shader as pow(beta, t): GLSL's pow has no guaranteed
// precision (Vulkan allows ~2^-11 relative error and it differs per vendor),
// so shader and CPU kernel could not agree bit for bit; the host's double
// values rounded once are what PyTorch uses too (Python floats).
using StepScalars = std::array<float, 4>;
// t: the step about to be taken, counted from 1. Throw on t == 0 and bad attrs.
StepScalars sgd_step_scalars(const SgdAttrs& attrs, uint64_t t);
StepScalars adam_step_scalars(const AdamAttrs& attrs, uint64_t t);

// References: plain loops of the formulas above, the spec; step t (from 1)
// updates p, buf / m, v in place (read and written). buf is ignored (and may
// be empty) when momentum == 0. T = float rounds every constant to float as
// the kernels do; T = double keeps them all in double.
template <typename T>
void sgd_step_reference(const SgdAttrs& attrs, uint64_t t, std::span<T> p, std::span<const T> grad,
                        std::span<T> buf);
template <typename T>
void adam_step_reference(const AdamAttrs& attrs, uint64_t t, std::span<T> p, std::span<const T> grad,
                         std::span<T> m, std::span<T> v);

// CPU backend kernels: read the step scalars like the shaders do, update in
// place; bitwise equal to the float references and to the shaders wherever
// sqrt and division round correctly (lavapipe, CPUs).
void sgd_step_cpu(cpu::ThreadPool& pool, const SgdAttrs& attrs, const StepScalars& scalars, std::span<float> p,
                  std::span<const float> grad, std::span<float> buf);
void adam_step_cpu(cpu::ThreadPool& pool, const AdamAttrs& attrs, const StepScalars& scalars, std::span<float> p,
                   std::span<const float> grad, std::span<float> m, std::span<float> v);

// Vulkan launches over n elements. attrs.lr is not used: it reaches the
// shader through the step scalars. Arguments:
//   momentum == 0: shaders/sgd_step.comp          (p rw, grad r, scalars r)
//   momentum != 0: shaders/sgd_momentum_step.comp (p rw, grad r, buf rw, scalars r)
//   adam:          shaders/adam_step.comp         (p rw, grad r, m rw, v rw, scalars r)
// p, grad, buf, m, v (n); scalars (4).
KernelLaunch sgd_step_launch(const SgdAttrs& attrs, size_t n);
KernelLaunch adam_step_launch(const AdamAttrs& attrs, size_t n);

// One dispatch stepping many tensors (shaders/multi_tensor.glsl): the same
// arguments, each binding now holding that operand of every tensor at the
// tensor's own offset, plus the table (read) last. `total`: the tensors'
// elements together. Bitwise the same per element as one launch per tensor.
KernelLaunch sgd_step_multi_launch(const SgdAttrs& attrs, size_t total);
KernelLaunch adam_step_multi_launch(const AdamAttrs& attrs, size_t total);

struct MultiTensorEntry {
    size_t elements = 0;
    std::vector<uint64_t> offsets; // per operand (p, grad, then buf or m, v): elements from its binding's start
};
// The table those launches read: tensor count, then per tensor its first
// flat index and its operand offsets. Throws if the operands of the tensors
// differ in number or an index exceeds 32 bits.
std::vector<uint32_t> multi_tensor_table(std::span<const MultiTensorEntry> tensors);

} // namespace vkcnn::ops
