// The graph's elementwise math: one family of unary ops chosen by a kind
// (y = a * x + b, abs, sign, clamp, square, sqrt, exp, log) with their
// gradients as PyTorch defines them, and broadcast_rows, the gradient of the
// sums and means over trailing axes (ops/reduce.h) that the same family of
// graph ops adds. Plain references (templates, so gradients are checked in
// double), threaded CPU kernels, and the launches of
// shaders/unary_math_{forward,backward}.comp and shaders/broadcast_rows.comp.
// Every kind runs on the same two shaders, a push-constant switch: one
// pipeline each, whatever the kind.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <cstdint>
#include <span>

namespace vkcnn::ops {

// The values are the shaders' switch (push constant `kind`).
enum class UnaryMath : uint32_t {
    scale,  // y = a * x + b;             dx = a * dy
    abs,    // y = |x|;                   dx = sign(x) * dy (0 at x == 0, as torch)
    sign,   // y = -1, 0, 1 (torch.sign); dx = 0
    clamp,  // y = min(max(x, a), b);     dx = dy where a <= x <= b (inclusive, as torch.clamp), else 0
    square, // y = x * x;                 dx = 2 * x * dy
    sqrt,   // y = sqrt(x);               dx = dy / (2 * y)
    exp,    // y = exp(x);                dx = dy * y
    log,    // y = log(x);                dx = dy / x
};
inline constexpr uint32_t kUnaryMathKinds = 8;
const char* unary_math_name(UnaryMath kind); // "scale", ...; "unknown unary math kind" outside the enum

// The kind and its scalars: scale's a and b, clamp's lo (a) and hi (b); the
// other kinds ignore them.
struct UnaryMathAttrs {
    UnaryMath kind = UnaryMath::scale;
    float a = 1.0f, b = 0.0f;
};
inline UnaryMathAttrs unary_math(UnaryMath kind) { return {kind, 1.0f, 0.0f}; }
inline UnaryMathAttrs scale_attrs(float a, float b = 0.0f) { return {UnaryMath::scale, a, b}; }
inline UnaryMathAttrs clamp_attrs(float lo, float hi) { return {UnaryMath::clamp, lo, hi}; }
// Throws naming the problem: a kind outside the enum, clamp's lo > hi or a
// NaN bound, scale's non-finite a or b.
void unary_math_check(const UnaryMathAttrs& attrs);

// What the backward of each kind reads besides dy: the forward input x (abs,
// clamp, square, log), the forward output y (sqrt, exp: the derivative is a
// function of y, as PyTorch saves it), or nothing (scale, sign).
enum class UnaryMathSaved : uint8_t { none, x, y };
UnaryMathSaved unary_math_backward_reads(UnaryMath kind);

// Forward (x) -> y and backward (saved, dy) -> dx, every span one flat tensor
// of n elements (any shape); `saved` is x or y as unary_math_backward_reads
// says, and is not read (but must still be n elements) for scale and sign.
// All write (=) y / dx and check the attributes.

// References: plain loops, the spec.
template <typename T>
void unary_math_forward_reference(const UnaryMathAttrs& attrs, std::span<const T> x, std::span<T> y);
template <typename T>
void unary_math_backward_reference(const UnaryMathAttrs& attrs, std::span<const T> saved, std::span<const T> dy,
                                   std::span<T> dx);

// CPU backend kernels (bitwise equal to the float references). y / dx may be
// an input (the graph runs them in place).
void unary_math_forward_cpu(cpu::ThreadPool& pool, const UnaryMathAttrs& attrs, std::span<const float> x,
                            std::span<float> y);
void unary_math_backward_cpu(cpu::ThreadPool& pool, const UnaryMathAttrs& attrs, std::span<const float> saved,
                             std::span<const float> dy, std::span<float> dx);

// Vulkan launches. Arguments: forward (x, y); backward (saved, dy, dx). All (n).
KernelLaunch unary_math_forward_launch(const UnaryMathAttrs& attrs, size_t n);
KernelLaunch unary_math_backward_launch(const UnaryMathAttrs& attrs, size_t n);

// broadcast_rows: x (rows) -> y (rows, cols), y[r, c] = x[r] * scale. The
// gradient of sum_rows (scale 1) and mean_rows (scale = float(1 / cols): a
// product, not torch's division by cols, so both backends give the same
// bits; the two differ by at most an ulp). Writes (=) y.
template <typename T>
void broadcast_rows_reference(size_t rows, size_t cols, T scale, std::span<const T> x, std::span<T> y);
void broadcast_rows_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, float scale, std::span<const float> x,
                        std::span<float> y);
// Arguments (x (rows), y (rows, cols)). Throws for rows or cols 0 or more than 2^32 - 1 elements.
KernelLaunch broadcast_rows_launch(size_t rows, size_t cols, float scale);

} // namespace vkcnn::ops
