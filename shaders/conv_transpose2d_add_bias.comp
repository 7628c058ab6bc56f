// conv_transpose2d's bias: y[n, c, p] += b[c] over every (n, p), after the
// conv2d_backward_data pass has written (=) y. Accumulates (+=) into y.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer B { float b[]; }; // (Cout)
layout(std430, set = 0, binding = 1) buffer Y { float y[]; };          // (N, Cout, OH, OW)
layout(push_constant) uniform Push {
    uint n;     // elements of y
    uint c_out; // channels
    uint hw;    // OH * OW
} pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) y[i] += b[i / pc.hw % pc.c_out];
}
