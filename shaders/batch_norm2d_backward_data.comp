// Training backward, dx elementwise from the channel sums (dweight, dbias):
// dx = (dy - dbias / m - (x - mean) * dweight * invstd / m) * weight * invstd,
// torch's form of weight * invstd / m * (m dy - dbias - xhat dweight).
// Writes (=) dx.
#version 450
#include "batch_norm2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };                   // (N, C, H, W)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };                 // (N, C, H, W)
layout(std430, set = 0, binding = 2) readonly buffer SaveMean { float save_mean[]; };     // (C)
layout(std430, set = 0, binding = 3) readonly buffer SaveInvstd { float save_invstd[]; }; // (C)
layout(std430, set = 0, binding = 4) readonly buffer Weight { float weight[]; };         // (C)
layout(std430, set = 0, binding = 5) readonly buffer DWeight { float dweight[]; };       // (C)
layout(std430, set = 0, binding = 6) readonly buffer DBias { float dbias[]; };           // (C)
layout(std430, set = 0, binding = 7) writeonly buffer DX { float dx[]; };                // (N, C, H, W)

void main() {
    const float inv_m = 1.0 / float(pc.m);
    FOR_EACH_ELEMENT(i, pc.m * pc.c) {
        const uint c = channel_of(i);
        const float invstd = save_invstd[c];
        const float slope = dweight[c] * invstd * inv_m;
        dx[i] = (dy[i] - dbias[c] * inv_m - (x[i] - save_mean[c]) * slope) * (weight[c] * invstd);
    }
}
