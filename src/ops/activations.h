// Pointwise activations leaky_relu, sigmoid and tanh, forward and backward, as
// PyTorch defines them: plain references (templates, so gradients are checked
// in double), threaded CPU kernels, and the launches of shaders/{leaky_relu,sigmoid,tanh}_*.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <span>

namespace vkcnn::ops {

struct LeakyReluAttrs {
    float negative_slope = 0.01f; // torch.nn.LeakyReLU's default
};

// leaky_relu: y = x > 0 ? x : x * slope; dx = x > 0 ? dy : dy * slope (from the
// input, as PyTorch's leaky_relu_backward). sigmoid: y = 1 / (1 + exp(-x)),
// dx = dy * (1 - y) * y. tanh: dx = dy * (1 - y * y). sigmoid and tanh backward
// take the saved output y, as PyTorch does. All write (=) y / dx; every span is
// one flat tensor of n elements (any shape).

// References: plain loops, the spec.
template <typename T>
void leaky_relu_forward_reference(const LeakyReluAttrs& attrs, std::span<const T> x, std::span<T> y);
template <typename T>
void leaky_relu_backward_reference(const LeakyReluAttrs& attrs, std::span<const T> x, std::span<const T> dy,
                                   std::span<T> dx);
template <typename T>
void sigmoid_forward_reference(std::span<const T> x, std::span<T> y);
template <typename T>
void sigmoid_backward_reference(std::span<const T> y, std::span<const T> dy, std::span<T> dx);
template <typename T>
void tanh_forward_reference(std::span<const T> x, std::span<T> y);
template <typename T>
void tanh_backward_reference(std::span<const T> y, std::span<const T> dy, std::span<T> dx);

// CPU backend kernels (bitwise equal to the float references).
void leaky_relu_forward_cpu(cpu::ThreadPool& pool, const LeakyReluAttrs& attrs, std::span<const float> x,
                            std::span<float> y);
void leaky_relu_backward_cpu(cpu::ThreadPool& pool, const LeakyReluAttrs& attrs, std::span<const float> x,
                             std::span<const float> dy, std::span<float> dx);
void sigmoid_forward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<float> y);
void sigmoid_backward_cpu(cpu::ThreadPool& pool, std::span<const float> y, std::span<const float> dy,
                          std::span<float> dx);
void tanh_forward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<float> y);
void tanh_backward_cpu(cpu::ThreadPool& pool, std::span<const float> y, std::span<const float> dy,
                       std::span<float> dx);

// Vulkan launches. Arguments: leaky_relu forward (x, y), backward (x, dy, dx);
// sigmoid / tanh forward (x, y), backward (y, dy, dx). All (n).
KernelLaunch leaky_relu_forward_launch(const LeakyReluAttrs& attrs, size_t n);
KernelLaunch leaky_relu_backward_launch(const LeakyReluAttrs& attrs, size_t n);
KernelLaunch sigmoid_forward_launch(size_t n);
KernelLaunch sigmoid_backward_launch(size_t n);
KernelLaunch tanh_forward_launch(size_t n);
KernelLaunch tanh_backward_launch(size_t n);

} // namespace vkcnn::ops
