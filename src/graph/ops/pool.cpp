// Pooling in the graph: max_pool2d (keeps the argmax for its backward),
// avg_pool2d and adaptive_avg_pool2d. A backward node carries the forward
// attributes and the input's shape, so it needs no forward value but the
// argmax.
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/adaptive_avg_pool2d.h"
#include "vkcnn/ops/avg_pool2d.h"
#include "vkcnn/ops/max_pool2d.h"

#include <cstring>

namespace vkcnn::graph {

namespace {

std::array<int64_t, 4> nchw(const Value& v) {
    check(v.shape.rank() == 4, "'", v.name, "' ", v.shape.str(), " is not 4-D (N, C, H, W)");
    return {v.shape[0], v.shape[1], v.shape[2], v.shape[3]};
}

Shape shape_of(const std::array<int64_t, 4>& d) { return Shape{d[0], d[1], d[2], d[3]}; }

// The two average pools share everything but their functions.
struct AvgPool {
    using Attrs = ops::AvgPool2dAttrs;
    static constexpr Op backward = Op::avg_pool2d_backward;
    static constexpr auto output_shape = ops::avg_pool2d_output_shape;
    static constexpr auto forward_launch = ops::avg_pool2d_forward_launch;
    static constexpr auto backward_launch = ops::avg_pool2d_backward_launch;
    static constexpr auto forward_cpu = ops::avg_pool2d_forward_cpu;
    static constexpr auto backward_cpu = ops::avg_pool2d_backward_cpu;
};
struct AdaptiveAvgPool {
    using Attrs = ops::AdaptiveAvgPool2dAttrs;
    static constexpr Op backward = Op::adaptive_avg_pool2d_backward;
    static constexpr auto output_shape = ops::adaptive_avg_pool2d_output_shape;
    static constexpr auto forward_launch = ops::adaptive_avg_pool2d_forward_launch;
    static constexpr auto backward_launch = ops::adaptive_avg_pool2d_backward_launch;
    static constexpr auto forward_cpu = ops::adaptive_avg_pool2d_forward_cpu;
    static constexpr auto backward_cpu = ops::adaptive_avg_pool2d_backward_cpu;
};

template <typename P>
constexpr OpDef average_pool_def() {
    using Back = PoolBackwardAttrs<typename P::Attrs>;
    return {
        [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
            expect_inputs(in, 1);
            return {{shape_of(P::output_shape(attrs_as<typename P::Attrs>(attrs), nchw(*in[0])))}};
        },
        [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>&)
            -> std::vector<std::optional<ValueId>> {
            const Back back{attrs_as<typename P::Attrs>(n.attrs), nchw(g.value(n.inputs[0]))};
            return {g.add_node(P::backward, n.name + ".backward", {*dy[0]}, back)[0]};
        },
        [](const Graph& g, const Node& n, const GemmTuning&) {
            return single(P::forward_launch(attrs_as<typename P::Attrs>(n.attrs), nchw(g.value(n.inputs[0]))), n);
        },
        [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
            P::forward_cpu(pool, attrs_as<typename P::Attrs>(n.attrs), nchw(g.value(n.inputs[0])), in[0], out[0]);
        },
    };
}

template <typename P>
constexpr OpDef average_pool_backward_def() {
    using Back = PoolBackwardAttrs<typename P::Attrs>;
    return {
        [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
            expect_inputs(in, 1); // dy
            const Back& b = attrs_as<Back>(attrs);
            const Shape y = shape_of(P::output_shape(b.pool, b.x_shape));
            check(in[0]->shape == y, "dy has shape ", in[0]->shape.str(), ", the pooled output has ", y.str());
            return {{shape_of(b.x_shape)}};
        },
        nullptr,
        [](const Graph&, const Node& n, const GemmTuning&) {
            const Back& b = attrs_as<Back>(n.attrs);
            return single(P::backward_launch(b.pool, b.x_shape), n);
        },
        [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
            const Back& b = attrs_as<Back>(n.attrs);
            P::backward_cpu(pool, b.pool, b.x_shape, in[0], out[0]);
        },
    };
}

using MaxBack = PoolBackwardAttrs<ops::MaxPool2dAttrs>;

} // namespace

const OpDef max_pool2d_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 1);
        const Shape y = shape_of(ops::max_pool2d_output_shape(attrs_as<ops::MaxPool2dAttrs>(attrs), nchw(*in[0])));
        return {{y}, {y, DType::I32}}; // the maximum and its index in the input plane
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>&)
        -> std::vector<std::optional<ValueId>> {
        const MaxBack back{attrs_as<ops::MaxPool2dAttrs>(n.attrs), nchw(g.value(n.inputs[0]))};
        return {g.add_node(Op::max_pool2d_backward, n.name + ".backward", {n.outputs[1], *dy[0]}, back)[0]};
    },
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::max_pool2d_forward_launch(attrs_as<ops::MaxPool2dAttrs>(n.attrs), nchw(g.value(n.inputs[0]))),
                      n);
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::max_pool2d_forward_cpu(pool, attrs_as<ops::MaxPool2dAttrs>(n.attrs), nchw(g.value(n.inputs[0])), in[0],
                                    out[0], as_i32(out[1]));
    },
};

const OpDef max_pool2d_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 2); // indices, dy
        const MaxBack& b = attrs_as<MaxBack>(attrs);
        const Shape y = shape_of(ops::max_pool2d_output_shape(b.pool, b.x_shape));
        check(in[0]->shape == y && in[0]->dtype == DType::I32, "indices '", in[0]->name, "' ", in[0]->shape.str(), " ",
              dtype_name(in[0]->dtype), " are not the i32 ", y.str(), " of the forward pass");
        check(in[1]->shape == y, "dy has shape ", in[1]->shape.str(), ", the pooled output has ", y.str());
        return {{shape_of(b.x_shape)}};
    },
    nullptr,
    [](const Graph&, const Node& n, const GemmTuning&) {
        const MaxBack& b = attrs_as<MaxBack>(n.attrs);
        return single(ops::max_pool2d_backward_launch(b.pool, b.x_shape), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const MaxBack& b = attrs_as<MaxBack>(n.attrs);
        ops::max_pool2d_backward_cpu(pool, b.pool, b.x_shape, as_i32(in[0]), in[1], out[0]);
    },
};

// constinit: initialised before any code runs, as the other OpDefs are.
constinit const OpDef avg_pool2d_def = average_pool_def<AvgPool>();
constinit const OpDef avg_pool2d_backward_def = average_pool_backward_def<AvgPool>();
constinit const OpDef adaptive_avg_pool2d_def = average_pool_def<AdaptiveAvgPool>();
constinit const OpDef adaptive_avg_pool2d_backward_def = average_pool_backward_def<AdaptiveAvgPool>();

ValueId Graph::max_pool2d(ValueId x, const ops::MaxPool2dAttrs& attrs, std::string name) {
    return add_node(Op::max_pool2d, std::move(name), {x}, attrs)[0];
}
ValueId Graph::avg_pool2d(ValueId x, const ops::AvgPool2dAttrs& attrs, std::string name) {
    return add_node(Op::avg_pool2d, std::move(name), {x}, attrs)[0];
}
ValueId Graph::adaptive_avg_pool2d(ValueId x, const ops::AdaptiveAvgPool2dAttrs& attrs, std::string name) {
    return add_node(Op::adaptive_avg_pool2d, std::move(name), {x}, attrs)[0];
}

} // namespace vkcnn::graph
