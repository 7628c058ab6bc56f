// The forward kernel with shared-memory tiles (conv2d_tiled.glsl), compiled
// as conv2d_forward_tiled.comp and (CONV2D_BIAS 1) conv2d_forward_bias_tiled.comp:
// per group, y_g (Cout/g, N*OH*OW) = w_g (Cout/g, K) * im2col(x_g) (K, N*OH*OW)
// with k = ci * kH*kW + tap, the reference's order. Writes (=) y.
#include "conv2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };   // (N, Cin, H, W)
layout(std430, set = 0, binding = 1) readonly buffer Wt { float wt[]; }; // (Cout, Cin/groups, kH, kW)
#if CONV2D_BIAS
layout(std430, set = 0, binding = 2) readonly buffer B { float b[]; };   // (Cout)
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };  // (N, Cout, OH, OW)
#else
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };  // (N, Cout, OH, OW)
#endif

#define A_ALONG_K 1 // a weight row is contiguous in k
#define B_ALONG_N 1 // neighbouring output pixels read neighbouring inputs
#include "conv2d_tiled.glsl"

void setup() {
    g = int(gl_WorkGroupID.z);
    rows = uint(pc.cout_g), columns = pc.pixels;
    k_first = 0u, k_last = uint(pc.cin_g * pc.kh * pc.kw);
}

float load_a(uint m, uint k) { return wt[(uint(g * pc.cout_g) + m) * k_last + k]; }

// x at input channel k / taps, tap k % taps of output pixel n; 0 in the padding.
float load_b(uint k, uint n) {
    const uint taps = uint(pc.kh * pc.kw), ohw = uint(pc.oh * pc.ow), hw = uint(pc.h * pc.w);
    const uint img = n / ohw, p = n % ohw, ci = k / taps, tap = k % taps;
    const uint plane = (img * uint(pc.c_in) + uint(g * pc.cin_g) + ci) * hw;
    if (POINTWISE) return x[plane + p];
    const int ih = int(p) / pc.ow * pc.stride_h - pc.pad_top + int(tap) / pc.kw * pc.dilation_h;
    const int iw = int(p) % pc.ow * pc.stride_w - pc.pad_left + int(tap) % pc.kw * pc.dilation_w;
    if (uint(ih) >= uint(pc.h) || uint(iw) >= uint(pc.w)) return 0.0;
    return x[plane + uint(ih * pc.w + iw)];
}

float acc_init(uint m) {
#if CONV2D_BIAS
    return b[uint(g * pc.cout_g) + m];
#else
    return 0.0;
#endif
}

void store(uint m, uint n, float v) {
    const uint ohw = uint(pc.oh * pc.ow), img = n / ohw, p = n % ohw;
    y[(img * uint(pc.c_out) + uint(g * pc.cout_g) + m) * ohw + p] = v;
}
