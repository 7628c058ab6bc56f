// conv2d backward bias: db[c] = sum over N, OH, OW of dy[n, c, oh, ow]. One
// workgroup per channel (grid-stride beyond the grid): strided partial sums,
// then a tree in shared memory, in a fixed order. Writes (=) db.
#version 450
#include "conv2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };  // (N, Cout, OH, OW)
layout(std430, set = 0, binding = 1) writeonly buffer DB { float db[]; }; // (Cout)

shared float partial[gl_WorkGroupSize.x]; // the workgroup size is a power of two

void main() {
    const uint lane = gl_LocalInvocationID.x, ohw = uint(pc.oh * pc.ow);
    for (uint c = gl_WorkGroupID.x; c < uint(pc.c_out); c += gl_NumWorkGroups.x) {
        float sum = 0.0;
        for (uint img = 0; img < uint(pc.n); ++img) {
            const uint base = (img * uint(pc.c_out) + c) * ohw;
            // Strided by the workgroup, UNROLL per loop step (see conv2d_common.glsl).
            for (uint p0 = lane; p0 < ohw; p0 += UNROLL * gl_WorkGroupSize.x) {
                [[unroll]] for (uint u = 0; u < UNROLL; ++u) {
                    const uint p = p0 + u * gl_WorkGroupSize.x;
                    if (p < ohw) sum += dy[base + p];
                }
            }
        }
        partial[lane] = sum;
        for (uint half_size = gl_WorkGroupSize.x / 2; half_size > 0; half_size /= 2) {
            barrier();
            if (lane < half_size) partial[lane] += partial[lane + half_size];
        }
        barrier();
        if (lane == 0) db[c] = partial[0];
        barrier(); // partial[0] is read before the next channel overwrites it
    }
}
