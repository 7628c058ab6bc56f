// The table from op to OpDef, and helpers the op families share (see op_def.h).
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"

#include <array>

namespace vkcnn::graph {

const OpDef& op_def(Op op) {
    static const std::array<const OpDef*, kOpCount> table = {
#define VKCNN_OP_DEF_ADDRESS(name) &name##_def,
        VKCNN_GRAPH_OPS(VKCNN_OP_DEF_ADDRESS)
#undef VKCNN_OP_DEF_ADDRESS
    };
    check(static_cast<size_t>(op) < kOpCount, "op ", static_cast<unsigned>(op), " is not an op (the graph knows ",
          kOpCount, ": 0..", kOpCount - 1, ")");
    return *table[static_cast<size_t>(op)];
}

void wrong_attributes(const Attributes& want, const Attributes& got) {
    throw Error(cat("takes ", attributes_name(want), " attributes, got ", attributes_name(got)));
}

void expect_no_attributes(const Attributes& attrs) {
    check(std::holds_alternative<std::monostate>(attrs), "takes no attributes, got ", attributes_name(attrs));
}

void expect_inputs(std::span<const Value* const> in, size_t n) {
    check(in.size() == n, "expects ", n, " inputs, got ", in.size());
}

void expect_same_shape(const Value& a, const Value& b) {
    check(a.shape == b.shape, "'", a.name, "' has shape ", a.shape.str(), " but '", b.name, "' has ", b.shape.str());
}

size_t elements(const Graph& g, ValueId v) { return static_cast<size_t>(g.value(v).shape.elements()); }

std::array<uint32_t, 4> nchw(const Value& v, const char* what) {
    check(v.shape.rank() == 4, what, " '", v.name, "' ", v.shape.str(), " is not 4-D");
    for (int64_t d : v.shape.dims) // the kernels count in 32 bits
        check(d <= int64_t{0xFFFFFFFF}, what, " '", v.name, "' ", v.shape.str(), " has a dimension over 2^32 - 1");
    return {static_cast<uint32_t>(v.shape[0]), static_cast<uint32_t>(v.shape[1]), static_cast<uint32_t>(v.shape[2]),
            static_cast<uint32_t>(v.shape[3])};
}

std::vector<TensorType> wanted_gradient_types(const WantedGradients& want, const TensorType& x,
                                              const TensorType& weight, const TensorType& bias) {
    std::vector<TensorType> out;
    if (want.dx) out.push_back(x);
    if (want.dweight) out.push_back(weight);
    if (want.dbias) out.push_back(bias);
    check(!out.empty(), "no gradient wanted");
    return out;
}

std::vector<std::optional<ValueId>> wanted_gradients(const WantedGradients& want, const std::vector<ValueId>& outputs,
                                                     size_t inputs, std::array<size_t, 3> at) {
    std::vector<std::optional<ValueId>> grads(inputs);
    size_t k = 0;
    if (want.dx) grads[at[0]] = outputs[k++];
    if (want.dweight) grads[at[1]] = outputs[k++];
    if (want.dbias) grads[at[2]] = outputs[k++];
    return grads;
}

GradientSpans wanted_gradient_spans(const WantedGradients& want, CpuOutputs out) {
    GradientSpans g;
    size_t k = 0;
    if (want.dx) g.dx = out[k++];
    if (want.dweight) g.dweight = out[k++];
    if (want.dbias) g.dbias = out[k++];
    return g;
}

GpuLowering single(KernelLaunch launch, const Node& n) {
    LoweredKernel k{std::move(launch), {}};
    for (uint32_t i = 0; i < n.inputs.size(); ++i) k.args.push_back({ArgRef::Input, i});
    for (uint32_t i = 0; i < n.outputs.size(); ++i) k.args.push_back({ArgRef::Output, i});
    return {{}, {std::move(k)}};
}

} // namespace vkcnn::graph
