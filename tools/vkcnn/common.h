// What several subcommands share: the datasets by name and the device for --backend.
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/vulkan/device.h"

#include <memory>
#include <string>

namespace vkcnn::cli {

// "mnist" or "fashion-mnist" under `dir` (dir/mnist, dir/fashion-mnist).
data::Dataset load_dataset(const std::string& dir, const std::string& name, data::Split split);

// The device for --backend vulkan (VKCNN_DEVICE chooses among several),
// printing its name; nullptr for --backend cpu.
std::unique_ptr<Device> open_device(const std::string& backend);

} // namespace vkcnn::cli
