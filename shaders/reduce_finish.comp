// Second pass of the all-element sum/mean (one workgroup): out[0] = (sum of
// partials) / divisor, divisor 1 for a sum, n for a mean. Writes (=) out.
#version 450
#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Partials { float partials[]; }; // (count)
layout(std430, set = 0, binding = 1) writeonly buffer Out { float result[]; };      // (1)
layout(push_constant) uniform Push { uint count; float divisor; } pc;

void main() {
    float s = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < pc.count; i += gl_WorkGroupSize.x) s += partials[i];
    s = workgroup_sum(s);
    if (gl_LocalInvocationID.x == 0u) result[0] = pc.divisor == 1.0 ? s : s / pc.divisor;
}
