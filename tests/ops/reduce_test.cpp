// Sums and means: the whole-tensor two-pass shaders (reduce_partials +
// reduce_finish) and the per-row shader (reduce_rows), each first pass with
// the portable and (where the device has it) the subgroup reductions
// (reduce_partials_subgroup, reduce_rows_subgroup), vs CPU kernels vs the
// references; exact on small integers, within sqrt(n)-scaled rounding of the
// double reference on real inputs; determinism (the same bits on every run and
// for any CPU thread count); more rows than the 65535-workgroup grid; errors.
#include "vkcnn/ops/reduce.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// Around the workgroup (256) and CPU block (4096) sizes; 100003 is more than 16 CPU blocks
// (threads); 256 * 1024 * 2 + 7 exceeds the 1024 partials, so workgroups stride over the grid.
const size_t kSizes[] = {1, 10, 255, 256, 257, 1000, 4097, 100003, 256 * 1024 * 2 + 7};

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }

// A sum of k terms of mixed sign: error about sqrt(k) ulps of the running sums' size
// (up to sqrt(k) for values in [-1, 1]); rtol 3 sqrt(k) 2^-23 and atol that times sqrt(k).
double rtol_for(size_t k) { return 3.0 * std::sqrt(static_cast<double>(k)) * 0x1p-23; }
double atol_for(size_t k) { return rtol_for(k) * std::sqrt(static_cast<double>(k)); }

// The reduction paths: the portable one always, the subgroup one where the
// device has subgroup arithmetic (not under VKCNN_DISABLE_FEATURES=subgroup).
std::vector<bool> reduction_paths(const Device& dev) {
    if (dev.quirks().gemm.subgroup_reductions) return {false, true};
    MESSAGE("subgroup reductions not tested: ", dev.info().name, " has no subgroup arithmetic or it is masked");
    return {false};
}

const char* path_name(bool subgroup) { return subgroup ? "subgroup" : "portable"; }

std::vector<float> gpu_partials(Device& dev, const std::vector<float>& x, bool subgroup) {
    return run_kernel(dev, ops::reduce_partials_launch(x.size(), subgroup),
                      {x, std::vector<float>(ops::reduce_partial_count(x.size()))})[1];
}
float gpu_finish(Device& dev, const std::vector<float>& partials, float divisor) {
    return run_kernel(dev, ops::reduce_finish_launch(partials.size(), divisor), {partials, {0.0f}})[1][0];
}
std::vector<float> gpu_rows(Device& dev, size_t rows, size_t cols, const std::vector<float>& x, bool mean,
                            bool subgroup) {
    return run_kernel(dev, ops::reduce_rows_launch(rows, cols, mean, subgroup), {x, std::vector<float>(rows)})[1];
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/reduce: sum and mean of small integers, shaders == CPU == reference (exact)") {
    const std::vector<bool> paths = reduction_paths(dev);
    cpu::ThreadPool pool(2);
    uint32_t seed = 1;
    for (const size_t n : kSizes) {
        CAPTURE(n);
        const auto x = small_integers(n, ++seed);
        const double s = ops::sum_reference<double>(to_double(x));
        REQUIRE(std::abs(s) < 0x1p24);
        for (const bool subgroup : paths) {
            CAPTURE(path_name(subgroup));
            const auto partials = gpu_partials(dev, x, subgroup);
            CHECK(gpu_finish(dev, partials, 1.0f) == float(s));
            // A shader's division may be off by an ulp or two (Vulkan allows 2.5).
            check_allclose(std::vector<float>{gpu_finish(dev, partials, float(n))},
                           std::vector<float>{float(s / double(n))}, 1e-30, 3 * 0x1p-23, "reduce_finish mean");
        }
        CHECK(ops::sum_cpu(pool, x) == float(s));
        CHECK(ops::sum_reference<float>(x) == float(s));
        CHECK(ops::mean_cpu(pool, x) == float(s) / float(n));
        CHECK(ops::mean_reference<float>(x) == float(s) / float(n));
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/reduce: sum and mean of real values within rounding of the double reference") {
    const std::vector<bool> paths = reduction_paths(dev);
    cpu::ThreadPool pool(2);
    uint32_t seed = 100;
    for (const size_t n : kSizes) {
        CAPTURE(n);
        const auto x = uniform(n, ++seed);
        const double s = ops::sum_reference<double>(to_double(x));
        const std::vector<float> want_sum{float(s)}, want_mean{float(s / double(n))};
        const double nd = double(n);
        // Positive values: no cancellation, so a purely relative bound holds.
        const auto p = uniform(n, ++seed, 0.5f, 1.0f);
        const double sp = ops::sum_reference<double>(to_double(p));
        for (const bool subgroup : paths) {
            CAPTURE(path_name(subgroup));
            const auto partials = gpu_partials(dev, x, subgroup);
            check_allclose(std::vector<float>{gpu_finish(dev, partials, 1.0f)}, want_sum, atol_for(n), rtol_for(n),
                           "gpu sum");
            check_allclose(std::vector<float>{gpu_finish(dev, partials, float(n))}, want_mean, atol_for(n) / nd,
                           rtol_for(n), "gpu mean");
            check_allclose(std::vector<float>{gpu_finish(dev, gpu_partials(dev, p, subgroup), 1.0f)},
                           std::vector<float>{float(sp)}, 0.0, rtol_for(n), "gpu sum, positive");
        }
        check_allclose(std::vector<float>{ops::sum_cpu(pool, x)}, want_sum, atol_for(n), rtol_for(n), "cpu sum");
        check_allclose(std::vector<float>{ops::mean_cpu(pool, x)}, want_mean, atol_for(n) / nd, rtol_for(n),
                       "cpu mean");
        check_allclose(std::vector<float>{ops::sum_cpu(pool, p)}, std::vector<float>{float(sp)}, 0.0, rtol_for(n),
                       "cpu sum, positive");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/reduce: the same bits on every run and for any CPU thread count") {
    const std::vector<bool> paths = reduction_paths(dev);
    const size_t n = 100003;
    const auto x = uniform(n, 7);
    for (const bool subgroup : paths) {
        CAPTURE(path_name(subgroup));
        const auto p1 = gpu_partials(dev, x, subgroup), p2 = gpu_partials(dev, x, subgroup);
        check_bitwise_equal(p1, p2, "reduce_partials twice");
        CHECK(bits_of(gpu_finish(dev, p1, 1.0f)) == bits_of(gpu_finish(dev, p2, 1.0f)));
        const std::vector<float> x10(x.begin(), x.begin() + n / 10 * 10);
        const auto r1 = gpu_rows(dev, 10, n / 10, x10, false, subgroup);
        const auto r2 = gpu_rows(dev, 10, n / 10, x10, false, subgroup);
        check_bitwise_equal(r1, r2, "reduce_rows twice");
    }
    float first_sum = 0;
    std::vector<float> first_rows;
    for (const size_t threads : {1, 2, 3, 5}) {
        CAPTURE(threads);
        cpu::ThreadPool pool(threads);
        const float s = ops::sum_cpu(pool, x);
        std::vector<float> rows(7);
        ops::sum_rows_cpu(pool, 7, n / 7, std::span(x).first(n / 7 * 7), rows);
        if (threads == 1) first_sum = s, first_rows = rows;
        CHECK(bits_of(s) == bits_of(first_sum));
        check_bitwise_equal(rows, first_rows, "sum_rows_cpu");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/reduce: rows, sum and mean, shader and CPU kernels vs references") {
    const std::vector<bool> paths = reduction_paths(dev);
    cpu::ThreadPool pool(2);
    struct Shape {
        size_t rows, cols;
    };
    // One column, odd widths, around the row workgroup (64..256), a long row, and more rows than
    // the 65535-workgroup grid (the shader strides over rows).
    const Shape shapes[] = {{1, 1}, {3, 7}, {5, 63}, {4, 65}, {257, 65}, {2, 257}, {10, 1000}, {1, 100003},
                            {70000, 1}, {66000, 3}};
    uint32_t seed = 200;
    for (const auto& [rows, cols] : shapes) {
        CAPTURE(rows);
        CAPTURE(cols);
        for (const bool mean : {false, true}) {
            CAPTURE(mean);
            // Exact tier: small integers sum exactly; the mean is one division.
            const auto xi = small_integers(rows * cols, ++seed);
            std::vector<double> want(rows);
            if (mean) ops::mean_rows_reference<double>(rows, cols, to_double(xi), want);
            else ops::sum_rows_reference<double>(rows, cols, to_double(xi), want);
            std::vector<float> ref(rows), c(rows);
            if (mean) {
                ops::mean_rows_reference<float>(rows, cols, xi, ref);
                ops::mean_rows_cpu(pool, rows, cols, xi, c);
            } else {
                ops::sum_rows_reference<float>(rows, cols, xi, ref);
                ops::sum_rows_cpu(pool, rows, cols, xi, c);
            }
            const std::vector<float> wantf(want.begin(), want.end());
            check_bitwise_equal(ref, wantf, "float reference");
            check_bitwise_equal(c, wantf, "cpu");
            for (const bool subgroup : paths) {
                CAPTURE(path_name(subgroup));
                const auto g = gpu_rows(dev, rows, cols, xi, mean, subgroup);
                if (mean) check_allclose(g, wantf, 1e-30, 3 * 0x1p-23, "reduce_rows mean"); // division: 2.5 ulp allowed
                else check_bitwise_equal(g, wantf, "reduce_rows sum");
            }

            if (rows * cols > 1000000) continue; // the exact tier already covered the grid stride
            // Real tier.
            const auto x = uniform(rows * cols, ++seed);
            if (mean) ops::mean_rows_reference<double>(rows, cols, to_double(x), want);
            else ops::sum_rows_reference<double>(rows, cols, to_double(x), want);
            const std::vector<float> wantr(want.begin(), want.end());
            if (mean) ops::mean_rows_cpu(pool, rows, cols, x, c);
            else ops::sum_rows_cpu(pool, rows, cols, x, c);
            const double atol = atol_for(cols) / (mean ? double(cols) : 1.0);
            check_allclose(c, wantr, atol, rtol_for(cols), "cpu real");
            for (const bool subgroup : paths)
                check_allclose(gpu_rows(dev, rows, cols, x, mean, subgroup), wantr, atol, rtol_for(cols),
                               cat("reduce_rows real, ", path_name(subgroup)));
        }
    }
}

TEST_CASE("ops/reduce: empty tensors and errors name the op and the sizes") {
    cpu::ThreadPool pool(1);
    CHECK(ops::sum_reference<float>({}) == 0.0f);
    CHECK(std::isnan(ops::mean_reference<float>({}))); // torch.mean of an empty tensor
    CHECK(ops::sum_cpu(pool, {}) == 0.0f);
    CHECK(std::isnan(ops::mean_cpu(pool, {})));
    const std::vector<float> x(6);
    std::vector<float> y(3), y2(2);
    CHECK_THROWS_AS(ops::sum_rows_reference<float>(2, 3, x, y), Error);
    CHECK_THROWS_WITH(ops::sum_rows_reference<float>(2, 3, x, y), "sum_rows: y has 3 elements, expected rows = 2");
    CHECK_THROWS_WITH(ops::mean_rows_cpu(pool, 2, 4, x, y2), "mean_rows: x has 6 elements, expected rows * cols = 2 * 4");
    CHECK_THROWS_WITH(ops::sum_rows_cpu(pool, 3, 2, x, y2), "sum_rows: y has 2 elements, expected rows = 3");
    CHECK_THROWS_WITH(ops::reduce_partials_launch(0), "reduce_partials: 0 elements, expected 1 to 2^32 - 1");
    CHECK_THROWS_WITH(ops::reduce_partials_launch(size_t{1} << 32),
                      "reduce_partials: 4294967296 elements, expected 1 to 2^32 - 1");
    CHECK_THROWS_WITH(ops::reduce_finish_launch(0, 1.0f), "reduce_finish: 0 partials");
    CHECK_THROWS_WITH(ops::reduce_rows_launch(0, 5, false), "reduce_rows: 0 rows of 5 columns, expected at least 1 x 1");
    CHECK_THROWS_WITH(ops::reduce_rows_launch(size_t{1} << 16, size_t{1} << 16, true),
                      "reduce_rows: 65536 x 65536 elements exceed 2^32 - 1");
    // Partial counts: at least 1, at most 1024, one per 256 elements in between.
    CHECK(ops::reduce_partial_count(1) == 1);
    CHECK(ops::reduce_partial_count(257) == 2);
    CHECK(ops::reduce_partial_count(size_t{1} << 30) == 1024);
}
