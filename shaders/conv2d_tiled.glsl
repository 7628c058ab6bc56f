// The shared-memory tiled implicit GEMM behind shaders/conv2d_*_tiled.comp,
// the fast path on discrete GPUs (GemmTuning::shared_memory_tiles; lavapipe
// keeps the register-blocked kernels). Per group, C (rows, columns) = A (rows,
// K) * B (K, columns) over K in [k_first, k_last); a workgroup of WX x WY
// invocations owns a BM x BN tile of C (BM = WY * TM, BN = WX * TN) and, for
// each step of TK along K, stages A's BM x TK and B's TK x BN slices in
// shared memory — loaded through the direction's index maps — then each
// invocation multiplies its TM x TN block out of shared memory. Each C
// element sums k = k_first, k_first + 1, ... in order from acc_init (no
// atomics); elements past the rows, columns or K, and taps in the padding,
// are staged as 0 (adding +0 leaves a sum's bits alone).
//
// The including shader includes conv2d_common.glsl, declares its buffers and
// defines A_ALONG_K, B_ALONG_N (1 when consecutive k of A / columns of B are
// the closer addresses: neighbouring invocations stage those) before
// including this file, and after it defines the functions declared below.
#extension GL_EXT_control_flow_attributes : require

// K per shared-memory step; the launch keeps (BM + BN) * TK floats within
// Vulkan's guaranteed 16 KiB of shared memory.
layout(constant_id = 6) const uint TK = 16;

const uint WX = gl_WorkGroupSize.x, WY = gl_WorkGroupSize.y, THREADS = WX * WY;
const uint BM = WY * TM, BN = WX * TN;
// Each invocation stages A_STEPS elements of A's slice and B_STEPS of B's.
const uint A_STEPS = (BM * TK + THREADS - 1) / THREADS, B_STEPS = (BN * TK + THREADS - 1) / THREADS;
#define STAGE_UNROLL 4

// k-major: the TM (TN) values one invocation needs at one k sit WY (WX) apart.
shared float As[TK * BM]; // As[kk * BM + r] = A[tile row r][k0 + kk]
shared float Bs[TK * BN]; // Bs[kk * BN + c] = B[k0 + kk][tile column c]

int g;                   // the convolution's group
uint rows, columns;      // of this group's GEMM
uint k_first, k_last;    // the reduction range

// Sets g, rows, columns, k_first and k_last from gl_WorkGroupID.z.
void setup();
// A[m][k] (m < rows, k_first <= k < k_last) and B[k][n] (n < columns).
float load_a(uint m, uint k);
float load_b(uint k, uint n);
// The sum's start for row m (< rows): its bias or 0.
float acc_init(uint m);
void store(uint m, uint n, float v);

void main() {
    setup();
    const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    const uint lid = ty * WX + tx;
    const uint mt = gl_WorkGroupID.y * BM; // the tile's first row

    // Column tiles beyond the grid come round in a grid-stride loop. All its
    // bounds are the same for the whole workgroup, and no invocation leaves
    // early: every one stages slices and meets every barrier.
    for (uint blk = gl_WorkGroupID.x; blk < pc.blocks; blk += gl_NumWorkGroups.x) {
        const uint nt = blk * BN;
        // Invocation (tx, ty) owns rows mt + ty + i * WY and columns nt + tx + j * WX.
        float acc[TM][TN];
        [[unroll]] for (uint i = 0; i < TM; ++i) {
            const float init = acc_init(min(mt + ty + i * WY, rows - 1)); // edge rows: a valid row, not stored
            [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] = init;
        }

        // lavapipe counts every loop back-edge against its 65535 per
        // invocation (conv2d_common.glsl): the products over TK are unrolled,
        // and the staging loops go STAGE_UNROLL elements a step. Unrolled
        // whole, a small workgroup's staging (up to 128 loads a slice) made
        // LLVM take 4-5 s per pipeline there; so a step of K takes
        // 1 + A_STEPS / 4 + B_STEPS / 4 back-edges (at most 18: K up to 58000
        // terms per invocation on lavapipe, which keeps register blocks).
        for (uint k0 = k_first; k0 < k_last; k0 += TK) {
            for (uint q0 = 0; q0 < A_STEPS; q0 += STAGE_UNROLL) [[unroll]] for (uint u = 0; u < STAGE_UNROLL; ++u) {
                const uint e = (q0 + u) * THREADS + lid;
                if (e < BM * TK) {
                    const uint r = A_ALONG_K != 0 ? e / TK : e % BM, kk = A_ALONG_K != 0 ? e % TK : e / BM;
                    const uint m = mt + r, k = k0 + kk;
                    float v = 0.0;
                    if (m < rows && k < k_last) v = load_a(m, k);
                    As[kk * BM + r] = v;
                }
            }
            for (uint q0 = 0; q0 < B_STEPS; q0 += STAGE_UNROLL) [[unroll]] for (uint u = 0; u < STAGE_UNROLL; ++u) {
                const uint e = (q0 + u) * THREADS + lid;
                if (e < BN * TK) {
                    const uint c = B_ALONG_N != 0 ? e % BN : e / TK, kk = B_ALONG_N != 0 ? e / BN : e % TK;
                    const uint n = nt + c, k = k0 + kk;
                    float v = 0.0;
                    if (n < columns && k < k_last) v = load_b(k, n);
                    Bs[kk * BN + c] = v;
                }
            }
            barrier(); // the slices are complete

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
                if (m < rows && n < columns) store(m, n, acc[i][j]);
            }
        }
    }
}
