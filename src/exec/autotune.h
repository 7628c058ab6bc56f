// Choosing a device's GEMM tiling by measurement: each candidate tiling
// (register-blocked or shared-memory tiles, tile sizes) runs a ResNet-style
// 3x3 convolution in all three directions on the device, and the fastest
// wins. `vkcnn tune` runs this and saves the winner (vulkan/tuning_file.h),
// which every later Device on that GPU and driver picks up. The table in
// vulkan/quirks.cpp stays the default for devices never tuned.
#pragma once

#include "vkcnn/core/kernel_launch.h"

#include <vector>

namespace vkcnn {
class Device;
}

namespace vkcnn::exec {

struct TuneOptions {
    int64_t batch = 64; // of the (batch, 64, 14, 14) x 64x64x3x3 convolution timed
    int runs = 3;       // the best of these counts, after one warm-up run
};

struct TunedTiling {
    GemmTuning tuning;
    double milliseconds = 0; // forward + backward-data + backward-weight, best run
};

// Every candidate the device can run, fastest first.
std::vector<TunedTiling> measure_gemm_tilings(Device& device, const TuneOptions& options = {});

} // namespace vkcnn::exec
