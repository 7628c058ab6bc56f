// softmax and log_softmax over the last dimension of (N, C), in the graph.
// Both backward kernels read the forward output, not the input.
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/softmax.h"

namespace vkcnn::graph {

namespace {

struct RowOps {
    Op backward;
    KernelLaunch (*forward_launch)(size_t, size_t);
    KernelLaunch (*backward_launch)(size_t, size_t);
    void (*forward_cpu)(cpu::ThreadPool&, size_t, size_t, std::span<const float>, std::span<float>);
    void (*backward_cpu)(cpu::ThreadPool&, size_t, size_t, std::span<const float>, std::span<const float>,
                         std::span<float>);
};

constexpr RowOps kSoftmax{Op::softmax_backward, ops::softmax_forward_launch, ops::softmax_backward_launch,
                          ops::softmax_forward_cpu, ops::softmax_backward_cpu};
constexpr RowOps kLogSoftmax{Op::log_softmax_backward, ops::log_softmax_forward_launch,
                             ops::log_softmax_backward_launch, ops::log_softmax_forward_cpu,
                             ops::log_softmax_backward_cpu};

size_t rows(const Shape& s) { return static_cast<size_t>(s[0]); }
size_t cols(const Shape& s) { return static_cast<size_t>(s[1]); }

template <const RowOps& R>
constexpr OpDef forward_def() {
    return {
        [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
            expect_no_attributes(attrs);
            expect_inputs(in, 1);
            check(in[0]->shape.rank() == 2, "'", in[0]->name, "' ", in[0]->shape.str(), " is not 2-D (N, C)");
            return {{in[0]->shape}};
        },
        [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>&)
            -> std::vector<std::optional<ValueId>> {
            return {g.add_node(R.backward, n.name + ".backward", {n.outputs[0], *dy[0]}, {})[0]};
        },
        [](const Graph& g, const Node& n, const GemmTuning&) {
            const Shape& s = g.value(n.inputs[0]).shape;
            return single(R.forward_launch(rows(s), cols(s)), n);
        },
        [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
            const Shape& s = g.value(n.inputs[0]).shape;
            R.forward_cpu(pool, rows(s), cols(s), in[0], out[0]);
        },
    };
}

template <const RowOps& R>
constexpr OpDef backward_def() {
    return {
        [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
            expect_no_attributes(attrs);
            expect_inputs(in, 2); // y, dy
            expect_same_shape(*in[0], *in[1]);
            return {{in[0]->shape}};
        },
        nullptr,
        [](const Graph& g, const Node& n, const GemmTuning&) {
            const Shape& s = g.value(n.inputs[0]).shape;
            return single(R.backward_launch(rows(s), cols(s)), n);
        },
        [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
            const Shape& s = g.value(n.inputs[0]).shape;
            R.backward_cpu(pool, rows(s), cols(s), in[0], in[1], out[0]);
        },
    };
}

} // namespace

constinit const OpDef softmax_def = forward_def<kSoftmax>();
constinit const OpDef softmax_backward_def = backward_def<kSoftmax>();
constinit const OpDef log_softmax_def = forward_def<kLogSoftmax>();
constinit const OpDef log_softmax_backward_def = backward_def<kLogSoftmax>();

ValueId Graph::softmax(ValueId x, std::string name) { return add_node(Op::softmax, std::move(name), {x}, {})[0]; }
ValueId Graph::log_softmax(ValueId x, std::string name) {
    return add_node(Op::log_softmax, std::move(name), {x}, {})[0];
}

} // namespace vkcnn::graph
