// First pass of the all-element sum: workgroup g writes (=) partials[g], the
// sum of x[i] over its invocations' grid-stride elements, in a fixed order.
// reduce_finish.comp then sums the partials.
#version 450
#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };               // (n)
layout(std430, set = 0, binding = 1) writeonly buffer Partials { float partials[]; }; // (groups)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    float s = 0.0;
    FOR_EACH_ELEMENT(i, pc.n) s += x[i];
    s = workgroup_sum(s);
    if (gl_LocalInvocationID.x == 0u) partials[gl_WorkGroupID.x] = s;
}
