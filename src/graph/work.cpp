// Cost estimates of nodes (see work.h).
#include "vkcnn/graph/work.h"

#include <algorithm>

namespace vkcnn::graph {

namespace {

double elements(const Graph& g, ValueId v) { return static_cast<double>(g.value(v).shape.elements()); }

} // namespace

double estimated_flops(const Graph& g, const Node& n) {
    double traffic = 0;
    for (ValueId v : n.inputs) traffic += elements(g, v);
    for (ValueId v : n.outputs) traffic += elements(g, v);
    // Products: inputs are (x, weight[, bias]) forward and (x, weight, dy)
    // backward; each output element of a product takes K multiply-adds, K
    // being the weight's elements per output channel. A backward node runs
    // one product per gradient it computes (the bias gradient is a sum).
    // conv_transpose2d's weight is (Cin, Cout/groups, kH, kW): each input
    // element takes weight elements / Cin multiply-adds.
    switch (n.op) {
    case Op::linear:
    case Op::conv2d: {
        const double k = elements(g, n.inputs[1]) / static_cast<double>(g.value(n.inputs[1]).shape[0]);
        return 2.0 * elements(g, n.outputs[0]) * k + traffic;
    }
    case Op::linear_backward:
    case Op::conv2d_backward: {
        const double k = elements(g, n.inputs[1]) / static_cast<double>(g.value(n.inputs[1]).shape[0]);
        const double products = static_cast<double>(std::min<size_t>(n.outputs.size(), 2));
        return 2.0 * elements(g, n.inputs[2]) * k * products + traffic;
    }
    case Op::conv_transpose2d:
    case Op::conv_transpose2d_backward: {
        const double k = elements(g, n.inputs[1]) / static_cast<double>(g.value(n.inputs[1]).shape[0]);
        const double products =
            n.op == Op::conv_transpose2d ? 1.0 : static_cast<double>(std::min<size_t>(n.outputs.size(), 2));
        return 2.0 * elements(g, n.inputs[0]) * k * products + traffic;
    }
    default:
        return traffic;
    }
}

} // namespace vkcnn::graph
