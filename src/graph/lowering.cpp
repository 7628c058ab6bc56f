// Runs a node through its op's OpDef (see lowering.h, op_def.h).
#include "vkcnn/graph/lowering.h"

#include "vkcnn/graph/op_def.h"

namespace vkcnn::graph {

GpuLowering lower_for_gpu(const Graph& g, const Node& n, const GemmTuning& tuning) {
    const OpDef& def = op_def(n.op);
    return def.view ? GpuLowering{} : def.gpu(g, n, tuning);
}

void run_on_cpu(const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
    const OpDef& def = op_def(n.op);
    if (!def.view) def.cpu(g, n, pool, in, out);
}

} // namespace vkcnn::graph
