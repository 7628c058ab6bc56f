// The one place where a device's reported features are overridden and its
// tuning is chosen, keyed by vendor, device and driver IDs. Kernels read
// these settings; they never test vendor IDs themselves.
#pragma once

#include "vkcnn/vulkan/device_info.h"

#include <string>
#include <vector>

namespace vkcnn::vulkan {

struct Quirks {
    // Optional features kernels may use (already ANDed with what the device reports).
    bool subgroup_arithmetic = false;
    bool storage_buffer_16bit = false;
    // Matrix-product tiling: shared-memory tiles pay off on GPUs; on lavapipe
    // a 512^3 product ran at 2.4 GFLOP/s with 64x64 shared tiles but 11.7 with
    // register blocking only (4x8 outputs per invocation, vec4 loads).
    bool gemm_shared_memory_tiles = true;
    uint32_t gemm_tile_m = 64, gemm_tile_n = 64; // outputs per workgroup
    std::vector<std::string> applied; // names of the table rows that matched, for `vkcnn info`
};

// Table rows that match `device`, then $VKCNN_DISABLE_FEATURES
// ("subgroup,16bit", to test the portable paths on any device).
Quirks quirks_for(const DeviceInfo& device, const char* disable_features_env);

} // namespace vkcnn::vulkan
