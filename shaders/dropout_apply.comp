// out = in * m, m = kept ? scale : 0, with the keep bit redrawn from Philox
// (see src/ops/dropout.h for the rule): dropout forward (x -> y) and backward
// (dy -> dx) alike. Writes (=) out. Each invocation draws one Philox block,
// counter {b, 0, 0, 0}, for elements 4b .. 4b + 3.
#version 450
#include "common.glsl"
#include "philox.glsl"

layout(std430, set = 0, binding = 0) readonly buffer In { float src[]; };   // (n)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float dst[]; }; // (n)
layout(push_constant) uniform Push {
    uint n;
    uint threshold; // keep iff (bits >> 8) >= threshold
    float scale;    // 1 / (1 - p)
    uint seed;      // PhiloxKey
    uint step;
} pc;

void main() {
    uint blocks = (pc.n >> 2) + uint((pc.n & 3u) != 0u); // ceil(n / 4) without overflow
    FOR_EACH_ELEMENT(b, blocks) {
        uvec4 bits = philox4x32_10(uvec4(b, 0u, 0u, 0u), uvec2(pc.seed, pc.step));
        for (uint k = 0u; k < 4u; ++k) {
            uint i = 4u * b + k;
            if (i < pc.n) dst[i] = src[i] * ((bits[k] >> 8) >= pc.threshold ? pc.scale : 0.0);
        }
    }
}
