// colormap pass 1b (per_tile false): the whole tensor's range from the tiles'
// (min of the lows, max of the highs; empty tiles are neutral), one workgroup,
// into the entry after the tiles'. Reads the tiles' entries, writes (=) the last.
#version 450
#include "common.glsl"
#include "colormap.glsl"

layout(std430, set = 0, binding = 0) buffer Ranges { float ranges[]; }; // (tiles + 1, 2)
layout(push_constant) uniform Push { uint tiles; } pc;

void main() {
    float lo = kColormapFltMax, hi = -kColormapFltMax;
    // At most 2^22 / 256 = 16384 iterations.
    for (uint i = gl_LocalInvocationID.x; i < pc.tiles; i += gl_WorkGroupSize.x) {
        const float l = ranges[2u * i], h = ranges[2u * i + 1u];
        if (l < lo) lo = l;
        if (h > hi) hi = h;
    }
    workgroup_range(lo, hi);
    if (gl_LocalInvocationID.x == 0u) {
        ranges[2u * pc.tiles] = lo;
        ranges[2u * pc.tiles + 1u] = hi;
    }
}
