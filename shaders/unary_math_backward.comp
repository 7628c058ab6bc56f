// The unary math family's backward (ops/unary_math.h): dx from dy and the
// saved forward input x (abs, clamp, square, log) or output y (sqrt, exp),
// unread by scale and sign; PyTorch's formulas. Writes (=) dx.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer S { float s[]; };    // (n) saved x or y
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };  // (n)
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; }; // (n)
layout(push_constant) uniform Push { uint n; uint kind; float a; float b; } pc;

const uint SCALE = 0u, ABS = 1u, SIGN = 2u, CLAMP = 3u, SQUARE = 4u, SQRT = 5u, EXP = 6u, LOG = 7u;

float gradient(uint i) {
    switch (pc.kind) {
    case SCALE: return pc.a * dy[i];
    case ABS: return (s[i] > 0.0 ? 1.0 : (s[i] < 0.0 ? -1.0 : 0.0)) * dy[i];
    case SIGN: return 0.0;
    case CLAMP: return s[i] >= pc.a && s[i] <= pc.b ? dy[i] : 0.0; // inclusive, as torch.clamp
    case SQUARE: return 2.0 * s[i] * dy[i];
    case SQRT: return dy[i] / (2.0 * s[i]);
    case EXP: return dy[i] * s[i];
    default: return dy[i] / s[i];
    }
}

void main() {
    FOR_EACH_ELEMENT(i, pc.n) dx[i] = gradient(i);
}
