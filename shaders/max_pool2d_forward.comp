// max_pool2d forward, one invocation per output: the maximum over the window's
// in-bounds taps and its flat index in the input plane. `>` keeps the first
// maximum in scan order and a NaN always takes over, as PyTorch's CPU kernel.
// Writes (=) y and indices.
#version 450
#include "common.glsl"
#include "pool2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };         // (N, C, H, W)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };        // (N, C, OH, OW)
layout(std430, set = 0, binding = 2) writeonly buffer I { int indices[]; };    // (N, C, OH, OW)

void main() {
    const uint out_plane = pc.oh * pc.ow;
    FOR_EACH_ELEMENT(i, pc.planes * out_plane) {
        const uint plane = i / out_plane;
        const uint r = i - plane * out_plane;
        const int oy = int(r / pc.ow), ox = int(r % pc.ow);
        int h0 = oy * pc.sh - pc.ph, w0 = ox * pc.sw - pc.pw;
        const int h1 = min(h0 + pc.dh * (pc.kh - 1) + 1, int(pc.h));
        const int w1 = min(w0 + pc.dw * (pc.kw - 1) + 1, int(pc.w));
        if (h0 < 0) h0 += ((-h0 + pc.dh - 1) / pc.dh) * pc.dh; // first tap at or after row 0
        if (w0 < 0) w0 += ((-w0 + pc.dw - 1) / pc.dw) * pc.dw;
        const uint base = plane * pc.h * pc.w;
        float best = uintBitsToFloat(0xff800000u); // -inf
        int at = h0 < h1 && w0 < w1 ? h0 * int(pc.w) + w0 : -1; // -1: no tap inside the input
        for (int ih = h0; ih < h1; ih += pc.dh) {
            for (int iw = w0; iw < w1; iw += pc.dw) {
                const int k = ih * int(pc.w) + iw;
                const float v = x[base + uint(k)];
                if (v > best || isnan(v)) {
                    best = v;
                    at = k;
                }
            }
        }
        y[i] = best;
        indices[i] = at;
    }
}
