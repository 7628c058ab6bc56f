// Unary math and broadcast_rows: references, CPU kernels and GPU launches (see unary_math.h).
#include "vkcnn/ops/unary_math.h"

#include "vkcnn/core/error.h"

#include <cmath>
#include <cstdint>
#include <iterator>
#include <type_traits>

namespace vkcnn::ops {

namespace {

void check_sizes(const char* op, size_t a, size_t b, const char* a_name, const char* b_name) {
    check(a == b, op, ": ", a_name, " has ", a, " elements, ", b_name, " has ", b);
}

// torch.sign: (0 < x) - (x < 0), so +0 at both zeros.
template <typename T>
T sign_of(T x) {
    return x > T(0) ? T(1) : x < T(0) ? T(-1) : T(0);
}

// The per-element rules, one instantiation per kind so the CPU loops carry no
// switch; shared by references and kernels so both round the same way. The
// shaders spell the same expressions in the same order.
template <UnaryMath K, typename T>
T forward_one(T x, T a, T b) {
    if constexpr (K == UnaryMath::scale) return a * x + b;
    else if constexpr (K == UnaryMath::abs) return std::abs(x);
    else if constexpr (K == UnaryMath::sign) return sign_of(x);
    else if constexpr (K == UnaryMath::clamp) return x < a ? a : x > b ? b : x; // not std::clamp: NaN passes through
    else if constexpr (K == UnaryMath::square) return x * x;
    else if constexpr (K == UnaryMath::sqrt) return std::sqrt(x);
    else if constexpr (K == UnaryMath::exp) return std::exp(x);
    else return std::log(x);
}

// `s` is the saved x or y (unary_math_backward_reads), in PyTorch's formulas
// (derivatives.yaml): abs grad * sign(x), clamp's mask inclusive at both
// bounds, pow(x, 2) grad * 2 * x, sqrt grad / (2 * result), exp grad * result,
// log grad / x.
template <UnaryMath K, typename T>
T backward_one(T s, T dy, T a, T b) {
    if constexpr (K == UnaryMath::scale) return a * dy;
    else if constexpr (K == UnaryMath::abs) return sign_of(s) * dy;
    else if constexpr (K == UnaryMath::sign) return T(0);
    else if constexpr (K == UnaryMath::clamp) return s >= a && s <= b ? dy : T(0);
    else if constexpr (K == UnaryMath::square) return T(2) * s * dy;
    else if constexpr (K == UnaryMath::sqrt) return dy / (T(2) * s);
    else if constexpr (K == UnaryMath::exp) return dy * s;
    else return dy / s;
}

// Calls f(std::integral_constant<UnaryMath, kind>) for the runtime kind.
template <typename F>
void with_kind(UnaryMath kind, const F& f) {
    using K = UnaryMath;
    switch (kind) {
    case K::scale: return f(std::integral_constant<K, K::scale>{});
    case K::abs: return f(std::integral_constant<K, K::abs>{});
    case K::sign: return f(std::integral_constant<K, K::sign>{});
    case K::clamp: return f(std::integral_constant<K, K::clamp>{});
    case K::square: return f(std::integral_constant<K, K::square>{});
    case K::sqrt: return f(std::integral_constant<K, K::sqrt>{});
    case K::exp: return f(std::integral_constant<K, K::exp>{});
    case K::log: return f(std::integral_constant<K, K::log>{});
    }
    throw Error(cat("unary_math: kind ", static_cast<uint32_t>(kind), " is not a unary math kind"));
}

// Elementwise work below this many elements is not worth waking threads for.
template <typename Body>
void parallel_elementwise(cpu::ThreadPool& pool, size_t n, const Body& body) {
    if (n < (size_t{1} << 16)) body(size_t{0}, n);
    else pool.parallel_for(n, body);
}

void check_backward_sizes(size_t saved, size_t dy, size_t dx) {
    check_sizes("unary_math_backward", saved, dy, "saved", "dy");
    check_sizes("unary_math_backward", saved, dx, "saved", "dx");
}

void check_broadcast(size_t rows, size_t cols, size_t x, size_t y) {
    check(x == rows, "broadcast_rows: x has ", x, " elements, expected rows = ", rows);
    check(y == rows * cols, "broadcast_rows: y has ", y, " elements, expected rows * cols = ", rows, " * ", cols);
}

} // namespace

const char* unary_math_name(UnaryMath kind) {
    static constexpr const char* names[] = {"scale", "abs", "sign", "clamp", "square", "sqrt", "exp", "log"};
    static_assert(std::size(names) == kUnaryMathKinds);
    const auto k = static_cast<uint32_t>(kind);
    return k < kUnaryMathKinds ? names[k] : "unknown unary math kind";
}

void unary_math_check(const UnaryMathAttrs& attrs) {
    check(static_cast<uint32_t>(attrs.kind) < kUnaryMathKinds, "unary_math: kind ",
          static_cast<uint32_t>(attrs.kind), " is not a unary math kind");
    if (attrs.kind == UnaryMath::clamp)
        check(attrs.a <= attrs.b, "clamp: lo ", attrs.a, " is not <= hi ", attrs.b); // false for a NaN bound too
    if (attrs.kind == UnaryMath::scale)
        check(std::isfinite(attrs.a) && std::isfinite(attrs.b), "scale: a ", attrs.a, " and b ", attrs.b,
              " must be finite");
}

UnaryMathSaved unary_math_backward_reads(UnaryMath kind) {
    switch (kind) {
    case UnaryMath::scale:
    case UnaryMath::sign: return UnaryMathSaved::none;
    case UnaryMath::sqrt:
    case UnaryMath::exp: return UnaryMathSaved::y;
    case UnaryMath::abs:
    case UnaryMath::clamp:
    case UnaryMath::square:
    case UnaryMath::log: return UnaryMathSaved::x;
    }
    throw Error(cat("unary_math: kind ", static_cast<uint32_t>(kind), " is not a unary math kind"));
}

template <typename T>
void unary_math_forward_reference(const UnaryMathAttrs& attrs, std::span<const T> x, std::span<T> y) {
    unary_math_check(attrs);
    check_sizes("unary_math_forward", x.size(), y.size(), "x", "y");
    const T a = T(attrs.a), b = T(attrs.b);
    with_kind(attrs.kind, [&](auto k) {
        for (size_t i = 0; i < x.size(); ++i) y[i] = forward_one<decltype(k)::value>(x[i], a, b);
    });
}

template <typename T>
void unary_math_backward_reference(const UnaryMathAttrs& attrs, std::span<const T> saved, std::span<const T> dy,
                                   std::span<T> dx) {
    unary_math_check(attrs);
    check_backward_sizes(saved.size(), dy.size(), dx.size());
    const T a = T(attrs.a), b = T(attrs.b);
    with_kind(attrs.kind, [&](auto k) {
        for (size_t i = 0; i < dy.size(); ++i) dx[i] = backward_one<decltype(k)::value>(saved[i], dy[i], a, b);
    });
}

template <typename T>
void broadcast_rows_reference(size_t rows, size_t cols, T scale, std::span<const T> x, std::span<T> y) {
    check_broadcast(rows, cols, x.size(), y.size());
    for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) y[r * cols + c] = x[r] * scale;
}

#define VKCNN_INSTANTIATE(T)                                                                                    \
    template void unary_math_forward_reference<T>(const UnaryMathAttrs&, std::span<const T>, std::span<T>);      \
    template void unary_math_backward_reference<T>(const UnaryMathAttrs&, std::span<const T>, std::span<const T>, \
                                                   std::span<T>);                                               \
    template void broadcast_rows_reference<T>(size_t, size_t, T, std::span<const T>, std::span<T>);
VKCNN_INSTANTIATE(float)
VKCNN_INSTANTIATE(double)
#undef VKCNN_INSTANTIATE

void unary_math_forward_cpu(cpu::ThreadPool& pool, const UnaryMathAttrs& attrs, std::span<const float> x,
                            std::span<float> y) {
    unary_math_check(attrs);
    check_sizes("unary_math_forward", x.size(), y.size(), "x", "y");
    // Not __restrict: y may be x (in place in the graph).
    const float* xs = x.data();
    float* ys = y.data();
    const float a = attrs.a, b = attrs.b;
    with_kind(attrs.kind, [&](auto k) {
        parallel_elementwise(pool, x.size(), [=](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) ys[i] = forward_one<decltype(k)::value>(xs[i], a, b);
        });
    });
}

void unary_math_backward_cpu(cpu::ThreadPool& pool, const UnaryMathAttrs& attrs, std::span<const float> saved,
                             std::span<const float> dy, std::span<float> dx) {
    unary_math_check(attrs);
    check_backward_sizes(saved.size(), dy.size(), dx.size());
    // Not __restrict: dx may be saved or dy (in place in the graph).
    const float* ss = saved.data();
    const float* dys = dy.data();
    float* dxs = dx.data();
    const float a = attrs.a, b = attrs.b;
    with_kind(attrs.kind, [&](auto k) {
        parallel_elementwise(pool, dy.size(), [=](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) dxs[i] = backward_one<decltype(k)::value>(ss[i], dys[i], a, b);
        });
    });
}

void broadcast_rows_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, float scale, std::span<const float> x,
                        std::span<float> y) {
    check_broadcast(rows, cols, x.size(), y.size());
    const float* __restrict xs = x.data();
    float* __restrict ys = y.data();
    auto body = [=](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
            const float v = xs[r] * scale;
            for (size_t c = 0; c < cols; ++c) ys[r * cols + c] = v;
        }
    };
    if (rows * cols < (size_t{1} << 16)) body(0, rows);
    else pool.parallel_for(rows, body);
}

namespace {

// shaders/unary_math_{forward,backward}.comp's push constants.
struct UnaryPush {
    uint32_t n, kind;
    float a, b;
};

KernelLaunch unary_launch(std::string_view shader, const UnaryMathAttrs& attrs, size_t n, std::vector<Access> args) {
    unary_math_check(attrs);
    KernelLaunch l = grid_stride_launch(shader, n, std::move(args));
    l.set_push(UnaryPush{static_cast<uint32_t>(n), static_cast<uint32_t>(attrs.kind), attrs.a, attrs.b});
    return l;
}

} // namespace

KernelLaunch unary_math_forward_launch(const UnaryMathAttrs& attrs, size_t n) {
    return unary_launch("unary_math_forward", attrs, n, {Access::Read, Access::Write});
}

KernelLaunch unary_math_backward_launch(const UnaryMathAttrs& attrs, size_t n) {
    return unary_launch("unary_math_backward", attrs, n, {Access::Read, Access::Read, Access::Write});
}

KernelLaunch broadcast_rows_launch(size_t rows, size_t cols, float scale) {
    check(rows >= 1 && cols >= 1, "broadcast_rows: ", rows, " rows of ", cols, " columns, expected at least 1 x 1");
    struct Push {
        uint32_t n, cols;
        float scale;
    };
    KernelLaunch l = grid_stride_launch("broadcast_rows", uint64_t{rows} * cols, {Access::Read, Access::Write});
    l.set_push(Push{static_cast<uint32_t>(rows * cols), static_cast<uint32_t>(cols), scale});
    return l;
}

} // namespace vkcnn::ops
