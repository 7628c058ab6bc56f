// Elementwise ops in the graph: fill, add, mul and the activations, with
// their gradients (see op_def.h). Each runs one elementwise kernel.
#include "vkcnn/graph/op_def.h"

#include "vkcnn/ops/activations.h"
#include "vkcnn/ops/binary.h"
#include "vkcnn/ops/fill.h"
#include "vkcnn/ops/relu.h"

namespace vkcnn::graph {

namespace {

using Grads = std::vector<std::optional<ValueId>>;
using Dy = std::span<const std::optional<ValueId>>;

std::vector<TensorType> fill_shape(std::span<const Value* const> in, const Attributes& attrs) {
    expect_inputs(in, 0);
    return {{attrs_as<FillAttrs>(attrs).shape}};
}

std::vector<TensorType> unary_shape(std::span<const Value* const> in, const Attributes& attrs) {
    expect_no_attributes(attrs);
    expect_inputs(in, 1);
    return {{in[0]->shape}};
}

// Two inputs of one shape, one output of that shape.
std::vector<TensorType> binary_shape(std::span<const Value* const> in, const Attributes& attrs) {
    expect_no_attributes(attrs);
    expect_inputs(in, 2);
    expect_same_shape(*in[0], *in[1]);
    return {{in[0]->shape}};
}

// leaky_relu (x) and its backward (x, dy): as above, with the negative slope.
std::vector<TensorType> leaky_shape(std::span<const Value* const> in, const Attributes& attrs) {
    attrs_as<ops::LeakyReluAttrs>(attrs);
    return unary_shape(in, {});
}
std::vector<TensorType> leaky_backward_shape(std::span<const Value* const> in, const Attributes& attrs) {
    attrs_as<ops::LeakyReluAttrs>(attrs);
    return binary_shape(in, {});
}

std::vector<TensorType> mul_backward_shape(std::span<const Value* const> in, const Attributes& attrs) {
    expect_no_attributes(attrs);
    expect_inputs(in, 3); // a, b, dy
    expect_same_shape(*in[0], *in[1]);
    expect_same_shape(*in[0], *in[2]);
    return {{in[0]->shape}, {in[0]->shape}};
}

ValueId backward_node(Graph& g, Op op, const Node& n, std::vector<ValueId> inputs, Attributes attrs = {}) {
    return g.add_node(op, n.name + ".backward", std::move(inputs), std::move(attrs))[0];
}

// d(x op' ...) where the backward kernel reads the forward input x.
template <Op Backward>
Grads from_input(Graph& g, const Node& n, Dy dy, const std::vector<bool>&) {
    return {backward_node(g, Backward, n, {n.inputs[0], *dy[0]}, n.attrs)};
}
// ... or the forward output y (sigmoid, tanh: the derivative is a function of y).
template <Op Backward>
Grads from_output(Graph& g, const Node& n, Dy dy, const std::vector<bool>&) {
    return {backward_node(g, Backward, n, {n.outputs[0], *dy[0]}, n.attrs)};
}

const ops::LeakyReluAttrs& leaky(const Node& n) { return attrs_as<ops::LeakyReluAttrs>(n.attrs); }

} // namespace

const OpDef fill_def{
    fill_shape,
    nullptr, // a constant
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::fill_launch(elements(g, n.outputs[0]), attrs_as<FillAttrs>(n.attrs).value), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs, CpuOutputs out) {
        ops::fill_cpu(pool, out[0], attrs_as<FillAttrs>(n.attrs).value);
    },
};

const OpDef add_def{
    binary_shape,
    [](Graph&, const Node&, Dy dy, const std::vector<bool>& need) -> Grads {
        return {need[0] ? dy[0] : std::nullopt, need[1] ? dy[0] : std::nullopt};
    },
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::add_forward_launch(elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::add_forward_cpu(pool, in[0], in[1], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef mul_def{
    binary_shape,
    [](Graph& g, const Node& n, Dy dy, const std::vector<bool>&) -> Grads {
        const auto d = g.add_node(Op::mul_backward, n.name + ".backward", {n.inputs[0], n.inputs[1], *dy[0]}, {});
        return {d[0], d[1]};
    },
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::mul_forward_launch(elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::mul_forward_cpu(pool, in[0], in[1], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef mul_backward_def{
    mul_backward_shape,
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::mul_backward_launch(elements(g, n.inputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::mul_backward_cpu(pool, in[0], in[1], in[2], out[0], out[1]);
    },
};

const OpDef relu_def{
    unary_shape,
    from_output<Op::relu_backward>, // y > 0 exactly where x > 0, as PyTorch's threshold_backward(dy, y, 0)
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::relu_forward_launch(elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::relu_forward_cpu(pool, in[0], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef relu_backward_def{
    binary_shape, // (y, dy) -> dx; the kernel's "x > 0" is the same test on y
    nullptr,      // second derivatives are not supported
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::relu_backward_launch(elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::relu_backward_cpu(pool, in[0], in[1], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef leaky_relu_def{
    leaky_shape,
    from_input<Op::leaky_relu_backward>,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::leaky_relu_forward_launch(leaky(n), elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::leaky_relu_forward_cpu(pool, leaky(n), in[0], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef leaky_relu_backward_def{
    leaky_backward_shape, // (x, dy) -> dx
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::leaky_relu_backward_launch(leaky(n), elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::leaky_relu_backward_cpu(pool, leaky(n), in[0], in[1], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef sigmoid_def{
    unary_shape,
    from_output<Op::sigmoid_backward>,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::sigmoid_forward_launch(elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::sigmoid_forward_cpu(pool, in[0], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef sigmoid_backward_def{
    binary_shape, // (y, dy) -> dx
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::sigmoid_backward_launch(elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::sigmoid_backward_cpu(pool, in[0], in[1], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef tanh_def{
    unary_shape,
    from_output<Op::tanh_backward>,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::tanh_forward_launch(elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::tanh_forward_cpu(pool, in[0], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

const OpDef tanh_backward_def{
    binary_shape, // (y, dy) -> dx
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::tanh_backward_launch(elements(g, n.outputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::tanh_backward_cpu(pool, in[0], in[1], out[0]);
    },
    false, // view
    0,     // updates
    true,  // in place
};

ValueId Graph::fill(Shape shape, float value, std::string name) {
    return add_node(Op::fill, std::move(name), {}, FillAttrs{std::move(shape), value})[0];
}
ValueId Graph::add(ValueId a, ValueId b, std::string name) { return add_node(Op::add, std::move(name), {a, b}, {})[0]; }
ValueId Graph::mul(ValueId a, ValueId b, std::string name) { return add_node(Op::mul, std::move(name), {a, b}, {})[0]; }
ValueId Graph::relu(ValueId x, std::string name) { return add_node(Op::relu, std::move(name), {x}, {})[0]; }
ValueId Graph::leaky_relu(ValueId x, float negative_slope, std::string name) {
    return add_node(Op::leaky_relu, std::move(name), {x}, ops::LeakyReluAttrs{negative_slope})[0];
}
ValueId Graph::sigmoid(ValueId x, std::string name) { return add_node(Op::sigmoid, std::move(name), {x}, {})[0]; }
ValueId Graph::tanh(ValueId x, std::string name) { return add_node(Op::tanh, std::move(name), {x}, {})[0]; }

// Both from existing nodes: relu_backward(y, relu(dy)) passes dy where the
// forward output (so the input) and dy are positive; relu(dy) ignores the mask.
Grads guided_relu_gradient(Graph& g, const Node& n, Dy dy, const std::vector<bool>&) {
    check(n.op == Op::relu, "guided_relu_gradient: node '", n.name, "' is ", op_name(n.op), ", not relu");
    const ValueId positive = g.add_node(Op::relu, n.name + ".guided_dy", {*dy[0]}, {})[0];
    return {backward_node(g, Op::relu_backward, n, {n.outputs[0], positive})};
}

Grads deconvnet_relu_gradient(Graph& g, const Node& n, Dy dy, const std::vector<bool>&) {
    check(n.op == Op::relu, "deconvnet_relu_gradient: node '", n.name, "' is ", op_name(n.op), ", not relu");
    return {g.add_node(Op::relu, n.name + ".deconvnet_dy", {*dy[0]}, {})[0]};
}

} // namespace vkcnn::graph
