// The register-blocked GEMM of shaders/matmul_register*.comp (declarations in
// matmul_common.glsl): each invocation owns a TM x TN block of C, loads its
// operands straight from the buffers (vec4 where aligned) and sums k in order.
// No shared memory: on lavapipe that is the fastest (see src/vulkan/quirks.cpp).
#include "matmul_common.glsl"

void main() {
    const uint M = pc.M, N = pc.N, K = pc.K;
    const uint m0 = (gl_WorkGroupID.y * gl_WorkGroupSize.y + gl_LocalInvocationID.y) * TM;
    const uint n0 = (gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * TN;
    if (m0 >= M || n0 >= N) return; // no barriers below, so leaving early is safe

    // vec4 loads need the whole block in range and its rows 16-byte aligned:
    // m0, n0 and k are multiples of 4, so that is the leading dimension's.
    const bool full = m0 + TM <= M && n0 + TN <= N;
    const bool a_vec = full && (TRANS_A ? M % 4 == 0 : K % 4 == 0);
    const bool b_vec = full && (TRANS_B ? K % 4 == 0 : N % 4 == 0);

    float acc[TM][TN];
    for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

    uint k = 0;
    for (; k + 4 <= K; k += 4) {
        float a[4][TM], b[4][TN];
        if (a_vec) {
            if (TRANS_A) {
                for (uint kk = 0; kk < 4; ++kk)
                    for (uint i = 0; i < TM; i += 4) {
                        const vec4 v = a4[a_index(m0 + i, k + kk) >> 2];
                        a[kk][i] = v.x, a[kk][i + 1] = v.y, a[kk][i + 2] = v.z, a[kk][i + 3] = v.w;
                    }
            } else {
                for (uint i = 0; i < TM; ++i) {
                    const vec4 v = a4[a_index(m0 + i, k) >> 2];
                    a[0][i] = v.x, a[1][i] = v.y, a[2][i] = v.z, a[3][i] = v.w;
                }
            }
        } else {
            for (uint kk = 0; kk < 4; ++kk)
                for (uint i = 0; i < TM; ++i) a[kk][i] = m0 + i < M ? a1[a_index(m0 + i, k + kk)] : 0.0;
        }
        if (b_vec) {
            if (TRANS_B) {
                for (uint j = 0; j < TN; ++j) {
                    const vec4 v = b4[b_index(k, n0 + j) >> 2];
                    b[0][j] = v.x, b[1][j] = v.y, b[2][j] = v.z, b[3][j] = v.w;
                }
            } else {
                for (uint kk = 0; kk < 4; ++kk)
                    for (uint j = 0; j < TN; j += 4) {
                        const vec4 v = b4[b_index(k + kk, n0 + j) >> 2];
                        b[kk][j] = v.x, b[kk][j + 1] = v.y, b[kk][j + 2] = v.z, b[kk][j + 3] = v.w;
                    }
            }
        } else {
            for (uint kk = 0; kk < 4; ++kk)
                for (uint j = 0; j < TN; ++j) b[kk][j] = n0 + j < N ? b1[b_index(k + kk, n0 + j)] : 0.0;
        }
        for (uint kk = 0; kk < 4; ++kk)
            for (uint i = 0; i < TM; ++i)
                for (uint j = 0; j < TN; ++j) acc[i][j] += a[kk][i] * b[kk][j];
    }
    for (; k < K; ++k) {
        float a[TM], b[TN];
        for (uint i = 0; i < TM; ++i) a[i] = m0 + i < M ? a1[a_index(m0 + i, k)] : 0.0;
        for (uint j = 0; j < TN; ++j) b[j] = n0 + j < N ? b1[b_index(k, n0 + j)] : 0.0;
        for (uint i = 0; i < TM; ++i)
            for (uint j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }

    for (uint i = 0; i < TM; ++i) {
        const uint m = m0 + i;
        if (m >= M) break;
        for (uint j = 0; j < TN; ++j) {
            const uint n = n0 + j;
            if (n >= N) break;
            store_result(m, n, acc[i][j]);
        }
    }
}
