// relu forward and backward: GPU shader vs CPU kernel vs plain reference,
// bit-exact (relu does no arithmetic that could round), with NaN-filled
// outputs and guard bands.
#include "vkcnn/ops/relu.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// Sizes around workgroup (256) and grid-stride (256 * 4096) boundaries.
const size_t kSizes[] = {1, 3, 7, 17, 31, 33, 65, 255, 256, 257, 1000, 256 * 4096 + 3};

std::vector<float> with_specials(std::vector<float> v) {
    if (v.size() >= 4) {
        v[0] = 0.0f;
        v[1] = -0.0f;
        v[2] = std::numeric_limits<float>::quiet_NaN();
        v[3] = -std::numeric_limits<float>::infinity();
    }
    return v;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/relu_forward: shader == CPU kernel == reference") {
    cpu::ThreadPool pool(2);
    for (size_t n : kSizes) {
        CAPTURE(n);
        const auto x = with_specials(uniform(n, static_cast<uint32_t>(n)));
        std::vector<float> want(n), cpu_out(n);
        ops::relu_forward_reference(x, want);
        ops::relu_forward_cpu(pool, x, cpu_out);
        check_bitwise_equal(cpu_out, want, "cpu relu_forward");
        const auto out = run_kernel(dev, ops::relu_forward_launch(n), {x, std::vector<float>(n)});
        check_bitwise_equal(out[1], want, "relu_forward.comp");
        check_bitwise_equal(out[0], x, "relu_forward.comp input");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/relu_backward: shader == CPU kernel == reference") {
    cpu::ThreadPool pool(2);
    for (size_t n : kSizes) {
        CAPTURE(n);
        const auto x = with_specials(small_integers(n, static_cast<uint32_t>(n)));
        const auto dy = uniform(n, static_cast<uint32_t>(n) + 1);
        std::vector<float> want(n), cpu_out(n);
        ops::relu_backward_reference(x, dy, want);
        ops::relu_backward_cpu(pool, x, dy, cpu_out);
        check_bitwise_equal(cpu_out, want, "cpu relu_backward");
        const auto out = run_kernel(dev, ops::relu_backward_launch(n), {x, dy, std::vector<float>(n)});
        check_bitwise_equal(out[2], want, "relu_backward.comp");
    }
}

TEST_CASE("ops/relu: PyTorch semantics") {
    const std::vector<float> x = {-2.0f, -0.0f, 0.0f, 3.5f, std::numeric_limits<float>::quiet_NaN()};
    std::vector<float> y(x.size()), dx(x.size());
    ops::relu_forward_reference(x, y);
    CHECK(y[0] == 0.0f);
    CHECK(y[3] == 3.5f);
    CHECK(std::isnan(y[4])); // NaN propagates, as torch.relu
    ops::relu_backward_reference(x, std::vector<float>(x.size(), 1.0f), dx);
    CHECK(dx[2] == 0.0f); // gradient 0 at x == 0, as PyTorch
    CHECK(dx[3] == 1.0f);
}

TEST_CASE("ops/relu: size mismatch names the op and the sizes") {
    std::vector<float> x(4), y(3);
    CHECK_THROWS_WITH(ops::relu_forward_reference(x, y), "relu_forward: x has 4 elements, y has 3");
}
