// pred[row] = argmax of each row of (rows, cols), torch.argmax's choice: the
// first NaN if any, else the first maximum. One workgroup per row; candidates
// are combined under a total order (NaN highest, then value, then the smaller
// index), so the tree's shape cannot change the answer. Writes (=) pred.
#version 450
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };      // (rows, cols)
layout(std430, set = 0, binding = 1) writeonly buffer Pred { int pred[]; }; // (rows)
layout(push_constant) uniform Push { uint rows; uint cols; } pc;

shared float best_value[gl_WorkGroupSize.x];
shared uint best_index[gl_WorkGroupSize.x];

// Does (vb, ib) beat (va, ia)?
bool beats(float vb, uint ib, float va, uint ia) {
    bool nb = isnan(vb), na = isnan(va);
    if (nb != na) return nb;
    if (nb || vb == va) return ib < ia;
    return vb > va;
}

void main() {
    const uint t = gl_LocalInvocationID.x, step = gl_WorkGroupSize.x;
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        const uint base = row * pc.cols;
        float v = uintBitsToFloat(0xff800000u); // -inf, with an index that loses every tie
        uint idx = 0xffffffffu;
        for (uint j = t; j < pc.cols; j += step) {
            if (beats(x[base + j], j, v, idx)) {
                v = x[base + j];
                idx = j;
            }
        }
        best_value[t] = v;
        best_index[t] = idx;
        barrier();
        for (uint s = step / 2u; s > 0u; s >>= 1) {
            if (t < s && beats(best_value[t + s], best_index[t + s], best_value[t], best_index[t])) {
                best_value[t] = best_value[t + s];
                best_index[t] = best_index[t + s];
            }
            barrier();
        }
        if (t == 0u) pred[row] = int(best_index[0]);
        barrier(); // the result is read before the next row overwrites the scratch
    }
}
