// A rough cost of each node, used to split a long step into several
// submissions (see vulkan::RecordOptions::max_segment_work). Matrix products
// count their multiply-adds; everything else the elements it reads and
// writes, since those ops are bound by memory traffic.
#pragma once

#include "vkcnn/graph/graph.h"

namespace vkcnn::graph {

// Estimated FLOPs of node `n` (forward or backward).
double estimated_flops(const Graph& g, const Node& n);

} // namespace vkcnn::graph
