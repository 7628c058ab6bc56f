// leaky_relu, sigmoid and tanh: references, CPU kernels and GPU launches (see activations.h).
#include "vkcnn/ops/activations.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace vkcnn::ops {

namespace {

void check_sizes(const char* op, size_t a, size_t b, const char* a_name, const char* b_name) {
    check(a == b, op, ": ", a_name, " has ", a, " elements, ", b_name, " has ", b);
}

// The per-element rules, shared by references and kernels so both round the same way.
template <typename T>
T leaky_relu(T x, T slope) { return x > T(0) ? x : x * slope; }
template <typename T>
T leaky_relu_grad(T x, T dy, T slope) { return x > T(0) ? dy : dy * slope; }
template <typename T>
T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }
template <typename T>
T sigmoid_grad(T y, T dy) { return dy * (T(1) - y) * y; } // PyTorch's order: (dy * (1 - y)) * y
template <typename T>
T tanh_grad(T y, T dy) { return dy * (T(1) - y * y); }

// Elementwise work below this many elements is not worth waking threads for.
template <typename Body>
void parallel_elementwise(cpu::ThreadPool& pool, size_t n, const Body& body) {
    if (n < (size_t{1} << 16)) body(size_t{0}, n);
    else pool.parallel_for(n, body);
}

// y[i] = f(x[i]) on the pool. Not __restrict: y may be x (in place in the graph).
template <typename F>
void map1(cpu::ThreadPool& pool, const char* op, std::span<const float> x, std::span<float> y, F f) {
    check_sizes(op, x.size(), y.size(), "x", "y");
    const float* xs = x.data();
    float* ys = y.data();
    parallel_elementwise(pool, x.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) ys[i] = f(xs[i]);
    });
}

// out[i] = f(a[i], b[i]) on the pool. Not __restrict: out may be a or b.
template <typename F>
void map2(cpu::ThreadPool& pool, const char* op, std::span<const float> a, std::span<const float> b,
          std::span<float> out, const char* a_name, F f) {
    check_sizes(op, a.size(), b.size(), a_name, "dy");
    check_sizes(op, a.size(), out.size(), a_name, "dx");
    const float* as = a.data();
    const float* bs = b.data();
    float* os = out.data();
    parallel_elementwise(pool, a.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) os[i] = f(as[i], bs[i]);
    });
}

} // namespace

template <typename T>
void leaky_relu_forward_reference(const LeakyReluAttrs& attrs, std::span<const T> x, std::span<T> y) {
    check_sizes("leaky_relu_forward", x.size(), y.size(), "x", "y");
    for (size_t i = 0; i < x.size(); ++i) y[i] = leaky_relu(x[i], T(attrs.negative_slope));
}

template <typename T>
void leaky_relu_backward_reference(const LeakyReluAttrs& attrs, std::span<const T> x, std::span<const T> dy,
                                   std::span<T> dx) {
    check_sizes("leaky_relu_backward", x.size(), dy.size(), "x", "dy");
    check_sizes("leaky_relu_backward", x.size(), dx.size(), "x", "dx");
    for (size_t i = 0; i < x.size(); ++i) dx[i] = leaky_relu_grad(x[i], dy[i], T(attrs.negative_slope));
}

template <typename T>
void sigmoid_forward_reference(std::span<const T> x, std::span<T> y) {
    check_sizes("sigmoid_forward", x.size(), y.size(), "x", "y");
    for (size_t i = 0; i < x.size(); ++i) y[i] = sigmoid(x[i]);
}

template <typename T>
void sigmoid_backward_reference(std::span<const T> y, std::span<const T> dy, std::span<T> dx) {
    check_sizes("sigmoid_backward", y.size(), dy.size(), "y", "dy");
    check_sizes("sigmoid_backward", y.size(), dx.size(), "y", "dx");
    for (size_t i = 0; i < y.size(); ++i) dx[i] = sigmoid_grad(y[i], dy[i]);
}

template <typename T>
void tanh_forward_reference(std::span<const T> x, std::span<T> y) {
    check_sizes("tanh_forward", x.size(), y.size(), "x", "y");
    for (size_t i = 0; i < x.size(); ++i) y[i] = std::tanh(x[i]);
}

template <typename T>
void tanh_backward_reference(std::span<const T> y, std::span<const T> dy, std::span<T> dx) {
    check_sizes("tanh_backward", y.size(), dy.size(), "y", "dy");
    check_sizes("tanh_backward", y.size(), dx.size(), "y", "dx");
    for (size_t i = 0; i < y.size(); ++i) dx[i] = tanh_grad(y[i], dy[i]);
}

#define VKCNN_INSTANTIATE(T)                                                                                       \
    template void leaky_relu_forward_reference<T>(const LeakyReluAttrs&, std::span<const T>, std::span<T>);        \
    template void leaky_relu_backward_reference<T>(const LeakyReluAttrs&, std::span<const T>, std::span<const T>,  \
                                                   std::span<T>);                                                  \
    template void sigmoid_forward_reference<T>(std::span<const T>, std::span<T>);                                  \
    template void sigmoid_backward_reference<T>(std::span<const T>, std::span<const T>, std::span<T>);             \
    template void tanh_forward_reference<T>(std::span<const T>, std::span<T>);                                     \
    template void tanh_backward_reference<T>(std::span<const T>, std::span<const T>, std::span<T>);
VKCNN_INSTANTIATE(float)
VKCNN_INSTANTIATE(double)
#undef VKCNN_INSTANTIATE

void leaky_relu_forward_cpu(cpu::ThreadPool& pool, const LeakyReluAttrs& attrs, std::span<const float> x,
                            std::span<float> y) {
    const float slope = attrs.negative_slope;
    map1(pool, "leaky_relu_forward", x, y, [slope](float v) { return leaky_relu(v, slope); });
}

void leaky_relu_backward_cpu(cpu::ThreadPool& pool, const LeakyReluAttrs& attrs, std::span<const float> x,
                             std::span<const float> dy, std::span<float> dx) {
    const float slope = attrs.negative_slope;
    map2(pool, "leaky_relu_backward", x, dy, dx, "x", [slope](float v, float g) { return leaky_relu_grad(v, g, slope); });
}

void sigmoid_forward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<float> y) {
    map1(pool, "sigmoid_forward", x, y, [](float v) { return sigmoid(v); });
}

void sigmoid_backward_cpu(cpu::ThreadPool& pool, std::span<const float> y, std::span<const float> dy,
                          std::span<float> dx) {
    map2(pool, "sigmoid_backward", y, dy, dx, "y", [](float v, float g) { return sigmoid_grad(v, g); });
}

void tanh_forward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<float> y) {
    map1(pool, "tanh_forward", x, y, [](float v) { return std::tanh(v); });
}

void tanh_backward_cpu(cpu::ThreadPool& pool, std::span<const float> y, std::span<const float> dy,
                       std::span<float> dx) {
    map2(pool, "tanh_backward", y, dy, dx, "y", [](float v, float g) { return tanh_grad(v, g); });
}

namespace {

struct Push {
    uint32_t n;
    float slope; // leaky_relu only; ignored by the others
};

KernelLaunch elementwise_launch(std::string_view shader, size_t n, std::vector<Access> args, float slope = 0) {
    KernelLaunch l = grid_stride_launch(shader, n, std::move(args));
    l.set_push(Push{static_cast<uint32_t>(n), slope});
    return l;
}

const std::vector<Access> kForward = {Access::Read, Access::Write};
const std::vector<Access> kBackward = {Access::Read, Access::Read, Access::Write};

} // namespace

KernelLaunch leaky_relu_forward_launch(const LeakyReluAttrs& attrs, size_t n) {
    return elementwise_launch("leaky_relu_forward", n, kForward, attrs.negative_slope);
}
KernelLaunch leaky_relu_backward_launch(const LeakyReluAttrs& attrs, size_t n) {
    return elementwise_launch("leaky_relu_backward", n, kBackward, attrs.negative_slope);
}
KernelLaunch sigmoid_forward_launch(size_t n) { return elementwise_launch("sigmoid_forward", n, kForward); }
KernelLaunch sigmoid_backward_launch(size_t n) { return elementwise_launch("sigmoid_backward", n, kBackward); }
KernelLaunch tanh_forward_launch(size_t n) { return elementwise_launch("tanh_forward", n, kForward); }
KernelLaunch tanh_backward_launch(size_t n) { return elementwise_launch("tanh_backward", n, kBackward); }

} // namespace vkcnn::ops
