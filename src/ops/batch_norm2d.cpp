// batch_norm2d: shape rule, references, CPU kernels and GPU launches (see batch_norm2d.h).
#include "vkcnn/ops/batch_norm2d.h"

#include "vkcnn/core/error.h"
#include "vkcnn/core/tensor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace vkcnn::ops {

namespace {

std::string dims_str(std::span<const int64_t> d) { return Shape(std::vector<int64_t>(d.begin(), d.end())).str(); }

std::string shape_str(const BatchNorm2dShape& s) { return Shape{s.n, s.c, s.h, s.w}.str(); }

// Indices past 2^31 would overflow the shaders' uint arithmetic (chunk ends, n * C + c).
constexpr size_t kMaxElements = size_t{1} << 31;

void check_shape(const char* op, const BatchNorm2dShape& s) {
    check(s.c >= 1 && s.reduced() >= 1, op, ": x ", shape_str(s), " is empty");
    check(s.x_size() <= kMaxElements, op, ": x ", shape_str(s), " has more than 2^31 elements");
}

void check_training(const char* op, const BatchNorm2dShape& s) {
    check(s.reduced() > 1, op, ": expected more than 1 value per channel when training, got x ", shape_str(s));
}

void check_x(const char* op, const BatchNorm2dShape& s, const char* name, size_t size) {
    check(size == s.x_size(), op, ": ", name, " has ", size, " elements, expected ", shape_str(s), " = ", s.x_size());
}

void check_c(const char* op, const BatchNorm2dShape& s, const char* name, size_t size, bool optional = false) {
    check(size == s.c || (optional && size == 0), op, ": ", name, " has ", size, " elements, expected (", s.c,
          ",) for x ", shape_str(s));
}

void check_forward(const char* op, const BatchNorm2dShape& s, size_t x, size_t weight, size_t bias, size_t rm,
                   size_t rv, size_t y) {
    check_shape(op, s);
    check_x(op, s, "x", x);
    check_c(op, s, "weight", weight);
    check_c(op, s, "bias", bias);
    check_c(op, s, "running_mean", rm);
    check_c(op, s, "running_var", rv);
    check_x(op, s, "y", y);
}

void check_backward(const BatchNorm2dShape& s, size_t x, size_t dy, size_t weight, size_t mean, size_t invstd,
                    size_t dx, size_t dweight, size_t dbias) {
    const char* op = "batch_norm2d_backward";
    check_shape(op, s);
    check_training(op, s);
    check_x(op, s, "x", x);
    check_x(op, s, "dy", dy);
    check_c(op, s, "weight", weight);
    check_c(op, s, "save_mean", mean);
    check_c(op, s, "save_invstd", invstd);
    check(dx == 0 || dx == s.x_size(), op, ": dx has ", dx, " elements, expected ", shape_str(s), " = ", s.x_size());
    check_c(op, s, "dweight", dweight, true);
    check_c(op, s, "dbias", dbias, true);
}

void check_eval_backward(const BatchNorm2dShape& s, size_t x, size_t dy, size_t weight, size_t rm, size_t rv,
                         size_t dx, size_t dweight, size_t dbias) {
    const char* op = "batch_norm2d_eval_backward";
    check_shape(op, s);
    check_x(op, s, "x", x);
    check_x(op, s, "dy", dy);
    check_c(op, s, "weight", weight);
    check_c(op, s, "running_mean", rm);
    check_c(op, s, "running_var", rv);
    check(dx == 0 || dx == s.x_size(), op, ": dx has ", dx, " elements, expected ", shape_str(s), " = ", s.x_size());
    check_c(op, s, "dweight", dweight, true);
    check_c(op, s, "dbias", dbias, true);
}

// Element p of plane (n, c) of an (N, C, H, W) tensor.
size_t at(const BatchNorm2dShape& s, size_t n, size_t c, size_t p) { return (n * s.c + c) * s.hw() + p; }

} // namespace

BatchNorm2dShape batch_norm2d_shape(std::span<const int64_t> x, std::span<const int64_t> weight,
                                    std::span<const int64_t> bias, std::span<const int64_t> running_mean,
                                    std::span<const int64_t> running_var, bool training) {
    check(x.size() == 4, "batch_norm2d: expected 4-D x (N, C, H, W), got ", dims_str(x));
    for (int64_t d : x) check(d >= 0 && d <= 0xffffffff, "batch_norm2d: x ", dims_str(x), " has a bad size");
    const std::pair<const char*, std::span<const int64_t>> params[] = {
        {"weight", weight}, {"bias", bias}, {"running_mean", running_mean}, {"running_var", running_var}};
    for (const auto& [name, dims] : params)
        check(dims.size() == 1 && dims[0] == x[1], "batch_norm2d: ", name, " ", dims_str(dims), " does not match x ",
              dims_str(x), ": expected (", x[1], ",)");
    const BatchNorm2dShape s{static_cast<uint32_t>(x[0]), static_cast<uint32_t>(x[1]), static_cast<uint32_t>(x[2]),
                             static_cast<uint32_t>(x[3])};
    check_shape("batch_norm2d", s);
    if (training) check_training("batch_norm2d", s);
    return s;
}

template <typename T>
void batch_norm2d_forward_train_reference(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                          std::span<const T> x, std::span<const T> weight, std::span<const T> bias,
                                          std::span<T> running_mean, std::span<T> running_var, std::span<T> y,
                                          std::span<T> save_mean, std::span<T> save_invstd) {
    const char* op = "batch_norm2d_forward";
    check_forward(op, s, x.size(), weight.size(), bias.size(), running_mean.size(), running_var.size(), y.size());
    check_training(op, s);
    check_c(op, s, "save_mean", save_mean.size());
    check_c(op, s, "save_invstd", save_invstd.size());
    const size_t m = s.reduced();
    const T momentum = T(attrs.momentum);
    for (size_t c = 0; c < s.c; ++c) {
        T sum = 0;
        for (size_t n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.hw(); ++p) sum += x[at(s, n, c, p)];
        const T mean = sum / T(m);
        T squares = 0;
        for (size_t n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.hw(); ++p) {
                const T d = x[at(s, n, c, p)] - mean;
                squares += d * d;
            }
        const T invstd = T(1) / std::sqrt(squares / T(m) + T(attrs.eps));
        for (size_t n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.hw(); ++p) {
                const size_t i = at(s, n, c, p);
                y[i] = (x[i] - mean) * invstd * weight[c] + bias[c];
            }
        save_mean[c] = mean;
        save_invstd[c] = invstd;
        running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (T(1) - momentum) * running_var[c] + momentum * (squares / T(m - 1));
    }
}

template <typename T>
void batch_norm2d_forward_eval_reference(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                         std::span<const T> x, std::span<const T> weight, std::span<const T> bias,
                                         std::span<const T> running_mean, std::span<const T> running_var,
                                         std::span<T> y) {
    check_forward("batch_norm2d_forward", s, x.size(), weight.size(), bias.size(), running_mean.size(),
                  running_var.size(), y.size());
    for (size_t c = 0; c < s.c; ++c) {
        const T invstd = T(1) / std::sqrt(running_var[c] + T(attrs.eps));
        for (size_t n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.hw(); ++p) {
                const size_t i = at(s, n, c, p);
                y[i] = (x[i] - running_mean[c]) * invstd * weight[c] + bias[c];
            }
    }
}

template <typename T>
void batch_norm2d_backward_reference(const BatchNorm2dShape& s, std::span<const T> x, std::span<const T> dy,
                                     std::span<const T> weight, std::span<const T> save_mean,
                                     std::span<const T> save_invstd, std::span<T> dx, std::span<T> dweight,
                                     std::span<T> dbias) {
    check_backward(s, x.size(), dy.size(), weight.size(), save_mean.size(), save_invstd.size(), dx.size(),
                   dweight.size(), dbias.size());
    const T m = T(s.reduced());
    for (size_t c = 0; c < s.c; ++c) {
        const T mean = save_mean[c], invstd = save_invstd[c];
        T sum_dy = 0, sum_dy_xhat = 0;
        for (size_t n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.hw(); ++p) {
                const size_t i = at(s, n, c, p);
                sum_dy += dy[i];
                sum_dy_xhat += dy[i] * (x[i] - mean) * invstd;
            }
        if (!dbias.empty()) dbias[c] = sum_dy;
        if (!dweight.empty()) dweight[c] = sum_dy_xhat;
        if (dx.empty()) continue;
        for (size_t n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.hw(); ++p) {
                const size_t i = at(s, n, c, p);
                const T xhat = (x[i] - mean) * invstd;
                dx[i] = weight[c] * invstd / m * (m * dy[i] - sum_dy - xhat * sum_dy_xhat);
            }
    }
}

template <typename T>
void batch_norm2d_eval_backward_reference(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                          std::span<const T> x, std::span<const T> dy, std::span<const T> weight,
                                          std::span<const T> running_mean, std::span<const T> running_var,
                                          std::span<T> dx, std::span<T> dweight, std::span<T> dbias) {
    check_eval_backward(s, x.size(), dy.size(), weight.size(), running_mean.size(), running_var.size(), dx.size(),
                        dweight.size(), dbias.size());
    for (size_t c = 0; c < s.c; ++c) {
        const T mean = running_mean[c], invstd = T(1) / std::sqrt(running_var[c] + T(attrs.eps));
        T sum_dy = 0, sum_dy_xhat = 0;
        for (size_t n = 0; n < s.n; ++n)
            for (size_t p = 0; p < s.hw(); ++p) {
                const size_t i = at(s, n, c, p);
                sum_dy += dy[i];
                sum_dy_xhat += dy[i] * (x[i] - mean) * invstd;
                if (!dx.empty()) dx[i] = dy[i] * weight[c] * invstd;
            }
        if (!dbias.empty()) dbias[c] = sum_dy;
        if (!dweight.empty()) dweight[c] = sum_dy_xhat;
    }
}

#define VKCNN_INSTANTIATE(T)                                                                                      \
    template void batch_norm2d_forward_train_reference<T>(const BatchNorm2dShape&, const BatchNorm2dAttrs&,       \
                                                          std::span<const T>, std::span<const T>,                 \
                                                          std::span<const T>, std::span<T>, std::span<T>,         \
                                                          std::span<T>, std::span<T>, std::span<T>);              \
    template void batch_norm2d_forward_eval_reference<T>(const BatchNorm2dShape&, const BatchNorm2dAttrs&,        \
                                                         std::span<const T>, std::span<const T>,                  \
                                                         std::span<const T>, std::span<const T>,                  \
                                                         std::span<const T>, std::span<T>);                       \
    template void batch_norm2d_backward_reference<T>(const BatchNorm2dShape&, std::span<const T>,                 \
                                                     std::span<const T>, std::span<const T>, std::span<const T>,  \
                                                     std::span<const T>, std::span<T>, std::span<T>, std::span<T>); \
    template void batch_norm2d_eval_backward_reference<T>(                                                        \
        const BatchNorm2dShape&, const BatchNorm2dAttrs&, std::span<const T>, std::span<const T>,                 \
        std::span<const T>, std::span<const T>, std::span<const T>, std::span<T>, std::span<T>, std::span<T>);
VKCNN_INSTANTIATE(float)
VKCNN_INSTANTIATE(double)
#undef VKCNN_INSTANTIATE

namespace {

// Elements of one plane summed in float before the pieces meet in double:
// long enough to vectorise, short enough that float rounding stays small.
constexpr size_t kPiece = 4096;

// Work below this many elements is not worth waking threads for.
constexpr size_t kParallelMin = size_t{1} << 15;

// Sum of term(i) over [0, n) in 8 interleaved float lanes (vectorises), lanes combined pairwise.
template <typename Term>
float lanes_sum(size_t n, const Term& term) {
    std::array<float, 8> acc{};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; ++k) acc[k] += term(i + k);
    for (size_t k = 0; i < n; ++i, ++k) acc[k] += term(i);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// K per-channel sums: piece(c, offset, length) returns the float sums of one
// piece (a run of at most kPiece elements of one plane, starting at offset in
// x). Pieces run in parallel; each channel adds its pieces in (n, run) order
// in double, so the result does not depend on the thread count.
template <size_t K, typename Piece>
std::vector<std::array<double, K>> channel_sums(cpu::ThreadPool& pool, const BatchNorm2dShape& s,
                                                const Piece& piece) {
    const size_t hw = s.hw(), per_plane = (hw + kPiece - 1) / kPiece, per_channel = s.n * per_plane;
    std::vector<std::array<float, K>> pieces(s.c * per_channel);
    auto body = [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            const size_t c = i / per_channel, n = i % per_channel / per_plane, run = i % per_plane;
            pieces[i] = piece(c, at(s, n, c, run * kPiece), std::min(kPiece, hw - run * kPiece));
        }
    };
    if (s.x_size() < kParallelMin) body(0, pieces.size());
    else pool.parallel_for(pieces.size(), body);
    std::vector<std::array<double, K>> sums(s.c);
    for (size_t c = 0; c < s.c; ++c) {
        std::array<double, K> acc{};
        for (size_t i = c * per_channel; i < (c + 1) * per_channel; ++i)
            for (size_t k = 0; k < K; ++k) acc[k] += pieces[i][k];
        sums[c] = acc;
    }
    return sums;
}

// out = (in - shift[c]) * scale[c] + offset[c] over every plane (n, c).
void normalize_planes(cpu::ThreadPool& pool, const BatchNorm2dShape& s, std::span<const float> in,
                      const std::vector<float>& shift, const std::vector<float>& scale,
                      std::span<const float> offset, std::span<float> out) {
    const size_t hw = s.hw(), planes = size_t{s.n} * s.c;
    auto body = [&](size_t begin, size_t end) {
        for (size_t plane = begin; plane < end; ++plane) {
            const size_t c = plane % s.c;
            const float sh = shift[c], sc = scale[c], of = offset[c];
            const float* __restrict xs = in.data() + plane * hw;
            float* __restrict ys = out.data() + plane * hw;
            for (size_t p = 0; p < hw; ++p) ys[p] = (xs[p] - sh) * sc + of;
        }
    };
    if (s.x_size() < kParallelMin) body(0, planes);
    else pool.parallel_for(planes, body);
}

} // namespace

void batch_norm2d_forward_train_cpu(cpu::ThreadPool& pool, const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                    std::span<const float> x, std::span<const float> weight,
                                    std::span<const float> bias, std::span<float> running_mean,
                                    std::span<float> running_var, std::span<float> y, std::span<float> save_mean,
                                    std::span<float> save_invstd) {
    const char* op = "batch_norm2d_forward";
    check_forward(op, s, x.size(), weight.size(), bias.size(), running_mean.size(), running_var.size(), y.size());
    check_training(op, s);
    check_c(op, s, "save_mean", save_mean.size());
    check_c(op, s, "save_invstd", save_invstd.size());
    const double m = static_cast<double>(s.reduced()), momentum = attrs.momentum;
    const auto sums = channel_sums<1>(pool, s, [&](size_t, size_t off, size_t len) {
        const float* xs = x.data() + off;
        return std::array<float, 1>{lanes_sum(len, [xs](size_t i) { return xs[i]; })};
    });
    std::vector<float> mean(s.c), scale(s.c);
    for (size_t c = 0; c < s.c; ++c) mean[c] = static_cast<float>(sums[c][0] / m);
    // Deviations from the rounded mean: the one backward sees.
    const auto squares = channel_sums<1>(pool, s, [&](size_t c, size_t off, size_t len) {
        const float* xs = x.data() + off;
        const float mu = mean[c];
        return std::array<float, 1>{lanes_sum(len, [xs, mu](size_t i) { return (xs[i] - mu) * (xs[i] - mu); })};
    });
    for (size_t c = 0; c < s.c; ++c) {
        const double sq = squares[c][0], invstd = 1.0 / std::sqrt(sq / m + attrs.eps);
        save_mean[c] = mean[c];
        save_invstd[c] = static_cast<float>(invstd);
        scale[c] = static_cast<float>(invstd * weight[c]);
        running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * (sums[c][0] / m));
        running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * (sq / (m - 1)));
    }
    normalize_planes(pool, s, x, mean, scale, bias, y);
}

void batch_norm2d_forward_eval_cpu(cpu::ThreadPool& pool, const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                   std::span<const float> x, std::span<const float> weight,
                                   std::span<const float> bias, std::span<const float> running_mean,
                                   std::span<const float> running_var, std::span<float> y) {
    check_forward("batch_norm2d_forward", s, x.size(), weight.size(), bias.size(), running_mean.size(),
                  running_var.size(), y.size());
    std::vector<float> mean(running_mean.begin(), running_mean.end()), scale(s.c);
    for (size_t c = 0; c < s.c; ++c)
        scale[c] = static_cast<float>(weight[c] / std::sqrt(double{running_var[c]} + attrs.eps));
    normalize_planes(pool, s, x, mean, scale, bias, y);
}

void batch_norm2d_backward_cpu(cpu::ThreadPool& pool, const BatchNorm2dShape& s, std::span<const float> x,
                               std::span<const float> dy, std::span<const float> weight,
                               std::span<const float> save_mean, std::span<const float> save_invstd,
                               std::span<float> dx, std::span<float> dweight, std::span<float> dbias) {
    check_backward(s, x.size(), dy.size(), weight.size(), save_mean.size(), save_invstd.size(), dx.size(),
                   dweight.size(), dbias.size());
    const auto sums = channel_sums<2>(pool, s, [&](size_t c, size_t off, size_t len) {
        const float* xs = x.data() + off;
        const float* gs = dy.data() + off;
        const float mu = save_mean[c];
        return std::array<float, 2>{lanes_sum(len, [gs](size_t i) { return gs[i]; }),
                                    lanes_sum(len, [xs, gs, mu](size_t i) { return gs[i] * (xs[i] - mu); })};
    });
    const double m = static_cast<double>(s.reduced());
    // dx = (dy - dbias / M - (x - mean) * dweight * invstd / M) * weight * invstd
    std::vector<float> scale(s.c), shift(s.c), slope(s.c);
    for (size_t c = 0; c < s.c; ++c) {
        const double invstd = save_invstd[c], sum_dy = sums[c][0], dw = sums[c][1] * invstd;
        if (!dbias.empty()) dbias[c] = static_cast<float>(sum_dy);
        if (!dweight.empty()) dweight[c] = static_cast<float>(dw);
        scale[c] = static_cast<float>(weight[c] * invstd);
        shift[c] = static_cast<float>(sum_dy / m);
        slope[c] = static_cast<float>(dw * invstd / m);
    }
    if (dx.empty()) return;
    const size_t hw = s.hw(), planes = size_t{s.n} * s.c;
    auto body = [&](size_t begin, size_t end) {
        for (size_t plane = begin; plane < end; ++plane) {
            const size_t c = plane % s.c;
            const float mu = save_mean[c], sc = scale[c], sh = shift[c], sl = slope[c];
            const float* __restrict xs = x.data() + plane * hw;
            const float* __restrict gs = dy.data() + plane * hw;
            float* __restrict out = dx.data() + plane * hw;
            for (size_t p = 0; p < hw; ++p) out[p] = (gs[p] - sh - (xs[p] - mu) * sl) * sc;
        }
    };
    if (s.x_size() < kParallelMin) body(0, planes);
    else pool.parallel_for(planes, body);
}

void batch_norm2d_eval_backward_cpu(cpu::ThreadPool& pool, const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                    std::span<const float> x, std::span<const float> dy,
                                    std::span<const float> weight, std::span<const float> running_mean,
                                    std::span<const float> running_var, std::span<float> dx,
                                    std::span<float> dweight, std::span<float> dbias) {
    check_eval_backward(s, x.size(), dy.size(), weight.size(), running_mean.size(), running_var.size(), dx.size(),
                        dweight.size(), dbias.size());
    // invstd in double, rounded once, as the eval forward's.
    std::vector<double> invstd(s.c);
    for (size_t c = 0; c < s.c; ++c) invstd[c] = 1.0 / std::sqrt(double{running_var[c]} + attrs.eps);
    if (!dweight.empty() || !dbias.empty()) {
        // The training backward's sums with the running mean: deviations from
        // it keep their accuracy under a large common offset.
        const auto sums = channel_sums<2>(pool, s, [&](size_t c, size_t off, size_t len) {
            const float* xs = x.data() + off;
            const float* gs = dy.data() + off;
            const float mu = running_mean[c];
            return std::array<float, 2>{lanes_sum(len, [gs](size_t i) { return gs[i]; }),
                                        lanes_sum(len, [xs, gs, mu](size_t i) { return gs[i] * (xs[i] - mu); })};
        });
        for (size_t c = 0; c < s.c; ++c) {
            if (!dbias.empty()) dbias[c] = static_cast<float>(sums[c][0]);
            if (!dweight.empty()) dweight[c] = static_cast<float>(sums[c][1] * invstd[c]);
        }
    }
    if (dx.empty()) return;
    // dx = dy * (weight * invstd): the statistics are constants in eval mode.
    std::vector<float> scale(s.c);
    for (size_t c = 0; c < s.c; ++c) scale[c] = static_cast<float>(weight[c] * invstd[c]);
    const size_t hw = s.hw(), planes = size_t{s.n} * s.c;
    auto body = [&](size_t begin, size_t end) {
        for (size_t plane = begin; plane < end; ++plane) {
            const float sc = scale[plane % s.c];
            const float* __restrict gs = dy.data() + plane * hw;
            float* __restrict out = dx.data() + plane * hw;
            for (size_t p = 0; p < hw; ++p) out[p] = gs[p] * sc;
        }
    };
    if (s.x_size() < kParallelMin) body(0, planes);
    else pool.parallel_for(planes, body);
}

namespace {

// shaders/batch_norm2d_common.glsl reads these.
struct Push {
    uint32_t n, c, hw;
    uint32_t m;         // N * H * W
    uint32_t chunks;    // partial reductions per channel
    uint32_t chunk_len; // ceil(m / chunks)
    float eps, momentum;
};

Push make_push(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs, uint32_t chunks) {
    const uint32_t m = static_cast<uint32_t>(s.reduced());
    return {s.n, s.c, static_cast<uint32_t>(s.hw()), m, chunks, (m + chunks - 1) / chunks, attrs.eps, attrs.momentum};
}

void check_chunks(const char* op, const BatchNorm2dShape& s, uint32_t chunks) {
    check(chunks >= 1 && chunks <= 65535, op, ": ", chunks, " chunks per channel, expected 1 to 65535");
    check(batch_norm2d_partials_size(s, chunks) <= 0xffffffffu, op, ": ", s.c, " channels x ", chunks,
          " chunks exceed 2^32 - 1 partials");
}

// A power of two (the shared-memory tree halves it) sized to the elements per workgroup.
uint32_t reduce_workgroup(size_t per_group) {
    uint32_t size = 64;
    while (size < 256 && size < per_group) size *= 2;
    return size;
}

// Grid-stride over channels beyond the 65535-workgroup limit.
uint32_t channel_groups(const BatchNorm2dShape& s) { return std::min<uint32_t>(s.c, 65535); }

KernelLaunch channel_launch(std::string_view shader, const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                            uint32_t chunks, uint32_t workgroup, std::vector<Access> args) {
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = {workgroup, 1, 1};
    l.args = std::move(args);
    l.groups = {channel_groups(s), 1, 1};
    l.set_push(make_push(s, attrs, chunks));
    return l;
}

// Workgroup (p, c) reduces chunk p of channel c.
KernelLaunch chunk_launch(std::string_view shader, const BatchNorm2dShape& s, uint32_t chunks,
                          std::vector<Access> args) {
    const Push p = make_push(s, {}, chunks);
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = {reduce_workgroup(p.chunk_len), 1, 1};
    l.args = std::move(args);
    l.groups = {chunks, channel_groups(s), 1};
    l.set_push(p);
    return l;
}

KernelLaunch elementwise_launch(std::string_view shader, const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                std::vector<Access> args) {
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = {256, 1, 1};
    l.args = std::move(args);
    l.groups = {std::min<uint32_t>(groups_for(s.x_size(), 256), 4096), 1, 1}; // grid-stride beyond
    l.set_push(make_push(s, attrs, 1));
    return l;
}

constexpr Access R = Access::Read, W = Access::Write, RW = Access::ReadWrite;

} // namespace

uint32_t batch_norm2d_chunks(const BatchNorm2dShape& s) {
    // One workgroup per channel saves a dispatch and a pass over the partials;
    // chunks pay off once a channel holds many workgroups' worth of elements
    // (256 lanes x 16 each), as with few channels of large feature maps.
    return static_cast<uint32_t>(std::clamp<size_t>((s.reduced() + 4095) / 4096, 1, 64));
}

size_t batch_norm2d_partials_size(const BatchNorm2dShape& s, uint32_t chunks) { return size_t{s.c} * chunks * 2; }

KernelLaunch batch_norm2d_stats_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs, bool subgroup) {
    check_shape("batch_norm2d_stats", s);
    check_training("batch_norm2d_stats", s);
    return channel_launch(subgroup ? "batch_norm2d_stats_subgroup" : "batch_norm2d_stats", s, attrs, 1,
                          reduce_workgroup(s.reduced()), {R, W, W, RW, RW});
}

KernelLaunch batch_norm2d_stats_partials_launch(const BatchNorm2dShape& s, uint32_t chunks, bool subgroup) {
    check_shape("batch_norm2d_stats_partials", s);
    check_training("batch_norm2d_stats_partials", s);
    check_chunks("batch_norm2d_stats_partials", s, chunks);
    return chunk_launch(subgroup ? "batch_norm2d_stats_partials_subgroup" : "batch_norm2d_stats_partials", s, chunks,
                        {R, W});
}

KernelLaunch batch_norm2d_stats_finish_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                              uint32_t chunks) {
    check_shape("batch_norm2d_stats_finish", s);
    check_training("batch_norm2d_stats_finish", s);
    check_chunks("batch_norm2d_stats_finish", s, chunks);
    return channel_launch("batch_norm2d_stats_finish", s, attrs, chunks, reduce_workgroup(chunks), {R, W, W, RW, RW});
}

KernelLaunch batch_norm2d_forward_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs, bool training) {
    check_shape("batch_norm2d_forward", s);
    if (training) check_training("batch_norm2d_forward", s);
    KernelLaunch l = elementwise_launch("batch_norm2d_forward", s, attrs, {R, R, R, R, R, W});
    l.constants = {training ? 0u : 1u}; // EVAL: argument 2 is running_var, not invstd
    return l;
}

namespace {

// The gradient sums, shared by the training and the eval backward: the
// shaders take a mean and an invstd per channel, the saved batch statistics
// or the running ones. `op` names the caller in errors; only training needs M > 1.
KernelLaunch sums_launch(const char* op, const BatchNorm2dShape& s, bool training, bool subgroup) {
    check_shape(op, s);
    if (training) check_training(op, s);
    return channel_launch(subgroup ? "batch_norm2d_backward_sums_subgroup" : "batch_norm2d_backward_sums", s, {}, 1,
                          reduce_workgroup(s.reduced()), {R, R, R, R, W, W});
}

KernelLaunch partials_launch(const char* op, const BatchNorm2dShape& s, uint32_t chunks, bool training,
                             bool subgroup) {
    check_shape(op, s);
    if (training) check_training(op, s);
    check_chunks(op, s, chunks);
    return chunk_launch(subgroup ? "batch_norm2d_backward_partials_subgroup" : "batch_norm2d_backward_partials", s,
                        chunks, {R, R, R, W});
}

KernelLaunch finish_launch(const char* op, const BatchNorm2dShape& s, uint32_t chunks, bool training) {
    check_shape(op, s);
    if (training) check_training(op, s);
    check_chunks(op, s, chunks);
    return channel_launch("batch_norm2d_backward_finish", s, {}, chunks, reduce_workgroup(chunks), {R, R, W, W});
}

} // namespace

KernelLaunch batch_norm2d_backward_sums_launch(const BatchNorm2dShape& s, bool subgroup) {
    return sums_launch("batch_norm2d_backward_sums", s, true, subgroup);
}

KernelLaunch batch_norm2d_backward_partials_launch(const BatchNorm2dShape& s, uint32_t chunks, bool subgroup) {
    return partials_launch("batch_norm2d_backward_partials", s, chunks, true, subgroup);
}

KernelLaunch batch_norm2d_backward_finish_launch(const BatchNorm2dShape& s, uint32_t chunks) {
    return finish_launch("batch_norm2d_backward_finish", s, chunks, true);
}

KernelLaunch batch_norm2d_backward_data_launch(const BatchNorm2dShape& s) {
    check_shape("batch_norm2d_backward_data", s);
    check_training("batch_norm2d_backward_data", s);
    return elementwise_launch("batch_norm2d_backward_data", s, {}, {R, R, R, R, R, R, R, W});
}

KernelLaunch batch_norm2d_eval_backward_invstd_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs) {
    check_shape("batch_norm2d_eval_backward_invstd", s);
    KernelLaunch l;
    l.shader = "batch_norm2d_eval_backward_invstd";
    l.workgroup = {64, 1, 1};
    l.args = {R, W};
    l.groups = {std::min<uint32_t>(groups_for(s.c, 64), 4096), 1, 1}; // grid-stride beyond
    l.set_push(make_push(s, attrs, 1));
    return l;
}

KernelLaunch batch_norm2d_eval_backward_sums_launch(const BatchNorm2dShape& s, bool subgroup) {
    return sums_launch("batch_norm2d_eval_backward_sums", s, false, subgroup);
}

KernelLaunch batch_norm2d_eval_backward_partials_launch(const BatchNorm2dShape& s, uint32_t chunks, bool subgroup) {
    return partials_launch("batch_norm2d_eval_backward_partials", s, chunks, false, subgroup);
}

KernelLaunch batch_norm2d_eval_backward_finish_launch(const BatchNorm2dShape& s, uint32_t chunks) {
    return finish_launch("batch_norm2d_eval_backward_finish", s, chunks, false);
}

KernelLaunch batch_norm2d_eval_backward_data_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs) {
    check_shape("batch_norm2d_eval_backward_data", s);
    return elementwise_launch("batch_norm2d_eval_backward_data", s, attrs, {R, R, R, W});
}

} // namespace vkcnn::ops
