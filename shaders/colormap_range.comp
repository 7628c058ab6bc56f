// colormap pass 1: the range of each tile's finite values, (min, max) or, for
// Symmetric, (-m, m) with m = max |x| = max(-min, max). One workgroup per tile
// (a 2-D grid past 65535 tiles), its invocations striding over the tile 4
// values an iteration, combined in shared memory. A tile without finite
// values writes (FLT_MAX, -FLT_MAX), or (-0, 0) under Symmetric. Writes (=)
// the tile's entry of ranges.
#version 450
#include "common.glsl"
#include "colormap.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };             // (N, C, H, W)
layout(std430, set = 0, binding = 1) writeonly buffer Ranges { float ranges[]; }; // (tiles [+ 1], 2)
layout(push_constant) uniform Push { uint tiles; uint tile_size; uint symmetric; } pc;

void take(float v, inout float lo, inout float hi) {
    if (!colormap_finite(v)) return;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
}

void main() {
    const uint tile = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (tile >= pc.tiles) return; // the whole workgroup, so its barriers stay uniform
    const uint n = pc.tile_size, base = tile * n, step = gl_WorkGroupSize.x;
    float lo = kColormapFltMax, hi = -kColormapFltMax;
    // At most 2^24 / 1024 = 16384 iterations: under lavapipe's 65535.
    for (uint i = gl_LocalInvocationID.x; i < n; i += 4u * step) {
        take(x[base + i], lo, hi);
        if (i + step < n) take(x[base + i + step], lo, hi);
        if (i + 2u * step < n) take(x[base + i + 2u * step], lo, hi);
        if (i + 3u * step < n) take(x[base + i + 3u * step], lo, hi);
    }
    workgroup_range(lo, hi);
    if (gl_LocalInvocationID.x == 0u) {
        if (pc.symmetric != 0u) {
            const float m = lo > hi ? 0.0 : max(-lo, hi);
            lo = -m;
            hi = m;
        }
        ranges[2u * tile] = lo;
        ranges[2u * tile + 1u] = hi;
    }
}
