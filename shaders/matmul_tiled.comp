// C (M, N) = op(A) op(B) [+ C]: the shared-memory tiled GEMM without bias
// (body in matmul_tiled.glsl). Writes (=) C, or accumulates (+=) with ACCUMULATE.
#version 450
#include "common.glsl"
#define HAS_BIAS 0
#include "matmul_tiled.glsl"
