// concat backward, one launch per input: dx_i (N, C_i, H, W) is input i's
// channel slice [offset, offset + C_i) of dy (N, C_out, H, W). Writes (=) dx_i.
#version 450
#include "concat_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; }; // (N, C_out, H, W)
layout(std430, set = 0, binding = 1) writeonly buffer DX { float dx[]; }; // (N, C_i, H, W)

void main() {
    FOR_EACH_ELEMENT(i, pc.count) dx[i] = dy[y_index(i)];
}
