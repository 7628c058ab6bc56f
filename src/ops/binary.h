// Same-shape elementwise add and mul, forward and backward, plus add_accumulate
// (y += x), which sums the gradients of a value used twice. References
// (templates over float/double), CPU kernels and launches of shaders/{add,mul}_*.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <span>

namespace vkcnn::ops {

// add: y = a + b, writes (=) y. Its backward is da = db = dy: no kernel; the
// graph passes dy on (or sums it into an existing gradient with add_accumulate).
// add_accumulate: y += x, accumulates (+=) into y.
// mul: y = a * b, writes (=) y; backward da = dy * b, db = dy * a, writes (=) both.
// Every span is one flat tensor of n elements (any shape); no broadcasting.

// References: plain loops, the spec.
template <typename T>
void add_forward_reference(std::span<const T> a, std::span<const T> b, std::span<T> y);
template <typename T>
void add_accumulate_reference(std::span<const T> x, std::span<T> y);
template <typename T>
void mul_forward_reference(std::span<const T> a, std::span<const T> b, std::span<T> y);
template <typename T>
void mul_backward_reference(std::span<const T> a, std::span<const T> b, std::span<const T> dy, std::span<T> da,
                            std::span<T> db);

// CPU backend kernels (bitwise equal to the float references: one rounding each).
void add_forward_cpu(cpu::ThreadPool& pool, std::span<const float> a, std::span<const float> b, std::span<float> y);
void add_accumulate_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<float> y);
void mul_forward_cpu(cpu::ThreadPool& pool, std::span<const float> a, std::span<const float> b, std::span<float> y);
void mul_backward_cpu(cpu::ThreadPool& pool, std::span<const float> a, std::span<const float> b,
                      std::span<const float> dy, std::span<float> da, std::span<float> db);

// Vulkan launches, all arguments (n). add_forward / mul_forward (a, b, y);
// add_accumulate (x, y) with y read and written; mul_backward (a, b, dy, da, db).
KernelLaunch add_forward_launch(size_t n);
KernelLaunch add_accumulate_launch(size_t n);
KernelLaunch mul_forward_launch(size_t n);
KernelLaunch mul_backward_launch(size_t n);

} // namespace vkcnn::ops
