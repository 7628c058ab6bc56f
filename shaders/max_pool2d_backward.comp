// max_pool2d backward as a gather, one invocation per input element: the sum of
// dy over the windows whose argmax is this element, visited in output order
// (the order of the reference's scatter, so the sums round identically). No
// atomics. Writes (=) dx.
#version 450
#include "common.glsl"
#include "pool2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer I { int indices[]; };  // (N, C, OH, OW)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };    // (N, C, OH, OW)
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };   // (N, C, H, W)

void main() {
    const uint in_plane = pc.h * pc.w;
    FOR_EACH_ELEMENT(i, pc.planes * in_plane) {
        const uint plane = i / in_plane;
        const int k = int(i - plane * in_plane);
        const int iy = k / int(pc.w), ix = k % int(pc.w);
        // Windows o with o*s - p <= i <= o*s - p + d*(k-1).
        const int oy0 = first_window_at_or_after(iy + pc.ph - pc.dh * (pc.kh - 1), pc.sh);
        const int oy1 = min((iy + pc.ph) / pc.sh, int(pc.oh) - 1);
        const int ox0 = first_window_at_or_after(ix + pc.pw - pc.dw * (pc.kw - 1), pc.sw);
        const int ox1 = min((ix + pc.pw) / pc.sw, int(pc.ow) - 1);
        const uint base = plane * pc.oh * pc.ow;
        float sum = 0.0;
        for (int oy = oy0; oy <= oy1; ++oy) {
            for (int ox = ox0; ox <= ox1; ++ox) {
                const uint o = base + uint(oy) * pc.ow + uint(ox);
                if (indices[o] == k) sum += dy[o];
            }
        }
        dx[i] = sum;
    }
}
