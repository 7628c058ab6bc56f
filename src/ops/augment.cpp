// Random affine augmentation: the draw, references, CPU kernel and GPU launch (see augment.h).
#include "vkcnn/ops/augment.h"

#include "vkcnn/core/error.h"
#include "vkcnn/core/tensor.h"

#include <cmath>
#include <vector>

namespace vkcnn::ops {

namespace {

constexpr uint32_t kCounterWord = 0x61756700u; // "aug\0": Philox counter word 2, apart from dropout's 0
constexpr float kDegToRad = 0.017453292519943295f;

struct Dims {
    int64_t N, C, H, W;
    int64_t size() const { return N * C * H * W; }
};

Dims check_shape(std::span<const int64_t> s) {
    const Shape shape{std::vector<int64_t>(s.begin(), s.end())};
    check(s.size() == 4, "augment: x has to be 4-D (N, C, H, W), but got shape ", shape.str());
    for (const int64_t d : s) check(d > 0, "augment: x has an empty (or negative) dimension: ", shape.str());
    check(s[2] <= (int64_t{1} << 24) && s[3] <= (int64_t{1} << 24), "augment: H and W have to be at most 2^24 ",
          "(exact pixel coordinates in float), but x has shape ", shape.str());
    check(s[0] <= 0xFFFFFFFFll, "augment: N = ", s[0], " exceeds 2^32 - 1 (the Philox counter)");
    return {s[0], s[1], s[2], s[3]};
}

void check_sizes(const Dims& d, size_t x, size_t y) {
    check(x == size_t(d.size()) && y == size_t(d.size()), "augment: shape (", d.N, ", ", d.C, ", ", d.H, ", ", d.W,
          ") has ", d.size(), " elements, but x has ", x, " and y has ", y);
}

// s = 2 u - 1 in [-1, 1), u = (bits >> 8) * 2^-24: both exact in float.
float signed_unit(uint32_t bits) { return 2.0f * (float(bits >> 8) * 0x1p-24f) - 1.0f; }

// Bilinear sample of one (H, W) plane at (px, py), outside taps reading fill
// (see augment.h). Plain and generic: the reference's arithmetic.
template <typename T>
T sample(const T* plane, int64_t H, int64_t W, T px, T py, T fill) {
    if (!(px > T(-1) && px < T(W) && py > T(-1) && py < T(H))) return fill;
    const T fx = std::floor(px), fy = std::floor(py);
    const T wx = px - fx, wy = py - fy;
    const int64_t x0 = int64_t(fx), y0 = int64_t(fy);
    auto tap = [&](int64_t xi, int64_t yi) {
        return xi >= 0 && xi < W && yi >= 0 && yi < H ? plane[yi * W + xi] : fill;
    };
    auto row = [&](int64_t yi) { return wx == T(0) ? tap(x0, yi) : (T(1) - wx) * tap(x0, yi) + wx * tap(x0 + 1, yi); };
    const T top = row(y0);
    return wy == T(0) ? top : (T(1) - wy) * top + wy * row(y0 + 1);
}

} // namespace

void check_augment_attrs(const AugmentAttrs& a) {
    check(a.max_degrees >= 0.0f && a.max_degrees <= 180.0f, "augment: max_degrees has to be in [0, 180], but got ",
          a.max_degrees);
    check(a.max_scale >= 0.0f && a.max_scale < 1.0f, "augment: max_scale has to be in [0, 1), but got ", a.max_scale);
    check(a.max_translate >= 0.0f && std::isfinite(a.max_translate),
          "augment: max_translate has to be finite and >= 0, but got ", a.max_translate);
    check(std::isfinite(a.fill), "augment: fill has to be finite, but got ", a.fill);
}

AffineParams augment_params(const AugmentAttrs& attrs, PhiloxKey key, uint32_t n) {
    check_augment_attrs(attrs);
    const auto b = philox4x32_10({n, attrs.stream, kCounterWord, 0}, {key.seed, key.step});
    const float degrees = attrs.max_degrees * signed_unit(b[0]);
    const float radians = degrees * kDegToRad;
    AffineParams p;
    p.cos_a = std::cos(radians);
    p.sin_a = std::sin(radians);
    p.scale = 1.0f + attrs.max_scale * signed_unit(b[1]);
    p.tx = attrs.max_translate * signed_unit(b[2]);
    p.ty = attrs.max_translate * signed_unit(b[3]);
    return p;
}

template <typename T>
void affine_reference(std::span<const AffineParams> params, float fill, std::span<const int64_t> x_shape,
                      std::span<const T> x, std::span<T> y) {
    const Dims d = check_shape(x_shape);
    check_sizes(d, x.size(), y.size());
    check(params.size() == size_t(d.N), "augment: ", params.size(), " transforms for ", d.N, " samples");
    check(std::isfinite(fill), "augment: fill has to be finite, but got ", fill);
    const T cx = T(d.W - 1) * T(0.5), cy = T(d.H - 1) * T(0.5);
    for (int64_t n = 0; n < d.N; ++n) {
        const AffineParams& p = params[size_t(n)];
        const T c = T(p.cos_a), s = T(p.sin_a), sc = T(p.scale), tx = T(p.tx), ty = T(p.ty);
        for (int64_t ch = 0; ch < d.C; ++ch) {
            const size_t plane = size_t((n * d.C + ch) * d.H * d.W);
            for (int64_t yo = 0; yo < d.H; ++yo) {
                for (int64_t xo = 0; xo < d.W; ++xo) {
                    const T dx = T(xo) - cx - tx, dy = T(yo) - cy - ty;
                    const T px = cx + (c * dx + s * dy) / sc;
                    const T py = cy + (c * dy - s * dx) / sc;
                    y[plane + size_t(yo * d.W + xo)] = sample(x.data() + plane, d.H, d.W, px, py, T(fill));
                }
            }
        }
    }
}

template <typename T>
void augment_reference(const AugmentAttrs& attrs, PhiloxKey key, std::span<const int64_t> x_shape,
                       std::span<const T> x, std::span<T> y) {
    check_augment_attrs(attrs);
    const Dims d = check_shape(x_shape);
    std::vector<AffineParams> params(size_t(d.N));
    for (int64_t n = 0; n < d.N; ++n) params[size_t(n)] = augment_params(attrs, key, uint32_t(n));
    affine_reference<T>(params, attrs.fill, x_shape, x, y);
}

template void affine_reference<float>(std::span<const AffineParams>, float, std::span<const int64_t>,
                                      std::span<const float>, std::span<float>);
template void affine_reference<double>(std::span<const AffineParams>, float, std::span<const int64_t>,
                                       std::span<const double>, std::span<double>);
template void augment_reference<float>(const AugmentAttrs&, PhiloxKey, std::span<const int64_t>,
                                       std::span<const float>, std::span<float>);
template void augment_reference<double>(const AugmentAttrs&, PhiloxKey, std::span<const int64_t>,
                                        std::span<const double>, std::span<double>);

void augment_cpu(cpu::ThreadPool& pool, const AugmentAttrs& attrs, PhiloxKey key, std::span<const int64_t> x_shape,
                 std::span<const float> x, std::span<float> y) {
    check_augment_attrs(attrs);
    const Dims d = check_shape(x_shape);
    check_sizes(d, x.size(), y.size());
    std::vector<AffineParams> params(size_t(d.N));
    for (int64_t n = 0; n < d.N; ++n) params[size_t(n)] = augment_params(attrs, key, uint32_t(n));
    const float* __restrict src = x.data();
    float* __restrict dst = y.data();
    const float fill = attrs.fill, cx = float(d.W - 1) * 0.5f, cy = float(d.H - 1) * 0.5f;
    const int64_t H = d.H, W = d.W, C = d.C, plane = H * W;
    // One task per output row (n, yo): the row's sample points are computed
    // once and serve all C channels, in the reference's float arithmetic.
    auto body = [&](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
            const int64_t n = int64_t(r) / H, yo = int64_t(r) % H;
            const AffineParams& p = params[size_t(n)];
            const float dy = float(yo) - cy - p.ty;
            for (int64_t xo = 0; xo < W; ++xo) {
                const float dx = float(xo) - cx - p.tx;
                const float px = cx + (p.cos_a * dx + p.sin_a * dy) / p.scale;
                const float py = cy + (p.cos_a * dy - p.sin_a * dx) / p.scale;
                const size_t out = size_t(n * C * plane + yo * W + xo);
                if (!(px > -1.0f && px < float(W) && py > -1.0f && py < float(H))) {
                    for (int64_t ch = 0; ch < C; ++ch) dst[out + size_t(ch * plane)] = fill;
                    continue;
                }
                const float fx = std::floor(px), fy = std::floor(py);
                const float wx = px - fx, wy = py - fy;
                const int64_t x0 = int64_t(fx), y0 = int64_t(fy);
                // Tap offsets within the plane, -1 for outside (reads fill).
                auto at = [&](int64_t xi, int64_t yi) {
                    return xi >= 0 && xi < W && yi >= 0 && yi < H ? yi * W + xi : int64_t{-1};
                };
                const int64_t t00 = at(x0, y0), t01 = at(x0 + 1, y0), t10 = at(x0, y0 + 1), t11 = at(x0 + 1, y0 + 1);
                for (int64_t ch = 0; ch < C; ++ch) {
                    const float* pl = src + (n * C + ch) * plane;
                    auto v = [&](int64_t t) { return t >= 0 ? pl[t] : fill; };
                    const float top = wx == 0.0f ? v(t00) : (1.0f - wx) * v(t00) + wx * v(t01);
                    float o = top;
                    if (wy != 0.0f) {
                        const float bot = wx == 0.0f ? v(t10) : (1.0f - wx) * v(t10) + wx * v(t11);
                        o = (1.0f - wy) * top + wy * bot;
                    }
                    dst[out + size_t(ch * plane)] = o;
                }
            }
        }
    };
    const size_t rows = size_t(d.N * H);
    if (size_t(d.size()) < (size_t{1} << 14)) body(0, rows);
    else pool.parallel_for(rows, body);
}

namespace {

// Matches the push block of shaders/augment.comp.
struct Push {
    uint32_t count; // N * C * H * W
    uint32_t C, H, W;
    float max_degrees, max_scale, max_translate, fill;
    uint32_t stream;
    float deg_to_rad;
};

} // namespace

KernelLaunch augment_launch(const AugmentAttrs& attrs, std::span<const int64_t> x_shape) {
    check_augment_attrs(attrs);
    const Dims d = check_shape(x_shape);
    KernelLaunch l = grid_stride_launch("augment", uint64_t(d.size()), {Access::Read, Access::Read, Access::Write});
    l.set_push(Push{uint32_t(d.size()), uint32_t(d.C), uint32_t(d.H), uint32_t(d.W), attrs.max_degrees,
                    attrs.max_scale, attrs.max_translate, attrs.fill, attrs.stream, kDegToRad});
    return l;
}

} // namespace vkcnn::ops
