// The subcommands of the vkcnn tool, one file each. Each returns the exit code.
#pragma once

#include <string>

namespace vkcnn::cli {

// Lists every Vulkan device with what vkcnn cares about, marks the one it would choose.
int info();

// Runs relu forward and backward on the chosen device and on the CPU backend and compares them.
int check(size_t elements, bool validation);

} // namespace vkcnn::cli
