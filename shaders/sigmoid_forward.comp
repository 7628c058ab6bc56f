// y = 1 / (1 + exp(-x)), elementwise. Writes (=) y. exp overflows to +inf for
// x < -88, and 1 / inf = 0, the right limit; no clamp needed. NaN is passed
// through explicitly: without float controls Vulkan leaves exp(NaN)
// undefined, and SwiftShader's gives a finite value (sigmoid(NaN) was 0).
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (n)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (n)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) {
        float v = x[i];
        y[i] = isnan(v) ? v : 1.0 / (1.0 + exp(-v));
    }
}
