// Shared by shaders/batch_norm2d_*.comp: the push constants (struct Push in
// src/ops/batch_norm2d.cpp), where channel c's elements lie in x (N, C, H, W),
// how the two-stage reductions chunk a channel, and the statistics epilogue.
#include "common.glsl"

layout(push_constant) uniform BatchNorm2dPush {
    uint n, c, hw;
    uint m;         // N * H * W: the elements of one channel
    uint chunks;    // partial reductions per channel (two-stage path)
    uint chunk_len; // ceil(m / chunks)
    float eps, momentum;
} pc;

// Index in x of element j in [0, m) of channel c, j = image * hw + pixel.
// Flat j (not a loop over images) keeps every lane busy when hw is small.
uint channel_element(uint c, uint j) {
    const uint img = j / pc.hw;
    return (img * pc.c + c) * pc.hw + (j - img * pc.hw);
}

// Channel of element i of an (N, C, H, W) tensor.
uint channel_of(uint i) { return (i / pc.hw) % pc.c; }

// Elements [begin, end) of a channel in chunk p; trailing chunks may be empty.
uvec2 chunk_range(uint p) {
    const uint begin = min(p * pc.chunk_len, pc.m);
    return uvec2(begin, min(begin + pc.chunk_len, pc.m));
}

#ifdef BATCH_NORM2D_STATS_OUTPUTS
layout(std430, set = 0, binding = 1) writeonly buffer SaveMean { float save_mean[]; };     // (C)
layout(std430, set = 0, binding = 2) writeonly buffer SaveInvstd { float save_invstd[]; }; // (C)
layout(std430, set = 0, binding = 3) buffer RunningMean { float running_mean[]; };         // (C), in place
layout(std430, set = 0, binding = 4) buffer RunningVar { float running_var[]; };           // (C), in place

// m2: the channel's sum of squared deviations from its mean. The batch
// normalises with the biased variance m2 / m; the running estimate takes the
// unbiased m2 / (m - 1), as torch.
void store_statistics(uint c, float mean, float m2) {
    save_mean[c] = mean;
    save_invstd[c] = 1.0 / sqrt(m2 / float(pc.m) + pc.eps);
    running_mean[c] = (1.0 - pc.momentum) * running_mean[c] + pc.momentum * mean;
    running_var[c] = (1.0 - pc.momentum) * running_var[c] + pc.momentum * (m2 / float(pc.m - 1u));
}
#endif
