// sgemm: Goto/BLIS-style blocking. op(B) is packed in KC x NC panels, op(A) in
// MC x KC blocks, both cut into strips that a fixed-size micro-kernel streams
// through. Portable C++ everywhere, plus AVX2+FMA and AVX-512 builds of the
// same code on x86-64, chosen at run time (VKCNN_CPU_ISA caps the choice).
#include "vkcnn/cpu/gemm.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

// x86-64 GCC/Clang: also compile the blocked loops for AVX2+FMA, picked at run
// time, so a portable (SSE2) build still runs at full speed on current CPUs.
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__) && !defined(__EMSCRIPTEN__) && \
    !defined(VKCNN_GEMM_NO_AVX2)
#define VKCNN_GEMM_AVX2 1
#define VKCNN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define VKCNN_TARGET_AVX512 __attribute__((target("avx512f,fma")))
#include <cpuid.h>
#endif

#if defined(__GNUC__)
#define VKCNN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define VKCNN_ALWAYS_INLINE inline
#endif

namespace vkcnn::cpu {

namespace {

// The micro-kernel's accumulators are GNU vectors (GCC, Clang, Emscripten) of
// the target's width rather than plain loops: GCC -O3 fully unrolls a plain
// j-loop before its vectoriser runs and then spills (half the speed of -O2).
// Vectors of a width the target lacks are split by the compiler (SSE2 without
// -msimd128 under Emscripten becomes scalar code), so no ISA is assumed.
#if defined(__GNUC__)
typedef float Vec4 __attribute__((vector_size(16)));
#else
struct Vec4 { // other compilers: a plain array they may vectorise themselves
    float v[4];
    Vec4& operator+=(const Vec4& o) {
        for (int l = 0; l < 4; ++l) v[l] += o.v[l];
        return *this;
    }
    friend Vec4 operator*(float s, const Vec4& x) {
        Vec4 r;
        for (int l = 0; l < 4; ++l) r.v[l] = s * x.v[l];
        return r;
    }
};
#endif
#ifdef VKCNN_GEMM_AVX2
typedef float Vec8 __attribute__((vector_size(32)));
typedef float Vec16 __attribute__((vector_size(64)));
#endif

// Cache blocks: a KC x NR strip of packed B stays in L1 while the micro-kernel
// runs down an MC x KC block of packed A (L2); a KC x NC panel of B (L2/L3)
// is reused over all of M.
constexpr size_t KC = 256;
// Below this many multiply-adds waking workers costs more than it saves.
constexpr double kMinParallelMacs = 64.0 * 64.0 * 64.0;

struct alignas(64) CacheLine {
    float v[16];
};

// Packing buffers, one pair per thread and kept across calls: the pool's
// workers are persistent, so after the first call nothing is allocated.
struct PackBuffers {
    std::vector<CacheLine> a, b;

    static float* get(std::vector<CacheLine>& v, size_t floats) {
        const size_t lines = (floats + 15) / 16;
        if (v.size() < lines) v.resize(lines);
        return v.data()->v;
    }
};

PackBuffers& pack_buffers() {
    thread_local PackBuffers buffers;
    return buffers;
}

struct Problem {
    Trans ta, tb;
    size_t M, N, K;
    float alpha;
    const float* A;
    size_t lda;
    const float* B;
    size_t ldb;
    float beta;
    float* C;
    size_t ldc;
};

// Rows [i0, i0 + mc) and depth [k0, k0 + kc) of op(A) into MR-row strips, each
// k-major: strip s starts at dst + s * kc * MR and holds (i, k) at [k * MR + i].
// Rows of the last strip past mc are zero, so the micro-kernel never branches.
template <size_t MR>
void pack_a(const Problem& p, size_t i0, size_t mc, size_t k0, size_t kc, float* __restrict dst) {
    for (size_t s = 0; s < mc; s += MR, dst += kc * MR) {
        const size_t rows = std::min(MR, mc - s);
        if (p.ta == Trans::No) {
            const float* src = p.A + (i0 + s) * p.lda + k0; // (rows, kc), row stride lda
            if (rows == MR) {
                for (size_t k = 0; k < kc; ++k)
                    for (size_t i = 0; i < MR; ++i) dst[k * MR + i] = src[i * p.lda + k];
            } else {
                for (size_t k = 0; k < kc; ++k)
                    for (size_t i = 0; i < MR; ++i) dst[k * MR + i] = i < rows ? src[i * p.lda + k] : 0.0f;
            }
        } else {
            const float* src = p.A + k0 * p.lda + i0 + s; // (kc, rows), row stride lda
            for (size_t k = 0; k < kc; ++k) {
                for (size_t i = 0; i < rows; ++i) dst[k * MR + i] = src[k * p.lda + i];
                for (size_t i = rows; i < MR; ++i) dst[k * MR + i] = 0.0f;
            }
        }
    }
}

// Depth [k0, k0 + kc) and columns [j0, j0 + nc) of op(B) into NR-column
// strips: strip t starts at dst + t * kc * NR and holds (k, j) at [k * NR + j];
// columns past nc are zero.
template <size_t NR>
void pack_b(const Problem& p, size_t k0, size_t kc, size_t j0, size_t nc, float* __restrict dst) {
    for (size_t t = 0; t < nc; t += NR, dst += kc * NR) {
        const size_t cols = std::min(NR, nc - t);
        if (p.tb == Trans::No) {
            const float* src = p.B + k0 * p.ldb + j0 + t; // (kc, cols), row stride ldb
            if (cols == NR) {
                for (size_t k = 0; k < kc; ++k) std::memcpy(dst + k * NR, src + k * p.ldb, NR * sizeof(float));
            } else {
                for (size_t k = 0; k < kc; ++k) {
                    for (size_t j = 0; j < cols; ++j) dst[k * NR + j] = src[k * p.ldb + j];
                    for (size_t j = cols; j < NR; ++j) dst[k * NR + j] = 0.0f;
                }
            }
        } else {
            const float* src = p.B + (j0 + t) * p.ldb + k0; // (cols, kc), row stride ldb
            for (size_t j = 0; j < cols; ++j)
                for (size_t k = 0; k < kc; ++k) dst[k * NR + j] = src[j * p.ldb + k];
            for (size_t j = cols; j < NR; ++j)
                for (size_t k = 0; k < kc; ++k) dst[k * NR + j] = 0.0f;
        }
    }
}

// tile (MR, NR) = sum over k < kc of a(:, k) * b(k, :), k ascending.
// a: packed A strip (kc, MR); b: packed B strip (kc, NR).
// Lanes never mix: each element is its own chain of multiply-adds, which is
// what makes its value independent of where its tile lies in C.
template <size_t MR, size_t NR, typename V>
VKCNN_ALWAYS_INLINE void micro_kernel(size_t kc, const float* __restrict a, const float* __restrict b,
                                      float* __restrict tile) {
    constexpr size_t W = sizeof(V) / sizeof(float), NV = NR / W;
    static_assert(NR % W == 0);
    V acc[MR][NV] = {};
    for (size_t k = 0; k < kc; ++k, a += MR, b += NR) {
        V bv[NV];
#pragma GCC unroll 16
        for (size_t q = 0; q < NV; ++q) std::memcpy(&bv[q], b + q * W, sizeof(V)); // one vector load each
        // -O2 unrolls no loop that grows the code, and rolled loops would keep acc in memory.
#pragma GCC unroll 16
        for (size_t i = 0; i < MR; ++i) {
            const float ai = a[i];
#pragma GCC unroll 16
            for (size_t q = 0; q < NV; ++q) acc[i][q] += ai * bv[q];
        }
    }
    std::memcpy(tile, acc, sizeof acc);
}

// c (MR, NR), row stride ldc: c = alpha * tile + beta * c; beta == 0 does not
// read c. Edge tiles come here too, through update_edge, and it stays out of
// line so that all of C goes through one copy of this arithmetic.
template <size_t MR, size_t NR>
[[gnu::noinline]] void update_full(const float* __restrict tile, float alpha, float beta, float* __restrict c,
                                   size_t ldc) {
    if (beta == 0.0f) {
        for (size_t i = 0; i < MR; ++i)
            for (size_t j = 0; j < NR; ++j) c[i * ldc + j] = alpha * tile[i * NR + j];
    } else if (beta == 1.0f) {
        for (size_t i = 0; i < MR; ++i)
            for (size_t j = 0; j < NR; ++j) c[i * ldc + j] += alpha * tile[i * NR + j];
    } else {
        for (size_t i = 0; i < MR; ++i)
            for (size_t j = 0; j < NR; ++j) c[i * ldc + j] = alpha * tile[i * NR + j] + beta * c[i * ldc + j];
    }
}

// The mr x nr corner of a tile at the edge of C, via a whole scratch tile.
template <size_t MR, size_t NR>
void update_edge(const float* tile, size_t mr, size_t nr, float alpha, float beta, float* c, size_t ldc) {
    float scratch[MR * NR] = {};
    if (beta != 0.0f)
        for (size_t i = 0; i < mr; ++i)
            for (size_t j = 0; j < nr; ++j) scratch[i * NR + j] = c[i * ldc + j];
    update_full<MR, NR>(tile, alpha, beta, scratch, NR);
    for (size_t i = 0; i < mr; ++i)
        for (size_t j = 0; j < nr; ++j) c[i * ldc + j] = scratch[i * NR + j];
}

// C rows [m0, m1), columns [n0, n1), entirely on the calling thread. K blocks
// are always cut at multiples of KC from 0, whatever the rows and columns, so
// each element's sum is the same sequence of operations on any thread.
// Always inlined, so that each wrapper below compiles it for its own target.
template <size_t MR, size_t NR, typename V>
VKCNN_ALWAYS_INLINE void gemm_block(const Problem& p, size_t m0, size_t m1, size_t n0, size_t n1) {
    constexpr size_t MC = 16 * MR, NC = 128 * NR;
    PackBuffers& buffers = pack_buffers();
    const size_t kc_max = std::min(KC, p.K);
    float* packed_b = PackBuffers::get(buffers.b, kc_max * std::min(NC, (n1 - n0 + NR - 1) / NR * NR));
    float* packed_a = PackBuffers::get(buffers.a, kc_max * std::min(MC, (m1 - m0 + MR - 1) / MR * MR));
    float tile[MR * NR];

    for (size_t jc = n0; jc < n1; jc += NC) {
        const size_t nc = std::min(NC, n1 - jc);
        for (size_t pc = 0; pc < p.K; pc += KC) {
            const size_t kc = std::min(KC, p.K - pc);
            // The first K block applies beta; later ones add to what it left.
            const float beta = pc == 0 ? p.beta : 1.0f;
            pack_b<NR>(p, pc, kc, jc, nc, packed_b);
            for (size_t ic = m0; ic < m1; ic += MC) {
                const size_t mc = std::min(MC, m1 - ic);
                pack_a<MR>(p, ic, mc, pc, kc, packed_a);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    const size_t nr = std::min(NR, nc - jr);
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        const size_t mr = std::min(MR, mc - ir);
                        micro_kernel<MR, NR, V>(kc, packed_a + ir * kc, packed_b + jr * kc, tile);
                        float* c = p.C + (ic + ir) * p.ldc + jc + jr;
                        if (mr == MR && nr == NR) update_full<MR, NR>(tile, p.alpha, beta, c, p.ldc);
                        else update_edge<MR, NR>(tile, mr, nr, p.alpha, beta, c, p.ldc);
                    }
                }
            }
        }
    }
}

// One compiled variant of the blocked product and its micro-tile shape.
struct Kernel {
    void (*block)(const Problem&, size_t m0, size_t m1, size_t n0, size_t n1);
    size_t mr, nr;
};

// 6 x 8: twelve 4-float accumulators fit SSE2's and wasm SIMD's 16 registers.
void block_generic(const Problem& p, size_t m0, size_t m1, size_t n0, size_t n1) {
    gemm_block<6, 8, Vec4>(p, m0, m1, n0, n1);
}
constexpr Kernel kGeneric{block_generic, 6, 8};

#ifdef VKCNN_GEMM_AVX2
// 6 x 16: twelve 8-float accumulators in AVX's 16 registers.
VKCNN_TARGET_AVX2 void block_avx2(const Problem& p, size_t m0, size_t m1, size_t n0, size_t n1) {
    gemm_block<6, 16, Vec8>(p, m0, m1, n0, n1);
}
constexpr Kernel kAvx2{block_avx2, 6, 16};

// 6 x 32: twelve 16-float accumulators of AVX-512's 32 registers. Each lane
// is the same chain of fused multiply-adds as in the AVX2 kernel, over the
// same K blocks, and update_full is shared: the two give the same bits.
VKCNN_TARGET_AVX512 void block_avx512(const Problem& p, size_t m0, size_t m1, size_t n0, size_t n1) {
    gemm_block<6, 32, Vec16>(p, m0, m1, n0, n1);
}
constexpr Kernel kAvx512{block_avx512, 6, 32};

bool cpu_has_avx2_fma() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool cpu_has_avx512() {
    __builtin_cpu_init();
    return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f");
}

// AMD's family 0x19 (Zen 4; Zen 3 has no AVX-512) runs a 512-bit FMA as two
// 256-bit halves, so the wide kernel cannot beat AVX2 there: measured 3-10%
// slower (docs/benchmarks.md, 2026-12-04). Elsewhere (Intel since Skylake-SP,
// Zen 5) it has twice the FMA width.
bool avx512_is_faster() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return true;
    const bool amd = ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163; // "AuthenticAMD"
    if (!amd || !__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return true;
    const unsigned base = (eax >> 8) & 0xf, family = base == 0xf ? base + ((eax >> 20) & 0xff) : base;
    return family != 0x19;
}
#endif

bool kernel_available(GemmKernel k) {
    switch (k) {
    case GemmKernel::Generic: return true;
#ifdef VKCNN_GEMM_AVX2
    case GemmKernel::Avx2Fma: return cpu_has_avx2_fma();
    case GemmKernel::Avx512: return cpu_has_avx512();
#else
    case GemmKernel::Avx2Fma:
    case GemmKernel::Avx512: return false;
#endif
    }
    return false;
}

// The default: the fastest variant this CPU runs or, with VKCNN_CPU_ISA set,
// the widest it runs up to that one.
GemmKernel best_kernel() {
    const char* isa = std::getenv("VKCNN_CPU_ISA");
    const GemmKernel cap = gemm_kernel_cap(isa);
    const bool asked = isa != nullptr && *isa != '\0';
#ifdef VKCNN_GEMM_AVX2
    if (cap >= GemmKernel::Avx512 && kernel_available(GemmKernel::Avx512) && (asked || avx512_is_faster()))
        return GemmKernel::Avx512;
#else
    (void)asked;
#endif
    if (cap >= GemmKernel::Avx2Fma && kernel_available(GemmKernel::Avx2Fma)) return GemmKernel::Avx2Fma;
    return GemmKernel::Generic;
}

std::atomic<GemmKernel>& selected_kernel() {
    static std::atomic<GemmKernel> selected{best_kernel()};
    return selected;
}

const Kernel& kernel(GemmKernel k) {
#ifdef VKCNN_GEMM_AVX2
    if (k == GemmKernel::Avx2Fma) return kAvx2;
    if (k == GemmKernel::Avx512) return kAvx512;
#endif
    (void)k;
    return kGeneric;
}

// C = beta * C, for when the product term vanishes (alpha == 0 or K == 0).
void scale_c(const Problem& p) {
    if (p.beta == 1.0f) return;
    for (size_t i = 0; i < p.M; ++i) {
        float* c = p.C + i * p.ldc;
        if (p.beta == 0.0f) std::fill(c, c + p.N, 0.0f);
        else
            for (size_t j = 0; j < p.N; ++j) c[j] *= p.beta;
    }
}

const char* trans_name(Trans t) { return t == Trans::No ? "Trans::No" : "Trans::Yes"; }

void check_arguments(const Problem& p) {
    const bool a_no = p.ta == Trans::No, b_no = p.tb == Trans::No;
    check(p.lda >= (a_no ? p.K : p.M), "sgemm: lda = ", p.lda, " is less than ", a_no ? "K = " : "M = ",
          a_no ? p.K : p.M, " (A stored ", a_no ? p.M : p.K, " x ", a_no ? p.K : p.M, ", ", trans_name(p.ta),
          ")");
    check(p.ldb >= (b_no ? p.N : p.K), "sgemm: ldb = ", p.ldb, " is less than ", b_no ? "N = " : "K = ",
          b_no ? p.N : p.K, " (B stored ", b_no ? p.K : p.N, " x ", b_no ? p.N : p.K, ", ", trans_name(p.tb),
          ")");
    check(p.ldc >= p.N, "sgemm: ldc = ", p.ldc, " is less than N = ", p.N, " (C is ", p.M, " x ", p.N, ")");
    if (p.M == 0 || p.N == 0) return;
    check(p.C != nullptr, "sgemm: C is null for a ", p.M, " x ", p.N, " result");
    if (p.K == 0 || p.alpha == 0.0f) return;
    check(p.A != nullptr, "sgemm: A is null with M = ", p.M, ", K = ", p.K);
    check(p.B != nullptr, "sgemm: B is null with K = ", p.K, ", N = ", p.N);
}

} // namespace

GemmKernel gemm_kernel_cap(const char* isa) {
    if (isa == nullptr || *isa == '\0') return GemmKernel::Avx512;
    const std::string_view v(isa);
    if (v == "generic") return GemmKernel::Generic;
    if (v == "avx2") return GemmKernel::Avx2Fma;
    if (v == "avx512") return GemmKernel::Avx512;
    throw Error(cat("VKCNN_CPU_ISA is '", v.substr(0, 40), v.size() > 40 ? "...": "", "': expected generic, avx2 or avx512 (the most the CPU "
                    "backend's kernels may use), or unset for the best this CPU has"));
}

GemmKernel sgemm_kernel() { return selected_kernel().load(std::memory_order_relaxed); }

void set_sgemm_kernel(GemmKernel k) {
    check(kernel_available(k), "set_sgemm_kernel: ", sgemm_kernel_name(k),
          " is not available in this build or on this CPU");
    selected_kernel().store(k, std::memory_order_relaxed);
}

const char* sgemm_kernel_name(GemmKernel k) {
    switch (k) {
    case GemmKernel::Generic: return "generic 6x8";
    case GemmKernel::Avx2Fma: return "avx2+fma 6x16";
    case GemmKernel::Avx512: return "avx512 6x32";
    }
    return "unknown";
}

void sgemm(ThreadPool& pool, Trans ta, Trans tb, size_t M, size_t N, size_t K, float alpha, const float* A,
           size_t lda, const float* B, size_t ldb, float beta, float* C, size_t ldc) {
    const Problem p{ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
    check_arguments(p);
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) {
        scale_c(p);
        return;
    }

    // Threads take disjoint ranges of whole micro-tiles of C, along N or M,
    // and run the full blocked product on their range with their own packed
    // copies. Along N each thread re-packs A (M x K), along M each re-packs B
    // (K x N): pick the cheaper, unless it leaves threads idle.
    const Kernel& kern = kernel(sgemm_kernel());
    const size_t threads = pool.size();
    const size_t m_tiles = (M + kern.mr - 1) / kern.mr, n_tiles = (N + kern.nr - 1) / kern.nr;
    const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
    if (threads == 1 || macs < kMinParallelMacs || (m_tiles == 1 && n_tiles == 1)) {
        kern.block(p, 0, M, 0, N);
        return;
    }
    const bool split_n = (m_tiles >= threads && n_tiles >= threads) ? N >= M : n_tiles >= m_tiles;
    if (split_n) {
        pool.parallel_for(n_tiles, [&](size_t begin, size_t end) {
            kern.block(p, 0, M, begin * kern.nr, std::min(end * kern.nr, N));
        });
    } else {
        pool.parallel_for(m_tiles, [&](size_t begin, size_t end) {
            kern.block(p, begin * kern.mr, std::min(end * kern.mr, M), 0, N);
        });
    }
}

} // namespace vkcnn::cpu
