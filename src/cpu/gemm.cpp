// sgemm: Goto/BLIS-style blocking. op(B) is packed in KC x NC panels, op(A) in
// MC x KC blocks, both cut into strips a fixed-size micro-kernel streams
// through; plain C++ loops that the compiler vectorises for whatever ISA it targets.
#include "vkcnn/cpu/gemm.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <vector>

namespace vkcnn::cpu {

namespace {

// Micro-tile: MR x NR accumulators. 6 x 16 is 12 AVX registers, or 24 SSE ones
// (a few spill, which measured faster than 4 x 8 or 6 x 8 tiles); see gemm.h.
#ifndef VKCNN_GEMM_MR
constexpr size_t MR = 6;
#else
constexpr size_t MR = VKCNN_GEMM_MR;
#endif
#ifndef VKCNN_GEMM_NR
constexpr size_t NR = 16;
#else
constexpr size_t NR = VKCNN_GEMM_NR;
#endif
// Cache blocks: a KC x NR strip of packed B (16 KiB) stays in L1 while the
// micro-kernel runs down an MC x KC block of packed A (96 KiB, L2); the
// KC x NC panel of B (2 MiB) is reused across all of M from L3.
constexpr size_t KC = 256;
constexpr size_t MC = 16 * MR;
constexpr size_t NC = 128 * NR;
// Below this many multiply-adds the wake-up of workers costs more than it saves.
constexpr double kMinParallelMacs = 64.0 * 64.0 * 64.0;

struct alignas(64) CacheLine {
    float v[16];
};

// Packing buffers, one pair per thread and kept across calls: the pool's
// workers are persistent, so after the first call no allocation happens.
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
void pack_b(const Problem& p, size_t k0, size_t kc, size_t j0, size_t nc, float* __restrict dst) {
    for (size_t t = 0; t < nc; t += NR, dst += kc * NR) {
        const size_t cols = std::min(NR, nc - t);
        if (p.tb == Trans::No) {
            const float* src = p.B + k0 * p.ldb + j0 + t; // (kc, cols), row stride ldb
            if (cols == NR) {
                for (size_t k = 0; k < kc; ++k)
                    for (size_t j = 0; j < NR; ++j) dst[k * NR + j] = src[k * p.ldb + j];
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
// The accumulators are a fixed-size local array so the compiler keeps them in
// vector registers; each element is its own chain of multiply-adds, which is
// what makes the result independent of where the tile lies.
inline void micro_kernel(size_t kc, const float* __restrict a, const float* __restrict b,
                         float* __restrict tile) {
    float acc[MR][NR] = {};
    for (size_t k = 0; k < kc; ++k, a += MR, b += NR) {
//#pragma GCC unroll 16
        for (size_t i = 0; i < MR; ++i) {
            const float ai = a[i];
            for (size_t j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
        }
    }
    for (size_t i = 0; i < MR; ++i)
        for (size_t j = 0; j < NR; ++j) tile[i * NR + j] = acc[i][j];
}

// c (MR, NR), row stride ldc: c = alpha * tile + beta * c; beta == 0 does not
// read c. Edge tiles come here too, through update_edge, and it is kept out
// of line so that all of C goes through one copy of this arithmetic.
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

// Same for the mr x nr corner of a tile at the edge of C: goes through a whole
// scratch tile so it shares update_full's arithmetic (and any FMA contraction).
void update_edge(const float* tile, size_t mr, size_t nr, float alpha, float beta, float* c, size_t ldc) {
    float scratch[MR * NR] = {};
    if (beta != 0.0f)
        for (size_t i = 0; i < mr; ++i)
            for (size_t j = 0; j < nr; ++j) scratch[i * NR + j] = c[i * ldc + j];
    update_full(tile, alpha, beta, scratch, NR);
    for (size_t i = 0; i < mr; ++i)
        for (size_t j = 0; j < nr; ++j) c[i * ldc + j] = scratch[i * NR + j];
}

// C rows [m0, m1), columns [n0, n1), entirely on the calling thread. K blocks
// are always cut at multiples of KC from 0, whatever the rows and columns, so
// the sum for each element is the same sequence of operations on any thread.
void gemm_block(const Problem& p, size_t m0, size_t m1, size_t n0, size_t n1) {
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
            pack_b(p, pc, kc, jc, nc, packed_b);
            for (size_t ic = m0; ic < m1; ic += MC) {
                const size_t mc = std::min(MC, m1 - ic);
                pack_a(p, ic, mc, pc, kc, packed_a);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    const size_t nr = std::min(NR, nc - jr);
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        const size_t mr = std::min(MR, mc - ir);
                        micro_kernel(kc, packed_a + ir * kc, packed_b + jr * kc, tile);
                        float* c = p.C + (ic + ir) * p.ldc + jc + jr;
                        if (mr == MR && nr == NR) update_full(tile, p.alpha, beta, c, p.ldc);
                        else update_edge(tile, mr, nr, p.alpha, beta, c, p.ldc);
                    }
                }
            }
        }
    }
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
    const size_t threads = pool.size();
    const size_t m_tiles = (M + MR - 1) / MR, n_tiles = (N + NR - 1) / NR;
    const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
    if (threads == 1 || macs < kMinParallelMacs || (m_tiles == 1 && n_tiles == 1)) {
        gemm_block(p, 0, M, 0, N);
        return;
    }
    const bool split_n = (m_tiles >= threads && n_tiles >= threads) ? N >= M : n_tiles >= m_tiles;
    if (split_n) {
        pool.parallel_for(n_tiles, [&](size_t begin, size_t end) {
            gemm_block(p, 0, M, begin * NR, std::min(end * NR, N));
        });
    } else {
        pool.parallel_for(m_tiles, [&](size_t begin, size_t end) {
            gemm_block(p, begin * MR, std::min(end * MR, M), 0, N);
        });
    }
}

} // namespace vkcnn::cpu
