// Shared by shaders/conv2d_*.comp: the push constants (struct Push in
// src/ops/conv2d.cpp) and the register-block specialization constants of the
// implicit-GEMM kernels.
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(push_constant) uniform Conv2dPush {
    int n, c_in, h, w;
    int c_out, oh, ow, kh;
    int kw, stride_h, stride_w, dilation_h;
    int dilation_w, pad_top, pad_left, groups;
    int cin_g, cout_g;
    uint pixels; // columns of this kernel's implicit GEMM
    uint blocks; // column tiles of wg_n * TN; the grid's x covers them in a grid-stride loop
    uint chunk_rows; // backward weight: rows (image, oh) of the reduction per chunk (grid z / groups chunks)
    uint wg_n, wg_m; // the register-blocked kernels' workgroup as wg_n columns x wg_m rows of invocations
} pc;

// The register-blocked kernels' workgroup is one row of the tuning's
// invocation count (local_size_x, a specialization constant); the shape
// decides how much of it works, as wg_n x wg_m, by push constants, and the
// lanes beyond return at once (no barriers there). So shapes share a few
// pipelines per tuning instead of one each: on lavapipe every pipeline costs
// a fraction of a second of LLVM on first use, and idle lanes that return
// at once cost nothing.
bool idle_lane() { return gl_LocalInvocationID.x >= pc.wg_n * pc.wg_m; }
uint lane_n() { return gl_LocalInvocationID.x % pc.wg_n; }
uint lane_m() { return gl_LocalInvocationID.x / pc.wg_n; }

// Each invocation owns TM GEMM rows (channels) x TN columns, strided by the
// workgroup size so that neighbouring invocations touch neighbouring columns.
layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 4;
// 1x1 kernel, stride 1, no padding: input pixel = output pixel, no bounds checks.
layout(constant_id = 5) const bool POINTWISE = false;

// Mesa's llvmpipe (lavapipe) ends every loop of an invocation once that
// invocation has taken 65535 loop back-edges in total, all its loops together
// (gallivm's loop limiter, LP_MAX_TGSI_LOOP_ITERATIONS; Mesa 22.3): a longer
// reduction silently comes out short. So the reduction loops step UNROLL at a
// time with a fully unrolled, guarded body ([[unroll]] over a constant count
// takes no back-edge): an invocation may reduce ~UNROLL x 65535 terms there.
// The order of the sums is unchanged.
#define UNROLL 8
