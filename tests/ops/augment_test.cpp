// Random affine augmentation: the identity when every maximum is zero (GPU and
// CPU bit for bit), exact shifts and 90-degree turns of the reference, the GPU
// against the CPU kernel on random transforms (bitwise where no sin / cos is
// involved), the CPU kernel equal to the float reference bit for bit, the draw
// (determinism per key, ranges, independence), errors. Shader: augment.
#include "vkcnn/ops/augment.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using Shape4 = std::array<int64_t, 4>;

// The key buffer the shader reads: {seed, step} as two uint32 (run_kernel takes floats; the bits go as they are).
std::vector<float> key_buffer(ops::PhiloxKey key) {
    return {std::bit_cast<float>(key.seed), std::bit_cast<float>(key.step)};
}

size_t elements(const Shape4& s) { return size_t(s[0] * s[1] * s[2] * s[3]); }

std::vector<float> run_cpu(cpu::ThreadPool& pool, const ops::AugmentAttrs& attrs, ops::PhiloxKey key,
                           const Shape4& shape, const std::vector<float>& x) {
    std::vector<float> y(x.size(), std::numeric_limits<float>::quiet_NaN());
    ops::augment_cpu(pool, attrs, key, shape, x, y);
    return y;
}

std::vector<float> run_gpu(Device& dev, const ops::AugmentAttrs& attrs, ops::PhiloxKey key, const Shape4& shape,
                           const std::vector<float>& x) {
    return run_kernel(dev, ops::augment_launch(attrs, shape), {x, key_buffer(key), std::vector<float>(x.size())})[2];
}

std::vector<float> affine(const ops::AffineParams& p, float fill, const Shape4& shape, const std::vector<float>& x) {
    std::vector<float> y(x.size());
    const std::vector<ops::AffineParams> params(static_cast<size_t>(shape[0]), p);
    ops::affine_reference<float>(params, fill, shape, x, y);
    return y;
}

// 0, 1, 2, ...: every pixel distinct, so any misplaced read shows.
std::vector<float> iota(size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = float(i);
    return v;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/augment: all maxima zero copy the input bit for bit, GPU and CPU") {
    cpu::ThreadPool pool(2);
    for (const Shape4 shape : {Shape4{1, 1, 1, 1}, Shape4{2, 3, 5, 7}, Shape4{3, 1, 8, 4}, Shape4{2, 3, 64, 48}}) {
        CAPTURE(shape[2]);
        CAPTURE(shape[3]);
        const ops::AugmentAttrs attrs{0, 0, 0, -0.75f, 3};
        auto x = uniform(elements(shape), uint32_t(shape[2]), -1.0f, 1.0f);
        x[0] = -0.0f; // signs of zero survive too
        for (const ops::PhiloxKey key : {ops::PhiloxKey{1, 2}, ops::PhiloxKey{99, 0}}) {
            std::vector<float> ref(x.size());
            ops::augment_reference<float>(attrs, key, shape, x, ref);
            check_bitwise_equal(ref, x, "augment_reference identity");
            check_bitwise_equal(run_cpu(pool, attrs, key, shape, x), x, "augment_cpu identity");
            check_bitwise_equal(run_gpu(dev, attrs, key, shape, x), x, "augment.comp identity");
        }
    }
}

TEST_CASE("ops/augment: integer translation is an exact shift, a 90-degree turn a transpose and flip") {
    // tx = 2, ty = -1: output (x, y) reads input (x - 2, y + 1), fill where that is outside.
    const Shape4 shape{2, 3, 5, 6};
    const float fill = -0.5f;
    const auto x = iota(elements(shape));
    const auto y = affine({1.0f, 0.0f, 1.0f, 2.0f, -1.0f}, fill, shape, x);
    std::vector<float> want(x.size());
    for (int64_t p = 0; p < shape[0] * shape[1]; ++p)
        for (int64_t r = 0; r < shape[2]; ++r)
            for (int64_t c = 0; c < shape[3]; ++c) {
                const int64_t sr = r + 1, sc = c - 2;
                want[size_t((p * shape[2] + r) * shape[3] + c)] =
                    sr < shape[2] && sc >= 0 ? x[size_t((p * shape[2] + sr) * shape[3] + sc)] : fill;
            }
    check_bitwise_equal(y, want, "affine_reference shift");

    // A turn by +90 degrees (clockwise on screen, as torchvision's F.affine):
    // output (x, y) reads input (cx + y - cy, cy - x + cx). cos(float(pi / 2))
    // is -4.4e-8, not 0, hence the tolerance; exactly (0, 1) is exact.
    const float half_pi = float(std::numbers::pi / 2);
    for (const Shape4 s : {Shape4{1, 2, 4, 4}, Shape4{2, 1, 3, 5}}) {
        CAPTURE(s[2]);
        CAPTURE(s[3]);
        const auto xs = iota(elements(s));
        const int64_t H = s[2], W = s[3];
        std::vector<float> turned(xs.size());
        for (int64_t p = 0; p < s[0] * s[1]; ++p)
            for (int64_t r = 0; r < H; ++r)
                for (int64_t c = 0; c < W; ++c) {
                    // 2cx = W - 1, 2cy = H - 1: source column (W - H) / 2 + r, row (W + H) / 2 - 1 - c.
                    const int64_t sc2 = (W - H) + 2 * r, sr2 = (W + H) - 2 - 2 * c; // twice the source
                    const bool inside =
                        sc2 % 2 == 0 && sr2 % 2 == 0 && sc2 >= 0 && sc2 / 2 < W && sr2 >= 0 && sr2 / 2 < H;
                    turned[size_t((p * H + r) * W + c)] = inside ? xs[size_t((p * H + sr2 / 2) * W + sc2 / 2)] : fill;
                }
        check_bitwise_equal(affine({0.0f, 1.0f, 1.0f, 0.0f, 0.0f}, fill, s, xs), turned, "exact 90-degree turn");
        // Values up to 40 here: 1e-5 relative is 1e-5 on inputs in [-1, 1].
        check_allclose(affine({std::cos(half_pi), std::sin(half_pi), 1.0f, 0.0f, 0.0f}, fill, s, xs), turned, 1e-5,
                       1e-5, "90-degree turn from cos / sin");
    }
    // A 4 x 4 turn by hand: the first row becomes the last column.
    const Shape4 s4{1, 1, 4, 4};
    const auto t = affine({0.0f, 1.0f, 1.0f, 0.0f, 0.0f}, fill, s4, iota(16));
    CHECK(t == std::vector<float>{12, 8, 4, 0, 13, 9, 5, 1, 14, 10, 6, 2, 15, 11, 7, 3});
}

TEST_CASE_FIXTURE(GpuTest, "ops/augment: random transforms, GPU vs CPU kernel vs float reference") {
    cpu::ThreadPool pool(2);
    // Tolerance. The only operations that can round differently on the GPU are
    // cos / sin (the shader's own, shaders/trig.glsl, within 2 ulp of the true
    // values, so within ~2.4e-7 of std::cos / std::sin; GLSL's builtins may be
    // 2^-11 off, and SwiftShader's failed this test) and the division by scale
    // (2.5 ulp allowed). An error d in cos / sin moves the sample point by at
    // most d * (|dx| + |dy|) / scale per axis, and bilinear interpolation of
    // values in [-1, 1] (fill included) changes by at most 2 per pixel moved
    // along each axis. With |dx| <= (W - 1) / 2 + T, |dy| <= (H - 1) / 2 + T,
    // scale >= 1 - max_scale and d = 1e-6 that bounds |gpu - cpu| by atol below.
    const ops::AugmentAttrs attrs{30.0f, 0.2f, 3.0f, -0.4f, 1};
    for (const Shape4 shape : {Shape4{5, 3, 12, 17}, Shape4{4, 3, 40, 36}}) { // the second one threads
        CAPTURE(shape[2]);
        CAPTURE(shape[3]);
        const double reach = ((shape[3] - 1) / 2.0 + attrs.max_translate + (shape[2] - 1) / 2.0 + attrs.max_translate) /
                             (1.0 - attrs.max_scale);
        const double atol = 2.0 * 2.0 * 1e-6 * reach;
        const auto x = uniform(elements(shape), uint32_t(shape[3]), -1.0f, 1.0f);
        for (const ops::PhiloxKey key : {ops::PhiloxKey{1234, 7}, ops::PhiloxKey{1234, 8}}) {
            std::vector<float> ref(x.size());
            ops::augment_reference<float>(attrs, key, shape, x, ref);
            const auto cpu_y = run_cpu(pool, attrs, key, shape, x);
            check_bitwise_equal(cpu_y, ref, "augment_cpu vs augment_reference<float>");
            const auto gpu_y = run_gpu(dev, attrs, key, shape, x);
            check_allclose(gpu_y, cpu_y, atol, 0.0, "augment.comp vs augment_cpu");
            double worst = 0;
            for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, double(std::abs(gpu_y[i] - cpu_y[i])));
            MESSAGE("augment.comp vs augment_cpu: max |diff| " << worst << " (atol " << atol << ")");
            // The double reference agrees with the float one to float rounding of the coordinates.
            std::vector<double> ref64(x.size());
            ops::augment_reference<double>(attrs, key, shape, std::vector<double>(x.begin(), x.end()), ref64);
            check_allclose(cpu_y, std::vector<float>(ref64.begin(), ref64.end()), 1e-4, 0.0,
                           "float vs double reference");
        }
        // Translation only: no sin / cos, division by exactly 1, so the GPU
        // draws and resamples bit for bit as the CPU does.
        const ops::AugmentAttrs shift{0.0f, 0.0f, 4.0f, 0.25f, 2};
        check_bitwise_equal(run_gpu(dev, shift, {5, 5}, shape, x), run_cpu(pool, shift, {5, 5}, shape, x),
                            "augment.comp translation only");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/augment: draws are deterministic per key, differ per step, seed, stream and sample") {
    cpu::ThreadPool pool(2);
    const ops::AugmentAttrs attrs{20.0f, 0.1f, 2.0f, 0.0f, 0};
    const Shape4 shape{4, 2, 10, 10};
    const auto x = uniform(elements(shape), 3);
    const auto a = run_gpu(dev, attrs, {7, 0}, shape, x);
    check_bitwise_equal(run_gpu(dev, attrs, {7, 0}, shape, x), a, "same key, same output");
    const auto b = run_gpu(dev, attrs, {7, 1}, shape, x);
    CHECK(a != b);
    CHECK(run_cpu(pool, attrs, {8, 0}, shape, x) != run_cpu(pool, attrs, {7, 0}, shape, x));

    auto same = [](const ops::AffineParams& p, const ops::AffineParams& q) {
        return p.cos_a == q.cos_a && p.sin_a == q.sin_a && p.scale == q.scale && p.tx == q.tx && p.ty == q.ty;
    };
    auto all_differ = [](const ops::AffineParams& p, const ops::AffineParams& q) {
        return p.cos_a != q.cos_a && p.sin_a != q.sin_a && p.scale != q.scale && p.tx != q.tx && p.ty != q.ty;
    };
    CHECK(same(ops::augment_params(attrs, {7, 0}, 3), ops::augment_params(attrs, {7, 0}, 3)));
    CHECK(all_differ(ops::augment_params(attrs, {7, 0}, 3), ops::augment_params(attrs, {7, 1}, 3)));
    CHECK(all_differ(ops::augment_params(attrs, {7, 0}, 3), ops::augment_params(attrs, {8, 0}, 3)));
    CHECK(all_differ(ops::augment_params(attrs, {7, 0}, 3), ops::augment_params(attrs, {7, 0}, 4)));
    CHECK(all_differ(ops::augment_params(attrs, {7, 0}, 3),
                     ops::augment_params({20.0f, 0.1f, 2.0f, 0.0f, 1}, {7, 0}, 3))); // another stream

    // Ranges and spread over many samples: each parameter stays in its range,
    // reaches near both ends and averages near the middle.
    const ops::AugmentAttrs wide{45.0f, 0.25f, 5.0f, 0.0f, 9};
    const int count = 20000;
    std::array<double, 4> lo{1e9, 1e9, 1e9, 1e9}, hi{-1e9, -1e9, -1e9, -1e9}, sum{};
    const std::array<double, 4> limit{45.0, 0.25, 5.0, 5.0};
    for (int n = 0; n < count; ++n) {
        const auto p = ops::augment_params(wide, {11, 3}, uint32_t(n));
        REQUIRE(std::abs(p.cos_a * p.cos_a + p.sin_a * p.sin_a - 1.0f) < 1e-6f);
        const std::array<double, 4> v{std::atan2(double(p.sin_a), double(p.cos_a)) * 180.0 / std::numbers::pi,
                                      p.scale - 1.0, p.tx, p.ty};
        for (int k = 0; k < 4; ++k) {
            REQUIRE(std::abs(v[k]) <= limit[k] * (1 + 1e-6));
            lo[k] = std::min(lo[k], v[k]), hi[k] = std::max(hi[k], v[k]), sum[k] += v[k];
        }
    }
    for (int k = 0; k < 4; ++k) {
        CAPTURE(k);
        CHECK(lo[k] < -0.999 * limit[k]);
        CHECK(hi[k] > 0.999 * limit[k]);
        // Uniform on [-L, L]: mean 0, standard error L / sqrt(3 count).
        CHECK(std::abs(sum[k] / count) < 5 * limit[k] / std::sqrt(3.0 * count));
    }
}

TEST_CASE("ops/augment: bad attrs and shapes throw, naming the values") {
    cpu::ThreadPool pool(1);
    const Shape4 shape{1, 1, 2, 2};
    std::vector<float> x(4), y(4);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(ops::augment_params({200.0f}, {}, 0), "augment: max_degrees has to be in [0, 180], but got 200");
    CHECK_THROWS_WITH(ops::augment_params({-1.0f}, {}, 0), doctest::Contains("max_degrees"));
    CHECK_THROWS_WITH(ops::augment_params({nan}, {}, 0), doctest::Contains("but got nan"));
    CHECK_THROWS_WITH(ops::augment_launch({0, 1.0f}, shape), "augment: max_scale has to be in [0, 1), but got 1");
    CHECK_THROWS_WITH(ops::augment_launch({0, -0.5f}, shape), doctest::Contains("but got -0.5"));
    CHECK_THROWS_WITH(ops::augment_cpu(pool, {0, 0, -2.0f}, {}, shape, x, y),
                      "augment: max_translate has to be finite and >= 0, but got -2");
    CHECK_THROWS_WITH(ops::augment_cpu(pool, {0, 0, std::numeric_limits<float>::infinity()}, {}, shape, x, y),
                      doctest::Contains("max_translate"));
    CHECK_THROWS_WITH(ops::augment_reference<float>({0, 0, 0, nan}, {}, shape, x, y),
                      "augment: fill has to be finite, but got nan");
    const std::vector<int64_t> three{1, 2, 2};
    CHECK_THROWS_WITH(ops::augment_launch({}, three), "augment: x has to be 4-D (N, C, H, W), but got shape (1, 2, 2)");
    CHECK_THROWS_WITH(ops::augment_cpu(pool, {}, {}, Shape4{1, 0, 2, 2}, x, y),
                      "augment: x has an empty (or negative) dimension: (1, 0, 2, 2)");
    CHECK_THROWS_WITH(ops::augment_launch({}, Shape4{1, 1, 1 << 25, 1}), doctest::Contains("at most 2^24"));
    std::vector<float> short_y(3);
    CHECK_THROWS_WITH(ops::augment_cpu(pool, {}, {}, shape, x, short_y),
                      "augment: shape (1, 1, 2, 2) has 4 elements, but x has 4 and y has 3");
    const std::vector<ops::AffineParams> params(2);
    CHECK_THROWS_WITH(ops::affine_reference<float>(params, 0.0f, shape, x, y), "augment: 2 transforms for 1 samples");
}
