// concat forward, one launch per input: copies x_i (N, C_i, H, W) into its
// channels [offset, offset + C_i) of y (N, C_out, H, W). Writes (=) that slice
// of y and nothing else.
#version 450
#include "concat_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };  // (N, C_i, H, W)
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; }; // (N, C_out, H, W)

void main() {
    FOR_EACH_ELEMENT(i, pc.count) y[y_index(i)] = x[i];
}
