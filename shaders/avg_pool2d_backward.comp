// avg_pool2d backward as a gather, one invocation per input element: the sum of
// dy / divisor over the windows that cover it, in output order (the order of
// the reference's scatter). Also adaptive_avg_pool2d's backward (pc.adaptive = 1).
// No atomics. Writes (=) dx.
#version 450
#include "common.glsl"
#include "pool2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };  // (N, C, OH, OW)
layout(std430, set = 0, binding = 1) writeonly buffer DX { float dx[]; }; // (N, C, H, W)

void main() {
    const uint in_plane = pc.h * pc.w;
    FOR_EACH_ELEMENT(i, pc.planes * in_plane) {
        const uint plane = i / in_plane;
        const int k = int(i - plane * in_plane);
        const int iy = k / int(pc.w), ix = k % int(pc.w);
        int oy0, oy1, ox0, ox1;
        avg_windows_covering(iy, ix, oy0, oy1, ox0, ox1);
        const uint base = plane * pc.oh * pc.ow;
        float sum = 0.0;
        for (int oy = oy0; oy <= oy1; ++oy) {
            for (int ox = ox0; ox <= ox1; ++ox) {
                sum += avg_divide(dy[base + uint(oy) * pc.ow + uint(ox)], avg_window(oy, ox));
            }
        }
        dx[i] = sum;
    }
}
