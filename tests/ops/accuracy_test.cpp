// argmax and accuracy on the device: shaders (accuracy_argmax, accuracy_count)
// vs CPU kernels vs references, bit-exact (integer results): ties go to the
// first index and NaN counts as the largest, as torch.argmax; rows of 1, odd
// and long lengths; counts past one workgroup; targets out of range; errors.
#include "vkcnn/ops/accuracy.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// int32 and uint32 travel in run_kernel's float vectors bit for bit.
std::vector<float> as_float_bits(std::span<const int32_t> v) {
    std::vector<float> out(v.size());
    std::memcpy(out.data(), v.data(), v.size() * 4);
    return out;
}
std::vector<int32_t> as_int_bits(std::span<const float> v) {
    std::vector<int32_t> out(v.size());
    std::memcpy(out.data(), v.data(), v.size() * 4);
    return out;
}

std::vector<int32_t> gpu_argmax(Device& dev, size_t rows, size_t cols, const std::vector<float>& x) {
    return as_int_bits(run_kernel(dev, ops::accuracy_argmax_launch(rows, cols), {x, std::vector<float>(rows)})[1]);
}
uint32_t gpu_count(Device& dev, std::span<const int32_t> pred, std::span<const int32_t> targets) {
    const auto out = run_kernel(dev, ops::accuracy_count_launch(pred.size()),
                                {as_float_bits(pred), as_float_bits(targets), {0.0f}})[2];
    uint32_t c;
    std::memcpy(&c, out.data(), 4);
    return c;
}

std::vector<int32_t> random_targets(size_t rows, size_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> u(0, static_cast<int32_t>(cols) - 1);
    std::vector<int32_t> t(rows);
    for (int32_t& v : t) v = u(rng);
    return t;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/accuracy: argmax and count, shaders == CPU kernels == reference") {
    cpu::ThreadPool pool(2);
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    struct Shape {
        size_t rows, cols;
    };
    const Shape shapes[] = {{1, 1}, {7, 1}, {1, 10}, {3, 7}, {64, 10}, {300, 10}, {5, 257}, {2, 1000}, {3, 4099},
                            {1000, 3}, {66000, 2}}; // the last: more rows than the 65535-workgroup grid
    uint32_t seed = 1;
    for (const auto& [rows, cols] : shapes) {
        CAPTURE(rows);
        CAPTURE(cols);
        // Small integers: many ties, so the first-index rule decides; real values: no ties.
        for (const bool ties : {true, false}) {
            CAPTURE(ties);
            auto x = ties ? small_integers(rows * cols, ++seed) : uniform(rows * cols, ++seed);
            if (ties && rows >= 3 && cols >= 3) { // a NaN row (the first NaN wins), a -inf row, a +inf tie
                x[cols + 2] = nan;
                x[cols + 1] = nan;
                for (size_t j = 0; j < cols; ++j) x[2 * cols + j] = -inf;
                x[cols - 1] = inf;
                x[cols - 2] = inf;
            }
            std::vector<int32_t> ref(rows), c(rows);
            ops::argmax_rows_reference(rows, cols, x, ref);
            ops::argmax_rows_cpu(pool, rows, cols, x, c);
            CHECK(c == ref);
            const auto g = gpu_argmax(dev, rows, cols, x);
            CHECK(g == ref);
            if (ties && rows >= 3 && cols >= 3) {
                CHECK(ref[0] == int32_t(cols - 2));
                CHECK(ref[1] == 1);
                CHECK(ref[2] == 0);
            }
            // Targets: random, then every third row made right.
            auto t = random_targets(rows, cols, ++seed);
            for (size_t i = 0; i < rows; i += 3) t[i] = ref[i];
            size_t want = 0;
            for (size_t i = 0; i < rows; ++i) want += ref[i] == t[i];
            CHECK(ops::accuracy_reference(rows, cols, x, t) == want);
            CHECK(ops::accuracy_cpu(pool, rows, cols, x, t) == want);
            CHECK(gpu_count(dev, g, t) == want);
        }
    }
}

TEST_CASE("ops/accuracy: hand-checked torch.argmax choices") {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    // torch.argmax(torch.tensor([...]), dim=1) row by row:
    const std::vector<float> x = {
        1, 3, 3, 2,          // a tie: the first maximum, 1
        0, -0.0f, 0, -1,     // 0 == -0: 0
        -inf, -inf, -inf, -inf, // all -inf: 0
        1, nan, 5, nan,      // NaN is the largest, the first NaN: 1
        nan, 2, 3, 4,        // 0
        -2, -1, inf, 7,      // 2
    };
    std::vector<int32_t> got(6);
    ops::argmax_rows_reference(6, 4, x, got);
    CHECK(got == std::vector<int32_t>{1, 0, 0, 1, 0, 2});
    cpu::ThreadPool pool(1);
    CHECK(ops::accuracy_cpu(pool, 6, 4, x, std::vector<int32_t>{1, 1, 0, 3, 0, 2}) == 4);
}

TEST_CASE_FIXTURE(GpuTest, "ops/accuracy: hand-checked choices on the device, and out-of-range targets") {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const std::vector<float> x = {1, 3, 3, 2, 0, -0.0f, 0, -1, -inf, -inf, -inf, -inf,
                                  1, nan, 5, nan, nan, 2, 3, 4, -2, -1, inf, 7};
    const auto g = gpu_argmax(dev, 6, 4, x);
    CHECK(g == std::vector<int32_t>{1, 0, 0, 1, 0, 2});
    // The device cannot throw: a target outside [0, C) never matches.
    CHECK(gpu_count(dev, g, std::vector<int32_t>{1, -1, 4, 1, 0, 2}) == 4);
    CHECK(gpu_count(dev, g, std::vector<int32_t>{0, 0, 1, 0, 1, 0}) == 1);

    cpu::ThreadPool pool(1);
    const std::vector<int32_t> bad = {1, 0, 4, 1, 0, 2};
    CHECK_THROWS_AS(ops::accuracy_reference(6, 4, x, bad), Error);
    CHECK_THROWS_WITH(ops::accuracy_reference(6, 4, x, bad), "accuracy: target[2] = 4 is out of range for 4 classes");
    CHECK_THROWS_WITH(ops::accuracy_cpu(pool, 6, 4, x, std::vector<int32_t>{1, 0, 0, 1, -3, 2}),
                      "accuracy: target[4] = -3 is out of range for 4 classes");
}

TEST_CASE("ops/accuracy: shape errors name the op and the sizes") {
    cpu::ThreadPool pool(1);
    const std::vector<float> x(6);
    std::vector<int32_t> idx(3);
    CHECK_THROWS_WITH(ops::argmax_rows_reference(2, 3, x, idx), "argmax_rows: index has 3 elements, logits have 2 rows");
    CHECK_THROWS_WITH(ops::argmax_rows_cpu(pool, 2, 4, x, idx),
                      "argmax_rows: logits have 6 elements, expected (2, 4) = 8");
    CHECK_THROWS_WITH(ops::accuracy_cpu(pool, 2, 3, x, std::vector<int32_t>{0}),
                      "accuracy: targets has 1 elements, logits have 2 rows");
    CHECK_THROWS_WITH(ops::accuracy_reference(0, 3, {}, {}), "accuracy: shape (0, 3) is empty");
    CHECK_THROWS_WITH(ops::accuracy_argmax_launch(3, 0), "accuracy_argmax: 3 rows of 0 columns, expected at least 1 x 1");
    CHECK_THROWS_WITH(ops::accuracy_count_launch(0), "accuracy_count: 0 rows, expected 1 to 2^32 - 1");
}
