// colormap pass 2: one invocation per pixel of the (height, width) image.
// Padding and empty cells get the background; a value gets its level k in
// [0, 65536] from its tile's range (or the tensor's) and the colour of the
// stops at k / 65536, as src/ops/colormap.h defines them: the division only
// seeds k, multiplications and comparisons (exactly rounded in Vulkan) settle
// it, and the colour is integer arithmetic, so the bytes equal the CPU's.
// Writes (=) image.
#version 450
#include "common.glsl"
#include "colormap.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };           // (N, C, H, W)
layout(std430, set = 0, binding = 1) readonly buffer Ranges { float ranges[]; }; // (tiles [+ 1], 2)
layout(std430, set = 0, binding = 2) writeonly buffer Image { uint image[]; };   // (height, width) RGBA8
layout(push_constant) uniform Push {
    uint width, height, tile_w, tile_h; // the image; W, H of x
    uint scale, padding, columns, tiles;
    uint range_slot; // 0xffffffff: each tile's own range, else this entry's
    uint stop_count, background, nan_color;
    uint stops[16]; // kColormapMaxStops, R in the low byte
} pc;

const uint kLevels = 65536u;

// fl(fl(j * 2^-16) * d) <= e: level j is not past e / d. `precise`: no fusing.
bool fits(uint j, float e, float d) {
    precise float t = float(j) * (1.0 / 65536.0);
    precise float at = t * d;
    return at <= e;
}

// The level of a value that is not NaN.
uint level(float v, float lo, float hi) {
    const uint bits = floatBitsToUint(v);
    if ((bits & 0x7fffffffu) == 0x7f800000u) return (bits >> 31) != 0u ? 0u : kLevels; // -inf, +inf
    if (!(hi > lo)) return kLevels / 2u;
    precise float e = v - lo;
    precise float d = hi - lo;
    if (!colormap_finite(d)) { // the range overflowed: exact halves
        precise float vh = v * 0.5;
        precise float loh = lo * 0.5;
        precise float hih = hi * 0.5;
        e = vh - loh;
        d = hih - loh;
    }
    if (!(d > 0.0)) return kLevels / 2u; // a subnormal range this device flushed
    e = min(max(e, 0.0), d);
    const float q = min(e / d, 1.0);
    uint k = uint(q * 65536.0); // within one level of the answer whatever the division's rounding
    if (k < kLevels && fits(k + 1u, e, d)) ++k;
    if (k < kLevels && fits(k + 1u, e, d)) ++k;
    if (k > 0u && !fits(k, e, d)) --k;
    if (k > 0u && !fits(k, e, d)) --k;
    return k;
}

// round(c_a + (c_b - c_a) * r / 65536), halves up, of one 8-bit channel.
uint channel(uint a, uint b, uint r, uint shift) {
    const uint ca = (a >> shift) & 255u, cb = (b >> shift) & 255u;
    return ((ca * (kLevels - r) + cb * r + kLevels / 2u) >> 16) << shift;
}

uint color(uint k) {
    const uint segments = pc.stop_count - 1u;
    const uint p = k * segments;
    const uint s = min(p >> 16, segments - 1u);
    const uint r = p - (s << 16);
    const uint a = pc.stops[s], b = pc.stops[s + 1u];
    return 0xff000000u | channel(a, b, r, 0u) | channel(a, b, r, 8u) | channel(a, b, r, 16u);
}

void main() {
    const uvec2 p = gl_GlobalInvocationID.xy;
    if (p.x >= pc.width || p.y >= pc.height) return;
    const uint tw = pc.tile_w * pc.scale, th = pc.tile_h * pc.scale;
    const uint col = p.x / (tw + pc.padding), ox = p.x - col * (tw + pc.padding);
    const uint row = p.y / (th + pc.padding), oy = p.y - row * (th + pc.padding);
    const uint tile = row * pc.columns + col;
    uint c = pc.background;
    if (ox < tw && oy < th && tile < pc.tiles) {
        const float v = x[tile * pc.tile_w * pc.tile_h + (oy / pc.scale) * pc.tile_w + ox / pc.scale];
        if (colormap_nan(v)) {
            c = pc.nan_color;
        } else {
            const uint slot = pc.range_slot == 0xffffffffu ? tile : pc.range_slot;
            c = color(level(v, ranges[2u * slot], ranges[2u * slot + 1u]));
        }
    }
    image[p.y * pc.width + p.x] = c;
}
