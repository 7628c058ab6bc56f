// add, add_accumulate and mul: references, CPU kernels and GPU launches (see binary.h).
#include "vkcnn/ops/binary.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace vkcnn::ops {

namespace {

void check_sizes(const char* op, size_t a, size_t b, const char* a_name, const char* b_name) {
    check(a == b, op, ": ", a_name, " has ", a, " elements, ", b_name, " has ", b);
}

template <typename Body>
void parallel_elementwise(cpu::ThreadPool& pool, size_t n, const Body& body) {
    if (n < (size_t{1} << 16)) body(size_t{0}, n);
    else pool.parallel_for(n, body);
}

} // namespace

template <typename T>
void add_forward_reference(std::span<const T> a, std::span<const T> b, std::span<T> y) {
    check_sizes("add_forward", a.size(), b.size(), "a", "b");
    check_sizes("add_forward", a.size(), y.size(), "a", "y");
    for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
}

template <typename T>
void add_accumulate_reference(std::span<const T> x, std::span<T> y) {
    check_sizes("add_accumulate", x.size(), y.size(), "x", "y");
    for (size_t i = 0; i < x.size(); ++i) y[i] = y[i] + x[i];
}

template <typename T>
void mul_forward_reference(std::span<const T> a, std::span<const T> b, std::span<T> y) {
    check_sizes("mul_forward", a.size(), b.size(), "a", "b");
    check_sizes("mul_forward", a.size(), y.size(), "a", "y");
    for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] * b[i];
}

template <typename T>
void mul_backward_reference(std::span<const T> a, std::span<const T> b, std::span<const T> dy, std::span<T> da,
                            std::span<T> db) {
    check_sizes("mul_backward", a.size(), b.size(), "a", "b");
    check_sizes("mul_backward", a.size(), dy.size(), "a", "dy");
    check_sizes("mul_backward", a.size(), da.size(), "a", "da");
    check_sizes("mul_backward", a.size(), db.size(), "a", "db");
    for (size_t i = 0; i < a.size(); ++i) {
        da[i] = dy[i] * b[i];
        db[i] = dy[i] * a[i];
    }
}

#define VKCNN_INSTANTIATE(T)                                                                                     \
    template void add_forward_reference<T>(std::span<const T>, std::span<const T>, std::span<T>);                \
    template void add_accumulate_reference<T>(std::span<const T>, std::span<T>);                                 \
    template void mul_forward_reference<T>(std::span<const T>, std::span<const T>, std::span<T>);                \
    template void mul_backward_reference<T>(std::span<const T>, std::span<const T>, std::span<const T>,          \
                                            std::span<T>, std::span<T>);
VKCNN_INSTANTIATE(float)
VKCNN_INSTANTIATE(double)
#undef VKCNN_INSTANTIATE

void add_forward_cpu(cpu::ThreadPool& pool, std::span<const float> a, std::span<const float> b, std::span<float> y) {
    check_sizes("add_forward", a.size(), b.size(), "a", "b");
    check_sizes("add_forward", a.size(), y.size(), "a", "y");
    // Not __restrict: y may be a or b (the graph runs it in place).
    const float* as = a.data();
    const float* bs = b.data();
    float* ys = y.data();
    parallel_elementwise(pool, a.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) ys[i] = as[i] + bs[i];
    });
}

void add_accumulate_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<float> y) {
    check_sizes("add_accumulate", x.size(), y.size(), "x", "y");
    const float* __restrict xs = x.data();
    float* __restrict ys = y.data();
    parallel_elementwise(pool, x.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) ys[i] += xs[i];
    });
}

void mul_forward_cpu(cpu::ThreadPool& pool, std::span<const float> a, std::span<const float> b, std::span<float> y) {
    check_sizes("mul_forward", a.size(), b.size(), "a", "b");
    check_sizes("mul_forward", a.size(), y.size(), "a", "y");
    // Not __restrict: y may be a or b (the graph runs it in place).
    const float* as = a.data();
    const float* bs = b.data();
    float* ys = y.data();
    parallel_elementwise(pool, a.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) ys[i] = as[i] * bs[i];
    });
}

void mul_backward_cpu(cpu::ThreadPool& pool, std::span<const float> a, std::span<const float> b,
                      std::span<const float> dy, std::span<float> da, std::span<float> db) {
    check_sizes("mul_backward", a.size(), b.size(), "a", "b");
    check_sizes("mul_backward", a.size(), dy.size(), "a", "dy");
    check_sizes("mul_backward", a.size(), da.size(), "a", "da");
    check_sizes("mul_backward", a.size(), db.size(), "a", "db");
    const float* __restrict as = a.data();
    const float* __restrict bs = b.data();
    const float* __restrict dys = dy.data();
    float* __restrict das = da.data();
    float* __restrict dbs = db.data();
    parallel_elementwise(pool, a.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            das[i] = dys[i] * bs[i];
            dbs[i] = dys[i] * as[i];
        }
    });
}

namespace {

KernelLaunch elementwise_launch(std::string_view shader, size_t n, std::vector<Access> args) {
    KernelLaunch l = grid_stride_launch(shader, n, std::move(args));
    l.set_push(static_cast<uint32_t>(n));
    return l;
}

} // namespace

KernelLaunch add_forward_launch(size_t n) {
    return elementwise_launch("add_forward", n, {Access::Read, Access::Read, Access::Write});
}
KernelLaunch add_accumulate_launch(size_t n) {
    return elementwise_launch("add_accumulate", n, {Access::Read, Access::ReadWrite});
}
KernelLaunch mul_forward_launch(size_t n) {
    return elementwise_launch("mul_forward", n, {Access::Read, Access::Read, Access::Write});
}
KernelLaunch mul_backward_launch(size_t n) {
    return elementwise_launch("mul_backward", n,
                              {Access::Read, Access::Read, Access::Read, Access::Write, Access::Write});
}

} // namespace vkcnn::ops
