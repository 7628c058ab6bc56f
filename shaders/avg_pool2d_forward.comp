// avg_pool2d forward, one invocation per output: the window sum, added in the
// reference's order, over the divisor of avg_window(). Also adaptive_avg_pool2d's
// forward (pc.adaptive = 1). Writes (=) y.
#version 450
#include "common.glsl"
#include "pool2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (N, C, H, W)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (N, C, OH, OW)

void main() {
    const uint out_plane = pc.oh * pc.ow;
    FOR_EACH_ELEMENT(i, pc.planes * out_plane) {
        const uint plane = i / out_plane;
        const uint r = i - plane * out_plane;
        const AvgWindow win = avg_window(int(r / pc.ow), int(r % pc.ow));
        const uint base = plane * pc.h * pc.w;
        float sum = 0.0;
        for (int ih = win.h0; ih < win.h1; ++ih)
            for (int iw = win.w0; iw < win.w1; ++iw) sum += x[base + uint(ih * int(pc.w) + iw)];
        y[i] = (win.h0 >= win.h1 || win.w0 >= win.w1) ? 0.0 : avg_divide(sum, win);
    }
}
