// out = in * m, m = kept ? scale : 0, with the keep bit redrawn from Philox
// (see src/ops/dropout.h for the rule): dropout forward (x -> y) and backward
// (dy -> dx) alike. Writes (=) out. Each invocation draws one Philox block,
// counter {b, stream, 0, 0}, for elements 4b .. 4b + 3; the key {seed, step}
// is read from a buffer the host rewrites every step.
#version 450
#include "common.glsl"
#include "philox.glsl"

layout(std430, set = 0, binding = 0) readonly buffer In { float src[]; };   // (n)
layout(std430, set = 0, binding = 1) readonly buffer Key { uvec2 key; };   // PhiloxKey {seed, step}
layout(std430, set = 0, binding = 2) writeonly buffer Out { float dst[]; }; // (n)
layout(push_constant) uniform Push {
    uint n;
    uint threshold; // keep iff (bits >> 8) >= threshold
    float scale;    // 1 / (1 - p)
    uint stream;    // the layer's Philox counter word 1
} pc;

void main() {
    uint blocks = (pc.n >> 2) + uint((pc.n & 3u) != 0u); // ceil(n / 4) without overflow
    FOR_EACH_ELEMENT(b, blocks) {
        uvec4 bits = philox4x32_10(uvec4(b, pc.stream, 0u, 0u), key);
        for (uint k = 0u; k < 4u; ++k) {
            uint i = 4u * b + k;
            if (i < pc.n) dst[i] = src[i] * ((bits[k] >> 8) >= pc.threshold ? pc.scale : 0.0);
        }
    }
}
