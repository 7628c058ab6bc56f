// Runs one KernelLaunch on a Device the way kernel tests want it: every
// argument in its own buffer between guard bands, write-only arguments
// pre-filled with NaN, and the guards checked after the dispatch.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/vulkan/device.h"

#include <vector>

namespace vkcnn::test {

// args[i] holds the initial contents of argument i (for Access::Write
// arguments only its size matters: it is uploaded as NaN). Returns every
// argument's contents after the kernel ran.
std::vector<std::vector<float>> run_kernel(Device& device, const KernelLaunch& launch,
                                           std::vector<std::vector<float>> args);

} // namespace vkcnn::test
