// C (M, N) = op(A) op(B) + bias[n] [+ C]: the shared-memory tiled GEMM with a
// bias broadcast over rows (body in matmul_tiled.glsl). Writes (=) C, or
// accumulates (+=) with ACCUMULATE.
#version 450
#include "common.glsl"
#define HAS_BIAS 1
#include "matmul_tiled.glsl"
