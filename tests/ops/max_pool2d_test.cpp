// max_pool2d forward and backward: the shaders (max_pool2d_forward,
// max_pool2d_backward) vs the CPU kernel vs the plain reference, bit-exact
// (the maximum does no arithmetic, and the backward gather adds dy in the
// reference's scatter order), over a sweep and a seeded fuzzer of shapes with
// padding, stride, dilation and ceil_mode; values checked by hand against
// PyTorch's; gradient checks of the double reference; shape errors.
#include "vkcnn/ops/max_pool2d.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using Shape = std::array<int64_t, 4>;

const int64_t kSizes[] = {1, 3, 7, 17, 31, 33, 65};

size_t count(const Shape& s) { return static_cast<size_t>(s[0] * s[1] * s[2] * s[3]); }

// Index buffers travel through run_kernel as floats, bit for bit.
std::vector<float> int_bits(std::span<const int32_t> v) {
    std::vector<float> out(v.size());
    std::transform(v.begin(), v.end(), out.begin(), [](int32_t i) { return std::bit_cast<float>(i); });
    return out;
}
std::vector<int32_t> float_bits(std::span<const float> v) {
    std::vector<int32_t> out(v.size());
    std::transform(v.begin(), v.end(), out.begin(), [](float f) { return std::bit_cast<int32_t>(f); });
    return out;
}

void check_indices_equal(std::span<const int32_t> got, std::span<const int32_t> want, const std::string& what) {
    REQUIRE_MESSAGE(got.size() == want.size(), what << ": sizes differ");
    const auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin());
    if (g != got.end()) FAIL_CHECK(what << ": element " << (g - got.begin()) << " is " << *g << ", expected " << *w);
}

// A one-line reproducer: paste into check_case(dev, pool, ...) below.
std::string describe(const ops::MaxPool2dAttrs& a, const Shape& s) {
    return cat("x (", s[0], ", ", s[1], ", ", s[2], ", ", s[3], ") kernel (", a.kernel[0], ", ", a.kernel[1],
               ") stride (", a.stride[0], ", ", a.stride[1], ") padding (", a.padding[0], ", ", a.padding[1],
               ") dilation (", a.dilation[0], ", ", a.dilation[1], ") ceil_mode ", a.ceil_mode);
}

// Is (attrs, shape) a problem PyTorch accepts?
bool valid(const ops::MaxPool2dAttrs& a, const Shape& s) {
    try {
        ops::max_pool2d_geometry(a, s);
        return true;
    } catch (const Error&) {
        return false;
    }
}

// Forward and backward on the reference, the CPU kernel and the shaders; all
// three must agree bit for bit (values, indices and gradients).
void check_case(Device& dev, cpu::ThreadPool& pool, const ops::MaxPool2dAttrs& a, const Shape& s,
                const std::vector<float>& x, const std::vector<float>& dy) {
    const Shape ys = ops::max_pool2d_output_shape(a, s);
    const size_t nx = count(s), ny = count(ys);
    REQUIRE(x.size() == nx);
    REQUIRE(dy.size() == ny);

    std::vector<float> y_ref(ny), y_cpu(ny);
    std::vector<int32_t> i_ref(ny), i_cpu(ny);
    ops::max_pool2d_forward_reference<float>(a, s, x, y_ref, i_ref);
    ops::max_pool2d_forward_cpu(pool, a, s, x, y_cpu, i_cpu);
    check_bitwise_equal(y_cpu, y_ref, "cpu max_pool2d_forward y");
    check_indices_equal(i_cpu, i_ref, "cpu max_pool2d_forward indices");
    const auto f = run_kernel(dev, ops::max_pool2d_forward_launch(a, s),
                              {x, std::vector<float>(ny), std::vector<float>(ny)});
    check_bitwise_equal(f[1], y_ref, "max_pool2d_forward.comp y");
    check_indices_equal(float_bits(f[2]), i_ref, "max_pool2d_forward.comp indices");

    std::vector<float> dx_ref(nx), dx_cpu(nx);
    ops::max_pool2d_backward_reference<float>(a, s, i_ref, dy, dx_ref);
    ops::max_pool2d_backward_cpu(pool, a, s, i_ref, dy, dx_cpu);
    check_bitwise_equal(dx_cpu, dx_ref, "cpu max_pool2d_backward");
    const auto b = run_kernel(dev, ops::max_pool2d_backward_launch(a, s),
                              {int_bits(i_ref), dy, std::vector<float>(nx)});
    check_bitwise_equal(b[2], dx_ref, "max_pool2d_backward.comp");
}

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/max_pool2d: shaders == CPU kernel == reference over a shape sweep (exact)") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 1;
    int cases = 0;
    // Sizes x kernels x a rotating choice of stride, padding, dilation, ceil_mode,
    // batch and non-square partner size; half small integers (many ties), half real.
    for (size_t i = 0; i < std::size(kSizes); ++i) {
        for (int k : {1, 2, 3, 5}) {
            for (int variant = 0; variant < 6; ++variant) {
                const int r = static_cast<int>(i) * 7 + k * 3 + variant;
                ops::MaxPool2dAttrs a;
                const int kw = variant % 3 == 2 ? std::max(1, k - 1) : k; // non-square kernels too
                a.kernel = {k, kw};
                a.stride = variant == 0 && r % 2 ? std::array<int, 2>{0, 0} // PyTorch's default stride = kernel
                                                 : std::array<int, 2>{1 + r % 3, 1 + (r / 3) % 3};
                a.padding = {r % (k / 2 + 1), (r / 2) % (kw / 2 + 1)};
                a.dilation = {1 + (r / 4) % 2, 1 + (r / 5) % 3};
                a.ceil_mode = (r / 3) % 2 == 1;
                const int64_t w = kSizes[(i + variant * 2 + variant / 3) % std::size(kSizes)]; // often non-square
                const Shape s = {1 + 2 * (r % 2), 1 + (r / 2) % 2, kSizes[i], w};
                if (!valid(a, s)) continue;
                const std::string what = describe(a, s);
                INFO(what);
                const bool integers = variant % 3 != 1;
                const auto x = integers ? small_integers(count(s), ++seed) : uniform(count(s), ++seed);
                const auto dy = uniform(count(ops::max_pool2d_output_shape(a, s)), ++seed);
                check_case(dev, pool, a, s, x, dy);
                ++cases;
            }
        }
    }
    CHECK(cases >= 120);
}

TEST_CASE_FIXTURE(GpuTest, "ops/max_pool2d: more than 256 x 4096 outputs and inputs (grid-stride loop, threaded CPU)") {
    cpu::ThreadPool pool(2);
    const ops::MaxPool2dAttrs a{.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}};
    const Shape s = {1, 1, 1025, 1025}; // 1025^2 inputs, 1026^2 outputs, both > 2^20
    INFO(describe(a, s));
    check_case(dev, pool, a, s, small_integers(count(s), 61), uniform(1026 * 1026, 62));
}

TEST_CASE_FIXTURE(GpuTest, "ops/max_pool2d: NaN and -inf inputs, shaders == CPU kernel == reference") {
    cpu::ThreadPool pool(2);
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (const auto& [k, st, p, d] : {std::array<int, 4>{3, 1, 1, 1}, {2, 2, 0, 1}, {2, 2, 1, 1}, {3, 2, 1, 2}}) {
        ops::MaxPool2dAttrs a{.kernel = {k, k}, .stride = {st, st}, .padding = {p, p}, .dilation = {d, d}};
        const Shape s = {2, 1, 9, 11};
        INFO(describe(a, s));
        auto x = small_integers(count(s), 77);
        for (size_t i = 0; i < x.size(); i += 7) x[i] = i % 3 ? -inf : nan;
        for (size_t i = 0; i < 11; ++i) x[i] = -inf; // a row of -inf: the index stays at the first tap
        check_case(dev, pool, a, s, x, uniform(count(ops::max_pool2d_output_shape(a, s)), 78));
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/max_pool2d: seeded random shapes (fuzzer, exact)") {
    cpu::ThreadPool pool(2);
    std::mt19937 rng(20240601);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    int cases = 0;
    for (int iter = 0; cases < 40 && iter < 400; ++iter) {
        ops::MaxPool2dAttrs a;
        a.kernel = {pick(1, 5), pick(1, 5)};
        a.stride = pick(0, 3) == 0 ? std::array<int, 2>{0, 0} : std::array<int, 2>{pick(1, 3), pick(1, 3)};
        a.padding = {pick(0, a.kernel[0] / 2), pick(0, a.kernel[1] / 2)};
        a.dilation = {pick(1, 3), pick(1, 3)};
        a.ceil_mode = pick(0, 1) == 1;
        const Shape s = {pick(1, 3), pick(1, 3), pick(1, 40), pick(1, 40)};
        if (!valid(a, s)) {
            CHECK_THROWS_AS(ops::max_pool2d_output_shape(a, s), Error);
            continue;
        }
        ++cases;
        const std::string repro = cat("fuzz case ", iter, ": ", describe(a, s));
        INFO(repro);
        const uint32_t seed = 1000 + static_cast<uint32_t>(iter);
        const auto x = iter % 2 ? small_integers(count(s), seed) : uniform(count(s), seed);
        check_case(dev, pool, a, s, x, uniform(count(ops::max_pool2d_output_shape(a, s)), seed + 1));
    }
    CHECK(cases == 40);
}

TEST_CASE_FIXTURE(GpuTest, "ops/max_pool2d: values checked by hand against PyTorch") {
    cpu::ThreadPool pool(1);
    auto forward = [&](const ops::MaxPool2dAttrs& a, const Shape& s, const std::vector<float>& x) {
        const size_t ny = count(ops::max_pool2d_output_shape(a, s));
        std::vector<float> y(ny);
        std::vector<int32_t> idx(ny);
        ops::max_pool2d_forward_reference<float>(a, s, x, y, idx);
        check_case(dev, pool, a, s, x, uniform(ny, 5)); // and the shaders agree
        return std::pair{y, idx};
    };
    const std::vector<float> x3 = {1, 5, 2, 7, 3, 9, 4, 8, 6};
    {
        // F.max_pool2d(x, 2, stride=2, padding=1, return_indices=True): -inf padding.
        const auto [y, idx] = forward({.kernel = {2, 2}, .padding = {1, 1}}, {1, 1, 3, 3}, x3);
        CHECK(y == std::vector<float>{1, 5, 7, 9});
        CHECK(idx == std::vector<int32_t>{0, 1, 3, 5});
    }
    {
        // Padding does not beat negative inputs: -inf padding, not zero.
        std::vector<float> neg(9);
        std::transform(x3.begin(), x3.end(), neg.begin(), [](float v) { return -v; });
        const auto [y, idx] = forward({.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}, {1, 1, 3, 3}, neg);
        CHECK(y == std::vector<float>{-1, -1, -2, -1, -1, -2, -3, -3, -3});
        CHECK(idx == std::vector<int32_t>{0, 0, 2, 0, 0, 2, 4, 4, 4});
    }
    {
        // dilation 2: taps (0,0), (0,2), (2,0), (2,2).
        const auto [y, idx] = forward({.kernel = {2, 2}, .stride = {1, 1}, .dilation = {2, 2}}, {1, 1, 3, 3}, x3);
        CHECK(y == std::vector<float>{6});
        CHECK(idx == std::vector<int32_t>{8});
    }
    {
        // Ties: the first maximum in scan order, and backward sums dy at a shared argmax.
        const ops::MaxPool2dAttrs a{.kernel = {1, 2}, .stride = {1, 1}};
        const auto [y, idx] = forward(a, {1, 1, 1, 4}, {1, 3, 3, 2});
        CHECK(y == std::vector<float>{3, 3, 3});
        CHECK(idx == std::vector<int32_t>{1, 1, 2});
        std::vector<float> dx(4);
        ops::max_pool2d_backward_reference<float>(a, {1, 1, 1, 4}, idx, std::vector<float>{1, 10, 100}, dx);
        CHECK(dx == std::vector<float>{0, 11, 100, 0});
    }
    // Output sizes: GoogLeNet's MaxPool2d(3, 2, ceil_mode=True) takes 112 to 56 (55 with floor).
    CHECK(ops::max_pool2d_output_shape({.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true}, {1, 64, 112, 112}) ==
          Shape{1, 64, 56, 56});
    CHECK(ops::max_pool2d_output_shape({.kernel = {3, 3}, .stride = {2, 2}}, {1, 64, 112, 112}) == Shape{1, 64, 55, 55});
    // ceil_mode adds a last window only if it starts inside the input or the left padding:
    // H = 5, k 2, s 3, p 1 gives ceil((5 + 2 - 2) / 3) + 1 = 3, but window 2 would start at
    // 2 * 3 - 1 = 5 (right padding), so 2; W = 6 keeps it (starts at 5 < 6).
    CHECK(ops::max_pool2d_output_shape({.kernel = {2, 2}, .stride = {3, 3}, .padding = {1, 1}, .ceil_mode = true},
                                       {1, 1, 5, 6}) == Shape{1, 1, 2, 3});
    // Dilation enters the size: floor((7 + 2 - 2 * 2 - 1) / 1) + 1 = 5.
    CHECK(ops::max_pool2d_output_shape({.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}, .dilation = {2, 2}},
                                       {2, 3, 7, 7}) == Shape{2, 3, 5, 5});
}

TEST_CASE_FIXTURE(GpuTest, "ops/max_pool2d: a window without taps gives -inf and index -1, skipped by backward") {
    // H = 1, kernel 2, padding 1, dilation 2: the row taps are -1 and 1, both outside.
    // PyTorch returns -inf there too (with an index outside the window); its gradient is zero.
    cpu::ThreadPool pool(1);
    const ops::MaxPool2dAttrs a{.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 0}, .dilation = {2, 1}};
    const Shape s = {1, 2, 1, 3};
    REQUIRE(ops::max_pool2d_output_shape(a, s) == Shape{1, 2, 1, 2});
    std::vector<float> y(4);
    std::vector<int32_t> idx(4);
    ops::max_pool2d_forward_reference<float>(a, s, std::vector<float>{1, 2, 3, 4, 5, 6}, y, idx);
    CHECK(y == std::vector<float>(4, -std::numeric_limits<float>::infinity()));
    CHECK(idx == std::vector<int32_t>(4, -1));
    check_case(dev, pool, a, s, {1, 2, 3, 4, 5, 6}, {1, 2, 3, 4}); // dx = 0 everywhere
}

TEST_CASE("ops/max_pool2d: backward of the double reference matches finite differences") {
    const std::pair<ops::MaxPool2dAttrs, Shape> cases[] = {
        {{.kernel = {2, 2}}, {1, 1, 4, 4}},
        {{.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}, {2, 1, 5, 4}}, // overlapping windows
        {{.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .dilation = {2, 1}, .ceil_mode = true}, {1, 2, 7, 5}},
        {{.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true}, {1, 1, 6, 6}},
    };
    std::mt19937 rng(42);
    for (const auto& [a, s] : cases) {
        INFO(describe(a, s));
        // Distinct values 0.1 apart (no ties, so max is differentiable at x).
        std::vector<double> x(count(s));
        std::iota(x.begin(), x.end(), 0.0);
        std::shuffle(x.begin(), x.end(), rng);
        for (double& v : x) v = 0.1 * v - 1.0;
        const size_t ny = count(ops::max_pool2d_output_shape(a, s));
        const auto dy = to_double(uniform(ny, 7));
        std::vector<double> y(ny), dx(x.size());
        std::vector<int32_t> idx(ny);
        ops::max_pool2d_forward_reference<double>(a, s, x, y, idx);
        ops::max_pool2d_backward_reference<double>(a, s, idx, dy, dx);
        const auto loss = [&](const std::vector<double>& xv) {
            std::vector<double> yv(ny);
            std::vector<int32_t> iv(ny);
            ops::max_pool2d_forward_reference<double>(a, s, xv, yv, iv);
            return weighted_sum(yv, dy);
        };
        check_gradient(dx, numerical_gradient(loss, x), "max_pool2d dx");
    }
}

TEST_CASE("ops/max_pool2d: bad shapes name the op and the shapes") {
    using doctest::Contains;
    // Kernel larger than the padded input: output size 0.
    CHECK_THROWS_WITH_AS(ops::max_pool2d_output_shape({.kernel = {5, 5}, .padding = {1, 1}}, {1, 1, 2, 2}),
                         Contains("max_pool2d: input (1, 1, 2, 2) with kernel (5, 5), stride (5, 5), padding (1, 1), "
                                  "dilation (1, 1) gives output size (0, 0): output size is too small"),
                         Error);
    // Dilation makes the window too wide.
    CHECK_THROWS_WITH_AS(ops::max_pool2d_output_shape({.kernel = {2, 2}, .dilation = {4, 1}}, {1, 1, 4, 4}),
                         Contains("gives output size (0, 2)"), Error);
    // Padding above half the kernel, as PyTorch refuses.
    CHECK_THROWS_WITH_AS(ops::max_pool2d_output_shape({.kernel = {3, 2}, .padding = {1, 2}}, {1, 1, 8, 8}),
                         Contains("max_pool2d: pad should be at most half of kernel size, got padding (1, 2) for "
                                  "kernel (3, 2)"),
                         Error);
    CHECK_THROWS_WITH_AS(ops::max_pool2d_output_shape({.kernel = {0, 2}}, {1, 1, 8, 8}),
                         Contains("max_pool2d: kernel size should be greater than zero, got (0, 2)"), Error);
    CHECK_THROWS_WITH_AS(ops::max_pool2d_output_shape({.kernel = {2, 2}, .stride = {0, 1}}, {1, 1, 8, 8}),
                         Contains("max_pool2d: stride should be greater than zero, got (0, 1)"), Error);
    CHECK_THROWS_WITH_AS(ops::max_pool2d_output_shape({.kernel = {2, 2}, .dilation = {1, 0}}, {1, 1, 8, 8}),
                         Contains("max_pool2d: dilation should be greater than zero, got (1, 0)"), Error);
    CHECK_THROWS_WITH_AS(ops::max_pool2d_output_shape({}, {1, 0, 8, 8}),
                         Contains("max_pool2d: input shape (1, 0, 8, 8) has an empty dimension"), Error);
    // The launches and kernels check too, under their direction's name, and check buffer sizes.
    CHECK_THROWS_WITH_AS(ops::max_pool2d_forward_launch({.kernel = {3, 3}}, {1, 1, 2, 2}),
                         Contains("max_pool2d_forward: input (1, 1, 2, 2)"), Error);
    CHECK_THROWS_WITH_AS(ops::max_pool2d_backward_launch({.kernel = {3, 3}, .padding = {2, 2}}, {1, 1, 9, 9}),
                         Contains("max_pool2d_backward: pad should be at most half"), Error);
    cpu::ThreadPool pool(1);
    std::vector<float> x(16), y(3), dx(16);
    std::vector<int32_t> idx(4);
    CHECK_THROWS_WITH_AS(ops::max_pool2d_forward_cpu(pool, {}, {1, 1, 4, 4}, x, y, idx),
                         Contains("max_pool2d_forward: y has 3 elements, expected 4"), Error);
    std::vector<float> dy(4);
    idx = {0, 2, 99, 10};
    CHECK_THROWS_WITH_AS(ops::max_pool2d_backward_cpu(pool, {}, {1, 1, 4, 4}, idx, dy, dx),
                         Contains("max_pool2d_backward: index 99 at output 2 is outside the input plane of 16 elements"),
                         Error);
}
