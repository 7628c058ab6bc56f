// softmax and log_softmax over the class dimension of an (N, C) matrix
// (torch.softmax(x, dim=1)), computed stably by subtracting each row's max;
// forward and backward. References (templates over float/double), CPU kernels
// and launches of shaders/{softmax,log_softmax}_*.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <span>

namespace vkcnn::ops {

// softmax:     y = exp(x - max) / sum(exp(x - max));   dx = y * (dy - sum(dy * y))
// log_softmax: y = x - max - log(sum(exp(x - max)));   dx = dy - exp(y) * sum(dy)
// Sums run over each row; backward takes the saved output y, as PyTorch. A NaN
// anywhere in a row makes the whole row NaN. All write (=) y / dx; every
// matrix is (rows, cols) row-major; rows, cols >= 1.

template <typename T>
void softmax_forward_reference(size_t rows, size_t cols, std::span<const T> x, std::span<T> y);
template <typename T>
void softmax_backward_reference(size_t rows, size_t cols, std::span<const T> y, std::span<const T> dy,
                                std::span<T> dx);
template <typename T>
void log_softmax_forward_reference(size_t rows, size_t cols, std::span<const T> x, std::span<T> y);
template <typename T>
void log_softmax_backward_reference(size_t rows, size_t cols, std::span<const T> y, std::span<const T> dy,
                                    std::span<T> dx);

// CPU backend kernels (threads over rows).
void softmax_forward_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x,
                         std::span<float> y);
void softmax_backward_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> y,
                          std::span<const float> dy, std::span<float> dx);
void log_softmax_forward_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x,
                             std::span<float> y);
void log_softmax_backward_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> y,
                              std::span<const float> dy, std::span<float> dx);

// Vulkan launches, one workgroup per row. forward (x, y); backward (y, dy, dx).
KernelLaunch softmax_forward_launch(size_t rows, size_t cols);
KernelLaunch softmax_backward_launch(size_t rows, size_t cols);
KernelLaunch log_softmax_forward_launch(size_t rows, size_t cols);
KernelLaunch log_softmax_backward_launch(size_t rows, size_t cols);

} // namespace vkcnn::ops
