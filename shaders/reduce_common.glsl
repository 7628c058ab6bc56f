// Workgroup-wide reductions in a fixed order (a shared-memory tree; no atomics,
// no subgroup operations), so every run gives the same bits. Needs
// gl_WorkGroupSize.x to be a power of two and must be called from uniform
// control flow. Shared by the reduce, softmax, cross_entropy and mse_loss shaders.

shared float reduce_scratch[gl_WorkGroupSize.x];

// a or b, whichever is larger; NaN wins, so a NaN row gives NaN (as PyTorch's max).
float nan_max(float a, float b) { return (a > b || isnan(a)) ? a : b; }

// The sum of v over the workgroup: pairs (t, t + s) for s = size/2, size/4, ..., 1.
float workgroup_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    reduce_scratch[t] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
        if (t < s) reduce_scratch[t] += reduce_scratch[t + s];
        barrier();
    }
    float r = reduce_scratch[0];
    barrier(); // everyone has read the result before the scratch is reused
    return r;
}

float workgroup_max(float v) {
    uint t = gl_LocalInvocationID.x;
    reduce_scratch[t] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
        if (t < s) reduce_scratch[t] = nan_max(reduce_scratch[t], reduce_scratch[t + s]);
        barrier();
    }
    float r = reduce_scratch[0];
    barrier();
    return r;
}
