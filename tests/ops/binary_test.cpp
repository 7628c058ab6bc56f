// add, add_accumulate and mul: GPU shaders vs CPU kernels vs references,
// bit-exact (each output is one correctly rounded operation), including the
// one > 65535 * 256-element case of the elementwise ops; mul's gradient vs
// finite differences; size errors.
// Shaders: add_forward, add_accumulate, mul_forward, mul_backward.
#include "vkcnn/ops/binary.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

const size_t kSizes[] = {1, 3, 7, 33, 255, 256, 257, 1000, 4099};

void check_all(Device& dev, cpu::ThreadPool& pool, const std::vector<float>& a, const std::vector<float>& b,
               const std::vector<float>& dy) {
    const size_t n = a.size();
    std::vector<float> ref(n), got(n), ref2(n), got2(n);

    ops::add_forward_reference<float>(a, b, ref);
    ops::add_forward_cpu(pool, a, b, got);
    check_bitwise_equal(got, ref, "cpu add_forward");
    check_bitwise_equal(run_kernel(dev, ops::add_forward_launch(n), {a, b, got})[2], ref, "add_forward.comp");

    ref = b;
    ops::add_accumulate_reference<float>(a, ref);
    got = b;
    ops::add_accumulate_cpu(pool, a, got);
    check_bitwise_equal(got, ref, "cpu add_accumulate");
    const auto acc = run_kernel(dev, ops::add_accumulate_launch(n), {a, b});
    check_bitwise_equal(acc[1], ref, "add_accumulate.comp");
    check_bitwise_equal(acc[0], a, "add_accumulate.comp leaves x alone");

    ops::mul_forward_reference<float>(a, b, ref);
    ops::mul_forward_cpu(pool, a, b, got);
    check_bitwise_equal(got, ref, "cpu mul_forward");
    check_bitwise_equal(run_kernel(dev, ops::mul_forward_launch(n), {a, b, got})[2], ref, "mul_forward.comp");

    ops::mul_backward_reference<float>(a, b, dy, ref, ref2);
    ops::mul_backward_cpu(pool, a, b, dy, got, got2);
    check_bitwise_equal(got, ref, "cpu mul_backward da");
    check_bitwise_equal(got2, ref2, "cpu mul_backward db");
    const auto out = run_kernel(dev, ops::mul_backward_launch(n), {a, b, dy, got, got2});
    check_bitwise_equal(out[3], ref, "mul_backward.comp da");
    check_bitwise_equal(out[4], ref2, "mul_backward.comp db");
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/binary: add, add_accumulate, mul: shader == CPU kernel == reference") {
    cpu::ThreadPool pool(2);
    for (size_t n : kSizes) {
        CAPTURE(n);
        const auto s = static_cast<uint32_t>(n);
        check_all(dev, pool, small_integers(n, s), small_integers(n, s + 1), small_integers(n, s + 2)); // exact tier
        check_all(dev, pool, uniform(n, s), uniform(n, s + 1, -5.0f, 5.0f), uniform(n, s + 2)); // one rounding each
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/binary: add_forward beyond 65535 * 256 elements") {
    cpu::ThreadPool pool(2);
    const size_t n = size_t{65535} * 256 + 7;
    const auto a = small_integers(n, 1), b = small_integers(n, 2);
    std::vector<float> want(n);
    ops::add_forward_cpu(pool, a, b, want);
    for (size_t i : {size_t{0}, n / 2, n - 1}) CHECK(want[i] == a[i] + b[i]);
    check_bitwise_equal(run_kernel(dev, ops::add_forward_launch(n), {a, b, std::vector<float>(n)})[2], want,
                        "add_forward.comp");
}

TEST_CASE("ops/binary: mul backward vs finite differences (double), and add passes dy on") {
    const size_t n = 17;
    auto to_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
    const auto a = to_double(uniform(n, 1)), b = to_double(uniform(n, 2)), dy = to_double(uniform(n, 3));
    std::vector<double> da(n), db(n);
    ops::mul_backward_reference<double>(a, b, dy, da, db);
    check_gradient(da, numerical_gradient([&](const std::vector<double>& v) {
                       std::vector<double> y(n);
                       ops::mul_forward_reference<double>(v, b, y);
                       return weighted_sum(y, dy);
                   }, a), "mul da");
    check_gradient(db, numerical_gradient([&](const std::vector<double>& v) {
                       std::vector<double> y(n);
                       ops::mul_forward_reference<double>(a, v, y);
                       return weighted_sum(y, dy);
                   }, b), "mul db");
    // add: d/da = d/db = dy, which is why it has no backward kernel.
    check_gradient(dy, numerical_gradient([&](const std::vector<double>& v) {
                       std::vector<double> y(n);
                       ops::add_forward_reference<double>(v, b, y);
                       return weighted_sum(y, dy);
                   }, a), "add da");
}

TEST_CASE("ops/binary: size errors name the op and the sizes") {
    std::vector<float> a(4), b(3), y(4);
    CHECK_THROWS_WITH(ops::add_forward_reference<float>(a, b, y), "add_forward: a has 4 elements, b has 3");
    cpu::ThreadPool pool(1);
    CHECK_THROWS_WITH(ops::add_accumulate_cpu(pool, a, b), "add_accumulate: x has 4 elements, y has 3");
    CHECK_THROWS_WITH(ops::mul_backward_cpu(pool, a, y, y, y, b), "mul_backward: a has 4 elements, db has 3");
}
