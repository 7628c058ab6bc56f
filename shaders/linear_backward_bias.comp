// db[o] = sum over n = 0..N-1 (in order) of dy[n][o]: linear's bias gradient,
// one invocation per output feature, deterministic. Writes (=) db, or
// accumulates (+=) with ACCUMULATE.
#version 450
#include "common.glsl"

layout(constant_id = 3) const bool ACCUMULATE = false;

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; }; // (N, out)
layout(std430, set = 0, binding = 1) buffer DB { float db[]; };          // (out)
layout(push_constant) uniform Push { uint batch, features; } pc;

void main() {
    FOR_EACH_ELEMENT(o, pc.features) {
        float sum = 0.0;
        for (uint n = 0; n < pc.batch; ++n) sum += dy[n * pc.features + o];
        db[o] = ACCUMULATE ? db[o] + sum : sum;
    }
}
