// Shared by every vkcnn compute shader: the workgroup size comes from
// specialization constants 0..2, so each device gets its own without new
// source (see KernelLaunch::workgroup).
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

// Grid-stride loop bounds for 1-D elementwise kernels.
#define FOR_EACH_ELEMENT(i, n) \
    for (uint i = gl_GlobalInvocationID.x; i < (n); i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
