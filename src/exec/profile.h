// Where a step's time goes: one row per node, slowest first, as the
// executors measure it (VulkanProgram with timestamps, CpuProgram with a
// clock) and `vkcnn profile` prints it.
#pragma once

#include "vkcnn/core/tensor.h"

#include <string>
#include <vector>

namespace vkcnn::exec {

struct NodeTime {
    std::string node; // the node's name
    std::string op;
    Shape shape;      // of its first output
    size_t dispatches = 0;
    double microseconds = 0;
    double share = 0; // of the step's total, 0..1
};

// Fills in the shares and sorts slowest first (ties by name).
std::vector<NodeTime> finish_profile(std::vector<NodeTime> rows);

// A fixed-width table: node, op, shape, dispatches, microseconds, share.
std::string format_profile(const std::vector<NodeTime>& rows);

} // namespace vkcnn::exec
