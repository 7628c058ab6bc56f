// relu forward and backward: reference, CPU kernel and GPU launches (see relu.h).
#include "vkcnn/ops/relu.h"

#include "vkcnn/core/error.h"

#include <cstdint>
#include <limits>

namespace vkcnn::ops {

namespace {

void check_sizes(const char* op, size_t a, size_t b, const char* a_name, const char* b_name) {
    check(a == b, op, ": ", a_name, " has ", a, " elements, ", b_name, " has ", b);
}

// One element; `x < 0 ? 0 : x` rather than std::max so NaN propagates like PyTorch's.
inline float relu(float x) { return x < 0.0f ? 0.0f : x; }
inline float relu_grad(float x, float dy) { return x > 0.0f ? dy : 0.0f; }

// Elementwise work below this many elements is not worth waking threads for.
template <typename Body>
void parallel_elementwise(cpu::ThreadPool& pool, size_t n, const Body& body) {
    if (n < (size_t{1} << 16)) body(size_t{0}, n);
    else pool.parallel_for(n, body);
}

} // namespace

void relu_forward_reference(std::span<const float> x, std::span<float> y) {
    check_sizes("relu_forward", x.size(), y.size(), "x", "y");
    for (size_t i = 0; i < x.size(); ++i) y[i] = relu(x[i]);
}

void relu_backward_reference(std::span<const float> x, std::span<const float> dy, std::span<float> dx) {
    check_sizes("relu_backward", x.size(), dy.size(), "x", "dy");
    check_sizes("relu_backward", x.size(), dx.size(), "x", "dx");
    for (size_t i = 0; i < x.size(); ++i) dx[i] = relu_grad(x[i], dy[i]);
}

void relu_forward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<float> y) {
    check_sizes("relu_forward", x.size(), y.size(), "x", "y");
    // Not __restrict: y may be x (the graph runs it in place).
    const float* xs = x.data();
    float* ys = y.data();
    parallel_elementwise(pool, x.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) ys[i] = relu(xs[i]);
    });
}

void relu_backward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<const float> dy,
                       std::span<float> dx) {
    check_sizes("relu_backward", x.size(), dy.size(), "x", "dy");
    check_sizes("relu_backward", x.size(), dx.size(), "x", "dx");
    // Not __restrict: dx may be x or dy (the graph runs it in place).
    const float* xs = x.data();
    const float* dys = dy.data();
    float* dxs = dx.data();
    parallel_elementwise(pool, x.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) dxs[i] = relu_grad(xs[i], dys[i]);
    });
}

namespace {

KernelLaunch elementwise_launch(std::string_view shader, size_t n, std::vector<Access> args) {
    KernelLaunch l = grid_stride_launch(shader, n, std::move(args));
    l.set_push(static_cast<uint32_t>(n));
    return l;
}

} // namespace

KernelLaunch relu_forward_launch(size_t n) {
    return elementwise_launch("relu_forward", n, {Access::Read, Access::Write});
}

KernelLaunch relu_backward_launch(size_t n) {
    return elementwise_launch("relu_backward", n, {Access::Read, Access::Read, Access::Write});
}

} // namespace vkcnn::ops
