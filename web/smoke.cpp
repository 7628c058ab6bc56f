// Runs in node after the WebAssembly build: the CPU backend's kernels against
// their plain references, so the browser build cannot silently rot.
#include "vkcnn/cpu/gemm.h"
#include "vkcnn/ops/relu.h"

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    vkcnn::cpu::ThreadPool pool;
    std::vector<float> x(1000), y(x.size()), want(x.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
    vkcnn::ops::relu_forward_cpu(pool, x, y);
    vkcnn::ops::relu_forward_reference(x, want);
    if (y != want) {
        std::printf("wasm smoke: relu_forward differs from the reference\n");
        return 1;
    }
    // A 37x29 by 29x41 product against a naive double-precision one.
    const size_t M = 37, N = 41, K = 29;
    std::vector<float> A(M * K), B(K * N), C(M * N);
    for (size_t i = 0; i < A.size(); ++i) A[i] = std::cos(static_cast<float>(i));
    for (size_t i = 0; i < B.size(); ++i) B[i] = std::sin(static_cast<float>(i) * 0.5f);
    vkcnn::cpu::sgemm(pool, vkcnn::cpu::Trans::No, vkcnn::cpu::Trans::No, M, N, K, 1.0f, A.data(), K, B.data(), N,
                      0.0f, C.data(), N);
    for (size_t m = 0; m < M; ++m)
        for (size_t n = 0; n < N; ++n) {
            double ref = 0;
            for (size_t k = 0; k < K; ++k) ref += double(A[m * K + k]) * B[k * N + n];
            if (std::abs(C[m * N + n] - ref) > 1e-4) {
                std::printf("wasm smoke: sgemm C[%zu,%zu] = %g, expected %g\n", m, n, C[m * N + n], ref);
                return 1;
            }
        }
    std::printf("wasm smoke: ok (relu, sgemm %zux%zux%zu, %u thread)\n", M, N, K, pool.size());
    return 0;
}
