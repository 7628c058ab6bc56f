// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), the counter-based generator behind dropout masks. The same rounds
// live in shaders/philox.glsl, so CPU and GPU draw identical bits.
#pragma once

#include <array>
#include <cstdint>

namespace vkcnn::ops {

// What a random draw is keyed by. It changes every step, so on the GPU it is
// read from a small buffer the host writes before each run (two uint32).
struct PhiloxKey {
    uint32_t seed = 0;
    uint32_t step = 0; // training step (or any per-call stream id)
};

// The 4 x 32-bit block for counter ctr under key {k0, k1}: 10 rounds, the key
// bumped by the Weyl constants between rounds, as Random123's philox4x32_R(10).
constexpr std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
    constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = uint64_t{kM0} * ctr[0], p1 = uint64_t{kM1} * ctr[2];
        const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0), hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
        ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
        key = {key[0] + kW0, key[1] + kW1};
    }
    return ctr;
}

// The 32 random bits of element i of `stream`: block i / 4 (counter
// {i / 4, stream, 0, 0}), word i % 4, keyed by {seed, step}. One block serves
// four neighbours, which is how the shader draws them; streams keep two
// dropout layers of one step from drawing the same mask.
inline uint32_t philox_bits(PhiloxKey key, uint32_t i, uint32_t stream = 0) {
    return philox4x32_10({i >> 2, stream, 0, 0}, {key.seed, key.step})[i & 3];
}

} // namespace vkcnn::ops
