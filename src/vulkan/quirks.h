// The one place where a device's reported features are overridden and its
// tuning is chosen, keyed by vendor, device and driver IDs. Kernels read
// these settings; they never test vendor IDs themselves.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/vulkan/device_info.h"

#include <string>
#include <vector>

namespace vkcnn::vulkan {

struct Quirks {
    // Optional features kernels may use (already ANDed with what the device reports).
    bool subgroup_arithmetic = false;
    bool storage_buffer_16bit = false;
    GemmTuning gemm; // kernel tuning for this device: GEMM tiling; subgroup_reductions mirrors subgroup_arithmetic
    // Among usable devices of one type, the higher is chosen (device_choice.h),
    // and why, for `vkcnn info`.
    int preference = 0;
    std::string preference_reason;
    std::vector<std::string> applied; // names of the table rows that matched, for `vkcnn info`
};

// Table rows that match `device`, then $VKCNN_DISABLE_FEATURES
// ("subgroup,16bit", to test the portable paths on any device).
Quirks quirks_for(const DeviceInfo& device, const char* disable_features_env);

} // namespace vkcnn::vulkan
