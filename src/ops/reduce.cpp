// Sums and means: references, CPU kernels and GPU launches (see reduce.h).
#include "vkcnn/ops/reduce.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

namespace vkcnn::ops {

namespace {

void check_rows(const char* op, size_t rows, size_t cols, size_t x_size, size_t y_size) {
    check(x_size == rows * cols, op, ": x has ", x_size, " elements, expected rows * cols = ", rows, " * ", cols);
    check(y_size == rows, op, ": y has ", y_size, " elements, expected rows = ", rows);
}

// Float sum of a short run in 8 interleaved lanes (vectorises), lanes combined pairwise.
float lanes_sum(const float* __restrict x, size_t n) {
    std::array<float, 8> acc{};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; ++k) acc[k] += x[i + k];
    for (size_t k = 0; i < n; ++i, ++k) acc[k] += x[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

constexpr size_t kBlock = 4096;

} // namespace

template <typename T>
T sum_reference(std::span<const T> x) {
    T s = 0;
    for (const T v : x) s += v;
    return s;
}

template <typename T>
T mean_reference(std::span<const T> x) {
    return sum_reference(x) / static_cast<T>(x.size());
}

template <typename T>
void sum_rows_reference(size_t rows, size_t cols, std::span<const T> x, std::span<T> y) {
    check_rows("sum_rows", rows, cols, x.size(), y.size());
    for (size_t r = 0; r < rows; ++r) y[r] = sum_reference(x.subspan(r * cols, cols));
}

template <typename T>
void mean_rows_reference(size_t rows, size_t cols, std::span<const T> x, std::span<T> y) {
    check_rows("mean_rows", rows, cols, x.size(), y.size());
    for (size_t r = 0; r < rows; ++r) y[r] = sum_reference(x.subspan(r * cols, cols)) / static_cast<T>(cols);
}

#define VKCNN_INSTANTIATE(T)                                                                      \
    template T sum_reference<T>(std::span<const T>);                                              \
    template T mean_reference<T>(std::span<const T>);                                             \
    template void sum_rows_reference<T>(size_t, size_t, std::span<const T>, std::span<T>);        \
    template void mean_rows_reference<T>(size_t, size_t, std::span<const T>, std::span<T>);
VKCNN_INSTANTIATE(float)
VKCNN_INSTANTIATE(double)
#undef VKCNN_INSTANTIATE

float sum_cpu(cpu::ThreadPool& pool, std::span<const float> x) {
    const size_t n = x.size(), blocks = (n + kBlock - 1) / kBlock;
    std::vector<float> block_sums(blocks);
    const float* xs = x.data();
    float* out = block_sums.data();
    auto body = [=](size_t begin, size_t end) {
        for (size_t b = begin; b < end; ++b) out[b] = lanes_sum(xs + b * kBlock, std::min(kBlock, n - b * kBlock));
    };
    if (blocks < 16) body(0, blocks);
    else pool.parallel_for(blocks, body);
    double total = 0;
    for (const float s : block_sums) total += s;
    return static_cast<float>(total);
}

float mean_cpu(cpu::ThreadPool& pool, std::span<const float> x) {
    return sum_cpu(pool, x) / static_cast<float>(x.size());
}

namespace {

void rows_cpu(cpu::ThreadPool& pool, const char* op, size_t rows, size_t cols, std::span<const float> x,
              std::span<float> y, bool mean) {
    check_rows(op, rows, cols, x.size(), y.size());
    const float* xs = x.data();
    float* ys = y.data();
    auto body = [=](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
            const float s = lanes_sum(xs + r * cols, cols);
            ys[r] = mean ? s / static_cast<float>(cols) : s;
        }
    };
    if (rows * cols < (size_t{1} << 16)) body(0, rows);
    else pool.parallel_for(rows, body);
}

} // namespace

void sum_rows_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x, std::span<float> y) {
    rows_cpu(pool, "sum_rows", rows, cols, x, y, false);
}

void mean_rows_cpu(cpu::ThreadPool& pool, size_t rows, size_t cols, std::span<const float> x, std::span<float> y) {
    rows_cpu(pool, "mean_rows", rows, cols, x, y, true);
}

size_t reduce_partial_count(size_t n) { return std::clamp<size_t>(groups_for(n, 256), 1, 1024); }

KernelLaunch reduce_partials_launch(size_t n, bool subgroup) {
    check(n >= 1 && n <= std::numeric_limits<uint32_t>::max(), "reduce_partials: ", n,
          " elements, expected 1 to 2^32 - 1");
    KernelLaunch l;
    l.shader = subgroup ? "reduce_partials_subgroup" : "reduce_partials";
    l.workgroup = {256, 1, 1};
    l.args = {Access::Read, Access::Write};
    l.groups = {static_cast<uint32_t>(reduce_partial_count(n)), 1, 1};
    l.set_push(static_cast<uint32_t>(n));
    return l;
}

KernelLaunch reduce_finish_launch(size_t count, float divisor) {
    check(count >= 1 && count <= std::numeric_limits<uint32_t>::max(), "reduce_finish: ", count, " partials");
    struct Push {
        uint32_t count;
        float divisor;
    };
    KernelLaunch l;
    l.shader = "reduce_finish";
    l.workgroup = {256, 1, 1};
    l.args = {Access::Read, Access::Write};
    l.groups = {1, 1, 1};
    l.set_push(Push{static_cast<uint32_t>(count), divisor});
    return l;
}

KernelLaunch row_launch(std::string_view shader, size_t rows, size_t cols, std::vector<Access> args) {
    check(rows >= 1 && cols >= 1, shader, ": ", rows, " rows of ", cols, " columns, expected at least 1 x 1");
    check(rows * cols <= std::numeric_limits<uint32_t>::max(), shader, ": ", rows, " x ", cols,
          " elements exceed 2^32 - 1");
    uint32_t size = 64; // lanes idle for short rows, but a 64-wide tree is cheap
    while (size < 256 && size < cols) size *= 2;
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = {size, 1, 1};
    l.args = std::move(args);
    l.groups = {static_cast<uint32_t>(std::min<size_t>(rows, 65535)), 1, 1};
    return l;
}

KernelLaunch reduce_rows_launch(size_t rows, size_t cols, bool mean, bool subgroup) {
    KernelLaunch l = row_launch("reduce_rows", rows, cols, {Access::Read, Access::Write});
    if (subgroup) l.shader = "reduce_rows_subgroup"; // after row_launch's checks, which name the op
    struct Push {
        uint32_t rows, cols, mean;
    };
    l.set_push(Push{static_cast<uint32_t>(rows), static_cast<uint32_t>(cols), mean ? 1u : 0u});
    return l;
}

} // namespace vkcnn::ops
