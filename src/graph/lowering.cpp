// The lowering table: graph ops to op kernels on each backend (see lowering.h).
#include "vkcnn/graph/lowering.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/binary.h"
#include "vkcnn/ops/fill.h"
#include "vkcnn/ops/relu.h"

#include <array>

namespace vkcnn::graph {

namespace {

using In = std::span<const std::span<const float>>;
using Out = std::span<const std::span<float>>;

struct OpLowering {
    GpuLowering (*gpu)(const Graph& g, const Node& n, const GemmTuning& tuning);
    void (*cpu)(const Graph& g, const Node& n, cpu::ThreadPool& pool, In in, Out out);
};

size_t elements(const Graph& g, ValueId v) { return static_cast<size_t>(g.value(v).shape.elements()); }

// One launch taking the node's inputs, then its outputs.
GpuLowering single(KernelLaunch launch, const Node& n) {
    LoweredKernel k{std::move(launch), {}};
    for (uint32_t i = 0; i < n.inputs.size(); ++i) k.args.push_back({ArgRef::Input, i});
    for (uint32_t i = 0; i < n.outputs.size(); ++i) k.args.push_back({ArgRef::Output, i});
    return {{}, {std::move(k)}};
}

const std::array<OpLowering, kOpCount> kTable = {{
    {// fill
     [](const Graph& g, const Node& n, const GemmTuning&) {
         return single(ops::fill_launch(elements(g, n.outputs[0]), std::get<FillAttrs>(n.attrs).value), n);
     },
     [](const Graph&, const Node& n, cpu::ThreadPool& pool, In, Out out) {
         ops::fill_cpu(pool, out[0], std::get<FillAttrs>(n.attrs).value);
     }},
    {// add
     [](const Graph& g, const Node& n, const GemmTuning&) {
         return single(ops::add_forward_launch(elements(g, n.outputs[0])), n);
     },
     [](const Graph&, const Node&, cpu::ThreadPool& pool, In in, Out out) {
         ops::add_forward_cpu(pool, in[0], in[1], out[0]);
     }},
    {// relu
     [](const Graph& g, const Node& n, const GemmTuning&) {
         return single(ops::relu_forward_launch(elements(g, n.outputs[0])), n);
     },
     [](const Graph&, const Node&, cpu::ThreadPool& pool, In in, Out out) { ops::relu_forward_cpu(pool, in[0], out[0]); }},
    {// relu_backward (x, dy) -> dx
     [](const Graph& g, const Node& n, const GemmTuning&) {
         return single(ops::relu_backward_launch(elements(g, n.outputs[0])), n);
     },
     [](const Graph&, const Node&, cpu::ThreadPool& pool, In in, Out out) {
         ops::relu_backward_cpu(pool, in[0], in[1], out[0]);
     }},
}};

} // namespace

GpuLowering lower_for_gpu(const Graph& g, const Node& n, const GemmTuning& tuning) {
    return kTable[static_cast<size_t>(n.op)].gpu(g, n, tuning);
}

void run_on_cpu(const Graph& g, const Node& n, cpu::ThreadPool& pool, In in, Out out) {
    kTable[static_cast<size_t>(n.op)].cpu(g, n, pool, in, out);
}

} // namespace vkcnn::graph
