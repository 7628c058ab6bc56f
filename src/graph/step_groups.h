// Optimizer steps that one dispatch takes together. The trainer appends one
// step node per parameter; on a GPU each would be a dispatch of a few
// thousand elements, so consecutive steps of the same kind (same op,
// attributes and step scalars) become one multi-tensor launch
// (ops::sgd_step_multi_launch, adam_step_multi_launch) that reads a table of
// where each tensor's operands lie. The arithmetic per element is the same,
// so results are bitwise those of one dispatch per node.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/graph/compile.h"

#include <vector>

namespace vkcnn::graph {

struct StepGroup {
    uint32_t first = 0, last = 0; // positions in Plan::order, consecutive, first < last
    KernelLaunch launch;          // over all the nodes' elements; arguments as below
    size_t elements = 0;          // the parameters' elements together
    // Per node, its operands in the launch's argument order: p, grad, then
    // the momentum buffer or Adam's m, v. Then the scalars, then the table.
    std::vector<std::vector<ValueId>> operands;
    ValueId scalars = 0;
};

// Runs of two or more consecutive optimizer steps in `plan` that fit one
// launch: same op and attributes, the same scalars, and each operand in the
// same storage (parameters and state persistent, gradients transient) so
// that it lies in one buffer.
std::vector<StepGroup> optimizer_step_groups(const Plan& plan);

} // namespace vkcnn::graph
