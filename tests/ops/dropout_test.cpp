// Dropout: Philox4x32-10 against Random123's known answers, the GPU mask equal
// bit for bit to the CPU backend's, keep rate and scale, determinism per
// (seed, step), eval identity, backward redrawing the forward mask, errors.
// Shader: dropout_apply (both directions).
#include "vkcnn/ops/dropout.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <bit>

#include <cmath>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// The key buffer the shader reads: {seed, step} as two uint32 (run_kernel takes floats; the bits go as they are).
std::vector<float> key_buffer(ops::PhiloxKey key) { return {std::bit_cast<float>(key.seed), std::bit_cast<float>(key.step)}; }

// The multipliers m_i (x = 1 everywhere).
std::vector<float> cpu_mask(cpu::ThreadPool& pool, const ops::DropoutAttrs& attrs, ops::PhiloxKey key, size_t n) {
    std::vector<float> y(n);
    ops::dropout_forward_cpu(pool, attrs, key, std::vector<float>(n, 1.0f), y);
    return y;
}

} // namespace

TEST_CASE("ops/dropout: philox4x32_10 matches Random123's known-answer vectors") {
    using A4 = std::array<uint32_t, 4>;
    CHECK(ops::philox4x32_10({0, 0, 0, 0}, {0, 0}) == A4{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
    CHECK(ops::philox4x32_10({~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}) == A4{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
    CHECK(ops::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
          A4{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE_FIXTURE(GpuTest, "ops/dropout: GPU mask == CPU mask == reference, bit for bit") {
    cpu::ThreadPool pool(2);
    const ops::PhiloxKey key{1234, 5};
    for (const float p : {0.0f, 0.1f, 0.5f, 0.9f, 1.0f}) {
        for (const size_t n : {size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{1023}, size_t{100001}}) {
            CAPTURE(p);
            CAPTURE(n);
            const ops::DropoutAttrs attrs{p, true, static_cast<uint32_t>(n % 3)}; // streams 0..2 too
            const auto x = uniform(n, static_cast<uint32_t>(n), -2.0f, 2.0f);
            std::vector<float> ref(n), got(n);
            ops::dropout_forward_reference<float>(attrs, key, x, ref);
            ops::dropout_forward_cpu(pool, attrs, key, x, got);
            check_bitwise_equal(got, ref, "cpu dropout_forward");
            check_bitwise_equal(run_kernel(dev, ops::dropout_forward_launch(attrs, n), {x, key_buffer(key), got})[2], ref,
                                "dropout_apply.comp forward");
            // Backward redraws the same mask from the same key.
            const auto dy = uniform(n, static_cast<uint32_t>(n) + 1);
            ops::dropout_backward_reference<float>(attrs, key, dy, ref);
            ops::dropout_backward_cpu(pool, attrs, key, dy, got);
            check_bitwise_equal(got, ref, "cpu dropout_backward");
            check_bitwise_equal(run_kernel(dev, ops::dropout_backward_launch(attrs, n), {dy, key_buffer(key), got})[2], ref,
                                "dropout_apply.comp backward");
            const auto mask = cpu_mask(pool, attrs, key, n);
            for (size_t i = 0; i < n; ++i) REQUIRE(ref[i] == dy[i] * mask[i]);
        }
    }
}

TEST_CASE("ops/dropout: keep rate, scale, determinism, streams per step") {
    cpu::ThreadPool pool(2);
    const size_t n = 100000;
    for (const float p : {0.1f, 0.5f, 0.8f}) {
        CAPTURE(p);
        const ops::DropoutAttrs attrs{p, true};
        const auto mask = cpu_mask(pool, attrs, {7, 0}, n);
        size_t kept = 0;
        for (const float m : mask) {
            kept += m != 0.0f;
            REQUIRE((m == 0.0f || m == 1.0f / (1.0f - p))); // inverted dropout: kept units scaled by 1 / (1 - p)
        }
        const double rate = double(kept) / n, sigma = std::sqrt(p * (1.0 - p) / n);
        CHECK(std::abs(rate - (1.0 - p)) < 5 * sigma);
        // The same (seed, step) gives the same mask; another step or seed another one.
        CHECK(cpu_mask(pool, attrs, {7, 0}, n) == mask);
        for (const ops::PhiloxKey other : {ops::PhiloxKey{7, 1}, ops::PhiloxKey{8, 0}}) {
            const auto m2 = cpu_mask(pool, attrs, other, n);
            size_t differ = 0;
            for (size_t i = 0; i < n; ++i) differ += (m2[i] != 0.0f) != (mask[i] != 0.0f);
            // Independent masks disagree on a fraction 2p(1 - p) of the elements.
            CHECK(std::abs(double(differ) / n - 2 * p * (1 - p)) < 0.01);
        }
        // Another layer (stream) of the same step draws an independent mask.
        const auto other_layer = cpu_mask(pool, {p, true, 1}, {7, 0}, n);
        size_t differ = 0;
        for (size_t i = 0; i < n; ++i) differ += (other_layer[i] != 0.0f) != (mask[i] != 0.0f);
        CHECK(std::abs(double(differ) / n - 2 * p * (1 - p)) < 0.01);
    }
    // p = 1 zeroes everything (PyTorch), eval is the identity, whatever p.
    CHECK(cpu_mask(pool, {1.0f, true}, {3, 3}, 100) == std::vector<float>(100, 0.0f));
    const auto x = uniform(1000, 9);
    std::vector<float> y(1000);
    ops::dropout_forward_cpu(pool, {0.5f, false}, {3, 3}, x, y);
    CHECK(y == x);
    // A dropped NaN stays NaN (x * 0), as PyTorch's x * noise.
    std::vector<float> nan_x(64, std::numeric_limits<float>::quiet_NaN()), nan_y(64);
    ops::dropout_forward_cpu(pool, {0.5f, true}, {1, 1}, nan_x, nan_y);
    for (const float v : nan_y) CHECK(std::isnan(v));
}

TEST_CASE("ops/dropout: backward vs finite differences (double), and errors") {
    const size_t n = 19;
    const ops::DropoutAttrs attrs{0.3f, true};
    const ops::PhiloxKey key{42, 7};
    const auto xf = uniform(n, 1), dyf = uniform(n, 2);
    const std::vector<double> x(xf.begin(), xf.end()), dy(dyf.begin(), dyf.end());
    std::vector<double> dx(n);
    ops::dropout_backward_reference<double>(attrs, key, dy, dx);
    check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) {
                       std::vector<double> y(n);
                       ops::dropout_forward_reference<double>(attrs, key, v, y);
                       return weighted_sum(y, dy);
                   }, x), "dropout");

    CHECK_THROWS_WITH(ops::dropout_rule({1.5f, true}), "dropout: probability has to be between 0 and 1, but got 1.5");
    CHECK_THROWS_WITH(ops::dropout_forward_launch({-0.1f, true}, 10), doctest::Contains("but got -0.1"));
    std::vector<float> a(4), b(3);
    CHECK_THROWS_WITH(ops::dropout_forward_reference<float>(attrs, key, a, b),
                      "dropout_forward: input has 4 elements, output has 3");
}
