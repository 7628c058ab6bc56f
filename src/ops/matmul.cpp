// matmul: reference, CPU kernel and GPU launch (see matmul.h).
#include "vkcnn/ops/matmul.h"

#include "vkcnn/core/error.h"
#include "vkcnn/cpu/gemm.h"

#include <algorithm>
#include <limits>

namespace vkcnn::ops {

void matmul_check(const MatmulAttrs& at, size_t a_size, size_t b_size, size_t bias_size, size_t c_size) {
    const char* a_shape = at.trans_a ? "(K, M)" : "(M, K)";
    const char* b_shape = at.trans_b ? "(N, K)" : "(K, N)";
    check(a_size == at.M * at.K, "matmul: A has ", a_size, " elements, expected ", a_shape, " = ", at.M * at.K,
          " (M ", at.M, ", N ", at.N, ", K ", at.K, ")");
    check(b_size == at.K * at.N, "matmul: B has ", b_size, " elements, expected ", b_shape, " = ", at.K * at.N,
          " (M ", at.M, ", N ", at.N, ", K ", at.K, ")");
    check(bias_size == (at.bias ? at.N : 0), "matmul: bias has ", bias_size, " elements, expected ",
          at.bias ? at.N : 0, " (N ", at.N, at.bias ? "" : ", no bias", ")");
    check(c_size == at.M * at.N, "matmul: C has ", c_size, " elements, expected (M, N) = ", at.M * at.N, " (M ",
          at.M, ", N ", at.N, ")");
}

template <typename T>
void matmul_reference(const MatmulAttrs& at, std::span<const T> a, std::span<const T> b, std::span<const T> bias,
                      std::span<T> c) {
    matmul_check(at, a.size(), b.size(), bias.size(), c.size());
    for (size_t m = 0; m < at.M; ++m)
        for (size_t n = 0; n < at.N; ++n) {
            T sum = 0;
            for (size_t k = 0; k < at.K; ++k) {
                const T av = at.trans_a ? a[k * at.M + m] : a[m * at.K + k];
                const T bv = at.trans_b ? b[n * at.K + k] : b[k * at.N + n];
                sum += av * bv;
            }
            if (at.bias) sum += bias[n];
            c[m * at.N + n] = at.accumulate ? c[m * at.N + n] + sum : sum;
        }
}

template void matmul_reference<float>(const MatmulAttrs&, std::span<const float>, std::span<const float>,
                                      std::span<const float>, std::span<float>);
template void matmul_reference<double>(const MatmulAttrs&, std::span<const double>, std::span<const double>,
                                       std::span<const double>, std::span<double>);

void matmul_cpu(cpu::ThreadPool& pool, const MatmulAttrs& at, std::span<const float> a, std::span<const float> b,
                std::span<const float> bias, std::span<float> c) {
    matmul_check(at, a.size(), b.size(), bias.size(), c.size());
    if (at.M == 0 || at.N == 0) return;
    float beta = at.accumulate ? 1.0f : 0.0f;
    if (at.bias) {
        // C (+)= bias row by row, then sgemm adds the product onto it.
        for (size_t m = 0; m < at.M; ++m) {
            float* row = c.data() + m * at.N;
            if (at.accumulate)
                for (size_t n = 0; n < at.N; ++n) row[n] += bias[n];
            else
                std::copy(bias.begin(), bias.end(), row);
        }
        beta = 1.0f;
    }
    const size_t lda = at.trans_a ? at.M : at.K, ldb = at.trans_b ? at.K : at.N;
    cpu::sgemm(pool, at.trans_a ? cpu::Trans::Yes : cpu::Trans::No, at.trans_b ? cpu::Trans::Yes : cpu::Trans::No,
               at.M, at.N, at.K, 1.0f, a.data(), lda, b.data(), ldb, beta, c.data(), at.N);
}

// Why 16: more K per step means fewer barriers per product, and 16 still
// leaves 64 x 64 tiles two thirds of the guaranteed shared memory free
// (occupancy on GPUs that share it between workgroups).
uint32_t tiled_k_step(uint32_t bm, uint32_t bn) {
    constexpr uint32_t kSharedBytes = 16384;
    uint32_t tk = 16;
    while (tk > 1 && (uint64_t{bm} + bn) * tk * sizeof(float) > kSharedBytes) tk /= 2;
    check((uint64_t{bm} + bn) * tk * sizeof(float) <= kSharedBytes, "GEMM tile ", bm, " x ", bn,
          ": its shared-memory slices do not fit 16 KiB");
    return tk;
}

// Register blocks: on lavapipe (llvmpipe, 8 invocations per AVX2 vector) a
// 512^3 product ran fastest with 4 x 4 blocks; see the benchmark case in
// tests/ops/linear_test.cpp. The same blocks serve the tiled kernel, whose
// tile (BM = WY * TM rows, BN = WX * TN columns) is the workgroup's share of C.
KernelLaunch matmul_launch(const MatmulAttrs& at, const GemmTuning& tuning, MatmulRegisterBlock block) {
    check(block.rows > 0 && block.cols > 0 && block.rows % 4 == 0 && block.cols % 4 == 0,
          "matmul: register block ", block.rows, " x ", block.cols, " is not made of multiples of 4");
    constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
    check(at.M * at.K <= kMax && at.K * at.N <= kMax && at.M * at.N <= kMax, "matmul: M ", at.M, ", N ", at.N,
          ", K ", at.K, " index past 2^32 - 1 elements");
    KernelLaunch l;
    const uint32_t wx = std::max<uint32_t>(1, tuning.tile_n / block.cols);
    const uint32_t wy = std::max<uint32_t>(1, tuning.tile_m / block.rows);
    l.workgroup = {wx, wy, 1};
    l.constants = {block.rows, block.cols, at.trans_a, at.trans_b, at.accumulate};
    if (tuning.shared_memory_tiles) {
        l.shader = at.bias ? "matmul_tiled_bias" : "matmul_tiled";
        l.constants.push_back(tiled_k_step(wy * block.rows, wx * block.cols));
    } else {
        l.shader = at.bias ? "matmul_register_bias" : "matmul_register";
    }
    l.args = {Access::Read, Access::Read};
    if (at.bias) l.args.push_back(Access::Read);
    l.args.push_back(at.accumulate ? Access::ReadWrite : Access::Write);
    l.groups = {groups_for(at.N, wx * block.cols), groups_for(at.M, wy * block.rows), 1};
    check(l.groups[0] <= 65535 && l.groups[1] <= 65535, "matmul: M ", at.M, ", N ", at.N, " needs ", l.groups[1],
          " x ", l.groups[0], " workgroups, more than 65535 in a dimension");
    struct {
        uint32_t M, N, K;
    } push{static_cast<uint32_t>(at.M), static_cast<uint32_t>(at.N), static_cast<uint32_t>(at.K)};
    l.set_push(push);
    return l;
}

} // namespace vkcnn::ops
