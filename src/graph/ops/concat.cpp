// concat (torch.cat(inputs, dim=1)) in the graph: one copy launch per input
// forward; the backward node splits dy into the gradients of the inputs that
// need one (none for the network's input in a U-Net skip), one copy each.
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/concat.h"

namespace vkcnn::graph {

namespace {

std::array<uint32_t, 4> nchw(const Value& v) {
    check(v.dtype == DType::F32, "'", v.name, "' ", v.shape.str(), " is ", dtype_name(v.dtype), ", not f32");
    return graph::nchw(v, "input");
}

ops::ConcatShape shape_of(const Graph& g, const std::vector<ValueId>& inputs) {
    std::vector<std::array<uint32_t, 4>> dims;
    for (ValueId v : inputs) dims.push_back(nchw(g.value(v)));
    return ops::concat_shape(dims);
}

// The backward's shape from dy (N, C, H, W) and the forward's channels.
ops::ConcatShape backward_shape(const Value& dy, const ConcatBackwardAttrs& a) {
    const auto d = nchw(dy);
    std::vector<std::array<uint32_t, 4>> dims;
    for (uint32_t c : a.channels) dims.push_back({d[0], c, d[2], d[3]});
    ops::ConcatShape s = ops::concat_shape(dims);
    check(s.c_out == d[1], "dy '", dy.name, "' ", dy.shape.str(), " does not have the ", s.c_out,
          " channels of the concatenated inputs");
    return s;
}

} // namespace

const OpDef concat_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_no_attributes(attrs);
        std::vector<std::array<uint32_t, 4>> dims;
        for (const Value* v : in) dims.push_back(nchw(*v));
        const auto s = ops::concat_shape(dims);
        return {{Shape{s.n, s.c_out, s.h, s.w}}};
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>& need)
        -> std::vector<std::optional<ValueId>> {
        ConcatBackwardAttrs a;
        for (ValueId v : n.inputs) a.channels.push_back(static_cast<uint32_t>(g.value(v).shape[1]));
        a.wanted = need;
        const auto out = g.add_node(Op::concat_backward, n.name + ".backward", {*dy[0]}, a);
        std::vector<std::optional<ValueId>> grads(n.inputs.size());
        size_t k = 0;
        for (size_t i = 0; i < n.inputs.size(); ++i)
            if (need[i]) grads[i] = out[k++];
        return grads;
    },
    [](const Graph& g, const Node& n, const GemmTuning&) {
        const auto s = shape_of(g, n.inputs);
        GpuLowering lowered;
        // Each launch writes its own block of channels of y; together all of y.
        for (uint32_t i = 0; i < n.inputs.size(); ++i)
            lowered.kernels.push_back({ops::concat_forward_launch(s, i), {{ArgRef::Input, i}, {ArgRef::Output, 0}}});
        return lowered;
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::concat_forward_cpu(pool, shape_of(g, n.inputs), in, out[0]);
    },
};

const OpDef concat_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 1); // dy
        const auto& a = attrs_as<ConcatBackwardAttrs>(attrs);
        check(a.wanted.size() == a.channels.size(), a.wanted.size(), " wanted flags for ", a.channels.size(),
              " inputs");
        const auto s = backward_shape(*in[0], a);
        std::vector<TensorType> out;
        for (size_t i = 0; i < s.inputs(); ++i)
            if (a.wanted[i]) out.push_back({Shape{s.n, s.channels[i], s.h, s.w}});
        check(!out.empty(), "no gradient wanted");
        return out;
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        const auto& a = attrs_as<ConcatBackwardAttrs>(n.attrs);
        const auto s = backward_shape(g.value(n.inputs[0]), a);
        GpuLowering lowered;
        uint32_t k = 0;
        for (size_t i = 0; i < s.inputs(); ++i)
            if (a.wanted[i])
                lowered.kernels.push_back(
                    {ops::concat_backward_launch(s, i), {{ArgRef::Input, 0}, {ArgRef::Output, k++}}});
        return lowered;
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const auto& a = attrs_as<ConcatBackwardAttrs>(n.attrs);
        std::vector<std::span<float>> dxs(a.channels.size()); // empty where not wanted
        size_t k = 0;
        for (size_t i = 0; i < dxs.size(); ++i)
            if (a.wanted[i]) dxs[i] = out[k++];
        ops::concat_backward_cpu(pool, backward_shape(g.value(n.inputs[0]), a), in[0], dxs);
    },
};

ValueId Graph::concat(std::vector<ValueId> inputs, std::string name) {
    return add_node(Op::concat, std::move(name), std::move(inputs), {})[0];
}

} // namespace vkcnn::graph
