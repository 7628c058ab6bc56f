// dropout in the graph: inputs (x, key), key a (2,) i32 input holding the
// PhiloxKey {seed, step} that the host rewrites every step, so the recorded
// step draws a new mask each run. The backward redraws the same mask.
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/dropout.h"

#include <cstring>

namespace vkcnn::graph {

namespace {

std::vector<TensorType> dropout_shape(std::span<const Value* const> in, const Attributes& attrs) {
    expect_inputs(in, 2);
    ops::dropout_rule(attrs_as<ops::DropoutAttrs>(attrs)); // checks p
    check(in[1]->shape == Shape{2} && in[1]->dtype == DType::I32, "key '", in[1]->name, "' ", in[1]->shape.str(), " ",
          dtype_name(in[1]->dtype), " is not the (2,) i32 Philox key {seed, step}");
    return {{in[0]->shape}};
}

ops::PhiloxKey key_of(std::span<const float> k) {
    ops::PhiloxKey key;
    std::memcpy(&key.seed, &k[0], 4); // i32 values travel in float-sized slots (lowering.h)
    std::memcpy(&key.step, &k[1], 4);
    return key;
}

const ops::DropoutAttrs& attrs_of(const Node& n) { return attrs_as<ops::DropoutAttrs>(n.attrs); }

} // namespace

const OpDef dropout_def{
    dropout_shape,
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>&)
        -> std::vector<std::optional<ValueId>> {
        return {g.add_node(Op::dropout_backward, n.name + ".backward", {*dy[0], n.inputs[1]}, n.attrs)[0], std::nullopt};
    },
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::dropout_forward_launch(attrs_of(n), elements(g, n.inputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::dropout_forward_cpu(pool, attrs_of(n), key_of(in[1]), in[0], out[0]);
    },
    false,
    0,
    true, // in place: element i is read before it is written, and the backward needs only the key
};

const OpDef dropout_backward_def{
    dropout_shape, // (dy, key) -> dx
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::dropout_backward_launch(attrs_of(n), elements(g, n.inputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::dropout_backward_cpu(pool, attrs_of(n), key_of(in[1]), in[0], out[0]);
    },
    false,
    0,
    true,
};

ValueId Graph::dropout(ValueId x, ValueId key, const ops::DropoutAttrs& attrs, std::string name) {
    return add_node(Op::dropout, std::move(name), {x, key}, attrs)[0];
}

} // namespace vkcnn::graph
