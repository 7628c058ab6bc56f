// Sum and mean of a whole tensor and of each row of a (rows, cols) matrix,
// deterministic on every backend (fixed-order trees, a second pass instead of
// atomics). Also the one-workgroup-per-row launch shape that softmax,
// cross_entropy and accuracy share.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <span>
#include <string_view>

namespace vkcnn::ops {

// References: plain sequential loops in T (use double as the oracle). mean =
// sum / count, as torch.mean; an empty tensor's mean is NaN, its sum 0.
template <typename T>
T sum_reference(std::span<const T> x); // (n) -> scalar
template <typename T>
T mean_reference(std::span<const T> x);
template <typename T>
void sum_rows_reference(size_t rows, size_t cols, std::span<const T> x, std::span<T> y);  // (rows, cols) -> (rows), =
template <typename T>
void mean_rows_reference(size_t rows, size_t cols, std::span<const T> x, std::span<T> y); // (rows, cols) -> (rows), =

// CPU backend. Blocks of a fixed length are summed in float lanes and the
// block sums added in double, in an order that depends only on n: the same
// bits for any thread count.
float sum_cpu(cpu::ThreadPool& pool, std::span<const float> x);
float mean_cpu(cpu::ThreadPool& pool, std::span<const float> x);
void sum_rows_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x, std::span<float> y);
void mean_rows_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x, std::span<float> y);

// Vulkan. `subgroup` (the device's GemmTuning::subgroup_reductions) picks the
// shaders' "_subgroup" variants, whose workgroup sums use subgroup arithmetic
// (shaders/reduce_common.glsl); only for a device that has it. Both are
// deterministic on a device; they round differently.
// Whole tensor, two passes:
//   reduce_partials_launch(n): (x (n), partials (reduce_partial_count(n))), writes (=) partials;
//   reduce_finish_launch(count, divisor): (partials (count), out (1)), writes (=)
//   out = sum(partials) / divisor: divisor 1 for sum, n for mean.
// mse_loss_forward_launch writes partials in the same layout.
size_t reduce_partial_count(size_t n);
KernelLaunch reduce_partials_launch(size_t n, bool subgroup = false);
KernelLaunch reduce_finish_launch(size_t count, float divisor);
// Per row: (x (rows, cols), y (rows)), writes (=) y.
KernelLaunch reduce_rows_launch(size_t rows, size_t cols, bool mean, bool subgroup = false);

// One workgroup per row (power-of-two size from cols, at most 256), grid-
// stride over rows so any row count fits the 65535-workgroup limit. Throws if
// rows or cols is 0 or rows * cols exceeds 2^32 - 1. Push constants are the
// caller's.
KernelLaunch row_launch(std::string_view shader, size_t rows, size_t cols, std::vector<Access> args);

} // namespace vkcnn::ops
