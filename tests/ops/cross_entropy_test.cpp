// cross_entropy (fused log_softmax, mean over the batch, label smoothing),
// forward and backward: shaders (cross_entropy_forward, then reduce_partials +
// reduce_finish for the mean; cross_entropy_backward) vs CPU kernels vs the
// double reference; large logits; values checked by hand against
// torch.nn.functional.cross_entropy; the double reference's gradient vs finite
// differences; targets out of range and shape errors.
#include "vkcnn/ops/cross_entropy.h"
#include "vkcnn/ops/reduce.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

struct Shape {
    size_t rows, cols;
};

// One class, odd widths, around the row workgroup (64..256), long rows, and more rows than the
// 65535-workgroup grid (the shaders stride over rows).
const Shape kShapes[] = {{1, 1}, {1, 10}, {3, 7}, {64, 10}, {5, 257}, {2, 1000}, {130, 3}, {300, 10}, {66000, 2}};

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }

// int32 targets travel in run_kernel's float vectors bit for bit.
std::vector<float> as_float_bits(std::span<const int32_t> v) {
    std::vector<float> out(v.size());
    std::memcpy(out.data(), v.data(), v.size() * 4);
    return out;
}

std::vector<int32_t> random_targets(size_t rows, size_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> u(0, static_cast<int32_t>(cols) - 1);
    std::vector<int32_t> t(rows);
    for (int32_t& v : t) v = u(rng);
    return t;
}

// Rounding of a sum of k terms (3 sqrt(k) 2^-23), plus a few ulps for exp and log in a shader.
double rtol_for(size_t k) { return 3.0 * std::sqrt(static_cast<double>(k)) * 0x1p-23 + 16 * 0x1p-23; }

// The GPU loss: per-row losses, then the two-pass deterministic mean.
struct GpuLoss {
    std::vector<float> rows;
    float mean;
};
GpuLoss gpu_loss(Device& dev, const ops::CrossEntropyAttrs& at, size_t rows, size_t cols,
                 const std::vector<float>& logits, std::span<const int32_t> targets) {
    GpuLoss r;
    r.rows = run_kernel(dev, ops::cross_entropy_forward_launch(at, rows, cols),
                        {logits, as_float_bits(targets), std::vector<float>(rows)})[2];
    const size_t p = ops::reduce_partial_count(rows);
    const auto partials = run_kernel(dev, ops::reduce_partials_launch(rows), {r.rows, std::vector<float>(p)})[1];
    r.mean = run_kernel(dev, ops::reduce_finish_launch(p, static_cast<float>(rows)), {partials, {0.0f}})[1][0];
    return r;
}

std::vector<float> gpu_grad(Device& dev, const ops::CrossEntropyAttrs& at, size_t rows, size_t cols,
                            const std::vector<float>& logits, std::span<const int32_t> targets, float dloss) {
    return run_kernel(dev, ops::cross_entropy_backward_launch(at, rows, cols),
                      {logits, as_float_bits(targets), {dloss}, std::vector<float>(rows * cols)})[3];
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/cross_entropy: forward and backward, shaders and CPU kernels within rounding of the double reference") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 1;
    for (const float eps : {0.0f, 0.1f, 1.0f})
        for (const auto& [rows, cols] : kShapes) {
            const std::string what = cat("eps ", eps, " ", rows, " x ", cols);
            CAPTURE(what);
            const ops::CrossEntropyAttrs at{eps};
            const auto x = uniform(rows * cols, ++seed, -5.0f, 5.0f);
            const auto t = random_targets(rows, cols, ++seed);
            const auto xd = to_double(x);
            // Per-row losses of the double reference: one row at a time.
            std::vector<double> row_want(rows);
            for (size_t i = 0; i < rows; ++i)
                row_want[i] = ops::cross_entropy_forward_reference<double>(
                    at, 1, cols, std::span<const double>(xd).subspan(i * cols, cols), std::span(t).subspan(i, 1));
            const double want = ops::cross_entropy_forward_reference<double>(at, rows, cols, xd, t);
            // Losses are a few units at most: absolute tolerance from the length of the row and of the batch.
            const double tol_row = rtol_for(cols) * 8, tol = tol_row + rtol_for(rows) * 8;

            std::vector<float> c_rows(rows);
            const float c = ops::cross_entropy_forward_cpu(pool, at, rows, cols, x, t, c_rows);
            const GpuLoss g = gpu_loss(dev, at, rows, cols, x, t);
            check_allclose(c_rows, to_float(row_want), tol_row, tol_row, "cpu row losses");
            check_allclose(g.rows, to_float(row_want), tol_row, tol_row, "cross_entropy_forward.comp row losses");
            check_allclose(std::vector<float>{c}, std::vector<float>{float(want)}, tol, tol, "cpu loss");
            check_allclose(std::vector<float>{g.mean}, std::vector<float>{float(want)}, tol, tol,
                           "reduce_partials + reduce_finish loss");
            const float r = ops::cross_entropy_forward_reference<float>(at, rows, cols, x, t);
            check_allclose(std::vector<float>{r}, std::vector<float>{float(want)}, tol, tol, "float reference");

            const float dloss = 1.5f;
            std::vector<double> dwant(rows * cols);
            ops::cross_entropy_backward_reference<double>(at, rows, cols, xd, t, dloss, dwant);
            std::vector<float> cd(rows * cols), rd(rows * cols);
            ops::cross_entropy_backward_cpu(pool, at, rows, cols, x, t, dloss, cd);
            ops::cross_entropy_backward_reference<float>(at, rows, cols, x, t, dloss, rd);
            check_bitwise_equal(cd, rd, "cpu backward == float reference");
            const auto gd = gpu_grad(dev, at, rows, cols, x, t, dloss);
            // dlogits = dloss / N (softmax - q): softmax relative error rtol_for(cols), q exact-ish.
            const double scale = dloss / static_cast<double>(rows);
            const double atol = scale * 2 * rtol_for(cols);
            check_allclose(cd, to_float(dwant), atol, rtol_for(cols), "cpu backward");
            check_allclose(gd, to_float(dwant), atol, rtol_for(cols), "cross_entropy_backward.comp");
            double worst = 0; // each row of (softmax - q) sums to 0
            for (size_t i = 0; i < rows; ++i) {
                double s = 0;
                for (size_t j = 0; j < cols; ++j) s += gd[i * cols + j];
                worst = std::max(worst, std::abs(s));
            }
            CHECK(worst <= scale * 4 * rtol_for(cols));
        }
}

TEST_CASE("ops/cross_entropy: hand-checked values (PyTorch)") {
    // F.cross_entropy(torch.tensor([[2., 1., .1], [.5, 2.5, .3]]), torch.tensor([0, 1]), label_smoothing=eps)
    const std::vector<double> x = {2.0, 1.0, 0.1, 0.5, 2.5, 0.3};
    const std::vector<int32_t> t = {0, 1};
    struct Case {
        float eps;
        double loss;
        double grad[6];
    };
    const Case cases[] = {
        {0.0f,
         0.31853976964918584,
         {-0.17049943055701616, 0.12121648535235693, 0.049282945204659076, 0.054301865153506185, -0.09876047210417538,
          0.04445860695066913}},
        {0.1f,
         0.4368731029825192,
         {-0.13716609722368284, 0.10454981868569027, 0.03261627853799241, 0.03763519848683952, -0.06542713877084205,
          0.027791940284002465}},
    };
    for (const Case& cs : cases) {
        CAPTURE(cs.eps);
        const ops::CrossEntropyAttrs at{cs.eps};
        // eps is a float: its rounding moves the loss by about 1e-9.
        CHECK(ops::cross_entropy_forward_reference<double>(at, 2, 3, x, t) == doctest::Approx(cs.loss).epsilon(1e-8));
        std::vector<double> g(6);
        ops::cross_entropy_backward_reference<double>(at, 2, 3, x, t, 1.0, g);
        for (size_t j = 0; j < 6; ++j) CHECK(g[j] == doctest::Approx(cs.grad[j]).epsilon(1e-8));
        // The float paths agree to float rounding.
        cpu::ThreadPool pool(1);
        std::vector<float> rows(2), gf(6);
        const auto xf = to_float(x);
        CHECK(ops::cross_entropy_forward_cpu(pool, at, 2, 3, xf, t, rows) == doctest::Approx(cs.loss).epsilon(1e-6));
        ops::cross_entropy_backward_cpu(pool, at, 2, 3, xf, t, 1.0f, gf);
        for (size_t j = 0; j < 6; ++j) CHECK(gf[j] == doctest::Approx(cs.grad[j]).epsilon(1e-6));
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/cross_entropy: large logits stay finite and precise") {
    cpu::ThreadPool pool(1);
    // logits (1000, -1000, 0, 999), target 3: loss = log(1 + e^-1 + ...) + 1 = 1.3132616875182066;
    // with label smoothing 0.2: 151.1632616875182 (the -1000 class costs 2000.31 / 4 of eps).
    const std::vector<float> x = {1000.0f, -1000.0f, 0.0f, 999.0f};
    const std::vector<int32_t> t = {3};
    for (const auto& [eps, want] : {std::pair{0.0f, 1.3132616875182066}, std::pair{0.2f, 151.1632616875182}}) {
        CAPTURE(eps);
        const ops::CrossEntropyAttrs at{eps};
        // The loss is a difference of numbers near 1000: computing lse = max + log(s) first and
        // subtracting x[t] afterwards would lose the 2^-13 below 1000, an error of 5e-5 here.
        const double tol = 8 * 0x1p-23 * (eps == 0.0f ? 1.0 : 1000.0 / want);
        std::vector<float> row(1);
        const float c = ops::cross_entropy_forward_cpu(pool, at, 1, 4, x, t, row);
        const GpuLoss g = gpu_loss(dev, at, 1, 4, x, t);
        CHECK(std::isfinite(g.mean));
        check_allclose(std::vector<float>{c}, std::vector<float>{float(want)}, 0.0, tol, "cpu");
        check_allclose(std::vector<float>{g.mean}, std::vector<float>{float(want)}, 0.0, tol, "gpu");
        check_allclose(std::vector<float>{ops::cross_entropy_forward_reference<float>(at, 1, 4, x, t)},
                       std::vector<float>{float(want)}, 0.0, tol, "float reference");
        const auto gd = gpu_grad(dev, at, 1, 4, x, t, 1.0f);
        std::vector<double> dwant(4);
        ops::cross_entropy_backward_reference<double>(at, 1, 4, to_double(x), t, 1.0, dwant);
        check_allclose(gd, to_float(dwant), 1e-7, 1e-6, "gpu backward");
    }
}

TEST_CASE("ops/cross_entropy: backward of the double reference matches finite differences") {
    for (const float eps : {0.0f, 0.3f})
        for (const auto& [rows, cols] : {Shape{1, 1}, Shape{1, 5}, Shape{3, 4}}) {
            CAPTURE(eps);
            CAPTURE(rows);
            CAPTURE(cols);
            const ops::CrossEntropyAttrs at{eps};
            const auto x = to_double(uniform(rows * cols, 11, -3.0f, 3.0f));
            const auto t = random_targets(rows, cols, 12);
            const double dloss = 0.7;
            std::vector<double> g(rows * cols);
            ops::cross_entropy_backward_reference<double>(at, rows, cols, x, t, dloss, g);
            const auto num = numerical_gradient(
                [&](const std::vector<double>& v) {
                    return dloss * ops::cross_entropy_forward_reference<double>(at, rows, cols, v, t);
                },
                x);
            check_gradient(g, num, "dlogits");
        }
}

TEST_CASE_FIXTURE(GpuTest, "ops/cross_entropy: targets out of range throw on the CPU and give NaN on the GPU") {
    cpu::ThreadPool pool(1);
    const ops::CrossEntropyAttrs at{0.1f};
    const auto x = uniform(9, 3);
    for (const int32_t bad : {3, -1}) {
        CAPTURE(bad);
        const std::vector<int32_t> t = {0, bad, 2};
        const std::string msg = cat("cross_entropy: target[1] = ", bad, " is out of range for 3 classes");
        std::vector<float> rows(3), g(9);
        CHECK_THROWS_AS(ops::cross_entropy_forward_reference<float>(at, 3, 3, x, t), Error);
        CHECK_THROWS_WITH(ops::cross_entropy_forward_reference<float>(at, 3, 3, x, t), msg.c_str());
        CHECK_THROWS_WITH(ops::cross_entropy_forward_cpu(pool, at, 3, 3, x, t, rows), msg.c_str());
        CHECK_THROWS_WITH(ops::cross_entropy_backward_reference<float>(at, 3, 3, x, t, 1.0f, g), msg.c_str());
        CHECK_THROWS_WITH(ops::cross_entropy_backward_cpu(pool, at, 3, 3, x, t, 1.0f, g), msg.c_str());
        // The device cannot throw: the bad row's loss and gradient are NaN, so the loss is NaN; the others are right.
        const GpuLoss l = gpu_loss(dev, at, 3, 3, x, t);
        CHECK(std::isnan(l.rows[1]));
        CHECK(std::isfinite(l.rows[0]));
        CHECK(std::isfinite(l.rows[2]));
        CHECK(std::isnan(l.mean));
        const auto gd = gpu_grad(dev, at, 3, 3, x, t, 1.0f);
        for (size_t j = 0; j < 9; ++j) CHECK_MESSAGE(std::isnan(gd[j]) == (j / 3 == 1), "element " << j);
    }
}

TEST_CASE("ops/cross_entropy: shape and attribute errors name the op and the sizes") {
    cpu::ThreadPool pool(1);
    const std::vector<float> x(6);
    const std::vector<int32_t> t = {0, 1};
    std::vector<float> rows(2), g(6), g5(5);
    const ops::CrossEntropyAttrs at{};
    CHECK_THROWS_WITH(ops::cross_entropy_forward_reference<float>(at, 2, 4, x, t),
                      "cross_entropy: logits have 6 elements, expected (2, 4) = 8");
    CHECK_THROWS_WITH(ops::cross_entropy_forward_cpu(pool, at, 3, 2, x, t, rows),
                      "cross_entropy: targets have 2 elements, logits have 3 rows");
    CHECK_THROWS_WITH(ops::cross_entropy_forward_cpu(pool, at, 2, 3, x, t, g),
                      "cross_entropy_forward: row_loss has 6 elements, expected 2");
    CHECK_THROWS_WITH(ops::cross_entropy_backward_cpu(pool, at, 2, 3, x, t, 1.0f, g5),
                      "cross_entropy_backward: dlogits has 5 elements, logits 6");
    CHECK_THROWS_WITH(ops::cross_entropy_backward_reference<float>(at, 2, 3, x, t, 1.0f, g5),
                      "cross_entropy_backward: dlogits has 5 elements, logits 6");
    CHECK_THROWS_WITH(ops::cross_entropy_forward_reference<float>(at, 0, 3, {}, {}),
                      "cross_entropy: shape (0, 3) is empty");
    CHECK_THROWS_WITH(ops::cross_entropy_forward_launch(at, 2, 0), "cross_entropy: shape (2, 0) is empty");
    for (const float eps : {-0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
        CAPTURE(eps);
        CHECK_THROWS_WITH(ops::cross_entropy_backward_launch({eps}, 2, 3),
                          doctest::Contains("cross_entropy: label_smoothing must be between 0.0 and 1.0, got"));
        CHECK_THROWS_AS(ops::cross_entropy_forward_cpu(pool, {eps}, 2, 3, x, t, rows), Error);
    }
}
