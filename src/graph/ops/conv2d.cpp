// conv2d (torch.nn.functional.conv2d) in the graph: one implicit-GEMM launch
// forward; the backward node computes only the wanted gradients (no dx for a
// first layer fed by the input, no dweight / dbias for frozen parameters).
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/conv2d.h"

namespace vkcnn::graph {

namespace {

ops::Conv2dShape shape_of(const Value& x, const Value& w, const ops::Conv2dAttrs& attrs, bool bias) {
    return ops::conv2d_shape(nchw(x, "x"), nchw(w, "weight"), attrs, bias);
}

Shape output_shape(const ops::Conv2dShape& s) { return Shape{s.n, s.c_out, s.oh, s.ow}; }

} // namespace

const OpDef conv2d_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        check(in.size() == 2 || in.size() == 3, "expects x, weight and optionally bias, got ", in.size(), " inputs");
        const bool bias = in.size() == 3;
        const auto s = shape_of(*in[0], *in[1], attrs_as<ops::Conv2dAttrs>(attrs), bias);
        if (bias)
            check(in[2]->shape == Shape{s.c_out}, "bias '", in[2]->name, "' has shape ", in[2]->shape.str(),
                  ", expected (", s.c_out, ",)");
        return {{output_shape(s)}};
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>& need)
        -> std::vector<std::optional<ValueId>> {
        const bool bias = n.inputs.size() == 3;
        const Conv2dBackwardAttrs want{{need[0], need[1], bias && need[2]}, attrs_as<ops::Conv2dAttrs>(n.attrs)};
        const auto out = g.add_node(Op::conv2d_backward, n.name + ".backward", {n.inputs[0], n.inputs[1], *dy[0]}, want);
        return wanted_gradients(want, out, n.inputs.size(), {0, 1, 2});
    },
    [](const Graph& g, const Node& n, const GemmTuning& tuning) {
        const auto s = shape_of(g.value(n.inputs[0]), g.value(n.inputs[1]), attrs_as<ops::Conv2dAttrs>(n.attrs),
                                n.inputs.size() == 3);
        return single(ops::conv2d_forward_launch(s, tuning), n);
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const bool bias = n.inputs.size() == 3;
        const auto s = shape_of(g.value(n.inputs[0]), g.value(n.inputs[1]), attrs_as<ops::Conv2dAttrs>(n.attrs), bias);
        ops::conv2d_forward_cpu(pool, s, in[0], in[1], bias ? in[2] : std::span<const float>(), out[0]);
    },
};

const OpDef conv2d_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 3); // x, weight, dy
        const auto& want = attrs_as<Conv2dBackwardAttrs>(attrs);
        const auto s = shape_of(*in[0], *in[1], want.conv, false);
        check(in[2]->shape == output_shape(s), "dy has shape ", in[2]->shape.str(), ", the output of conv2d has ",
              output_shape(s).str());
        return wanted_gradient_types(want, {in[0]->shape}, {in[1]->shape}, {Shape{s.c_out}});
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning& tuning) {
        const auto& want = attrs_as<Conv2dBackwardAttrs>(n.attrs);
        const auto s = shape_of(g.value(n.inputs[0]), g.value(n.inputs[1]), want.conv, false);
        enum : uint32_t { X, W, Dy };
        GpuLowering lowered;
        uint32_t k = 0;
        if (want.dx)
            lowered.kernels.push_back({ops::conv2d_backward_data_launch(s, tuning),
                                       {{ArgRef::Input, W}, {ArgRef::Input, Dy}, {ArgRef::Output, k++}}});
        if (want.dweight)
            append_conv2d_weight_gradient(lowered, s, tuning, {ArgRef::Input, X}, {ArgRef::Input, Dy},
                                          {ArgRef::Output, k++});
        if (want.dbias)
            lowered.kernels.push_back({ops::conv2d_backward_bias_launch(s), {{ArgRef::Input, Dy}, {ArgRef::Output, k++}}});
        return lowered;
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const auto& want = attrs_as<Conv2dBackwardAttrs>(n.attrs);
        const auto s = shape_of(g.value(n.inputs[0]), g.value(n.inputs[1]), want.conv, false);
        const GradientSpans d = wanted_gradient_spans(want, out);
        if (want.dx) ops::conv2d_backward_data_cpu(pool, s, in[1], in[2], d.dx);
        if (want.dweight) ops::conv2d_backward_weight_cpu(pool, s, in[0], in[2], d.dweight);
        if (want.dbias) ops::conv2d_backward_bias_cpu(pool, s, in[2], d.dbias);
    },
};

void append_conv2d_weight_gradient(GpuLowering& lowered, const ops::Conv2dShape& s, const GemmTuning& tuning,
                                   ArgRef x, ArgRef dy, ArgRef dw) {
    const uint32_t split = ops::conv2d_backward_weight_split(s, tuning);
    if (split == 1) {
        lowered.kernels.push_back({ops::conv2d_backward_weight_launch(s, tuning), {x, dy, dw}});
        return;
    }
    const ArgRef partials = lowered.add_temp(ops::conv2d_backward_weight_partials_size(s, split));
    lowered.kernels.push_back({ops::conv2d_backward_weight_launch(s, tuning, split), {x, dy, partials}});
    lowered.kernels.push_back({ops::conv2d_backward_weight_sum_launch(s, split), {partials, dw}});
}

ValueId Graph::conv2d(ValueId x, ValueId weight, std::optional<ValueId> bias, const ops::Conv2dAttrs& attrs,
                      std::string name) {
    std::vector<ValueId> inputs{x, weight};
    if (bias) inputs.push_back(*bias);
    return add_node(Op::conv2d, std::move(name), std::move(inputs), attrs)[0];
}

} // namespace vkcnn::graph
