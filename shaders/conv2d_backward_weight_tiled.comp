// conv2d backward weight with shared-memory tiles (conv2d_tiled.glsl): per
// group, dw_g (Cout/g, Cin/g*kH*kW) = dy_g (Cout/g, K) * im2col(x_g)^T
// (K, Cin/g*kH*kW), K the output pixels (image, oh, ow) in order. As in
// conv2d_backward_weight.comp the reduction may be split into chunks of
// pc.chunk_rows rows (image, oh) — grid z = chunk * groups + group — each
// writing (=) its own dw[chunk], which conv2d_backward_weight_sum.comp adds in
// order; with one chunk that is dw itself. No atomics.
#version 450
#include "conv2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };    // (N, Cin, H, W)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };  // (N, Cout, OH, OW)
layout(std430, set = 0, binding = 2) writeonly buffer DW { float dw[]; }; // (chunks, Cout, Cin/groups, kH, kW)

#define A_ALONG_K 1 // dy is contiguous along the pixels
#define B_ALONG_N 0 // so is x (stride 1): neighbouring invocations take neighbouring pixels
#include "conv2d_tiled.glsl"

uint chunk;

void setup() {
    g = int(gl_WorkGroupID.z % uint(pc.groups));
    chunk = gl_WorkGroupID.z / uint(pc.groups);
    rows = uint(pc.cout_g), columns = pc.pixels;
    // The chunk's rows [first, last) of the N * OH rows (image, oh), OW pixels
    // each (a pointwise convolution: N rows of OH * OW): k = image * OH*OW + oh * OW + ow.
    const uint width = POINTWISE ? uint(pc.oh * pc.ow) : uint(pc.ow);
    const uint total_rows = uint(pc.n) * (POINTWISE ? 1u : uint(pc.oh));
    const uint first = min(chunk * pc.chunk_rows, total_rows), last = min(first + pc.chunk_rows, total_rows);
    k_first = first * width, k_last = last * width;
}

float load_a(uint m, uint k) {
    const uint ohw = uint(pc.oh * pc.ow), img = k / ohw, p = k % ohw;
    return dy[(img * uint(pc.c_out) + uint(g * pc.cout_g) + m) * ohw + p];
}

// x at tap n % taps of input channel n / taps for output pixel k; 0 in the padding.
float load_b(uint k, uint n) {
    const uint taps = uint(pc.kh * pc.kw), ohw = uint(pc.oh * pc.ow), hw = uint(pc.h * pc.w);
    const uint img = k / ohw, p = k % ohw, ci = n / taps, tap = n % taps;
    const uint plane = (img * uint(pc.c_in) + uint(g * pc.cin_g) + ci) * hw;
    if (POINTWISE) return x[plane + p];
    const int ih = int(p) / pc.ow * pc.stride_h - pc.pad_top + int(tap) / pc.kw * pc.dilation_h;
    const int iw = int(p) % pc.ow * pc.stride_w - pc.pad_left + int(tap) % pc.kw * pc.dilation_w;
    if (uint(ih) >= uint(pc.h) || uint(iw) >= uint(pc.w)) return 0.0;
    return x[plane + uint(ih * pc.w + iw)];
}

float acc_init(uint m) { return 0.0; }

void store(uint m, uint n, float v) {
    dw[chunk * uint(pc.c_out) * columns + (uint(g * pc.cout_g) + m) * columns + n] = v;
}
