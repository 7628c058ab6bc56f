// The unary math family's forward, one kind per dispatch (push constant
// `kind`, ops::UnaryMath's values): y = a * x + b, |x|, sign, clamp(x, a, b),
// x * x, sqrt, exp, log. One pipeline for every kind. Writes (=) y.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (n)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (n)
layout(push_constant) uniform Push { uint n; uint kind; float a; float b; } pc;

const uint SCALE = 0u, ABS = 1u, SIGN = 2u, CLAMP = 3u, SQUARE = 4u, SQRT = 5u, EXP = 6u, LOG = 7u;

float apply(float v) {
    // `precise`: a * v + b stays a product and a sum, each rounded, as on the
    // CPU; a fused multiply-add would round once and differ.
    precise float scaled = pc.a * v + pc.b;
    switch (pc.kind) {
    case SCALE: return scaled;
    case ABS: return abs(v);
    // Comparisons, not sign() or clamp(): the CPU's expressions, and no
    // dependence on min/max's undefined NaN behaviour.
    case SIGN: return v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0);
    case CLAMP: return v < pc.a ? pc.a : (v > pc.b ? pc.b : v);
    case SQUARE: return v * v;
    case SQRT: return sqrt(v);
    case EXP: return exp(v);
    default: return log(v);
    }
}

void main() {
    FOR_EACH_ELEMENT(i, pc.n) y[i] = apply(x[i]);
}
