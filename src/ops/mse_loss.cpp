// Mean squared error: references, CPU kernels and GPU launches (see mse_loss.h).
#include "vkcnn/ops/mse_loss.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/reduce.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

namespace vkcnn::ops {

namespace {

void check_sizes(const char* op, size_t x, size_t target) {
    check(x == target, op, ": x has ", x, " elements, target has ", target);
    check(x >= 1, op, ": x is empty");
}

// Sum of squared differences of a short run in 8 float lanes, combined pairwise (as reduce.cpp's lanes_sum).
float lanes_sq(const float* __restrict x, const float* __restrict t, size_t n) {
    std::array<float, 8> acc{};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; ++k) {
            const float d = x[i + k] - t[i + k];
            acc[k] += d * d;
        }
    for (size_t k = 0; i < n; ++i, ++k) {
        const float d = x[i] - t[i];
        acc[k] += d * d;
    }
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// PyTorch's norm: 2 / n in double, used as a float scalar.
template <typename T>
T norm_of(size_t n) { return static_cast<T>(2.0 / static_cast<double>(n)); }

} // namespace

template <typename T>
T mse_loss_forward_reference(std::span<const T> x, std::span<const T> target) {
    check_sizes("mse_loss_forward", x.size(), target.size());
    T s = 0;
    for (size_t i = 0; i < x.size(); ++i) s += (x[i] - target[i]) * (x[i] - target[i]);
    return s / static_cast<T>(x.size());
}

template <typename T>
void mse_loss_backward_reference(std::span<const T> x, std::span<const T> target, T dloss, std::span<T> dx) {
    check_sizes("mse_loss_backward", x.size(), target.size());
    check(dx.size() == x.size(), "mse_loss_backward: dx has ", dx.size(), " elements, x has ", x.size());
    const T norm = norm_of<T>(x.size());
    for (size_t i = 0; i < x.size(); ++i) dx[i] = norm * (x[i] - target[i]) * dloss;
}

template float mse_loss_forward_reference<float>(std::span<const float>, std::span<const float>);
template double mse_loss_forward_reference<double>(std::span<const double>, std::span<const double>);
template void mse_loss_backward_reference<float>(std::span<const float>, std::span<const float>, float,
                                                 std::span<float>);
template void mse_loss_backward_reference<double>(std::span<const double>, std::span<const double>, double,
                                                  std::span<double>);

float mse_loss_forward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<const float> target) {
    check_sizes("mse_loss_forward", x.size(), target.size());
    constexpr size_t kBlock = 4096;
    const size_t n = x.size(), blocks = (n + kBlock - 1) / kBlock;
    std::vector<float> block_sums(blocks);
    const float* xs = x.data();
    const float* ts = target.data();
    float* out = block_sums.data();
    auto body = [=](size_t begin, size_t end) {
        for (size_t b = begin; b < end; ++b)
            out[b] = lanes_sq(xs + b * kBlock, ts + b * kBlock, std::min(kBlock, n - b * kBlock));
    };
    if (blocks < 16) body(0, blocks);
    else pool.parallel_for(blocks, body);
    double total = 0;
    for (const float s : block_sums) total += s;
    return static_cast<float>(total) / static_cast<float>(n);
}

void mse_loss_backward_cpu(cpu::ThreadPool& pool, std::span<const float> x, std::span<const float> target,
                           float dloss, std::span<float> dx) {
    check_sizes("mse_loss_backward", x.size(), target.size());
    check(dx.size() == x.size(), "mse_loss_backward: dx has ", dx.size(), " elements, x has ", x.size());
    const float norm = norm_of<float>(x.size());
    const float* __restrict xs = x.data();
    const float* __restrict ts = target.data();
    float* __restrict out = dx.data();
    auto body = [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) out[i] = norm * (xs[i] - ts[i]) * dloss;
    };
    if (x.size() < (size_t{1} << 16)) body(0, x.size());
    else pool.parallel_for(x.size(), body);
}

KernelLaunch mse_loss_forward_launch(size_t n) {
    check(n >= 1 && n <= std::numeric_limits<uint32_t>::max(), "mse_loss_forward: ", n,
          " elements, expected 1 to 2^32 - 1");
    KernelLaunch l = reduce_partials_launch(n); // same grid, so the partials line up with reduce_finish
    l.shader = "mse_loss_forward";
    l.args = {Access::Read, Access::Read, Access::Write};
    return l;
}

KernelLaunch mse_loss_backward_launch(size_t n) {
    check(n >= 1 && n <= std::numeric_limits<uint32_t>::max(), "mse_loss_backward: ", n,
          " elements, expected 1 to 2^32 - 1");
    struct Push {
        uint32_t n;
        float norm;
    };
    KernelLaunch l;
    l.shader = "mse_loss_backward";
    l.workgroup = {256, 1, 1};
    l.args = {Access::Read, Access::Read, Access::Read, Access::Write};
    l.groups = {std::min<uint32_t>(groups_for(n, 256), 4096), 1, 1};
    l.set_push(Push{static_cast<uint32_t>(n), norm_of<float>(n)});
    return l;
}

} // namespace vkcnn::ops
