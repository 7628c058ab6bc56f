// y = tanh(x), elementwise. Writes (=) y. Vulkan defines tanh's precision via
// sinh/cosh, which overflow to inf / inf = NaN on some drivers for large |x|;
// float tanh is exactly +-1 beyond |x| = 9.02, so clamping there changes nothing
// else. NaN is passed through explicitly (clamp of NaN is undefined).
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (n)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (n)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) {
        float v = x[i];
        y[i] = isnan(v) ? v : tanh(clamp(v, -10.0, 10.0));
    }
}
