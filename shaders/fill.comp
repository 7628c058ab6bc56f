// y = value everywhere. Writes (=) y.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer Y { float y[]; }; // (n)
layout(push_constant) uniform Push { uint n; float value; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) y[i] = pc.value;
}
