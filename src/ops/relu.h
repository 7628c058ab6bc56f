// relu: y = max(x, 0) elementwise, NaN propagated as in PyTorch; backward
// dx = dy where x > 0 (0 at x == 0, as PyTorch). Plain reference (the test
// oracle), threaded CPU kernel, and the launches of shaders/relu_*.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <span>

namespace vkcnn::ops {

// Reference: plain loops, the spec. Writes (=) y / dx.
void relu_forward_reference(std::span<const float> x, std::span<float> y);                            // (n) -> (n)
void relu_backward_reference(std::span<const float> x, std::span<const float> dy, std::span<float> dx); // (n) -> (n)

// CPU backend kernels. Writes (=) y / dx.
void relu_forward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<float> y);
void relu_backward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<const float> dy,
                       std::span<float> dx);

// Vulkan launches. Arguments: forward (x, y); backward (x, dy, dx).
KernelLaunch relu_forward_launch(size_t n);
KernelLaunch relu_backward_launch(size_t n);

} // namespace vkcnn::ops
