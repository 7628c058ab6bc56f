// First pass of mse_loss: workgroup g writes (=) partials[g], the sum of
// (x - target)^2 over its grid-stride elements, in a fixed order; the same
// layout as reduce_partials.comp, so reduce_finish.comp (divisor n) ends it.
#version 450
#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };               // (n)
layout(std430, set = 0, binding = 1) readonly buffer T { float target[]; };          // (n)
layout(std430, set = 0, binding = 2) writeonly buffer Partials { float partials[]; }; // (groups)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    float s = 0.0;
    FOR_EACH_ELEMENT(i, pc.n) {
        float d = x[i] - target[i];
        s += d * d;
    }
    s = workgroup_sum(s);
    if (gl_LocalInvocationID.x == 0u) partials[gl_WorkGroupID.x] = s;
}
