// leaky_relu, sigmoid and tanh: GPU shaders vs CPU kernels vs references
// (bit-exact where the arithmetic is a single correctly rounded step or
// `precise` mul/sub chains; tolerances for exp/tanh), gradients of the double
// references vs finite differences, and size errors.
// Shaders: leaky_relu_forward, leaky_relu_backward, sigmoid_forward,
// sigmoid_backward, tanh_forward, tanh_backward.
#include "vkcnn/ops/activations.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// Around the workgroup (256) size; the > 65535 * 256 case lives in binary_test.cpp.
const size_t kSizes[] = {1, 3, 7, 33, 255, 256, 257, 1000, 4099};

// Zeros, NaN, infinities and saturating values in the first slots.
std::vector<float> with_specials(std::vector<float> v) {
    const float inf = std::numeric_limits<float>::infinity();
    const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(), -inf, inf, 100.0f, -100.0f, 1e-30f};
    for (size_t i = 0; i < v.size() && i < std::size(specials); ++i) v[i] = specials[i];
    return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/leaky_relu: shader == CPU kernel == reference, bit-exact") {
    cpu::ThreadPool pool(2);
    for (const float slope : {0.01f, 0.2f, 0.0f, 1.0f, -0.5f}) {
        const ops::LeakyReluAttrs attrs{slope};
        for (size_t n : kSizes) {
            CAPTURE(slope);
            CAPTURE(n);
            const auto x = with_specials(uniform(n, static_cast<uint32_t>(n), -3.0f, 3.0f));
            const auto dy = uniform(n, static_cast<uint32_t>(n) + 7);
            std::vector<float> y(n), cy(n), dx(n), cdx(n);
            ops::leaky_relu_forward_reference<float>(attrs, x, y);
            ops::leaky_relu_forward_cpu(pool, attrs, x, cy);
            check_bitwise_equal(cy, y, "cpu leaky_relu_forward");
            check_bitwise_equal(run_kernel(dev, ops::leaky_relu_forward_launch(attrs, n), {x, cy})[1], y,
                                "leaky_relu_forward.comp");
            ops::leaky_relu_backward_reference<float>(attrs, x, dy, dx);
            ops::leaky_relu_backward_cpu(pool, attrs, x, dy, cdx);
            check_bitwise_equal(cdx, dx, "cpu leaky_relu_backward");
            check_bitwise_equal(run_kernel(dev, ops::leaky_relu_backward_launch(attrs, n), {x, dy, cdx})[2], dx,
                                "leaky_relu_backward.comp");
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/sigmoid and tanh forward: shader ~ double reference, CPU kernel == float reference") {
    cpu::ThreadPool pool(2);
    for (size_t n : kSizes) {
        CAPTURE(n);
        const auto x = with_specials(uniform(n, static_cast<uint32_t>(n), -9.0f, 9.0f));
        const auto xd = to_double(x);
        std::vector<double> want(n);
        std::vector<float> ref(n), got(n);

        ops::sigmoid_forward_reference<double>(xd, want);
        ops::sigmoid_forward_reference<float>(x, ref);
        ops::sigmoid_forward_cpu(pool, x, got);
        check_bitwise_equal(got, ref, "cpu sigmoid_forward");
        // exp is 3 + 2|x| ulp in Vulkan, the division 2.5 ulp: about 1e-5 relative at |x| = 9.
        check_allclose(run_kernel(dev, ops::sigmoid_forward_launch(n), {x, got})[1], to_float(want), 1e-7, 2e-5,
                       "sigmoid_forward.comp");

        ops::tanh_forward_reference<double>(xd, want);
        ops::tanh_forward_reference<float>(x, ref);
        ops::tanh_forward_cpu(pool, x, got);
        check_bitwise_equal(got, ref, "cpu tanh_forward");
        // Vulkan's tanh precision follows (e^x - e^-x) / (e^x + e^-x): absolute error near 0.
        check_allclose(run_kernel(dev, ops::tanh_forward_launch(n), {x, got})[1], to_float(want), 2e-6, 2e-5,
                       "tanh_forward.comp");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/sigmoid and tanh backward: shader == CPU kernel == reference, bit-exact") {
    cpu::ThreadPool pool(2);
    for (size_t n : kSizes) {
        CAPTURE(n);
        const auto y = uniform(n, static_cast<uint32_t>(n), -1.0f, 1.0f); // any y: the rule is pure arithmetic
        const auto dy = uniform(n, static_cast<uint32_t>(n) + 1, -2.0f, 2.0f);
        std::vector<float> ref(n), got(n);
        ops::sigmoid_backward_reference<float>(y, dy, ref);
        ops::sigmoid_backward_cpu(pool, y, dy, got);
        check_bitwise_equal(got, ref, "cpu sigmoid_backward");
        check_bitwise_equal(run_kernel(dev, ops::sigmoid_backward_launch(n), {y, dy, got})[2], ref,
                            "sigmoid_backward.comp");
        ops::tanh_backward_reference<float>(y, dy, ref);
        ops::tanh_backward_cpu(pool, y, dy, got);
        check_bitwise_equal(got, ref, "cpu tanh_backward");
        check_bitwise_equal(run_kernel(dev, ops::tanh_backward_launch(n), {y, dy, got})[2], ref,
                            "tanh_backward.comp");
    }
}

TEST_CASE("ops/activations: backward rules vs finite differences (double)") {
    const size_t n = 23;
    auto x = to_double(uniform(n, 5, -3.0f, 3.0f));
    for (double& v : x)
        if (std::abs(v) < 1e-3) v = 0.5; // leaky_relu's kink
    const auto dy = to_double(uniform(n, 6));
    std::vector<double> y(n), dx(n);

    const ops::LeakyReluAttrs attrs{0.1f};
    ops::leaky_relu_backward_reference<double>(attrs, x, dy, dx);
    check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) {
                       std::vector<double> out(n);
                       ops::leaky_relu_forward_reference<double>(attrs, v, out);
                       return weighted_sum(out, dy);
                   }, x), "leaky_relu");

    ops::sigmoid_forward_reference<double>(x, y);
    ops::sigmoid_backward_reference<double>(y, dy, dx);
    check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) {
                       std::vector<double> out(n);
                       ops::sigmoid_forward_reference<double>(v, out);
                       return weighted_sum(out, dy);
                   }, x), "sigmoid");

    ops::tanh_forward_reference<double>(x, y);
    ops::tanh_backward_reference<double>(y, dy, dx);
    check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) {
                       std::vector<double> out(n);
                       ops::tanh_forward_reference<double>(v, out);
                       return weighted_sum(out, dy);
                   }, x), "tanh");
}

TEST_CASE("ops/activations: PyTorch values and size errors") {
    const std::vector<float> x = {-2.0f, 0.0f, 3.0f};
    std::vector<float> y(3);
    ops::leaky_relu_forward_reference<float>({}, x, y);
    CHECK(y[0] == -2.0f * 0.01f); // default negative_slope 0.01
    CHECK(y[2] == 3.0f);
    ops::sigmoid_forward_reference<float>(x, y);
    CHECK(y[1] == 0.5f);
    std::vector<float> dx(3);
    ops::leaky_relu_backward_reference<float>({}, x, std::vector<float>(3, 1.0f), dx);
    CHECK(dx[1] == 0.01f); // x == 0 takes the negative slope, as PyTorch (x > 0 is false)

    std::vector<float> short_y(2);
    CHECK_THROWS_WITH(ops::sigmoid_forward_reference<float>(x, short_y), "sigmoid_forward: x has 3 elements, y has 2");
    cpu::ThreadPool pool(1);
    CHECK_THROWS_WITH(ops::tanh_backward_cpu(pool, x, short_y, dx), "tanh_backward: y has 3 elements, dy has 2");
    CHECK_THROWS_WITH(ops::leaky_relu_forward_launch({}, size_t{1} << 33),
                      doctest::Contains("leaky_relu_forward: 8589934592 elements exceed"));
}
