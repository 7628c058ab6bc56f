// da = dy * b, db = dy * a for y = a * b. Writes (=) da and db.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };    // (n) forward input
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };    // (n) forward input
layout(std430, set = 0, binding = 2) readonly buffer DY { float dy[]; };  // (n)
layout(std430, set = 0, binding = 3) writeonly buffer DA { float da[]; }; // (n)
layout(std430, set = 0, binding = 4) writeonly buffer DB { float db[]; }; // (n)
layout(push_constant) uniform Push { uint n; } pc;

void main() {
    FOR_EACH_ELEMENT(i, pc.n) {
        float g = dy[i];
        da[i] = g * b[i];
        db[i] = g * a[i];
    }
}
