// Shared by the colormap shaders (src/ops/colormap.h): finite and NaN tests on
// the bits (Vulkan lets a compiler assume no NaN or inf, so isnan / isinf may
// fold away) and the workgroup's (min, max) tree. Needs a 1-D workgroup whose
// gl_WorkGroupSize.x is a power of two, called from uniform control flow.

const float kColormapFltMax = 3.40282347e38; // FLT_MAX: the empty range is (FLT_MAX, -FLT_MAX)

bool colormap_finite(float v) { return (floatBitsToUint(v) & 0x7f800000u) != 0x7f800000u; }
bool colormap_nan(float v) { return (floatBitsToUint(v) & 0x7fffffffu) > 0x7f800000u; }

shared float colormap_lo[gl_WorkGroupSize.x];
shared float colormap_hi[gl_WorkGroupSize.x];

// (min lo, max hi) over the workgroup, pairs (t, t + s) for s = size/2, ..., 1.
// Minimum and maximum of finite values do not depend on the order; the tree is
// fixed anyway.
void workgroup_range(inout float lo, inout float hi) {
    const uint t = gl_LocalInvocationID.x;
    colormap_lo[t] = lo;
    colormap_hi[t] = hi;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
        if (t < s) {
            const float l = colormap_lo[t + s], h = colormap_hi[t + s];
            if (l < colormap_lo[t]) colormap_lo[t] = l;
            if (h > colormap_hi[t]) colormap_hi[t] = h;
        }
        barrier();
    }
    lo = colormap_lo[0];
    hi = colormap_hi[0];
    barrier(); // everyone has read the result before the scratch is reused
}
