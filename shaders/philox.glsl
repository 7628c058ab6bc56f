// Philox4x32-10 in GLSL, bit for bit the rounds of src/ops/philox.h (the CPU
// backend draws the same dropout masks). umulExtended gives the 32x32->64
// products the rounds need.

uvec4 philox4x32_10(uvec4 ctr, uvec2 key) {
    const uint M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
        uint hi0, lo0, hi1, lo1;
        umulExtended(M0, ctr.x, hi0, lo0);
        umulExtended(M1, ctr.z, hi1, lo1);
        ctr = uvec4(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
        key += uvec2(W0, W1);
    }
    return ctr;
}
