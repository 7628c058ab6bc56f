// What the GEMM kernels share (register-blocked: matmul_register.glsl,
// shared-memory tiles: matmul_tiled.glsl): C (M, N) = op(A) op(B) [+ bias[n]]
// [+ C], all row-major and dense, its buffers, push constants, specialization
// constants, index maps and the store of a result. Each C element is the sum
// over k = 0, 1, ..., K-1 in order, from 0, then + bias, then C + that with
// ACCUMULATE: both kernels and matmul_reference round alike (deterministic,
// no atomics). The entry shader defines HAS_BIAS (0 or 1) before including.

// Rows and columns of C per invocation; multiples of 4 (the launch checks).
layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 4;
// A is stored (K, M) instead of (M, K); B is stored (N, K) instead of (K, N).
layout(constant_id = 5) const bool TRANS_A = false;
layout(constant_id = 6) const bool TRANS_B = false;
// C += result instead of C = result (gradient accumulation).
layout(constant_id = 7) const bool ACCUMULATE = false;

// Every matrix is also viewed as vec4s: blocks whose rows start 16-byte aligned
// load four floats at once, the rest (edges, odd leading dimensions) one by one.
layout(std430, set = 0, binding = 0) readonly buffer A1 { float a1[]; }; // op(A): (M, K)
layout(std430, set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, set = 0, binding = 1) readonly buffer B1 { float b1[]; }; // op(B): (K, N)
layout(std430, set = 0, binding = 1) readonly buffer B4 { vec4 b4[]; };
#if HAS_BIAS
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; }; // (N)
layout(std430, set = 0, binding = 3) buffer C1 { float c1[]; };              // (M, N)
#else
layout(std430, set = 0, binding = 2) buffer C1 { float c1[]; }; // (M, N)
#endif

layout(push_constant) uniform Push {
    uint M, N, K;
} pc;

uint a_index(uint m, uint k) { return TRANS_A ? k * pc.M + m : m * pc.K + k; }
uint b_index(uint k, uint n) { return TRANS_B ? n * pc.K + k : k * pc.N + n; }

// C[m][n] = v [+ bias[n]] [+ C[m][n]], in the reference's order.
void store_result(uint m, uint n, float v) {
#if HAS_BIAS
    v += bias[n];
#endif
    if (ACCUMULATE) v = c1[m * pc.N + n] + v;
    c1[m * pc.N + n] = v;
}
