// Losses and metrics in the graph: cross_entropy (fused with log_softmax),
// mse_loss and the device-side accuracy count. A loss is a (1,) value; its
// reduction is a fixed-order tree, so a step's loss has the same bits every run.
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/accuracy.h"
#include "vkcnn/ops/cross_entropy.h"
#include "vkcnn/ops/mse_loss.h"
#include "vkcnn/ops/reduce.h"

#include <vector>

namespace vkcnn::graph {

namespace {

struct Rows {
    size_t rows, cols;
};

// logits (N, C) and int32 targets (N).
Rows classification(const Value& logits, const Value& targets) {
    check(logits.shape.rank() == 2, "logits '", logits.name, "' ", logits.shape.str(), " are not 2-D (N, classes)");
    check(targets.dtype == DType::I32 && targets.shape == Shape{logits.shape[0]}, "targets '", targets.name, "' ",
          targets.shape.str(), " ", dtype_name(targets.dtype), " are not the i32 (", logits.shape[0],
          ",) class indices of the logits");
    return {static_cast<size_t>(logits.shape[0]), static_cast<size_t>(logits.shape[1])};
}

Rows classification(const Graph& g, const Node& n) { return classification(g.value(n.inputs[0]), g.value(n.inputs[1])); }

const Shape kScalar{1};

// The fixed-order total of the partial sums of `n` values, divided by n, into output 0.
void append_mean_of_partials(GpuLowering& lowered, ArgRef partials, size_t n) {
    lowered.kernels.push_back({ops::reduce_finish_launch(ops::reduce_partial_count(n), static_cast<float>(n)),
                               {partials, {ArgRef::Output, 0}}});
}

} // namespace

// cross_entropy (logits, targets) -> loss (1)
const OpDef cross_entropy_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 2);
        const Rows r = classification(*in[0], *in[1]);
        ops::cross_entropy_check(attrs_as<ops::CrossEntropyAttrs>(attrs), r.rows, r.cols, r.rows * r.cols, r.rows);
        return {{kScalar}};
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>& need)
        -> std::vector<std::optional<ValueId>> {
        check(!need[1], "no gradient flows to the class indices of '", n.name, "'");
        return {g.add_node(Op::cross_entropy_backward, n.name + ".backward", {n.inputs[0], n.inputs[1], *dy[0]},
                           n.attrs)[0],
                std::nullopt};
    },
    [](const Graph& g, const Node& n, const GemmTuning& tuning) {
        const Rows r = classification(g, n);
        GpuLowering lowered;
        const ArgRef row_loss = lowered.add_temp(r.rows);
        const ArgRef partials = lowered.add_temp(ops::reduce_partial_count(r.rows));
        lowered.kernels.push_back(
            {ops::cross_entropy_forward_launch(attrs_as<ops::CrossEntropyAttrs>(n.attrs), r.rows, r.cols),
             {{ArgRef::Input, 0}, {ArgRef::Input, 1}, row_loss}});
        lowered.kernels.push_back({ops::reduce_partials_launch(r.rows, tuning.subgroup_reductions), {row_loss, partials}});
        append_mean_of_partials(lowered, partials, r.rows);
        return lowered;
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const Rows r = classification(g, n);
        std::vector<float> row_loss(r.rows);
        out[0][0] = ops::cross_entropy_forward_cpu(pool, attrs_as<ops::CrossEntropyAttrs>(n.attrs), r.rows, r.cols,
                                                   in[0], as_i32(in[1]), row_loss);
    },
};

// cross_entropy_backward (logits, targets, dloss (1)) -> dlogits
const OpDef cross_entropy_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        attrs_as<ops::CrossEntropyAttrs>(attrs);
        expect_inputs(in, 3);
        classification(*in[0], *in[1]);
        check(in[2]->shape == kScalar, "dloss has shape ", in[2]->shape.str(), ", expected (1,)");
        return {{in[0]->shape}};
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        const Rows r = classification(g, n);
        return single(ops::cross_entropy_backward_launch(attrs_as<ops::CrossEntropyAttrs>(n.attrs), r.rows, r.cols), n);
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const Rows r = classification(g, n);
        ops::cross_entropy_backward_cpu(pool, attrs_as<ops::CrossEntropyAttrs>(n.attrs), r.rows, r.cols, in[0],
                                        as_i32(in[1]), in[2][0], out[0]);
    },
};

// mse_loss (x, target) -> loss (1)
const OpDef mse_loss_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_no_attributes(attrs);
        expect_inputs(in, 2);
        expect_same_shape(*in[0], *in[1]);
        return {{kScalar}};
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>& need)
        -> std::vector<std::optional<ValueId>> {
        check(!need[1], "the target of '", n.name, "' gets no gradient (it is data)");
        return {g.add_node(Op::mse_loss_backward, n.name + ".backward", {n.inputs[0], n.inputs[1], *dy[0]}, {})[0],
                std::nullopt};
    },
    [](const Graph& g, const Node& n, const GemmTuning&) {
        const size_t count = elements(g, n.inputs[0]);
        GpuLowering lowered;
        const ArgRef partials = lowered.add_temp(ops::reduce_partial_count(count));
        lowered.kernels.push_back({ops::mse_loss_forward_launch(count), {{ArgRef::Input, 0}, {ArgRef::Input, 1}, partials}});
        append_mean_of_partials(lowered, partials, count);
        return lowered;
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        out[0][0] = ops::mse_loss_forward_cpu(pool, in[0], in[1]);
    },
};

// mse_loss_backward (x, target, dloss (1)) -> dx
const OpDef mse_loss_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_no_attributes(attrs);
        expect_inputs(in, 3);
        expect_same_shape(*in[0], *in[1]);
        check(in[2]->shape == kScalar, "dloss has shape ", in[2]->shape.str(), ", expected (1,)");
        return {{in[0]->shape}};
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return single(ops::mse_loss_backward_launch(elements(g, n.inputs[0])), n);
    },
    [](const Graph&, const Node&, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::mse_loss_backward_cpu(pool, in[0], in[1], in[2][0], out[0]);
    },
};

// accuracy (logits, targets) -> (correct (1) i32, predictions (N) i32)
const OpDef accuracy_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_no_attributes(attrs);
        expect_inputs(in, 2);
        const Rows r = classification(*in[0], *in[1]);
        return {{kScalar, DType::I32}, {Shape{static_cast<int64_t>(r.rows)}, DType::I32}};
    },
    nullptr, // a count
    [](const Graph& g, const Node& n, const GemmTuning&) {
        const Rows r = classification(g, n);
        const ArgRef correct{ArgRef::Output, 0}, pred{ArgRef::Output, 1};
        return GpuLowering{{},
                           {{ops::accuracy_argmax_launch(r.rows, r.cols), {{ArgRef::Input, 0}, pred}},
                            {ops::accuracy_count_launch(r.rows), {pred, {ArgRef::Input, 1}, correct}}}};
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const Rows r = classification(g, n);
        ops::argmax_rows_cpu(pool, r.rows, r.cols, in[0], as_i32(out[1]));
        // Count as the device does: a target outside [0, C) never matches.
        const auto pred = as_i32(out[1]);
        const auto targets = as_i32(in[1]);
        int32_t correct = 0;
        for (size_t i = 0; i < r.rows; ++i) correct += pred[i] == targets[i];
        as_i32(out[0])[0] = correct;
    },
};

ValueId Graph::cross_entropy(ValueId logits, ValueId targets, const ops::CrossEntropyAttrs& attrs, std::string name) {
    return add_node(Op::cross_entropy, std::move(name), {logits, targets}, attrs)[0];
}
ValueId Graph::mse_loss(ValueId x, ValueId target, std::string name) {
    return add_node(Op::mse_loss, std::move(name), {x, target}, {})[0];
}
ValueId Graph::accuracy(ValueId logits, ValueId targets, std::string name) {
    return add_node(Op::accuracy, std::move(name), {logits, targets}, {})[0];
}

} // namespace vkcnn::graph
