// avg_pool2d forward and backward: the shaders (avg_pool2d_forward,
// avg_pool2d_backward) vs the CPU kernel vs the plain reference over a sweep
// and a seeded fuzzer of shapes with padding, stride, ceil_mode,
// count_include_pad and divisor_override; values checked by hand against
// PyTorch's; gradient checks of the double reference; shape errors.
//
// Exactness: with small-integer inputs every window sum is exact in any order,
// and the shaders add in the reference's order anyway, so the CPU kernel and
// the reference agree bit for bit, and so does the shader wherever the divisor
// is 1. Otherwise the shader may differ by the precision GLSL grants a float
// division (2.5 ulp; lavapipe divides exactly), so it is held to a few ulp:
// the forward is one division of an identical sum, the backward a sum, in the
// same order, of dy / divisor terms that each carry that error.
#include "vkcnn/ops/avg_pool2d.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using Shape = std::array<int64_t, 4>;

const int64_t kSizes[] = {1, 3, 7, 17, 31, 33, 65};

size_t count(const Shape& s) { return static_cast<size_t>(s[0] * s[1] * s[2] * s[3]); }

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }

// A one-line reproducer: paste into check_case(dev, pool, ...) below.
std::string describe(const ops::AvgPool2dAttrs& a, const Shape& s) {
    return cat("x (", s[0], ", ", s[1], ", ", s[2], ", ", s[3], ") kernel (", a.kernel[0], ", ", a.kernel[1],
               ") stride (", a.stride[0], ", ", a.stride[1], ") padding (", a.padding[0], ", ", a.padding[1],
               ") ceil_mode ", a.ceil_mode, " count_include_pad ", a.count_include_pad, " divisor_override ",
               a.divisor_override);
}

bool valid(const ops::AvgPool2dAttrs& a, const Shape& s) {
    try {
        ops::avg_pool2d_geometry(a, s);
        return true;
    } catch (const Error&) {
        return false;
    }
}

// The most windows one input element can be in: ceil(k / s) per axis.
int max_cover(const ops::AvgPool2dAttrs& a) {
    const ops::Pool2dGeometry g = ops::avg_pool2d_geometry(a, {1, 1, 64, 64});
    return ((g.kh + g.sh - 1) / g.sh) * ((g.kw + g.sw - 1) / g.sw);
}

constexpr double kUlp = 0x1p-23; // relative spacing of floats at most this

// Forward and backward on the reference, the CPU kernel and the shaders: CPU
// == reference bit for bit; the shaders bit for bit where the divisor is 1,
// else within a few ulp (see the top of this file). dy_max bounds |dy|.
void check_case(Device& dev, cpu::ThreadPool& pool, const ops::AvgPool2dAttrs& a, const Shape& s,
                const std::vector<float>& x, const std::vector<float>& dy, double dy_max) {
    const Shape ys = ops::avg_pool2d_output_shape(a, s);
    const size_t nx = count(s), ny = count(ys);
    REQUIRE(x.size() == nx);
    REQUIRE(dy.size() == ny);
    const bool exact_division = a.divisor_override == 1;

    std::vector<float> y_ref(ny), y_cpu(ny);
    ops::avg_pool2d_forward_reference<float>(a, s, x, y_ref);
    ops::avg_pool2d_forward_cpu(pool, a, s, x, y_cpu);
    check_bitwise_equal(y_cpu, y_ref, "cpu avg_pool2d_forward");
    const auto y_gpu = run_kernel(dev, ops::avg_pool2d_forward_launch(a, s), {x, std::vector<float>(ny)})[1];
    if (exact_division) check_bitwise_equal(y_gpu, y_ref, "avg_pool2d_forward.comp");
    else check_allclose(y_gpu, y_ref, 1e-30, 3 * kUlp, "avg_pool2d_forward.comp");

    std::vector<float> dx_ref(nx), dx_cpu(nx);
    ops::avg_pool2d_backward_reference<float>(a, s, dy, dx_ref);
    ops::avg_pool2d_backward_cpu(pool, a, s, dy, dx_cpu);
    check_bitwise_equal(dx_cpu, dx_ref, "cpu avg_pool2d_backward");
    const auto dx_gpu = run_kernel(dev, ops::avg_pool2d_backward_launch(a, s), {dy, std::vector<float>(nx)})[1];
    if (exact_division) {
        check_bitwise_equal(dx_gpu, dx_ref, "avg_pool2d_backward.comp");
    } else {
        // m terms of size <= dy_max, each off by 2.5 ulp, and each partial sum's rounding may move by one ulp.
        const int m = max_cover(a);
        check_allclose(dx_gpu, dx_ref, 4 * m * dy_max * kUlp, 3 * kUlp, "avg_pool2d_backward.comp");
    }
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/avg_pool2d: shaders == CPU kernel == reference over a shape sweep, small integers") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 1;
    int cases = 0;
    // Sizes x kernels x a rotating choice of stride, padding, ceil_mode,
    // count_include_pad, divisor_override, batch and non-square partner size.
    for (size_t i = 0; i < std::size(kSizes); ++i) {
        for (int k : {1, 2, 3, 5}) {
            for (int variant = 0; variant < 6; ++variant) {
                const int r = static_cast<int>(i) * 7 + k * 3 + variant;
                ops::AvgPool2dAttrs a;
                const int kw = variant % 3 == 2 ? std::max(1, k - 1) : k;
                a.kernel = {k, kw};
                a.stride = variant == 0 && r % 2 ? std::array<int, 2>{0, 0}
                                                 : std::array<int, 2>{1 + r % 3, 1 + (r / 3) % 3};
                a.padding = {r % (k / 2 + 1), (r / 2) % (kw / 2 + 1)};
                a.ceil_mode = (r / 3) % 2 == 1;
                a.count_include_pad = (r / 2) % 2 == 0;
                a.divisor_override = r % 5 == 0 ? 1 : r % 5 == 1 ? 3 : 0;
                const int64_t w = kSizes[(i + variant * 2 + variant / 3) % std::size(kSizes)]; // often non-square
                const Shape s = {1 + 2 * (r % 2), 1 + (r / 2) % 2, kSizes[i], w};
                if (!valid(a, s)) continue;
                INFO(describe(a, s));
                const auto x = small_integers(count(s), ++seed);
                const auto dy = small_integers(count(ops::avg_pool2d_output_shape(a, s)), ++seed);
                check_case(dev, pool, a, s, x, dy, 4.0);
                ++cases;
            }
        }
    }
    CHECK(cases >= 140);
}

TEST_CASE_FIXTURE(GpuTest, "ops/avg_pool2d: more than 256 x 4096 outputs and inputs (grid-stride loop, threaded CPU)") {
    cpu::ThreadPool pool(2);
    const ops::AvgPool2dAttrs a{.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .count_include_pad = false};
    const Shape s = {1, 1, 1025, 1025}; // 1025^2 inputs, 1026^2 outputs, both > 2^20
    INFO(describe(a, s));
    check_case(dev, pool, a, s, small_integers(count(s), 61), small_integers(1026 * 1026, 62), 4.0);
}

TEST_CASE_FIXTURE(GpuTest, "ops/avg_pool2d: seeded random shapes, real inputs (fuzzer)") {
    cpu::ThreadPool pool(2);
    std::mt19937 rng(20240602);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    int cases = 0;
    for (int iter = 0; cases < 40 && iter < 400; ++iter) {
        ops::AvgPool2dAttrs a;
        a.kernel = {pick(1, 5), pick(1, 5)};
        a.stride = pick(0, 3) == 0 ? std::array<int, 2>{0, 0} : std::array<int, 2>{pick(1, 3), pick(1, 3)};
        a.padding = {pick(0, a.kernel[0] / 2), pick(0, a.kernel[1] / 2)};
        a.ceil_mode = pick(0, 1) == 1;
        a.count_include_pad = pick(0, 1) == 1;
        a.divisor_override = pick(0, 3) == 0 ? pick(1, 9) : 0;
        const Shape s = {pick(1, 3), pick(1, 3), pick(1, 40), pick(1, 40)};
        if (!valid(a, s)) {
            CHECK_THROWS_AS(ops::avg_pool2d_output_shape(a, s), Error);
            continue;
        }
        ++cases;
        const std::string repro = cat("fuzz case ", iter, ": ", describe(a, s));
        INFO(repro);
        const uint32_t seed = 2000 + static_cast<uint32_t>(iter);
        const auto x = uniform(count(s), seed);
        const auto dy = uniform(count(ops::avg_pool2d_output_shape(a, s)), seed + 1);
        check_case(dev, pool, a, s, x, dy, 1.0);

        // And the float results within rounding of the double reference: a sum of
        // up to kh * kw terms in [-1, 1], then a division.
        std::vector<double> y(dy.size()), dx(x.size());
        ops::avg_pool2d_forward_reference<double>(a, s, to_double(x), y);
        ops::avg_pool2d_backward_reference<double>(a, s, to_double(dy), dx);
        std::vector<float> yf(y.size()), dxf(x.size());
        ops::avg_pool2d_forward_cpu(pool, a, s, x, yf);
        ops::avg_pool2d_backward_cpu(pool, a, s, dy, dxf);
        const double terms = a.kernel[0] * a.kernel[1];
        check_allclose(yf, to_float(y), 2 * terms * kUlp, 2 * kUlp, "cpu avg_pool2d_forward vs double");
        check_allclose(dxf, to_float(dx), 2 * max_cover(a) * kUlp, 2 * kUlp, "cpu avg_pool2d_backward vs double");
    }
    CHECK(cases == 40);
}

TEST_CASE_FIXTURE(GpuTest, "ops/avg_pool2d: values checked by hand against PyTorch") {
    cpu::ThreadPool pool(1);
    auto forward = [&](const ops::AvgPool2dAttrs& a, const Shape& s, const std::vector<float>& x) {
        std::vector<float> y(count(ops::avg_pool2d_output_shape(a, s)));
        ops::avg_pool2d_forward_reference<float>(a, s, x, y);
        check_case(dev, pool, a, s, x, small_integers(y.size(), 3), 4.0); // and the shaders agree
        return y;
    };
    std::vector<float> x16(16), x25(25);
    for (size_t i = 0; i < 16; ++i) x16[i] = static_cast<float>(i + 1);
    for (size_t i = 0; i < 25; ++i) x25[i] = static_cast<float>(i);

    // F.avg_pool2d(arange(1, 17).view(1, 1, 4, 4), 3, 2, 1): windows rows/cols [-1, 2) and [1, 4).
    CHECK(forward({.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, {1, 1, 4, 4}, x16) ==
          std::vector<float>{14.0f / 9, 30.0f / 9, 57.0f / 9, 11});
    // count_include_pad=False divides by the in-bounds taps: 4, 6, 6, 9.
    CHECK(forward({.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false}, {1, 1, 4, 4},
                  x16) == std::vector<float>{3.5f, 5, 9.5f, 11});
    // divisor_override=2.
    CHECK(forward({.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .divisor_override = 2}, {1, 1, 4, 4}, x16) ==
          std::vector<float>{7, 15, 28.5f, 49.5f});
    // F.avg_pool2d(arange(25.).view(1, 1, 5, 5), 2, ceil_mode=True): 3 x 3, the last
    // windows hang past the input and are divided by what is left (2 or 1), even
    // with count_include_pad, since they are clipped to the padded input.
    CHECK(forward({.kernel = {2, 2}, .ceil_mode = true}, {1, 1, 5, 5}, x25) ==
          std::vector<float>{3, 5, 6.5f, 13, 15, 16.5f, 20.5f, 22.5f, 24});
    CHECK(forward({.kernel = {2, 2}}, {1, 1, 5, 5}, x25) == std::vector<float>{3, 5, 13, 15});
    // F.avg_pool2d(ones(1, 1, 4, 4), 3, 2, 1, ceil_mode=True): the padded window size
    // counts the left padding and the right padding but not what hangs past it.
    const std::vector<float> ones(16, 1.0f);
    const auto y = forward({.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}, {1, 1, 4, 4}, ones);
    const std::vector<float> want = {4.0f / 9, 6.0f / 9, 2.0f / 6, 6.0f / 9, 1, 3.0f / 6, 2.0f / 6, 3.0f / 6, 1.0f / 4};
    check_bitwise_equal(y, want, "ceil_mode count_include_pad divisors");
    CHECK(forward({.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true, .count_include_pad = false},
                  {1, 1, 4, 4}, ones) == std::vector<float>(9, 1.0f));
    // Output sizes: ceil_mode's last window must start inside the input or the left
    // padding: H = 5, k 2, s 3, p 1 would give 3 windows, the third starting at 5.
    CHECK(ops::avg_pool2d_output_shape({.kernel = {2, 2}, .stride = {3, 3}, .padding = {1, 1}, .ceil_mode = true},
                                       {2, 3, 5, 7}) == Shape{2, 3, 2, 3});

    // Backward spreads dy / divisor: dy = 1 on the ceil_mode 5 x 5 case above.
    std::vector<float> dx(25);
    ops::avg_pool2d_backward_reference<float>({.kernel = {2, 2}, .ceil_mode = true}, {1, 1, 5, 5},
                                              std::vector<float>(9, 1.0f), dx);
    CHECK(dx[0] == 0.25f);
    CHECK(dx[4] == 0.5f);  // column 4: windows of width 1, divisor 2
    CHECK(dx[24] == 1.0f); // the corner window holds one element
}

TEST_CASE("ops/avg_pool2d: backward of the double reference matches finite differences") {
    const std::pair<ops::AvgPool2dAttrs, Shape> cases[] = {
        {{.kernel = {2, 2}}, {1, 1, 4, 4}},
        {{.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}, {2, 1, 5, 4}},
        {{.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .ceil_mode = true, .count_include_pad = false},
         {1, 2, 6, 5}},
        {{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 0}, .ceil_mode = true, .divisor_override = 5}, {1, 1, 6, 6}},
    };
    for (const auto& [a, s] : cases) {
        INFO(describe(a, s));
        const auto x = to_double(uniform(count(s), 11));
        const size_t ny = count(ops::avg_pool2d_output_shape(a, s));
        const auto dy = to_double(uniform(ny, 12));
        std::vector<double> dx(x.size());
        ops::avg_pool2d_backward_reference<double>(a, s, dy, dx);
        const auto loss = [&](const std::vector<double>& xv) {
            std::vector<double> yv(ny);
            ops::avg_pool2d_forward_reference<double>(a, s, xv, yv);
            return weighted_sum(yv, dy);
        };
        check_gradient(dx, numerical_gradient(loss, x), "avg_pool2d dx");
    }
}

TEST_CASE("ops/avg_pool2d: bad shapes name the op and the shapes") {
    using doctest::Contains;
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_output_shape({.kernel = {4, 4}, .padding = {1, 1}}, {1, 1, 1, 1}),
                         Contains("avg_pool2d: input (1, 1, 1, 1) with kernel (4, 4), stride (4, 4), padding (1, 1), "
                                  "dilation (1, 1) gives output size (0, 0): output size is too small"),
                         Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_output_shape({.kernel = {3, 1}, .stride = {1, 1}}, {2, 3, 2, 9}),
                         Contains("avg_pool2d: input (2, 3, 2, 9) with kernel (3, 1)"), Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_output_shape({.kernel = {2, 2}, .padding = {2, 0}}, {1, 1, 8, 8}),
                         Contains("avg_pool2d: pad should be at most half of kernel size, got padding (2, 0) for "
                                  "kernel (2, 2)"),
                         Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_output_shape({.kernel = {2, -1}}, {1, 1, 8, 8}),
                         Contains("avg_pool2d: kernel size should be greater than zero, got (2, -1)"), Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_output_shape({.kernel = {2, 2}, .stride = {2, 0}}, {1, 1, 8, 8}),
                         Contains("avg_pool2d: stride should be greater than zero, got (2, 0)"), Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_output_shape({}, {1, 1, 8, 0}),
                         Contains("avg_pool2d: input shape (1, 1, 8, 0) has an empty dimension"), Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_forward_launch({.kernel = {3, 3}}, {1, 1, 2, 2}),
                         Contains("avg_pool2d_forward: input (1, 1, 2, 2)"), Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_backward_launch({.kernel = {1, 1}, .padding = {1, 0}}, {1, 1, 4, 4}),
                         Contains("avg_pool2d_backward: pad should be at most half"), Error);
    cpu::ThreadPool pool(1);
    std::vector<float> x(16), y(4), dx(15);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_forward_cpu(pool, {}, {1, 1, 4, 5}, x, y),
                         Contains("avg_pool2d_forward: x has 16 elements, expected 20"), Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d_backward_reference<float>({}, {1, 1, 4, 4}, y, dx),
                         Contains("avg_pool2d_backward: dx has 15 elements, expected 16"), Error);
}
