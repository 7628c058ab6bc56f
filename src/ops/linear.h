// linear (torch.nn.Linear): y = x W^T + b with x (N, in), W (out, in), b (out);
// backward dx = dy W, dW = dy^T x, db = sum over N of dy. Plain reference
// (a template, so gradients can be checked in double), CPU kernels on
// cpu::sgemm, and launches: the products run on matmul's GEMM shaders, the
// bias gradient on shaders/linear_backward_bias.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace vkcnn::ops {

struct LinearShape {
    size_t batch = 0, in_features = 0, out_features = 0;
    bool bias = true;
};

// Shape rule: x (N, in) and weight (out, in) [and bias (out)]. Throws
// vkcnn::Error naming the shapes, e.g. "linear: x has 5 features, weight
// (3, 4) expects 4".
LinearShape linear_shape(std::span<const int64_t> x_dims, std::span<const int64_t> weight_dims,
                         std::span<const int64_t> bias_dims); // bias_dims empty: no bias

// Throws vkcnn::Error unless the buffers have the sizes `s` needs; a span
// given empty to a backward function means "this gradient is not wanted".
void linear_check(const char* op, const LinearShape& s, size_t x, size_t weight, size_t bias, size_t y);

// Reference: plain loops; each output sums its reduction index from 0 in
// order (then + b), like the GEMM shader. Write (=) y, dx, dw, db; an empty
// dx / dw / db is skipped.
template <typename T>
void linear_forward_reference(const LinearShape& s, std::span<const T> x, // (N, in)
                              std::span<const T> weight,                 // (out, in)
                              std::span<const T> bias,                   // (out) or empty
                              std::span<T> y);                           // (N, out)
template <typename T>
void linear_backward_reference(const LinearShape& s, std::span<const T> x, // (N, in)
                               std::span<const T> weight,                 // (out, in)
                               std::span<const T> dy,                     // (N, out)
                               std::span<T> dx,                           // (N, in) or empty
                               std::span<T> dweight,                      // (out, in) or empty
                               std::span<T> dbias);                       // (out) or empty

// CPU backend: cpu::sgemm for the products, a row-ordered column sum for db
// (deterministic). Write (=) like the reference.
void linear_forward_cpu(cpu::ThreadPool& pool, const LinearShape& s, std::span<const float> x,
                        std::span<const float> weight, std::span<const float> bias, std::span<float> y);
void linear_backward_cpu(cpu::ThreadPool& pool, const LinearShape& s, std::span<const float> x,
                         std::span<const float> weight, std::span<const float> dy, std::span<float> dx,
                         std::span<float> dweight, std::span<float> dbias);

// Vulkan launches; tuning from Device::quirks().gemm.
// forward: (x, weight, bias, y), or (x, weight, y) without bias. Writes (=) y.
KernelLaunch linear_forward_launch(const LinearShape& s, const GemmTuning& tuning);
// dx: (dy, weight, dx). Writes (=) dx.
KernelLaunch linear_backward_input_launch(const LinearShape& s, const GemmTuning& tuning);
// dW: (dy, x, dweight). Writes (=) dweight, or accumulates (+=) with accumulate.
KernelLaunch linear_backward_weight_launch(const LinearShape& s, const GemmTuning& tuning, bool accumulate = false);
// db: (dy, dbias), one invocation per output feature summing n = 0..N-1 in
// order. Writes (=) dbias, or accumulates (+=) with accumulate.
KernelLaunch linear_backward_bias_launch(const LinearShape& s, bool accumulate = false);

} // namespace vkcnn::ops
