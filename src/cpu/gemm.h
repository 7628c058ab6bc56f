// Single-precision GEMM for the CPU backend: the one matrix product behind
// conv2d (via im2col) and linear, native and in the browser. Blocked and packed,
// threaded on a ThreadPool, and bitwise reproducible for any thread count.
#pragma once

#include "vkcnn/cpu/thread_pool.h"

#include <cstddef>

namespace vkcnn::cpu {

enum class Trans { No, Yes };

// C = alpha * op(A) * op(B) + beta * C, all row-major, leading dimensions in
// elements. op(A) is M x K: A is stored M x K (lda >= K) for Trans::No and
// K x M (lda >= M) for Trans::Yes; likewise op(B) is K x N from B stored K x N
// (ldb >= N) or N x K (ldb >= K). C is M x N, ldc >= N.
//
// beta == 0 overwrites C without reading it (C may hold NaN); with alpha == 0
// or K == 0, A and B are not read. Each element of C is summed over k in the
// same order whatever pool.size() is, so results are identical for any number
// of threads (they may differ between builds, e.g. with or without FMA).
// Throws vkcnn::Error on inconsistent leading dimensions or null pointers.
void sgemm(ThreadPool& pool, Trans ta, Trans tb, size_t M, size_t N, size_t K, float alpha,
           const float* A, size_t lda, // op(A): (M, K)
           const float* B, size_t ldb, // op(B): (K, N)
           float beta, float* C, size_t ldc); // C: (M, N)

// The compiled variants of sgemm's inner loops, in order of width. Generic is
// portable C++ (SSE2 on x86-64, SIMD128 in wasm, ...) and gives the same bits
// on every machine that runs it without FMA contraction. Avx2Fma and Avx512
// exist in x86-64 GCC/Clang builds and run on CPUs with those instructions;
// both use fused multiply-adds in the same order, so they give the same bits
// as each other (not as Generic).
enum class GemmKernel { Generic, Avx2Fma, Avx512 };

// The variant sgemm uses: by default the fastest this CPU runs (AVX2 on AMD's
// Zen 4, whose 512-bit FMAs are two 256-bit halves). The environment variable
// VKCNN_CPU_ISA (generic, avx2 or avx512), read once at the first use, makes
// it the widest the CPU runs up to that one: VKCNN_CPU_ISA=avx2 runs an
// AVX-512 machine as one without, =avx512 takes AVX-512 even on Zen 4, to
// test each kernel on one machine.
GemmKernel sgemm_kernel();
// The widest variant a VKCNN_CPU_ISA value allows (nullptr or empty: Avx512).
// Throws vkcnn::Error naming the value and the valid ones otherwise.
GemmKernel gemm_kernel_cap(const char* isa);
// Chooses the variant for all later sgemm calls in the process, e.g. Generic
// for results that match other machines and the browser build. Throws
// vkcnn::Error if this build or CPU lacks it. Not to be called while an sgemm
// runs on another thread.
void set_sgemm_kernel(GemmKernel kernel);
// "generic 6x8", "avx2+fma 6x16" or "avx512 6x32": the variant and its micro-tile, for logs.
const char* sgemm_kernel_name(GemmKernel kernel);

} // namespace vkcnn::cpu
