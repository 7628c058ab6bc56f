// Inverted dropout (torch.nn.Dropout): in training each element is kept with
// probability 1 - p and scaled by 1 / (1 - p), else zeroed; in eval, identity.
// The mask is never stored: Philox4x32-10 keyed by (seed, step) redraws it
// from the element index, the same bits on CPU and GPU (see philox.h).
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/ops/philox.h"

#include <span>

namespace vkcnn::ops {

struct DropoutAttrs {
    float p = 0.5f;        // probability of zeroing an element, in [0, 1]
    bool training = true;  // false: identity
    uint32_t stream = 0;   // Philox counter word 1: each dropout layer of a model its own
};

// The keep rule every backend follows: element i is kept iff
// (philox_bits(key, i, stream) >> 8) >= threshold, with threshold = ceil(p * 2^24), so
// the keep rate is 1 - threshold / 2^24 (p rounded up to a multiple of 2^-24).
// The output is x * m with m = kept ? scale : 0 and scale = 1.0f / (1.0f - p)
// in float (0 when p == 1: PyTorch returns zeros), as PyTorch's x * noise; so a
// dropped NaN or inf still gives NaN, as in PyTorch. Eval: threshold 0, scale 1.
struct DropoutRule {
    uint32_t threshold = 0;
    float scale = 1.0f;
};
// Throws vkcnn::Error if p is outside [0, 1] (or NaN).
DropoutRule dropout_rule(const DropoutAttrs& attrs);

// The multiplier m_i for element i: scale or 0.
float dropout_multiplier(const DropoutRule& rule, PhiloxKey key, uint32_t i, uint32_t stream = 0);

// References: y = x * m (forward), dx = dy * m (backward, the same mask
// redrawn from the same key). Write (=) y / dx; all spans (n), any shape.
template <typename T>
void dropout_forward_reference(const DropoutAttrs& attrs, PhiloxKey key, std::span<const T> x, std::span<T> y);
template <typename T>
void dropout_backward_reference(const DropoutAttrs& attrs, PhiloxKey key, std::span<const T> dy, std::span<T> dx);

// CPU backend kernels, bitwise equal to the float references. Write (=).
void dropout_forward_cpu(cpu::ThreadPool& pool, const DropoutAttrs& attrs, PhiloxKey key, std::span<const float> x,
                         std::span<float> y);
void dropout_backward_cpu(cpu::ThreadPool& pool, const DropoutAttrs& attrs, PhiloxKey key,
                          std::span<const float> dy, std::span<float> dx);

// Vulkan launches of shaders/dropout_apply.comp (forward and backward are the
// same computation): forward (x (n), key, y (n)), backward (dy, key, dx). key
// is a buffer of two uint32, a PhiloxKey {seed, step}, so a recorded step
// draws a new mask every run once the host rewrites it.
KernelLaunch dropout_forward_launch(const DropoutAttrs& attrs, size_t n);
KernelLaunch dropout_backward_launch(const DropoutAttrs& attrs, size_t n);

} // namespace vkcnn::ops
