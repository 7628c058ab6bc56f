// adaptive_avg_pool2d forward and backward: the avg_pool2d shaders in their
// adaptive mode (adaptive_avg_pool2d has no shader of its own) vs the CPU
// kernel vs the plain reference over a sweep and a seeded fuzzer of input and
// output sizes (smaller, equal, larger, 1 x 1 = global average pooling);
// PyTorch's windows checked by hand; gradient checks of the double reference;
// shape errors.
//
// Exactness: small-integer window sums are exact in any order, so the CPU
// kernel and the reference agree bit for bit, and so does the shader where the
// window is 1 x 1. Otherwise the shader's two divisions (by the window height,
// then its width, as PyTorch) may each be 2.5 ulp off in GLSL (lavapipe divides
// exactly), so it is held to a few ulp.
#include "vkcnn/ops/adaptive_avg_pool2d.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

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

std::string describe(const ops::AdaptiveAvgPool2dAttrs& a, const Shape& s) {
    return cat("x (", s[0], ", ", s[1], ", ", s[2], ", ", s[3], ") output_size (", a.output_size[0], ", ",
               a.output_size[1], ")");
}

// The most cells one input row (column) is in: ceil(out / in) + 1.
int64_t max_cover(int64_t in, int64_t out) { return (out + in - 1) / in + 1; }

constexpr double kUlp = 0x1p-23;

// Forward and backward on the reference, the CPU kernel and the shaders (see the top of this file).
void check_case(Device& dev, cpu::ThreadPool& pool, const ops::AdaptiveAvgPool2dAttrs& a, const Shape& s,
                const std::vector<float>& x, const std::vector<float>& dy, double dy_max) {
    const Shape ys = ops::adaptive_avg_pool2d_output_shape(a, s);
    const size_t nx = count(s), ny = count(ys);
    REQUIRE(x.size() == nx);
    REQUIRE(dy.size() == ny);
    // Every window is 1 x 1 when the output is the input's size.
    const bool exact_division = s[2] == a.output_size[0] && s[3] == a.output_size[1];

    std::vector<float> y_ref(ny), y_cpu(ny);
    ops::adaptive_avg_pool2d_forward_reference<float>(a, s, x, y_ref);
    ops::adaptive_avg_pool2d_forward_cpu(pool, a, s, x, y_cpu);
    check_bitwise_equal(y_cpu, y_ref, "cpu adaptive_avg_pool2d_forward");
    const auto y_gpu = run_kernel(dev, ops::adaptive_avg_pool2d_forward_launch(a, s), {x, std::vector<float>(ny)})[1];
    if (exact_division) check_bitwise_equal(y_gpu, y_ref, "avg_pool2d_forward.comp (adaptive)");
    else check_allclose(y_gpu, y_ref, 1e-30, 6 * kUlp, "avg_pool2d_forward.comp (adaptive)");

    std::vector<float> dx_ref(nx), dx_cpu(nx);
    ops::adaptive_avg_pool2d_backward_reference<float>(a, s, dy, dx_ref);
    ops::adaptive_avg_pool2d_backward_cpu(pool, a, s, dy, dx_cpu);
    check_bitwise_equal(dx_cpu, dx_ref, "cpu adaptive_avg_pool2d_backward");
    const auto dx_gpu = run_kernel(dev, ops::adaptive_avg_pool2d_backward_launch(a, s), {dy, std::vector<float>(nx)})[1];
    if (exact_division) {
        check_bitwise_equal(dx_gpu, dx_ref, "avg_pool2d_backward.comp (adaptive)");
    } else {
        const double m = static_cast<double>(max_cover(s[2], a.output_size[0]) * max_cover(s[3], a.output_size[1]));
        check_allclose(dx_gpu, dx_ref, 6 * m * dy_max * kUlp, 6 * kUlp, "avg_pool2d_backward.comp (adaptive)");
    }
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/adaptive_avg_pool2d: shaders == CPU kernel == reference over a shape sweep, small integers") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 1;
    int cases = 0;
    for (size_t i = 0; i < std::size(kSizes); ++i) {
        const int64_t h = kSizes[i], w = kSizes[(i + 3) % std::size(kSizes)];
        // Global pooling, fewer cells (dividing evenly or not), the same size, more cells.
        for (const auto& [oh, ow] : {std::array<int64_t, 2>{1, 1}, {2, 3}, {5, 7}, {h, w}, {h + 3, 2 * w + 1},
                                     {(h + 1) / 2, 1}}) {
            const ops::AdaptiveAvgPool2dAttrs a{{oh, ow}};
            const Shape s = {1 + 2 * static_cast<int64_t>(i % 2), 1 + static_cast<int64_t>(i % 3), h, w};
            INFO(describe(a, s));
            const auto x = small_integers(count(s), ++seed);
            const auto dy = small_integers(count(ops::adaptive_avg_pool2d_output_shape(a, s)), ++seed);
            check_case(dev, pool, a, s, x, dy, 4.0);
            ++cases;
        }
    }
    CHECK(cases == 42);
}

TEST_CASE_FIXTURE(GpuTest, "ops/adaptive_avg_pool2d: more than 256 x 4096 outputs and inputs (grid-stride loop, threaded CPU)") {
    cpu::ThreadPool pool(2);
    const ops::AdaptiveAvgPool2dAttrs a{{1100, 1030}};
    const Shape s = {1, 1, 1025, 1025}; // more outputs than inputs, both > 2^20
    INFO(describe(a, s));
    check_case(dev, pool, a, s, small_integers(count(s), 61), small_integers(1100 * 1030, 62), 4.0);
}

TEST_CASE_FIXTURE(GpuTest, "ops/adaptive_avg_pool2d: seeded random shapes, real inputs (fuzzer)") {
    cpu::ThreadPool pool(2);
    std::mt19937 rng(20240603);
    auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    for (int iter = 0; iter < 30; ++iter) {
        const Shape s = {pick(1, 3), pick(1, 3), pick(1, 40), pick(1, 40)};
        const ops::AdaptiveAvgPool2dAttrs a{{pick(1, 45), pick(1, 45)}};
        const std::string repro = cat("fuzz case ", iter, ": ", describe(a, s));
        INFO(repro);
        const uint32_t seed = 3000 + static_cast<uint32_t>(iter);
        const auto x = uniform(count(s), seed);
        const auto dy = uniform(count(ops::adaptive_avg_pool2d_output_shape(a, s)), seed + 1);
        check_case(dev, pool, a, s, x, dy, 1.0);

        // The float CPU kernel within rounding of the double reference.
        std::vector<double> y(dy.size()), dx(x.size());
        ops::adaptive_avg_pool2d_forward_reference<double>(a, s, to_double(x), y);
        ops::adaptive_avg_pool2d_backward_reference<double>(a, s, to_double(dy), dx);
        std::vector<float> yf(y.size()), dxf(x.size());
        ops::adaptive_avg_pool2d_forward_cpu(pool, a, s, x, yf);
        ops::adaptive_avg_pool2d_backward_cpu(pool, a, s, dy, dxf);
        const double terms = static_cast<double>(max_cover(a.output_size[0], s[2]) * max_cover(a.output_size[1], s[3]));
        const double cover = static_cast<double>(max_cover(s[2], a.output_size[0]) * max_cover(s[3], a.output_size[1]));
        check_allclose(yf, to_float(y), 2 * terms * kUlp, 3 * kUlp, "cpu adaptive_avg_pool2d_forward vs double");
        check_allclose(dxf, to_float(dx), 2 * cover * kUlp, 3 * kUlp, "cpu adaptive_avg_pool2d_backward vs double");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/adaptive_avg_pool2d: PyTorch windows checked by hand, global average pooling") {
    cpu::ThreadPool pool(1);
    auto forward = [&](const ops::AdaptiveAvgPool2dAttrs& a, const Shape& s, const std::vector<float>& x) {
        std::vector<float> y(count(ops::adaptive_avg_pool2d_output_shape(a, s)));
        ops::adaptive_avg_pool2d_forward_reference<float>(a, s, x, y);
        check_case(dev, pool, a, s, x, small_integers(y.size(), 9), 4.0); // and the shaders agree
        return y;
    };
    // W = 5 to 3: windows [floor(5o/3), ceil(5(o+1)/3)) = [0, 2), [1, 4), [3, 5), overlapping.
    CHECK(forward({{1, 3}}, {1, 1, 1, 5}, {1, 2, 3, 4, 5}) == std::vector<float>{1.5f, 3, 4.5f});
    // W = 2 to 3 (output larger than input): [0, 1), [0, 2), [1, 2).
    CHECK(forward({{1, 3}}, {1, 1, 1, 2}, {2, 6}) == std::vector<float>{2, 4, 6});
    // H = 4 to 2 divides evenly, like avg_pool2d(2); W = 3 to 1 is the whole row.
    CHECK(forward({{2, 1}}, {1, 1, 4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) == std::vector<float>{3.5f, 9.5f});
    // Global average pooling, per plane: the mean of each (N, C) plane.
    CHECK(forward({{1, 1}}, {2, 1, 2, 2}, {1, 2, 3, 4, -4, 0, 0, 0}) == std::vector<float>{2.5f, -1});

    // Backward: dy / kh / kw spread over each window, summed where windows overlap.
    std::vector<float> dx(5);
    ops::adaptive_avg_pool2d_backward_reference<float>({{1, 3}}, {1, 1, 1, 5}, std::vector<float>{2, 6, 4}, dx);
    CHECK(dx == std::vector<float>{1, 1 + 2, 2, 2 + 2, 2});

    // Global pooling of a large plane against the double mean (PyTorch computes
    // it with mean(), a different summation order: within rounding, not bitwise).
    const Shape s = {3, 5, 33, 65};
    const auto x = uniform(count(s), 10);
    std::vector<float> y(15);
    ops::adaptive_avg_pool2d_forward_cpu(pool, {{1, 1}}, s, x, y);
    std::vector<float> mean(15);
    for (size_t p = 0; p < 15; ++p) {
        double sum = 0;
        for (size_t i = 0; i < 33 * 65; ++i) sum += x[p * 33 * 65 + i];
        mean[p] = static_cast<float>(sum / (33 * 65));
    }
    check_allclose(y, mean, 1e-6, 1e-5, "global average pool vs double mean");
    check_case(dev, pool, {{1, 1}}, s, x, uniform(15, 11), 1.0);
}

TEST_CASE("ops/adaptive_avg_pool2d: backward of the double reference matches finite differences") {
    const std::pair<ops::AdaptiveAvgPool2dAttrs, Shape> cases[] = {
        {{{1, 1}}, {2, 1, 3, 4}}, {{{3, 2}}, {1, 2, 5, 7}}, {{{4, 5}}, {1, 1, 3, 2}}, {{{2, 2}}, {1, 1, 4, 4}}};
    for (const auto& [a, s] : cases) {
        INFO(describe(a, s));
        const auto x = to_double(uniform(count(s), 21));
        const size_t ny = count(ops::adaptive_avg_pool2d_output_shape(a, s));
        const auto dy = to_double(uniform(ny, 22));
        std::vector<double> dx(x.size());
        ops::adaptive_avg_pool2d_backward_reference<double>(a, s, dy, dx);
        const auto loss = [&](const std::vector<double>& xv) {
            std::vector<double> yv(ny);
            ops::adaptive_avg_pool2d_forward_reference<double>(a, s, xv, yv);
            return weighted_sum(yv, dy);
        };
        check_gradient(dx, numerical_gradient(loss, x), "adaptive_avg_pool2d dx");
    }
}

TEST_CASE("ops/adaptive_avg_pool2d: bad shapes name the op and the shapes") {
    using doctest::Contains;
    CHECK_THROWS_WITH_AS(ops::adaptive_avg_pool2d_output_shape({{0, 3}}, {1, 1, 4, 4}),
                         Contains("adaptive_avg_pool2d: output size (0, 3) must be at least 1"), Error);
    CHECK_THROWS_WITH_AS(ops::adaptive_avg_pool2d_output_shape({{2, 2}}, {1, 3, 0, 4}),
                         Contains("adaptive_avg_pool2d: input shape (1, 3, 0, 4) has an empty dimension"), Error);
    CHECK_THROWS_WITH_AS(ops::adaptive_avg_pool2d_forward_launch({{-1, 1}}, {1, 1, 4, 4}),
                         Contains("adaptive_avg_pool2d_forward: output size (-1, 1)"), Error);
    // The shaders' window arithmetic is 32-bit: (H + 1)(OH + 1) must fit.
    CHECK_THROWS_WITH_AS(ops::adaptive_avg_pool2d_backward_launch({{1 << 16, 1}}, {1, 1, 1 << 16, 1}),
                         Contains("adaptive_avg_pool2d_backward: input plane (65536, 1) and output size (65536, 1) "
                                  "are too large"),
                         Error);
    cpu::ThreadPool pool(1);
    std::vector<float> x(16), y(3);
    CHECK_THROWS_WITH_AS(ops::adaptive_avg_pool2d_forward_cpu(pool, {{2, 2}}, {1, 1, 4, 4}, x, y),
                         Contains("adaptive_avg_pool2d_forward: y has 3 elements, expected 4"), Error);
    std::vector<float> dx15(15);
    CHECK_THROWS_WITH_AS(ops::adaptive_avg_pool2d_backward_reference<float>({{1, 3}}, {1, 1, 4, 4}, y, dx15),
                         Contains("adaptive_avg_pool2d_backward: dx has 15 elements, expected 16"), Error);
}
