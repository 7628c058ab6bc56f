// softmax and log_softmax, forward and backward: shaders (softmax_forward,
// softmax_backward, log_softmax_forward, log_softmax_backward) vs CPU kernels
// vs the double reference over rows of 1, odd, non-power-of-two and long
// lengths; NaN / infinity rows; large-magnitude logits; values checked by hand
// against torch.softmax / torch.log_softmax; gradients of the double
// references vs finite differences; shape errors.
#include "vkcnn/ops/softmax.h"

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

struct Shape {
    size_t rows, cols;
};

// One column, odd widths, around the row workgroup sizes (64..256), long rows, many rows, and more
// rows than the 65535-workgroup grid (the shaders stride over rows).
const Shape kShapes[] = {{1, 1}, {5, 1}, {1, 10}, {3, 7}, {4, 63}, {2, 65}, {3, 256}, {2, 257}, {7, 1000},
                         {1, 4099}, {300, 10}, {66000, 2}};

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }

// A sum of k terms of one sign rounds to within about sqrt(k) ulps (3 sqrt(k) 2^-23 is generous);
// exp and log in a shader carry a few ulps more, and the division one.
double rtol_for(size_t k) { return 3.0 * std::sqrt(static_cast<double>(k)) * 0x1p-23 + 16 * 0x1p-23; }

enum class Kind { Softmax, LogSoftmax };
const char* name(Kind k) { return k == Kind::Softmax ? "softmax" : "log_softmax"; }

template <typename T>
void forward_reference(Kind k, size_t rows, size_t cols, std::span<const T> x, std::span<T> y) {
    if (k == Kind::Softmax) ops::softmax_forward_reference<T>(rows, cols, x, y);
    else ops::log_softmax_forward_reference<T>(rows, cols, x, y);
}
template <typename T>
void backward_reference(Kind k, size_t rows, size_t cols, std::span<const T> y, std::span<const T> dy,
                        std::span<T> dx) {
    if (k == Kind::Softmax) ops::softmax_backward_reference<T>(rows, cols, y, dy, dx);
    else ops::log_softmax_backward_reference<T>(rows, cols, y, dy, dx);
}
void forward_cpu(Kind k, cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x,
                 std::span<float> y) {
    if (k == Kind::Softmax) ops::softmax_forward_cpu(pool, rows, cols, x, y);
    else ops::log_softmax_forward_cpu(pool, rows, cols, x, y);
}
void backward_cpu(Kind k, cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> y,
                  std::span<const float> dy, std::span<float> dx) {
    if (k == Kind::Softmax) ops::softmax_backward_cpu(pool, rows, cols, y, dy, dx);
    else ops::log_softmax_backward_cpu(pool, rows, cols, y, dy, dx);
}
KernelLaunch forward_launch(Kind k, size_t rows, size_t cols) {
    return k == Kind::Softmax ? ops::softmax_forward_launch(rows, cols) : ops::log_softmax_forward_launch(rows, cols);
}
KernelLaunch backward_launch(Kind k, size_t rows, size_t cols) {
    return k == Kind::Softmax ? ops::softmax_backward_launch(rows, cols)
                              : ops::log_softmax_backward_launch(rows, cols);
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/softmax: forward, shaders and CPU kernels within rounding of the double reference") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 1;
    for (const Kind kind : {Kind::Softmax, Kind::LogSoftmax})
        for (const auto& [rows, cols] : kShapes) {
            const std::string what = cat(name(kind), "_forward ", rows, " x ", cols);
            CAPTURE(what);
            const auto x = uniform(rows * cols, ++seed, -4.0f, 4.0f);
            std::vector<double> want(rows * cols);
            forward_reference<double>(kind, rows, cols, to_double(x), want);
            const auto wantf = to_float(want);
            std::vector<float> c(rows * cols);
            forward_cpu(kind, pool, rows, cols, x, c);
            const auto g = run_kernel(dev, forward_launch(kind, rows, cols), {x, std::vector<float>(rows * cols)})[1];
            // softmax: relative error; log_softmax: absolute error of a value of size about log(cols) + 8.
            const double rtol = rtol_for(cols);
            const double atol = kind == Kind::Softmax ? 0.0 : rtol * (std::log(static_cast<double>(cols)) + 8.0);
            check_allclose(c, wantf, atol, rtol, "cpu " + what);
            check_allclose(g, wantf, atol, rtol, what + ".comp");
            if (kind == Kind::Softmax) { // every row sums to 1
                double worst = 0;
                for (size_t r = 0; r < rows; ++r) {
                    double s = 0;
                    for (size_t j = 0; j < cols; ++j) s += g[r * cols + j];
                    worst = std::max(worst, std::abs(s - 1.0));
                }
                CHECK(worst <= rtol * 2);
            }
        }
}

TEST_CASE_FIXTURE(GpuTest, "ops/softmax: backward, shaders and CPU kernels within rounding of the double reference") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 100;
    for (const Kind kind : {Kind::Softmax, Kind::LogSoftmax})
        for (const auto& [rows, cols] : kShapes) {
            const std::string what = cat(name(kind), "_backward ", rows, " x ", cols);
            CAPTURE(what);
            const auto x = uniform(rows * cols, ++seed, -4.0f, 4.0f);
            const auto dy = uniform(rows * cols, ++seed);
            // The saved output y, as the forward would have left it.
            std::vector<double> yd(rows * cols);
            forward_reference<double>(kind, rows, cols, to_double(x), yd);
            const auto y = to_float(yd);
            std::vector<double> want(rows * cols);
            backward_reference<double>(kind, rows, cols, to_double(y), to_double(dy), want);
            const auto wantf = to_float(want);
            std::vector<float> c(rows * cols);
            backward_cpu(kind, pool, rows, cols, y, dy, c);
            const auto g =
                run_kernel(dev, backward_launch(kind, rows, cols), {y, dy, std::vector<float>(rows * cols)})[2];
            // softmax: dx = y (dy - dot), |dot| <= 1 rounded like a sum of cols terms;
            // log_softmax: dx = dy - exp(y) s, s a sum of cols terms in [-1, 1] (size up to sqrt(cols) or so).
            const double rtol = rtol_for(cols);
            const double atol = kind == Kind::Softmax ? 2 * rtol : rtol * (std::sqrt(static_cast<double>(cols)) + 2.0);
            check_allclose(c, wantf, atol, rtol, "cpu " + what);
            check_allclose(g, wantf, atol, rtol, what + ".comp");
        }
}

TEST_CASE_FIXTURE(GpuTest, "ops/softmax: large logits stay finite, NaN fills its row, infinities as PyTorch") {
    cpu::ThreadPool pool(2);
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    // Row 0: large logits (exp would overflow without the max subtraction); row 1: a NaN;
    // row 2: -inf entries (probability 0, log-probability -inf); row 3: hugely negative logits.
    const size_t rows = 4, cols = 3;
    const std::vector<float> x = {1000.0f, 1001.0f, 1002.0f, 1.0f, nan, 2.0f, -inf, 0.0f, -inf,
                                  -1000.0f, -1001.0f, -1002.0f};
    const double p[3] = {0.09003057317038046, 0.24472847105479764, 0.6652409557748219}; // torch.softmax([1, 2, 3])
    const double lp[3] = {-2.4076059644443806, -1.4076059644443806, -0.4076059644443806};
    const std::vector<float> want_softmax = {float(p[0]), float(p[1]), float(p[2]), nan, nan, nan, 0.0f, 1.0f, 0.0f,
                                             float(p[2]), float(p[1]), float(p[0])};
    const std::vector<float> want_log = {float(lp[0]), float(lp[1]), float(lp[2]), nan, nan, nan, -inf, 0.0f, -inf,
                                         float(lp[2]), float(lp[1]), float(lp[0])};
    for (const Kind kind : {Kind::Softmax, Kind::LogSoftmax}) {
        CAPTURE(name(kind));
        const auto& want = kind == Kind::Softmax ? want_softmax : want_log;
        std::vector<float> ref(x.size()), c(x.size());
        forward_reference<float>(kind, rows, cols, x, ref);
        forward_cpu(kind, pool, rows, cols, x, c);
        const auto g = run_kernel(dev, forward_launch(kind, rows, cols), {x, std::vector<float>(x.size())})[1];
        for (const std::vector<float>* got : std::initializer_list<const std::vector<float>*>{&ref, &c, &g}) {
            check_allclose(*got, want, 0.0, 4 * 0x1p-23, name(kind));
            for (size_t j = 0; j < x.size(); ++j)
                if (j / cols != 1) CHECK_MESSAGE(!std::isnan((*got)[j]), "element " << j);
        }
    }
}

TEST_CASE("ops/softmax: hand-checked values (PyTorch)") {
    // torch.softmax(torch.tensor([[1., 2., 3.], [0., 0., 0.]]), 1) and log_softmax, in double.
    const std::vector<double> x = {1, 2, 3, 0, 0, 0};
    std::vector<double> y(6), ly(6), dx(6), ldx(6);
    ops::softmax_forward_reference<double>(2, 3, x, y);
    ops::log_softmax_forward_reference<double>(2, 3, x, ly);
    CHECK(y[0] == doctest::Approx(0.09003057317038046).epsilon(1e-15));
    CHECK(y[1] == doctest::Approx(0.24472847105479764).epsilon(1e-15));
    CHECK(y[2] == doctest::Approx(0.6652409557748219).epsilon(1e-15));
    CHECK(y[4] == doctest::Approx(1.0 / 3.0).epsilon(1e-15));
    CHECK(ly[0] == doctest::Approx(-2.4076059644443806).epsilon(1e-15));
    CHECK(ly[5] == doctest::Approx(-std::log(3.0)).epsilon(1e-15));
    // Backward with dy = e_0: softmax gives y_0 (1 - y_0) and -y_0 y_j; log_softmax 1 - y_0 and -y_j.
    const std::vector<double> dy = {1, 0, 0, 0, 0, 0};
    ops::softmax_backward_reference<double>(2, 3, y, dy, dx);
    CHECK(dx[0] == doctest::Approx(0.08192506906499324).epsilon(1e-14));
    CHECK(dx[1] == doctest::Approx(-0.022033044520174298).epsilon(1e-14));
    CHECK(dx[2] == doctest::Approx(-0.059892024544818935).epsilon(1e-14));
    CHECK(dx[3] == 0.0);
    ops::log_softmax_backward_reference<double>(2, 3, ly, dy, ldx);
    CHECK(ldx[0] == doctest::Approx(0.9099694268296196).epsilon(1e-14));
    CHECK(ldx[1] == doctest::Approx(-0.24472847105479764).epsilon(1e-14));
    CHECK(ldx[2] == doctest::Approx(-0.6652409557748219).epsilon(1e-14));
    CHECK(ldx[4] == 0.0);
}

TEST_CASE("ops/softmax: backward of the double references matches finite differences") {
    for (const auto& [rows, cols] : {Shape{1, 1}, Shape{2, 5}, Shape{3, 4}}) {
        CAPTURE(rows);
        CAPTURE(cols);
        const auto x = to_double(uniform(rows * cols, 7, -3.0f, 3.0f));
        const auto dy = to_double(uniform(rows * cols, 8));
        for (const Kind kind : {Kind::Softmax, Kind::LogSoftmax}) {
            std::vector<double> y(rows * cols), dx(rows * cols);
            forward_reference<double>(kind, rows, cols, x, y);
            backward_reference<double>(kind, rows, cols, y, dy, dx);
            const auto num = numerical_gradient(
                [&](const std::vector<double>& v) {
                    std::vector<double> out(rows * cols);
                    forward_reference<double>(kind, rows, cols, v, out);
                    return weighted_sum(out, dy);
                },
                x);
            check_gradient(dx, num, name(kind));
        }
    }
}

TEST_CASE("ops/softmax: shape errors name the op and the sizes") {
    cpu::ThreadPool pool(1);
    std::vector<float> x(6), y(5), dy(6);
    CHECK_THROWS_AS(ops::softmax_forward_reference<float>(2, 3, x, y), Error);
    CHECK_THROWS_WITH(ops::softmax_forward_reference<float>(2, 3, x, y),
                      "softmax_forward: y has 5 elements, expected (2, 3) = 6");
    CHECK_THROWS_WITH(ops::softmax_forward_cpu(pool, 2, 4, x, y), "softmax_forward: x has 6 elements, expected (2, 4) = 8");
    CHECK_THROWS_WITH(ops::log_softmax_forward_cpu(pool, 2, 3, x, y),
                      "log_softmax_forward: y has 5 elements, expected (2, 3) = 6");
    CHECK_THROWS_WITH(ops::softmax_backward_cpu(pool, 2, 3, x, dy, y),
                      "softmax_backward: dx has 5 elements, expected (2, 3) = 6");
    CHECK_THROWS_WITH(ops::log_softmax_backward_reference<float>(2, 3, x, y, dy),
                      "log_softmax_backward: dy has 5 elements, expected (2, 3) = 6");
    CHECK_THROWS_WITH(ops::softmax_forward_reference<float>(0, 3, {}, {}), "softmax_forward: shape (0, 3) is empty");
    CHECK_THROWS_WITH(ops::softmax_forward_launch(0, 3), "softmax_forward: 0 rows of 3 columns, expected at least 1 x 1");
    CHECK_THROWS_WITH(ops::log_softmax_backward_launch(4, 0),
                      "log_softmax_backward: 4 rows of 0 columns, expected at least 1 x 1");
    CHECK_THROWS_WITH(ops::softmax_backward_launch(size_t{1} << 20, size_t{1} << 12),
                      "softmax_backward: 1048576 x 4096 elements exceed 2^32 - 1");
}
