// Runs a node through its op's OpDef (see lowering.h, op_def.h).
#include "vkcnn/graph/lowering.h"

#include "vkcnn/core/error.h"
#include "vkcnn/graph/op_def.h"

namespace vkcnn::graph {

namespace {

// The kernels index `in` and `out` by position and write `out` in full: a
// span missing or of another size than its value is an error, not a write
// past a buffer.
void check_spans(const Graph& g, const Node& n, const OpDef& def, CpuInputs in, CpuOutputs out) {
    check(in.size() == n.inputs.size() && out.size() == def.updates + n.outputs.size(), "run_on_cpu: node '", n.name,
          "' (", op_name(n.op), ") has ", n.inputs.size(), " inputs and ", def.updates + n.outputs.size(),
          " outputs (updated inputs first), given ", in.size(), " and ", out.size(), " spans");
    const auto expect = [&](const char* what, size_t k, ValueId v, size_t got) {
        const Value& value = g.value(v);
        check(got == static_cast<size_t>(value.shape.elements()), "run_on_cpu: node '", n.name, "' (", op_name(n.op),
              "): ", what, " ", k, " '", value.name, "' ", value.shape.str(), " has ", value.shape.elements(),
              " elements, its span ", got);
    };
    for (size_t k = 0; k < in.size(); ++k) expect("input", k, n.inputs[k], in[k].size());
    for (size_t k = 0; k < out.size(); ++k)
        expect("output", k, k < def.updates ? n.inputs[k] : n.outputs[k - def.updates], out[k].size());
}

} // namespace

GpuLowering lower_for_gpu(const Graph& g, const Node& n, const GemmTuning& tuning) {
    const OpDef& def = op_def(n.op);
    return def.view ? GpuLowering{} : def.gpu(g, n, tuning);
}

void run_on_cpu(const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
    const OpDef& def = op_def(n.op);
    if (def.view) return;
    check_spans(g, n, def, in, out);
    def.cpu(g, n, pool, in, out);
}

} // namespace vkcnn::graph
