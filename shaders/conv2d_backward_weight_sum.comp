// Second pass of the split conv2d backward weight (see
// conv2d_backward_weight.comp): dw[i] = the sum of partials[p][i] over the
// chunks p = 0, 1, ... in that order, one invocation per element (grid-stride
// beyond the grid): the same bits every run, no atomics. Writes (=) dw.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Partials { float partials[]; }; // (chunks, Cout, Cin/groups, kH, kW)
layout(std430, set = 0, binding = 1) writeonly buffer DW { float dw[]; };          // (Cout, Cin/groups, kH, kW)
layout(push_constant) uniform Push {
    uint n;      // elements of dw
    uint chunks;
} pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) {
        float s = 0.0;
        for (uint p = 0u; p < pc.chunks; ++p) s += partials[p * pc.n + i];
        dw[i] = s;
    }
}
