// Mean squared error, torch.nn.functional.mse_loss(x, target) with reduction
// 'mean': loss = sum((x - target)^2) / n; backward dx = (2 / n) * (x - target)
// * dloss. References, CPU kernels and launches of shaders/mse_loss_*.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <span>

namespace vkcnn::ops {

// All spans (n), any shape, n >= 1. Backward writes (=) dx, the gradient for
// x only (target is data; its gradient would be -dx).
template <typename T>
T mse_loss_forward_reference(std::span<const T> x, std::span<const T> target);
template <typename T>
void mse_loss_backward_reference(std::span<const T> x, std::span<const T> target, T dloss, std::span<T> dx);

// CPU backend; the forward sums in reduce.h's sum_cpu order (same bits for any
// thread count), the backward is bitwise equal to the float reference.
float mse_loss_forward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<const float> target);
void mse_loss_backward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<const float> target,
                           float dloss, std::span<float> dx);

// Vulkan. forward (x (n), target (n), partials (reduce_partial_count(n))),
// writes (=) per-workgroup sums of squares; follow it with
// reduce_finish_launch(reduce_partial_count(n), n) into the loss (1).
// backward (x (n), target (n), dloss (1), dx (n)), writes (=) dx.
KernelLaunch mse_loss_forward_launch(size_t n);
KernelLaunch mse_loss_backward_launch(size_t n);

} // namespace vkcnn::ops
