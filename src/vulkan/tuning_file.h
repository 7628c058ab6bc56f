// A device's measured GEMM tiling, kept beside the pipeline cache: `vkcnn
// tune` (exec/autotune.h) times the candidate tilings on the device and
// writes the fastest here; Device::create reads it back, so the tiling is the
// device's own measurement rather than a table row's guess. Keyed like the
// pipeline cache (vendor, device, driver version, pipeline-cache UUID): a
// driver update asks for a new measurement.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/vulkan/device_info.h"

#include <filesystem>
#include <optional>
#include <string_view>

namespace vkcnn::vulkan {

std::filesystem::path tuning_file(const std::filesystem::path& cache_dir, const DeviceInfo& device);

// One line: "shared_memory_tiles <0|1> tile_m <n> tile_n <n>". nullopt when
// the file does not exist; an error naming the file when it is malformed.
std::optional<GemmTuning> read_tuning(const std::filesystem::path& file);
// $VKCNN_GEMM_TILES, "registers:64x64" or "shared:32x64": a tiling forced on
// any device (over the table and the file), to run another device's path —
// the suite does so on SwiftShader, keeping the tiled path GPUs take covered.
// Throws an error naming the variable and the expected form when malformed.
GemmTuning parse_gemm_tiles(std::string_view text);
// Atomically (temp file, rename): a crash never leaves half a file.
void write_tuning(const std::filesystem::path& file, const GemmTuning& tuning);

} // namespace vkcnn::vulkan
