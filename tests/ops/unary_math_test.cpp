// The unary math family and broadcast_rows: GPU shaders vs CPU kernels vs
// references (bit-exact where each element is one correctly rounded step or
// none; within Vulkan's stated precision for sqrt, exp, log and divisions),
// gradients of the double references vs finite differences, PyTorch's
// choices at the kinks, and errors.
// Shaders: unary_math_forward, unary_math_backward, broadcast_rows.
#include "vkcnn/ops/reduce.h"
#include "vkcnn/ops/unary_math.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using ops::UnaryMath;

// One element, one past a workgroup (256), several workgroups; sizes past
// the grid stride are covered by the other elementwise ops' tests.
const size_t kSizes[] = {1, 257, 4099};

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Zeros of both signs and the clamp bounds themselves in the first slots,
// where the kinks are (abs, sign, clamp's inclusive mask).
std::vector<float> with_kinks(std::vector<float> v, float lo, float hi) {
    const float kinks[] = {0.0f, -0.0f, lo, hi, -lo, -hi};
    for (size_t i = 0; i < v.size() && i < std::size(kinks); ++i) v[i] = kinks[i];
    return v;
}

// Equal values, NaN matching NaN: bit for bit but for the sign of a zero,
// which Vulkan does not promise to keep without float controls
// (shaderSignedZeroInfNanPreserveFloat32): lavapipe folds 0 * dy to +0.
void check_equal_values(std::span<const float> got, std::span<const float> want, const std::string& what) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i]))) continue;
        FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", expected " << want[i]);
        return;
    }
}

// Forward (unless only the backward is exact: exp) and backward: the CPU
// kernel bit for bit equal to the float reference, the shader value for value.
// `saved` is what the kind's backward reads.
void check_exact(Device& dev, cpu::ThreadPool& pool, const ops::UnaryMathAttrs& attrs, const std::vector<float>& x,
                 const std::vector<float>& dy) {
    const size_t n = x.size();
    std::vector<float> y(n), got(n), dx(n);
    ops::unary_math_forward_reference<float>(attrs, x, y);
    if (attrs.kind != UnaryMath::exp) {
        ops::unary_math_forward_cpu(pool, attrs, x, got);
        check_bitwise_equal(got, y, "cpu forward");
        check_equal_values(run_kernel(dev, ops::unary_math_forward_launch(attrs, n), {x, got})[1], y,
                           "unary_math_forward.comp");
    }
    const std::vector<float>& saved = ops::unary_math_backward_reads(attrs.kind) == ops::UnaryMathSaved::y ? y : x;
    ops::unary_math_backward_reference<float>(attrs, saved, dy, dx);
    ops::unary_math_backward_cpu(pool, attrs, saved, dy, got);
    check_bitwise_equal(got, dx, "cpu backward");
    check_equal_values(run_kernel(dev, ops::unary_math_backward_launch(attrs, n), {saved, dy, got})[2], dx,
                       "unary_math_backward.comp");
}

// |got - want| <= ulps(i) * ulp(want) + atol(i) per element, want in double:
// Vulkan's precision bounds are in ulps of the exact result, and log's
// absolute near 1.
template <typename Ulps, typename Atol>
void check_within(std::span<const float> got, std::span<const double> want, Ulps ulps, Atol atol,
                  const std::string& what) {
    REQUIRE(got.size() == want.size());
    double worst = 0, most_used = 0;
    size_t at = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want[i])) - 23);
        const double excess = std::abs(got[i] - want[i]) - (ulps(i) * ulp + atol(i));
        if (!(excess <= worst)) worst = std::isnan(excess) ? INFINITY : excess, at = i;
        most_used = std::max(most_used, std::abs(got[i] - want[i]) / (ulps(i) * ulp + atol(i)));
    }
    CHECK_MESSAGE(worst <= 0, what << ": element " << at << " is " << got[at] << ", exact " << want[at]);
    if (got.size() > 1000) MESSAGE(what << ": used at most " << most_used * 100 << "% of its bound");
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/unary_math: scale, abs, sign, clamp, square and exp's backward, exact on every path") {
    cpu::ThreadPool pool(2);
    // Each element is at most one correctly rounded product or sum (scale: a
    // product, then a sum; the shader's `precise` keeps them unfused), so
    // every path gives the same values (the CPU the same bits).
    const ops::UnaryMathAttrs kinds[] = {
        ops::scale_attrs(0.25f),         ops::scale_attrs(-8.0f, 0.5f), ops::scale_attrs(0.3f, -1.7f),
        ops::unary_math(UnaryMath::abs), ops::unary_math(UnaryMath::sign), ops::clamp_attrs(-0.5f, 0.75f),
        ops::clamp_attrs(0.25f, 0.25f), // lo == hi: every x maps to the bound; the gradient passes only at it
        ops::unary_math(UnaryMath::square), ops::unary_math(UnaryMath::exp), // dx = dy * y: one product
    };
    for (const auto& attrs : kinds) {
        for (const size_t n : kSizes) {
            CAPTURE(std::string(ops::unary_math_name(attrs.kind)));
            CAPTURE(attrs.a);
            CAPTURE(attrs.b);
            CAPTURE(n);
            const float lo = attrs.kind == UnaryMath::clamp ? attrs.a : 0.5f;
            const float hi = attrs.kind == UnaryMath::clamp ? attrs.b : 1.0f;
            const auto x = with_kinks(uniform(n, static_cast<uint32_t>(n), -3.0f, 3.0f), lo, hi);
            check_exact(dev, pool, attrs, x, uniform(n, static_cast<uint32_t>(n) + 1, -2.0f, 2.0f));
        }
    }
}

TEST_CASE("ops/unary_math: abs, sign, clamp and a power-of-two scale are exact: float == double reference") {
    const auto x = with_kinks(uniform(300, 3, -3.0f, 3.0f), -0.5f, 0.75f);
    const auto dy = uniform(300, 4, -2.0f, 2.0f);
    for (const auto& attrs : {ops::scale_attrs(0.25f), ops::scale_attrs(-4.0f, 0.0f), ops::unary_math(UnaryMath::abs),
                              ops::unary_math(UnaryMath::sign), ops::clamp_attrs(-0.5f, 0.75f)}) {
        CAPTURE(std::string(ops::unary_math_name(attrs.kind)));
        std::vector<float> y(300), dx(300);
        std::vector<double> yd(300), dxd(300);
        ops::unary_math_forward_reference<float>(attrs, x, y);
        ops::unary_math_forward_reference<double>(attrs, to_double(x), yd);
        CHECK(to_double(y) == yd);
        ops::unary_math_backward_reference<float>(attrs, x, dy, dx);
        ops::unary_math_backward_reference<double>(attrs, to_double(x), to_double(dy), dxd);
        CHECK(to_double(dx) == dxd);
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/unary_math: sqrt, exp, log and the divisions within Vulkan's precision of the exact result") {
    cpu::ThreadPool pool(2);
    // Vulkan's precision of SPIR-V instructions (the spec's table): exp 3 + 2|x|
    // ulp; log 3 ulp outside [0.5, 2], absolute error < 2^-21 inside;
    // sqrt inherits 1 / inversesqrt (2 ulp, then a division, 2.5 ulp); x / y
    // 2.5 ulp. "Exact" is the double result of the same float inputs; each
    // bound gets +1 ulp of slack for the rounding of intermediate steps. The
    // CPU kernels equal the float references (the same std:: calls), which
    // glibc and musl keep within 1 ulp of exact.
    const auto zero = [](size_t) { return 0.0; };
    const auto one_ulp = [](size_t) { return 1.0; };
    for (const size_t n : kSizes) {
        CAPTURE(n);
        const auto dy = uniform(n, static_cast<uint32_t>(n) + 1, -2.0f, 2.0f);
        const auto dyd = to_double(dy);
        struct Case {
            UnaryMath kind;
            float lo, hi;
        };
        for (const Case c : {Case{UnaryMath::sqrt, 1e-3f, 9.0f}, Case{UnaryMath::exp, -4.0f, 4.0f},
                             Case{UnaryMath::log, 1e-3f, 9.0f}}) {
            const auto attrs = ops::unary_math(c.kind);
            CAPTURE(std::string(ops::unary_math_name(c.kind)));
            const auto x = uniform(n, static_cast<uint32_t>(n) * 3, c.lo, c.hi);
            std::vector<float> y(n), got(n);
            std::vector<double> exact(n);
            ops::unary_math_forward_reference<float>(attrs, x, y);
            ops::unary_math_forward_cpu(pool, attrs, x, got);
            check_bitwise_equal(got, y, "cpu forward");
            ops::unary_math_forward_reference<double>(attrs, to_double(x), exact);
            check_within(y, exact, one_ulp, zero, "float reference forward");
            const auto gpu = run_kernel(dev, ops::unary_math_forward_launch(attrs, n), {x, got})[1];
            if (c.kind == UnaryMath::sqrt) check_within(gpu, exact, [](size_t) { return 5.5; }, zero, "sqrt shader");
            if (c.kind == UnaryMath::exp)
                check_within(gpu, exact, [&](size_t i) { return 4.0 + 2.0 * std::abs(x[i]); }, zero, "exp shader");
            if (c.kind == UnaryMath::log) {
                const auto inside = [&](size_t i) { return x[i] >= 0.5f && x[i] <= 2.0f; };
                check_within(gpu, exact, [&](size_t i) { return inside(i) ? 0.0 : 4.0; },
                             [&](size_t i) { return inside(i) ? std::ldexp(1.0, -21) : 0.0; }, "log shader");
            }
            if (c.kind == UnaryMath::exp) continue; // its backward is one product: bit-exact, above
            // Backward: sqrt's dy / (2 y), log's dy / x, each one division.
            const std::vector<float>& saved = c.kind == UnaryMath::sqrt ? y : x;
            std::vector<float> dx(n);
            ops::unary_math_backward_reference<float>(attrs, saved, dy, dx);
            ops::unary_math_backward_cpu(pool, attrs, saved, dy, got);
            check_bitwise_equal(got, dx, "cpu backward");
            ops::unary_math_backward_reference<double>(attrs, to_double(saved), dyd, exact);
            check_within(dx, exact, [](size_t) { return 0.5; }, zero, "float reference backward");
            check_within(run_kernel(dev, ops::unary_math_backward_launch(attrs, n), {saved, dy, got})[2], exact,
                         [](size_t) { return 3.5; }, zero, "unary_math_backward.comp division");
        }
    }
}

TEST_CASE("ops/unary_math: every kind's backward vs finite differences (double)") {
    const size_t n = 29;
    const auto dy = to_double(uniform(n, 6, -1.0f, 1.0f));
    const double lo = -0.6, hi = 0.9;
    for (uint32_t k = 0; k < ops::kUnaryMathKinds; ++k) {
        const auto kind = static_cast<UnaryMath>(k);
        const ops::UnaryMathAttrs attrs = kind == UnaryMath::clamp   ? ops::clamp_attrs(float(lo), float(hi))
                                          : kind == UnaryMath::scale ? ops::scale_attrs(-1.5f, 0.25f)
                                                                     : ops::unary_math(kind);
        CAPTURE(std::string(ops::unary_math_name(kind)));
        const bool positive = kind == UnaryMath::sqrt || kind == UnaryMath::log;
        auto x = to_double(uniform(n, 5 + k, positive ? 0.2f : -2.0f, 2.0f));
        // Away from the kinks (0 for abs and sign, clamp's bounds) by more than the step.
        for (double& v : x)
            if (std::abs(v) < 1e-3 || std::abs(v - lo) < 1e-3 || std::abs(v - hi) < 1e-3) v = 0.5;
        std::vector<double> y(n), dx(n);
        ops::unary_math_forward_reference<double>(attrs, x, y);
        const auto saved = ops::unary_math_backward_reads(kind) == ops::UnaryMathSaved::y ? y : x;
        ops::unary_math_backward_reference<double>(attrs, saved, dy, dx);
        check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) {
                           std::vector<double> out(n);
                           ops::unary_math_forward_reference<double>(attrs, v, out);
                           return weighted_sum(out, dy);
                       }, x), ops::unary_math_name(kind));
    }
}

TEST_CASE("ops/unary_math: PyTorch's values at the kinks, what each backward reads, and errors") {
    const std::vector<float> x = {-2.0f, 0.0f, -0.0f, 0.5f, 4.0f};
    const std::vector<float> ones(5, 1.0f);
    std::vector<float> y(5), dx(5);
    ops::unary_math_forward_reference<float>(ops::unary_math(UnaryMath::sign), x, y);
    CHECK(y == std::vector<float>{-1.0f, 0.0f, 0.0f, 1.0f, 1.0f}); // torch.sign(0) = 0
    CHECK(!std::signbit(y[2]));
    ops::unary_math_backward_reference<float>(ops::unary_math(UnaryMath::sign), x, ones, dx);
    CHECK(dx == std::vector<float>(5, 0.0f));
    ops::unary_math_backward_reference<float>(ops::unary_math(UnaryMath::abs), x, ones, dx);
    CHECK(dx == std::vector<float>{-1.0f, 0.0f, 0.0f, 1.0f, 1.0f}); // abs'(0) = 0, as torch
    // torch.clamp(x, -2, 0.5) passes the gradient at both bounds, inclusive.
    ops::unary_math_forward_reference<float>(ops::clamp_attrs(-2.0f, 0.5f), x, y);
    CHECK(y == std::vector<float>{-2.0f, 0.0f, -0.0f, 0.5f, 0.5f});
    ops::unary_math_backward_reference<float>(ops::clamp_attrs(-2.0f, 0.5f), x, ones, dx);
    CHECK(dx == std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f, 0.0f});
    // sqrt'(4) = 1 / (2 * 2) from y; log'(4) = 1 / 4 from x; square'(0.5) = 1.
    const std::vector<float> y_sqrt = {1.0f, 1.0f, 1.0f, 1.0f, 2.0f};
    ops::unary_math_backward_reference<float>(ops::unary_math(UnaryMath::sqrt), y_sqrt, ones, dx);
    CHECK(dx[4] == 0.25f);
    ops::unary_math_backward_reference<float>(ops::unary_math(UnaryMath::log), x, ones, dx);
    CHECK(dx[4] == 0.25f);
    ops::unary_math_backward_reference<float>(ops::unary_math(UnaryMath::square), x, ones, dx);
    CHECK(dx[3] == 1.0f);
    ops::unary_math_forward_reference<float>(ops::scale_attrs(3.0f, -1.0f), x, y);
    CHECK(y[4] == 11.0f);

    CHECK(ops::unary_math_backward_reads(UnaryMath::scale) == ops::UnaryMathSaved::none);
    CHECK(ops::unary_math_backward_reads(UnaryMath::sign) == ops::UnaryMathSaved::none);
    CHECK(ops::unary_math_backward_reads(UnaryMath::abs) == ops::UnaryMathSaved::x);
    CHECK(ops::unary_math_backward_reads(UnaryMath::log) == ops::UnaryMathSaved::x);
    CHECK(ops::unary_math_backward_reads(UnaryMath::sqrt) == ops::UnaryMathSaved::y);
    CHECK(ops::unary_math_backward_reads(UnaryMath::exp) == ops::UnaryMathSaved::y);
    CHECK(std::string(ops::unary_math_name(UnaryMath::clamp)) == "clamp");

    CHECK_THROWS_WITH(ops::unary_math_check(ops::clamp_attrs(1.0f, 0.5f)), "clamp: lo 1 is not <= hi 0.5");
    CHECK_THROWS_WITH(ops::unary_math_check(ops::clamp_attrs(0.0f, std::numeric_limits<float>::quiet_NaN())),
                      doctest::Contains("clamp: lo 0 is not <= hi"));
    CHECK_THROWS_WITH(ops::unary_math_check(ops::scale_attrs(std::numeric_limits<float>::infinity())),
                      doctest::Contains("scale: a inf and b 0 must be finite"));
    CHECK_THROWS_WITH(ops::unary_math_forward_launch({static_cast<UnaryMath>(8), 1.0f, 0.0f}, 4),
                      "unary_math: kind 8 is not a unary math kind");
    CHECK(std::string(ops::unary_math_name(static_cast<UnaryMath>(8))) == "unknown unary math kind");
    std::vector<float> short_y(4);
    cpu::ThreadPool pool(1);
    CHECK_THROWS_WITH(ops::unary_math_forward_cpu(pool, ops::unary_math(UnaryMath::exp), x, short_y),
                      "unary_math_forward: x has 5 elements, y has 4");
    CHECK_THROWS_WITH(ops::unary_math_backward_reference<float>(ops::unary_math(UnaryMath::abs), x, ones, short_y),
                      "unary_math_backward: saved has 5 elements, dx has 4");
    CHECK_THROWS_WITH(ops::unary_math_forward_launch(ops::unary_math(UnaryMath::abs), size_t{1} << 33),
                      doctest::Contains("unary_math_forward: 8589934592 elements exceed"));
    const auto l = ops::unary_math_backward_launch(ops::clamp_attrs(0.0f, 1.0f), 10);
    CHECK(l.shader == "unary_math_backward"); // one pipeline for every kind: the kind is a push constant
    CHECK(l.shader == ops::unary_math_backward_launch(ops::unary_math(UnaryMath::log), 10).shader);
}

TEST_CASE_FIXTURE(GpuTest, "ops/broadcast_rows: shader == CPU kernel == reference, the gradient of sum_rows and mean_rows") {
    cpu::ThreadPool pool(2);
    struct Size {
        size_t rows, cols;
    };
    for (const Size s : {Size{1, 1}, Size{1, 5000}, Size{7, 33}, Size{300, 3}, Size{257, 256}}) {
        CAPTURE(s.rows);
        CAPTURE(s.cols);
        const auto x = uniform(s.rows, static_cast<uint32_t>(s.rows * s.cols), -2.0f, 2.0f);
        for (const float scale : {1.0f, 1.0f / static_cast<float>(s.cols)}) {
            // One product per element: the same bits everywhere.
            std::vector<float> want(s.rows * s.cols), got(s.rows * s.cols);
            ops::broadcast_rows_reference<float>(s.rows, s.cols, scale, x, want);
            ops::broadcast_rows_cpu(pool, s.rows, s.cols, scale, x, got);
            check_bitwise_equal(got, want, "cpu broadcast_rows");
            check_bitwise_equal(run_kernel(dev, ops::broadcast_rows_launch(s.rows, s.cols, scale), {x, got})[1], want,
                                "broadcast_rows.comp");
        }
    }
    // d(sum_r dy_r * sum_c x_rc) / dx_rc = dy_r; the mean's, dy_r / cols.
    const size_t rows = 4, cols = 6;
    const auto x = to_double(uniform(rows * cols, 11));
    const auto dy = to_double(uniform(rows, 12));
    std::vector<double> dx(rows * cols);
    for (const bool mean : {false, true}) {
        CAPTURE(mean);
        ops::broadcast_rows_reference<double>(rows, cols, mean ? 1.0 / cols : 1.0, dy, dx);
        check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) {
                           std::vector<double> out(rows);
                           if (mean) ops::mean_rows_reference<double>(rows, cols, v, out);
                           else ops::sum_rows_reference<double>(rows, cols, v, out);
                           return weighted_sum(out, dy);
                       }, x), mean ? "mean_rows" : "sum_rows");
    }
    std::vector<float> y(10);
    CHECK_THROWS_WITH(ops::broadcast_rows_cpu(pool, 2, 5, 1.0f, std::vector<float>(3), y),
                      "broadcast_rows: x has 3 elements, expected rows = 2");
    CHECK_THROWS_WITH(ops::broadcast_rows_reference<float>(2, 4, 1.0f, std::vector<float>(2), y),
                      "broadcast_rows: y has 10 elements, expected rows * cols = 2 * 4");
    CHECK_THROWS_WITH(ops::broadcast_rows_launch(0, 4, 1.0f), doctest::Contains("0 rows of 4 columns"));
}
