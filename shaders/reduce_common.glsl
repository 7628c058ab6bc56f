// Workgroup-wide reductions in a fixed order (no atomics), so every run on a
// device gives the same bits. Needs a 1-D workgroup whose gl_WorkGroupSize.x
// is a power of two and must be called from uniform control flow. Shared by
// the reduce, softmax, cross_entropy, mse_loss and batch_norm2d shaders.
//
// Two forms of workgroup_sum: the portable shared-memory tree, and, where a
// shader is compiled with -DVKCNN_SUBGROUP (its "<name>_subgroup" variant,
// shaders/CMakeLists.txt), one built on subgroup arithmetic, which the launch
// picks only when the device has it (GemmTuning::subgroup_reductions): a
// module that declares the capability must not reach a device without it, so
// it is a second module, not a specialization constant.
#ifdef VKCNN_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

shared float reduce_scratch[gl_WorkGroupSize.x];

// a or b, whichever is larger; NaN wins, so a NaN row gives NaN (as PyTorch's max).
float nan_max(float a, float b) { return (a > b || isnan(a)) ? a : b; }

#ifdef VKCNN_SUBGROUP
shared float reduce_total;

// The sum of v over the workgroup: subgroupAdd in each subgroup, the
// subgroup sums stored by subgroup index, then the first subgroup adds them
// (lane l takes entries l, l + size, ... in order) with one more subgroupAdd.
// The subgroup size and count are read (gl_SubgroupSize, gl_NumSubgroups),
// never assumed: lavapipe's is 4 or 8, NVIDIA's 32, AMD's 64, and a partial
// last subgroup is fine. The order inside subgroupAdd is the hardware's, but
// fixed for a device and pipeline, so runs repeat bit for bit. Three barriers
// instead of the tree's log2(size) + 2.
float workgroup_sum(float v) {
    const float part = subgroupAdd(v);
    if (subgroupElect()) reduce_scratch[gl_SubgroupID] = part;
    barrier();
    if (gl_SubgroupID == 0u) {
        float s = 0.0;
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) s += reduce_scratch[i];
        s = subgroupAdd(s);
        if (subgroupElect()) reduce_total = s;
    }
    barrier();
    const float r = reduce_total;
    barrier(); // everyone has read the result before the scratch is reused
    return r;
}
#else
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
#endif

// The tree in both forms: subgroupMax leaves NaN handling open, and nan_max must win.
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
