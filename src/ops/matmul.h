// matmul: the dense matrix product C = op(A) op(B) [+ bias broadcast over
// rows] [+ C] behind linear (and, later, convolution as a GEMM). Plain
// reference, CPU kernel (cpu::sgemm) and the launches of the register-blocked
// shaders/matmul_register*.comp and the shared-memory tiled shaders/matmul_tiled*.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <cstddef>
#include <span>

namespace vkcnn::ops {

// All matrices row-major and dense. op(A) is (M, K): A is stored (M, K), or
// (K, M) with trans_a. op(B) is (K, N): B is stored (K, N), or (N, K) with
// trans_b. C is (M, N).
struct MatmulAttrs {
    size_t M = 0, N = 0, K = 0;
    bool trans_a = false, trans_b = false;
    bool bias = false;       // C[m][n] gets + bias[n]; bias is (N)
    bool accumulate = false; // C += product (+ bias) instead of C =
};

// Throws vkcnn::Error naming the sizes unless a, b, bias and c have the
// sizes `attrs` needs (bias empty when attrs.bias is false).
void matmul_check(const MatmulAttrs& attrs, size_t a_size, size_t b_size, size_t bias_size, size_t c_size);

// Reference: plain loops. Each C element is (sum over k = 0..K-1 in order,
// from 0) + bias[n], then C + that with accumulate — the order the shader
// uses, so small-integer inputs agree bit for bit. Writes (=) or accumulates
// (+=, attrs.accumulate) c.
template <typename T>
void matmul_reference(const MatmulAttrs& attrs, std::span<const T> a, // op(A): (M, K)
                      std::span<const T> b,                           // op(B): (K, N)
                      std::span<const T> bias,                        // (N) or empty
                      std::span<T> c);                                // (M, N)

// CPU backend: cpu::sgemm (bias folded in as beta = 1 over a bias-filled C).
// Writes (=) or accumulates (+=, attrs.accumulate) c.
void matmul_cpu(cpu::ThreadPool& pool, const MatmulAttrs& attrs, std::span<const float> a,
                std::span<const float> b, std::span<const float> bias, std::span<float> c);

// Register block of one invocation (rows x columns of C), multiples of 4, in
// either kernel. 4 x 4 measured best on lavapipe; see matmul.cpp.
struct MatmulRegisterBlock {
    uint32_t rows = 4, cols = 4;
};

// The K step of a shared-memory tiled GEMM (matmul_tiled*, conv2d_*_tiled)
// whose workgroup owns a bm x bn tile: 16, halved until the staged slices,
// (bm + bn) * TK floats, fit the 16 KiB of shared memory every Vulkan device
// has. Throws vkcnn::Error when not even TK = 1 fits.
uint32_t tiled_k_step(uint32_t bm, uint32_t bn);

// Vulkan launch. Arguments: (A, B, C), or (A, B, bias, C) with attrs.bias; C
// is Write, or ReadWrite with attrs.accumulate. Each workgroup covers
// tuning.tile_m x tuning.tile_n outputs (rounded to the register block).
// tuning.shared_memory_tiles picks the kernel: matmul_tiled[_bias] stages
// tiles of A and B in shared memory (GPUs), matmul_register[_bias] reads them
// straight from the buffers (lavapipe). Both sum k in order, so small-integer
// inputs give the reference's bits either way.
KernelLaunch matmul_launch(const MatmulAttrs& attrs, const GemmTuning& tuning, MatmulRegisterBlock block = {});

} // namespace vkcnn::ops
