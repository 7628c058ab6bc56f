// count[0] = number of rows with pred == target (one workgroup; integer sums,
// so any order gives the same count). Writes (=) count.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Pred { int pred[]; };       // (rows)
layout(std430, set = 0, binding = 1) readonly buffer Targets { int targets[]; }; // (rows)
layout(std430, set = 0, binding = 2) writeonly buffer Count { uint count[]; };   // (1)
layout(push_constant) uniform Push { uint rows; } pc;

shared uint partial[gl_WorkGroupSize.x];

void main() {
    const uint t = gl_LocalInvocationID.x;
    uint c = 0u;
    for (uint i = t; i < pc.rows; i += gl_WorkGroupSize.x) c += pred[i] == targets[i] ? 1u : 0u;
    partial[t] = c;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
        if (t < s) partial[t] += partial[t + s];
        barrier();
    }
    if (t == 0u) count[0] = partial[0];
}
