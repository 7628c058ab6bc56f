// linear: shape rule, reference, CPU kernels and GPU launches (see linear.h).
#include "vkcnn/ops/linear.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/matmul.h"

#include <algorithm>
#include <string>

namespace vkcnn::ops {

namespace {

std::string dims_str(std::span<const int64_t> d) {
    std::string s = "(";
    for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + (d.size() == 1 ? ",)" : ")");
}

MatmulAttrs forward_gemm(const LinearShape& s) {
    return {.M = s.batch, .N = s.out_features, .K = s.in_features, .trans_b = true, .bias = s.bias};
}
MatmulAttrs input_grad_gemm(const LinearShape& s) {
    return {.M = s.batch, .N = s.in_features, .K = s.out_features};
}
MatmulAttrs weight_grad_gemm(const LinearShape& s, bool accumulate) {
    return {.M = s.out_features, .N = s.in_features, .K = s.batch, .trans_a = true, .accumulate = accumulate};
}

} // namespace

LinearShape linear_shape(std::span<const int64_t> x, std::span<const int64_t> w, std::span<const int64_t> b) {
    check(x.size() == 2, "linear: x ", dims_str(x), " is not 2-D (N, in_features)");
    check(w.size() == 2, "linear: weight ", dims_str(w), " is not 2-D (out_features, in_features)");
    for (int64_t d : x) check(d >= 0, "linear: x ", dims_str(x), " has a negative size");
    for (int64_t d : w) check(d >= 0, "linear: weight ", dims_str(w), " has a negative size");
    check(x[1] == w[1], "linear: x has ", x[1], " features, weight ", dims_str(w), " expects ", w[1]);
    check(b.empty() || (b.size() == 1 && b[0] == w[0]), "linear: bias ", dims_str(b), " does not match weight ",
          dims_str(w), ": expected (", w[0], ",)");
    return {static_cast<size_t>(x[0]), static_cast<size_t>(x[1]), static_cast<size_t>(w[0]), !b.empty()};
}

void linear_check(const char* op, const LinearShape& s, size_t x, size_t w, size_t b, size_t y) {
    const size_t n = s.batch, in = s.in_features, out = s.out_features;
    check(x == n * in, op, ": x has ", x, " elements, expected (", n, ", ", in, ") = ", n * in);
    check(w == out * in, op, ": weight has ", w, " elements, expected (", out, ", ", in, ") = ", out * in);
    check(b == (s.bias ? out : 0), op, ": bias has ", b, " elements, expected ", s.bias ? out : 0,
          s.bias ? "" : " (no bias)");
    check(y == n * out, op, ": y has ", y, " elements, expected (", n, ", ", out, ") = ", n * out);
}

namespace {

// Backward spans are either empty (gradient not wanted) or the full size.
void check_backward(const LinearShape& s, size_t x, size_t w, size_t dy, size_t dx, size_t dw, size_t db) {
    linear_check("linear_backward", s, x, w, s.bias ? s.out_features : 0, dy);
    const size_t n = s.batch, in = s.in_features, out = s.out_features;
    check(dx == 0 || dx == n * in, "linear_backward: dx has ", dx, " elements, expected (", n, ", ", in, ") = ",
          n * in);
    check(dw == 0 || dw == out * in, "linear_backward: dweight has ", dw, " elements, expected (", out, ", ", in,
          ") = ", out * in);
    check(db == 0 || db == out, "linear_backward: dbias has ", db, " elements, expected (", out, ",)");
}

} // namespace

template <typename T>
void linear_forward_reference(const LinearShape& s, std::span<const T> x, std::span<const T> w,
                              std::span<const T> b, std::span<T> y) {
    linear_check("linear_forward", s, x.size(), w.size(), b.size(), y.size());
    const size_t in = s.in_features, out = s.out_features;
    for (size_t n = 0; n < s.batch; ++n)
        for (size_t o = 0; o < out; ++o) {
            T sum = 0;
            for (size_t i = 0; i < in; ++i) sum += x[n * in + i] * w[o * in + i];
            y[n * out + o] = s.bias ? sum + b[o] : sum;
        }
}

template <typename T>
void linear_backward_reference(const LinearShape& s, std::span<const T> x, std::span<const T> w,
                               std::span<const T> dy, std::span<T> dx, std::span<T> dw, std::span<T> db) {
    check_backward(s, x.size(), w.size(), dy.size(), dx.size(), dw.size(), db.size());
    const size_t batch = s.batch, in = s.in_features, out = s.out_features;
    if (!dx.empty())
        for (size_t n = 0; n < batch; ++n)
            for (size_t i = 0; i < in; ++i) {
                T sum = 0;
                for (size_t o = 0; o < out; ++o) sum += dy[n * out + o] * w[o * in + i];
                dx[n * in + i] = sum;
            }
    if (!dw.empty())
        for (size_t o = 0; o < out; ++o)
            for (size_t i = 0; i < in; ++i) {
                T sum = 0;
                for (size_t n = 0; n < batch; ++n) sum += dy[n * out + o] * x[n * in + i];
                dw[o * in + i] = sum;
            }
    if (!db.empty())
        for (size_t o = 0; o < out; ++o) {
            T sum = 0;
            for (size_t n = 0; n < batch; ++n) sum += dy[n * out + o];
            db[o] = sum;
        }
}

template void linear_forward_reference<float>(const LinearShape&, std::span<const float>, std::span<const float>,
                                              std::span<const float>, std::span<float>);
template void linear_forward_reference<double>(const LinearShape&, std::span<const double>,
                                               std::span<const double>, std::span<const double>,
                                               std::span<double>);
template void linear_backward_reference<float>(const LinearShape&, std::span<const float>, std::span<const float>,
                                               std::span<const float>, std::span<float>, std::span<float>,
                                               std::span<float>);
template void linear_backward_reference<double>(const LinearShape&, std::span<const double>,
                                                std::span<const double>, std::span<const double>,
                                                std::span<double>, std::span<double>, std::span<double>);

void linear_forward_cpu(cpu::ThreadPool& pool, const LinearShape& s, std::span<const float> x,
                        std::span<const float> w, std::span<const float> b, std::span<float> y) {
    linear_check("linear_forward", s, x.size(), w.size(), b.size(), y.size());
    matmul_cpu(pool, forward_gemm(s), x, w, b, y);
}

void linear_backward_cpu(cpu::ThreadPool& pool, const LinearShape& s, std::span<const float> x,
                         std::span<const float> w, std::span<const float> dy, std::span<float> dx,
                         std::span<float> dw, std::span<float> db) {
    check_backward(s, x.size(), w.size(), dy.size(), dx.size(), dw.size(), db.size());
    if (!dx.empty()) matmul_cpu(pool, input_grad_gemm(s), dy, w, {}, dx);
    if (!dw.empty()) matmul_cpu(pool, weight_grad_gemm(s, false), dy, x, {}, dw);
    if (!db.empty()) {
        // Row after row so every db[o] adds n = 0, 1, ... in order; the inner loop vectorises over o.
        const size_t out = s.out_features;
        std::fill(db.begin(), db.end(), 0.0f);
        float* __restrict acc = db.data();
        for (size_t n = 0; n < s.batch; ++n) {
            const float* __restrict row = dy.data() + n * out;
            for (size_t o = 0; o < out; ++o) acc[o] += row[o];
        }
    }
}

KernelLaunch linear_forward_launch(const LinearShape& s, const GemmTuning& tuning) {
    return matmul_launch(forward_gemm(s), tuning);
}

KernelLaunch linear_backward_input_launch(const LinearShape& s, const GemmTuning& tuning) {
    return matmul_launch(input_grad_gemm(s), tuning);
}

KernelLaunch linear_backward_weight_launch(const LinearShape& s, const GemmTuning& tuning, bool accumulate) {
    return matmul_launch(weight_grad_gemm(s, accumulate), tuning);
}

KernelLaunch linear_backward_bias_launch(const LinearShape& s, bool accumulate) {
    check(s.batch * s.out_features <= 0xffffffffu, "linear_backward_bias: (", s.batch, ", ", s.out_features,
          ") indexes past 2^32 - 1 elements");
    KernelLaunch l;
    l.shader = "linear_backward_bias";
    l.workgroup = {64, 1, 1};
    l.constants = {accumulate};
    l.args = {Access::Read, accumulate ? Access::ReadWrite : Access::Write};
    l.groups = {std::min<uint32_t>(groups_for(s.out_features, 64), 4096), 1, 1};
    struct {
        uint32_t batch, features;
    } push{static_cast<uint32_t>(s.batch), static_cast<uint32_t>(s.out_features)};
    l.set_push(push);
    return l;
}

} // namespace vkcnn::ops
