// conv2d backward data with shared-memory tiles (conv2d_tiled.glsl): per
// group, dx_g (Cin/g, N*H*W) = w_g^T (Cin/g, K) * B (K, N*H*W) with
// k = co * kH*kW + tap and B[k][pixel] the dy element that reads the pixel
// through that tap (0 where none does), a gather as in
// conv2d_backward_data.comp: each dx element is owned by one invocation.
// Writes (=) dx.
#version 450
#include "conv2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Wt { float wt[]; };  // (Cout, Cin/groups, kH, kW)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };  // (N, Cout, OH, OW)
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; }; // (N, Cin, H, W)

#define A_ALONG_K 1 // an (output channel, input channel) pair's taps are contiguous
#define B_ALONG_N 1 // neighbouring input pixels read neighbouring dy
#include "conv2d_tiled.glsl"

void setup() {
    g = int(gl_WorkGroupID.z);
    rows = uint(pc.cin_g), columns = pc.pixels;
    k_first = 0u, k_last = uint(pc.cout_g * pc.kh * pc.kw);
}

float load_a(uint m, uint k) {
    const uint taps = uint(pc.kh * pc.kw), co = k / taps, tap = k % taps;
    return wt[((uint(g * pc.cout_g) + co) * uint(pc.cin_g) + m) * taps + tap];
}

// dy at output channel k / taps of the output that reads input pixel n
// through tap k % taps; 0 when no output does.
float load_b(uint k, uint n) {
    const uint taps = uint(pc.kh * pc.kw), ohw = uint(pc.oh * pc.ow), hw = uint(pc.h * pc.w);
    const uint img = n / hw, p = n % hw, co = k / taps, tap = k % taps;
    const uint plane = (img * uint(pc.c_out) + uint(g * pc.cout_g) + co) * ohw;
    if (POINTWISE) return dy[plane + p];
    // Output (oh, ow) reads this pixel through tap (r, t) when
    // oh * stride_h = ih + pad_top - r * dilation_h, same for w.
    const int a = int(p) / pc.w + pc.pad_top - int(tap) / pc.kw * pc.dilation_h;
    const int c = int(p) % pc.w + pc.pad_left - int(tap) % pc.kw * pc.dilation_w;
    if (a < 0 || c < 0) return 0.0;
    const int oh = a / pc.stride_h, ow = c / pc.stride_w;
    if (oh * pc.stride_h != a || ow * pc.stride_w != c || oh >= pc.oh || ow >= pc.ow) return 0.0;
    return dy[plane + uint(oh * pc.ow + ow)];
}

float acc_init(uint m) { return 0.0; }

void store(uint m, uint n, float v) {
    const uint hw = uint(pc.h * pc.w), img = n / hw, p = n % hw;
    dx[(img * uint(pc.c_in) + uint(g * pc.cin_g) + m) * hw + p] = v;
}
