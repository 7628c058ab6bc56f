// Random affine augmentation (see src/ops/augment.h for the draw and the
// transform): y (N, C, H, W) = x resampled bilinearly at the inverse image of
// each output pixel under sample n's rotation / scale / translation, outside
// taps reading fill. Writes (=) y. One invocation per output pixel, grid
// stride; each redraws its sample's Philox block (counter {n, stream,
// 0x61756700, 0}, key {seed, step} from a buffer the host rewrites every step),
// reusing it while n stays the same. `precise` keeps the driver from fusing
// multiply-adds, so only sin / cos (trig.glsl's, within 2 ulp; the builtins
// may be 2^-11 off) and a division that is not correctly rounded can differ
// from the CPU's float arithmetic.
#version 450
#include "common.glsl"
#include "philox.glsl"
#include "trig.glsl"

layout(std430, set = 0, binding = 0) readonly buffer In { float src[]; };   // (N, C, H, W)
layout(std430, set = 0, binding = 1) readonly buffer Key { uvec2 key; };   // PhiloxKey {seed, step}
layout(std430, set = 0, binding = 2) writeonly buffer Out { float dst[]; }; // (N, C, H, W)
layout(push_constant) uniform Push {
    uint count; // N * C * H * W
    uint C;
    uint H;
    uint W;
    float max_degrees;
    float max_scale;
    float max_translate;
    float fill;
    uint stream;       // Philox counter word 1
    float deg_to_rad;  // float(pi / 180), as the CPU rounds it
} pc;

// 2 u - 1 with u = (bits >> 8) * 2^-24: exact.
float signed_unit(uint bits) {
    precise float u = float(bits >> 8) * (1.0 / 16777216.0);
    precise float s = 2.0 * u - 1.0;
    return s;
}

// Tap (xi, yi) of the plane starting at `plane`, fill outside.
float tap(uint plane, int xi, int yi) {
    bool inside = xi >= 0 && xi < int(pc.W) && yi >= 0 && yi < int(pc.H);
    return inside ? src[plane + uint(yi) * pc.W + uint(xi)] : pc.fill;
}

void main() {
    uint last_n = 0xFFFFFFFFu;
    float c = 1.0, s = 0.0, sc = 1.0, tx = 0.0, ty = 0.0;
    precise float cx = float(pc.W - 1u) * 0.5;
    precise float cy = float(pc.H - 1u) * 0.5;
    uint plane_size = pc.H * pc.W;
    FOR_EACH_ELEMENT(i, pc.count) {
        uint xo = i % pc.W;
        uint r = i / pc.W;
        uint yo = r % pc.H;
        uint plane_index = r / pc.H; // n * C + c
        uint n = plane_index / pc.C;
        if (n != last_n) {
            last_n = n;
            uvec4 b = philox4x32_10(uvec4(n, pc.stream, 0x61756700u, 0u), key);
            precise float degrees = pc.max_degrees * signed_unit(b.x);
            precise float radians = degrees * pc.deg_to_rad;
            sin_cos(radians, s, c);
            precise float scale = 1.0 + pc.max_scale * signed_unit(b.y);
            precise float tx_ = pc.max_translate * signed_unit(b.z);
            precise float ty_ = pc.max_translate * signed_unit(b.w);
            sc = scale;
            tx = tx_;
            ty = ty_;
        }
        precise float dx = float(xo) - cx - tx;
        precise float dy = float(yo) - cy - ty;
        precise float px = cx + (c * dx + s * dy) / sc;
        precise float py = cy + (c * dy - s * dx) / sc;
        float o = pc.fill;
        if (px > -1.0 && px < float(pc.W) && py > -1.0 && py < float(pc.H)) {
            precise float fx = floor(px);
            precise float fy = floor(py);
            precise float wx = px - fx;
            precise float wy = py - fy;
            int x0 = int(fx), y0 = int(fy);
            uint plane = plane_index * plane_size;
            precise float top = wx == 0.0 ? tap(plane, x0, y0)
                                          : (1.0 - wx) * tap(plane, x0, y0) + wx * tap(plane, x0 + 1, y0);
            o = top;
            if (wy != 0.0) {
                precise float bot = wx == 0.0 ? tap(plane, x0, y0 + 1)
                                              : (1.0 - wx) * tap(plane, x0, y0 + 1) + wx * tap(plane, x0 + 1, y0 + 1);
                precise float blend = (1.0 - wy) * top + wy * bot;
                o = blend;
            }
        }
        dst[i] = o;
    }
}
