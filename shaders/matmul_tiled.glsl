// The shared-memory tiled GEMM of shaders/matmul_tiled*.comp (declarations in
// matmul_common.glsl), the fast path on discrete GPUs: a workgroup of
// WX x WY invocations owns a BM x BN tile of C (BM = WY * TM, BN = WX * TN).
// For each step of TK along K it stages op(A)'s BM x TK and op(B)'s TK x BN
// slices in shared memory — every invocation loading a few elements, so one
// global read serves BN (or BM) products — then each invocation multiplies
// its TM x TN block out of shared memory. Elements past M, N or K are staged
// as 0, so edge tiles need no other branch; each C element still sums
// k = 0, 1, ..., K-1 in order (the padded terms add +0 to a sum that starts
// at +0: the bits do not change).
#extension GL_EXT_control_flow_attributes : require
#include "matmul_common.glsl"

// K per shared-memory step; the launch keeps (BM + BN) * TK floats within
// Vulkan's guaranteed 16 KiB of shared memory.
layout(constant_id = 8) const uint TK = 16;

const uint WX = gl_WorkGroupSize.x, WY = gl_WorkGroupSize.y, THREADS = WX * WY;
const uint BM = WY * TM, BN = WX * TN;

// k-major: the TM (TN) values one invocation needs at one k sit WY (WX)
// apart, so neighbouring invocations read neighbouring words.
shared float As[TK * BM]; // As[kk * BM + r] = op(A)[tile row r][k0 + kk]
shared float Bs[TK * BN]; // Bs[kk * BN + c] = op(B)[k0 + kk][tile column c]

void main() {
    const uint M = pc.M, N = pc.N, K = pc.K;
    const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    const uint lid = ty * WX + tx;
    const uint mt = gl_WorkGroupID.y * BM, nt = gl_WorkGroupID.x * BN; // the tile's first row and column

    // Invocation (tx, ty) owns rows mt + ty + i * WY and columns nt + tx + j * WX:
    // strided, so a warp's stores of C and reads of shared memory are contiguous.
    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; ++i)
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

    // No invocation leaves early: all of them stage tiles and meet at the barriers.
    // The loops over constants are unrolled: lavapipe counts every back-edge
    // against its 65535 per invocation (conv2d_common.glsl), so only this K
    // loop takes one, once per TK terms.
    for (uint k0 = 0; k0 < K; k0 += TK) {
        // Stage op(A)[mt .. mt+BM)[k0 .. k0+TK): element e of the slice goes to
        // the invocation e % THREADS, with e numbered along the stored rows so
        // that neighbouring invocations read neighbouring addresses.
        [[unroll]] for (uint q = 0; q < (BM * TK + THREADS - 1) / THREADS; ++q) {
            const uint e = q * THREADS + lid;
            if (e < BM * TK) {
                const uint r = TRANS_A ? e % BM : e / TK, kk = TRANS_A ? e / BM : e % TK;
                const uint m = mt + r, k = k0 + kk;
                As[kk * BM + r] = m < M && k < K ? a1[a_index(m, k)] : 0.0;
            }
        }
        [[unroll]] for (uint q = 0; q < (BN * TK + THREADS - 1) / THREADS; ++q) {
            const uint e = q * THREADS + lid;
            if (e < BN * TK) {
                const uint c = TRANS_B ? e / TK : e % BN, kk = TRANS_B ? e % TK : e / BN;
                const uint n = nt + c, k = k0 + kk;
                Bs[kk * BN + c] = n < N && k < K ? b1[b_index(k, n)] : 0.0;
            }
        }
        barrier(); // the slices are complete (barrier() also orders shared memory in compute shaders)

        [[unroll]] for (uint kk = 0; kk < TK; ++kk) {
            float a[TM], b[TN];
            [[unroll]] for (uint i = 0; i < TM; ++i) a[i] = As[kk * BM + ty + i * WY];
            [[unroll]] for (uint j = 0; j < TN; ++j) b[j] = Bs[kk * BN + tx + j * WX];
            [[unroll]] for (uint i = 0; i < TM; ++i)
                [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
        barrier(); // every invocation has read the slices before the next step overwrites them
    }

    [[unroll]] for (uint i = 0; i < TM; ++i) {
        const uint m = mt + ty + i * WY;
        [[unroll]] for (uint j = 0; j < TN; ++j) {
            const uint n = nt + tx + j * WX;
            if (m < M && n < N) store_result(m, n, acc[i][j]);
        }
    }
}
