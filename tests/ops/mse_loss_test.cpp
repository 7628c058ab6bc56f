// mse_loss (reduction 'mean'), forward and backward: shaders (mse_loss_forward
// partials + reduce_finish; mse_loss_backward) vs CPU kernels vs references,
// exact on small integers, within rounding of the double reference on real
// inputs; values checked by hand against torch.nn.functional.mse_loss; the
// double reference's gradient vs finite differences; size errors.
#include "vkcnn/ops/mse_loss.h"
#include "vkcnn/ops/reduce.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// Around the workgroup (256); 100003 is more than 16 CPU blocks (threads); 256 * 1024 * 2 + 5
// exceeds the 1024 partials, so workgroups stride over the grid.
const size_t kSizes[] = {1, 3, 7, 255, 256, 257, 1000, 4099, 100003, 256 * 1024 * 2 + 5};

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }

// Sum of squares on the GPU: the partials pass, then reduce_finish with `divisor`.
float gpu_forward(Device& dev, const std::vector<float>& x, const std::vector<float>& t, float divisor) {
    const size_t n = x.size(), p = ops::reduce_partial_count(n);
    const auto partials = run_kernel(dev, ops::mse_loss_forward_launch(n), {x, t, std::vector<float>(p)})[2];
    return run_kernel(dev, ops::reduce_finish_launch(p, divisor), {partials, {0.0f}})[1][0];
}

std::vector<float> gpu_backward(Device& dev, const std::vector<float>& x, const std::vector<float>& t, float dloss) {
    return run_kernel(dev, ops::mse_loss_backward_launch(x.size()), {x, t, {dloss}, std::vector<float>(x.size())})[3];
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/mse_loss: small integers, shaders == CPU kernels == reference (exact)") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 1;
    for (const size_t n : kSizes) {
        CAPTURE(n);
        const auto x = small_integers(n, ++seed), t = small_integers(n, ++seed);
        // Squares of integer differences are integers; while the total stays below 2^24 every partial
        // sum is exact in float, in any order.
        double sq = 0;
        for (size_t i = 0; i < n; ++i) sq += (double(x[i]) - t[i]) * (double(x[i]) - t[i]);
        REQUIRE(sq < 0x1p24);
        CHECK(gpu_forward(dev, x, t, 1.0f) == float(sq)); // the sum of squares, exact
        const float want = static_cast<float>(sq / static_cast<double>(n));
        const float c = ops::mse_loss_forward_cpu(pool, x, t);
        CHECK(c == float(sq) / float(n)); // one rounding of an exact sum
        CHECK(ops::mse_loss_forward_reference<float>(x, t) == float(sq) / float(n));
        // A shader's division may be off by an ulp or two (Vulkan allows 2.5).
        check_allclose(std::vector<float>{gpu_forward(dev, x, t, float(n))}, std::vector<float>{want}, 0.0, 3 * 0x1p-23,
                       "mse_loss_forward + reduce_finish");

        const float dloss = n % 2 ? 1.0f : 0.25f;
        std::vector<float> dref(n), dcpu(n);
        ops::mse_loss_backward_reference<float>(x, t, dloss, dref);
        ops::mse_loss_backward_cpu(pool, x, t, dloss, dcpu);
        check_bitwise_equal(dcpu, dref, "cpu mse_loss_backward");
        check_bitwise_equal(gpu_backward(dev, x, t, dloss), dref, "mse_loss_backward.comp");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/mse_loss: real inputs within rounding of the double reference") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 100;
    for (const size_t n : kSizes) {
        CAPTURE(n);
        const auto x = uniform(n, ++seed, -2.0f, 2.0f), t = uniform(n, ++seed);
        const double want = ops::mse_loss_forward_reference<double>(to_double(x), to_double(t));
        // A sum of n non-negative terms: relative error about sqrt(n) ulps, 3 sqrt(n) 2^-23 is generous.
        const double rtol = 3 * std::sqrt(double(n)) * 0x1p-23 + 4 * 0x1p-23;
        const std::vector<float> w{float(want)};
        check_allclose(std::vector<float>{ops::mse_loss_forward_cpu(pool, x, t)}, w, 0.0, rtol, "cpu mse_loss");
        check_allclose(std::vector<float>{gpu_forward(dev, x, t, float(n))}, w, 0.0, rtol, "gpu mse_loss");

        const float dloss = 1.75f;
        std::vector<double> dwant(n);
        ops::mse_loss_backward_reference<double>(to_double(x), to_double(t), dloss, dwant);
        std::vector<float> dcpu(n), dref(n);
        ops::mse_loss_backward_cpu(pool, x, t, dloss, dcpu);
        ops::mse_loss_backward_reference<float>(x, t, dloss, dref);
        check_bitwise_equal(dcpu, dref, "cpu mse_loss_backward");
        const auto dgpu = gpu_backward(dev, x, t, dloss);
        check_bitwise_equal(dgpu, dref, "mse_loss_backward.comp"); // precise: no FMA, same order
        // Three roundings (x - t, norm, two products): 4 ulps of the double result.
        check_allclose(dgpu, to_float(dwant), 1e-30, 4 * 0x1p-23, "mse_loss_backward.comp vs double");
    }
}

TEST_CASE("ops/mse_loss: hand-checked values (PyTorch) and finite differences") {
    // F.mse_loss(torch.tensor([1., 2., 3.]), torch.tensor([1.5, 2., 0.])) = (0.25 + 0 + 9) / 3 = 3.0833333;
    // its gradient 2 / 3 * (x - t) = (-1/3, 0, 2).
    const std::vector<double> x = {1, 2, 3}, t = {1.5, 2, 0};
    CHECK(ops::mse_loss_forward_reference<double>(x, t) == doctest::Approx(37.0 / 12.0).epsilon(1e-15));
    std::vector<double> g(3);
    ops::mse_loss_backward_reference<double>(x, t, 1.0, g);
    CHECK(g[0] == doctest::Approx(-1.0 / 3.0).epsilon(1e-15));
    CHECK(g[1] == 0.0);
    CHECK(g[2] == doctest::Approx(2.0).epsilon(1e-15));
    cpu::ThreadPool pool(1);
    CHECK(ops::mse_loss_forward_cpu(pool, std::vector<float>{1, 2, 3}, std::vector<float>{1.5f, 2, 0}) ==
          doctest::Approx(37.0 / 12.0).epsilon(1e-7));

    for (const size_t n : {size_t{1}, size_t{5}, size_t{12}}) {
        CAPTURE(n);
        const auto xv = to_double(uniform(n, 21)), tv = to_double(uniform(n, 22));
        const double dloss = 1.3;
        std::vector<double> dx(n);
        ops::mse_loss_backward_reference<double>(xv, tv, dloss, dx);
        const auto num = numerical_gradient(
            [&](const std::vector<double>& v) { return dloss * ops::mse_loss_forward_reference<double>(v, tv); }, xv);
        check_gradient(dx, num, "dx");
    }
}

TEST_CASE("ops/mse_loss: size errors name the op and the sizes") {
    cpu::ThreadPool pool(1);
    const std::vector<float> x(4), t(3), t4(4);
    std::vector<float> dx(4), dx5(5);
    CHECK_THROWS_AS(ops::mse_loss_forward_reference<float>(x, t), Error);
    CHECK_THROWS_WITH(ops::mse_loss_forward_reference<float>(x, t), "mse_loss_forward: x has 4 elements, target has 3");
    CHECK_THROWS_WITH(ops::mse_loss_forward_cpu(pool, x, t), "mse_loss_forward: x has 4 elements, target has 3");
    CHECK_THROWS_WITH(ops::mse_loss_backward_cpu(pool, x, t, 1.0f, dx),
                      "mse_loss_backward: x has 4 elements, target has 3");
    CHECK_THROWS_WITH(ops::mse_loss_backward_cpu(pool, x, t4, 1.0f, dx5),
                      "mse_loss_backward: dx has 5 elements, x has 4");
    CHECK_THROWS_WITH(ops::mse_loss_backward_reference<float>(x, t4, 1.0f, dx5),
                      "mse_loss_backward: dx has 5 elements, x has 4");
    CHECK_THROWS_WITH(ops::mse_loss_forward_cpu(pool, {}, {}), "mse_loss_forward: x is empty");
    CHECK_THROWS_WITH(ops::mse_loss_forward_launch(0), "mse_loss_forward: 0 elements, expected 1 to 2^32 - 1");
    CHECK_THROWS_WITH(ops::mse_loss_backward_launch(0), "mse_loss_backward: 0 elements, expected 1 to 2^32 - 1");
}
