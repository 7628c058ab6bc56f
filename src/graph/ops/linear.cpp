// linear (torch.nn.functional.linear) in the graph: one GEMM forward; its
// backward is one node computing only the gradients that are needed (no dx
// for a first layer fed by the input, no dweight for a frozen weight).
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/linear.h"

namespace vkcnn::graph {

namespace {

// x (N, in), weight (out, in), bias (out) or absent.
ops::LinearShape shape_of(const Value& x, const Value& w, const Value* b) {
    return ops::linear_shape(x.shape.dims, w.shape.dims, b ? std::span<const int64_t>(b->shape.dims)
                                                           : std::span<const int64_t>());
}

ops::LinearShape shape_of(const Graph& g, const Node& forward_inputs_of, bool bias) {
    const auto& in = forward_inputs_of.inputs;
    return shape_of(g.value(in[0]), g.value(in[1]), bias ? &g.value(in[2]) : nullptr);
}

const LinearBackwardAttrs& wanted(const Node& n) { return attrs_as<LinearBackwardAttrs>(n.attrs); }

} // namespace

const OpDef linear_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_no_attributes(attrs);
        check(in.size() == 2 || in.size() == 3, "expects x, weight and optionally bias, got ", in.size(), " inputs");
        const auto s = shape_of(*in[0], *in[1], in.size() == 3 ? in[2] : nullptr);
        return {{Shape{static_cast<int64_t>(s.batch), static_cast<int64_t>(s.out_features)}}};
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>& need)
        -> std::vector<std::optional<ValueId>> {
        const bool bias = n.inputs.size() == 3;
        const LinearBackwardAttrs want{{need[0], need[1], bias && need[2]}};
        // Inputs (x, weight, dy), bias only for its size.
        const auto out = g.add_node(Op::linear_backward, n.name + ".backward", {n.inputs[0], n.inputs[1], *dy[0]}, want);
        return wanted_gradients(want, out, n.inputs.size(), {0, 1, 2});
    },
    [](const Graph& g, const Node& n, const GemmTuning& tuning) {
        return single(ops::linear_forward_launch(shape_of(g, n, n.inputs.size() == 3), tuning), n);
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const bool bias = n.inputs.size() == 3;
        ops::linear_forward_cpu(pool, shape_of(g, n, bias), in[0], in[1], bias ? in[2] : std::span<const float>(),
                                out[0]);
    },
};

const OpDef linear_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 3); // x, weight, dy
        const auto s = shape_of(*in[0], *in[1], nullptr);
        check(in[2]->shape == Shape{static_cast<int64_t>(s.batch), static_cast<int64_t>(s.out_features)},
              "dy has shape ", in[2]->shape.str(), ", the output of linear has (", s.batch, ", ", s.out_features, ")");
        return wanted_gradient_types(attrs_as<LinearBackwardAttrs>(attrs), {in[0]->shape}, {in[1]->shape},
                                     {Shape{static_cast<int64_t>(s.out_features)}});
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning& tuning) {
        const auto s = shape_of(g, n, false);
        const auto& want = wanted(n);
        enum : uint32_t { X, W, Dy };
        GpuLowering lowered;
        uint32_t k = 0;
        if (want.dx)
            lowered.kernels.push_back({ops::linear_backward_input_launch(s, tuning),
                                       {{ArgRef::Input, Dy}, {ArgRef::Input, W}, {ArgRef::Output, k++}}});
        if (want.dweight)
            lowered.kernels.push_back({ops::linear_backward_weight_launch(s, tuning),
                                       {{ArgRef::Input, Dy}, {ArgRef::Input, X}, {ArgRef::Output, k++}}});
        if (want.dbias)
            lowered.kernels.push_back({ops::linear_backward_bias_launch(s), {{ArgRef::Input, Dy}, {ArgRef::Output, k++}}});
        return lowered;
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const auto s = shape_of(g, n, false);
        const auto& want = wanted(n);
        const auto [dx, dw, db] = wanted_gradient_spans(want, out);
        ops::linear_backward_cpu(pool, s, in[0], in[1], in[2], dx, dw, db);
    },
};

ValueId Graph::linear(ValueId x, ValueId weight, std::optional<ValueId> bias, std::string name) {
    std::vector<ValueId> inputs{x, weight};
    if (bias) inputs.push_back(*bias);
    return add_node(Op::linear, std::move(name), std::move(inputs), {})[0];
}

} // namespace vkcnn::graph
