// batch_norm2d in the graph. Training: batch statistics, saved for the
// backward pass, and the running statistics updated in place (the node's
// first two inputs). Eval: the running statistics, nothing updated; its
// gradient (saliency, fine-tuning with frozen statistics) treats them as
// constants, as torch's F.batch_norm(training=False).
#include "vkcnn/graph/op_def.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/batch_norm2d.h"

namespace vkcnn::graph {

namespace {

enum TrainIn : uint32_t { RunningMean, RunningVar, X, Weight, Bias };
enum TrainOut : uint32_t { Y, SaveMean, SaveInvstd };

ops::BatchNorm2dShape train_shape(std::span<const Value* const> in) {
    return ops::batch_norm2d_shape(in[X]->shape.dims, in[Weight]->shape.dims, in[Bias]->shape.dims,
                                   in[RunningMean]->shape.dims, in[RunningVar]->shape.dims, true);
}

std::vector<const Value*> inputs_of(const Graph& g, const Node& n) {
    std::vector<const Value*> in;
    for (ValueId v : n.inputs) in.push_back(&g.value(v));
    return in;
}

// backward inputs: x, dy, weight, save_mean, save_invstd
enum BackIn : uint32_t { BX, BDy, BWeight, BMean, BInvstd };

ops::BatchNorm2dShape backward_shape(const Graph& g, const Node& n) {
    const Shape& c = g.value(n.inputs[BWeight]).shape;
    return ops::batch_norm2d_shape(g.value(n.inputs[BX]).shape.dims, c.dims, c.dims, c.dims, c.dims, true);
}

// Eval forward inputs: x, weight, bias, running_mean, running_var.
enum EvalIn : uint32_t { EX, EWeight, EBias, ERunningMean, ERunningVar };

ops::BatchNorm2dShape eval_shape(const Graph& g, const Node& n) {
    const auto v = inputs_of(g, n);
    return ops::batch_norm2d_shape(v[EX]->shape.dims, v[EWeight]->shape.dims, v[EBias]->shape.dims,
                                   v[ERunningMean]->shape.dims, v[ERunningVar]->shape.dims, false);
}

// Eval backward inputs: x, dy, weight, running_mean, running_var.
enum EvalBackIn : uint32_t { EBX, EBDy, EBWeight, EBRunningMean, EBRunningVar };

ops::BatchNorm2dShape eval_backward_shape(std::span<const Value* const> in) {
    const auto& w = in[EBWeight]->shape.dims;
    return ops::batch_norm2d_shape(in[EBX]->shape.dims, w, w, in[EBRunningMean]->shape.dims,
                                   in[EBRunningVar]->shape.dims, false);
}

} // namespace

const OpDef batch_norm2d_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        attrs_as<ops::BatchNorm2dAttrs>(attrs);
        expect_inputs(in, 5);
        const auto s = train_shape(in);
        const Shape c{s.c};
        return {{in[X]->shape}, {c}, {c}};
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>& need)
        -> std::vector<std::optional<ValueId>> {
        const BatchNorm2dBackwardAttrs want{{need[X], need[Weight], need[Bias]}};
        const auto out = g.add_node(Op::batch_norm2d_backward, n.name + ".backward",
                                    {n.inputs[X], *dy[Y], n.inputs[Weight], n.outputs[SaveMean], n.outputs[SaveInvstd]},
                                    want);
        return wanted_gradients(want, out, n.inputs.size(), {X, Weight, Bias});
    },
    [](const Graph& g, const Node& n, const GemmTuning& tuning) {
        const auto s = train_shape(inputs_of(g, n));
        const bool subgroup = tuning.subgroup_reductions;
        const auto& attrs = attrs_as<ops::BatchNorm2dAttrs>(n.attrs);
        const uint32_t chunks = ops::batch_norm2d_chunks(s);
        const ArgRef x{ArgRef::Input, X}, mean{ArgRef::Output, SaveMean}, invstd{ArgRef::Output, SaveInvstd},
            rm{ArgRef::Input, RunningMean}, rv{ArgRef::Input, RunningVar};
        GpuLowering lowered;
        if (chunks == 1) {
            lowered.kernels.push_back({ops::batch_norm2d_stats_launch(s, attrs, subgroup), {x, mean, invstd, rm, rv}});
        } else {
            const ArgRef partials = lowered.add_temp(ops::batch_norm2d_partials_size(s, chunks));
            lowered.kernels.push_back({ops::batch_norm2d_stats_partials_launch(s, chunks, subgroup), {x, partials}});
            lowered.kernels.push_back(
                {ops::batch_norm2d_stats_finish_launch(s, attrs, chunks), {partials, mean, invstd, rm, rv}});
        }
        lowered.kernels.push_back({ops::batch_norm2d_forward_launch(s, attrs, true),
                                   {x, mean, invstd, {ArgRef::Input, Weight}, {ArgRef::Input, Bias}, {ArgRef::Output, Y}}});
        return lowered;
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        // out: running_mean, running_var (updated in place), then y, save_mean, save_invstd.
        ops::batch_norm2d_forward_train_cpu(pool, train_shape(inputs_of(g, n)), attrs_as<ops::BatchNorm2dAttrs>(n.attrs),
                                            in[X], in[Weight], in[Bias], out[0], out[1], out[2 + Y],
                                            out[2 + SaveMean], out[2 + SaveInvstd]);
    },
    false,
    2, // running_mean, running_var
};

// Eval inputs: x, weight, bias, running_mean, running_var.
const OpDef batch_norm2d_eval_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        attrs_as<ops::BatchNorm2dAttrs>(attrs);
        expect_inputs(in, 5);
        ops::batch_norm2d_shape(in[0]->shape.dims, in[1]->shape.dims, in[2]->shape.dims, in[3]->shape.dims,
                                in[4]->shape.dims, false);
        return {{in[0]->shape}};
    },
    [](Graph& g, const Node& n, std::span<const std::optional<ValueId>> dy, const std::vector<bool>& need)
        -> std::vector<std::optional<ValueId>> {
        // The running statistics get no gradient (torch's are buffers), even when asked for.
        if (!need[EX] && !need[EWeight] && !need[EBias]) return {};
        const BatchNorm2dBackwardAttrs want{{need[EX], need[EWeight], need[EBias]},
                                           attrs_as<ops::BatchNorm2dAttrs>(n.attrs)};
        const auto out = g.add_node(Op::batch_norm2d_eval_backward, n.name + ".backward",
                                    {n.inputs[EX], *dy[0], n.inputs[EWeight], n.inputs[ERunningMean],
                                     n.inputs[ERunningVar]},
                                    want);
        return wanted_gradients(want, out, n.inputs.size(), {EX, EWeight, EBias});
    },
    [](const Graph& g, const Node& n, const GemmTuning&) {
        const auto s = eval_shape(g, n);
        // The launch takes (x, running_mean, running_var, weight, bias, y).
        return GpuLowering{{},
                           {{ops::batch_norm2d_forward_launch(s, attrs_as<ops::BatchNorm2dAttrs>(n.attrs), false),
                             {{ArgRef::Input, 0}, {ArgRef::Input, 3}, {ArgRef::Input, 4}, {ArgRef::Input, 1},
                              {ArgRef::Input, 2}, {ArgRef::Output, 0}}}}};
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::batch_norm2d_forward_eval_cpu(pool, eval_shape(g, n), attrs_as<ops::BatchNorm2dAttrs>(n.attrs), in[EX],
                                           in[EWeight], in[EBias], in[ERunningMean], in[ERunningVar], out[0]);
    },
};

const OpDef batch_norm2d_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 5);
        expect_same_shape(*in[BX], *in[BDy]);
        const TensorType c{in[BWeight]->shape};
        return wanted_gradient_types(attrs_as<BatchNorm2dBackwardAttrs>(attrs), {in[BX]->shape}, c, c);
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning& tuning) {
        const auto s = backward_shape(g, n);
        const bool subgroup = tuning.subgroup_reductions;
        const auto& want = attrs_as<BatchNorm2dBackwardAttrs>(n.attrs);
        GpuLowering lowered;
        // dweight and dbias feed dx: computed into temporaries when not wanted.
        uint32_t k = 0;
        const ArgRef dx = want.dx ? ArgRef{ArgRef::Output, k++} : ArgRef{};
        auto output_or_temp = [&](bool wanted) { return wanted ? ArgRef{ArgRef::Output, k++} : lowered.add_temp(s.c); };
        const ArgRef dw = output_or_temp(want.dweight), db = output_or_temp(want.dbias);
        const ArgRef x{ArgRef::Input, BX}, dy{ArgRef::Input, BDy}, mean{ArgRef::Input, BMean},
            invstd{ArgRef::Input, BInvstd};
        const uint32_t chunks = ops::batch_norm2d_chunks(s);
        if (chunks == 1) {
            lowered.kernels.push_back({ops::batch_norm2d_backward_sums_launch(s, subgroup), {x, dy, mean, invstd, dw, db}});
        } else {
            const ArgRef partials = lowered.add_temp(ops::batch_norm2d_partials_size(s, chunks));
            lowered.kernels.push_back({ops::batch_norm2d_backward_partials_launch(s, chunks, subgroup), {x, dy, mean, partials}});
            lowered.kernels.push_back({ops::batch_norm2d_backward_finish_launch(s, chunks), {partials, invstd, dw, db}});
        }
        if (want.dx)
            lowered.kernels.push_back({ops::batch_norm2d_backward_data_launch(s),
                                       {x, dy, mean, invstd, {ArgRef::Input, BWeight}, dw, db, dx}});
        return lowered;
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const auto& want = attrs_as<BatchNorm2dBackwardAttrs>(n.attrs);
        const auto [dx, dw, db] = wanted_gradient_spans(want, out);
        ops::batch_norm2d_backward_cpu(pool, backward_shape(g, n), in[BX], in[BDy], in[BWeight], in[BMean], in[BInvstd],
                                       dx, dw, db);
    },
};

// Computes only the wanted gradients: dx alone (saliency) is one elementwise
// kernel; dweight, dbias are the training backward's sums over the running mean.
const OpDef batch_norm2d_eval_backward_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        expect_inputs(in, 5);
        expect_same_shape(*in[EBX], *in[EBDy]);
        eval_backward_shape(in);
        const TensorType c{in[EBWeight]->shape};
        return wanted_gradient_types(attrs_as<BatchNorm2dBackwardAttrs>(attrs), {in[EBX]->shape}, c, c);
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning& tuning) {
        const auto s = eval_backward_shape(inputs_of(g, n));
        const bool subgroup = tuning.subgroup_reductions;
        const auto& want = attrs_as<BatchNorm2dBackwardAttrs>(n.attrs);
        const ArgRef x{ArgRef::Input, EBX}, dy{ArgRef::Input, EBDy}, weight{ArgRef::Input, EBWeight},
            rm{ArgRef::Input, EBRunningMean}, rv{ArgRef::Input, EBRunningVar};
        GpuLowering lowered;
        uint32_t k = 0;
        const ArgRef dx = want.dx ? ArgRef{ArgRef::Output, k++} : ArgRef{};
        if (want.dweight || want.dbias) {
            // The sums shaders write both; the unwanted one goes to a temporary.
            const ArgRef dw = want.dweight ? ArgRef{ArgRef::Output, k++} : lowered.add_temp(s.c);
            const ArgRef db = want.dbias ? ArgRef{ArgRef::Output, k++} : lowered.add_temp(s.c);
            // dweight = sum(dy * (x - mean)) * invstd. Without dweight nothing
            // reads that product, so running_var stands in and the invstd kernel is skipped.
            ArgRef invstd = rv;
            if (want.dweight) {
                invstd = lowered.add_temp(s.c);
                lowered.kernels.push_back({ops::batch_norm2d_eval_backward_invstd_launch(s, want.bn), {rv, invstd}});
            }
            const uint32_t chunks = ops::batch_norm2d_chunks(s);
            if (chunks == 1) {
                lowered.kernels.push_back(
                    {ops::batch_norm2d_eval_backward_sums_launch(s, subgroup), {x, dy, rm, invstd, dw, db}});
            } else {
                const ArgRef partials = lowered.add_temp(ops::batch_norm2d_partials_size(s, chunks));
                lowered.kernels.push_back(
                    {ops::batch_norm2d_eval_backward_partials_launch(s, chunks, subgroup), {x, dy, rm, partials}});
                lowered.kernels.push_back(
                    {ops::batch_norm2d_eval_backward_finish_launch(s, chunks), {partials, invstd, dw, db}});
            }
        }
        if (want.dx)
            lowered.kernels.push_back({ops::batch_norm2d_eval_backward_data_launch(s, want.bn), {dy, rv, weight, dx}});
        return lowered;
    },
    [](const Graph& g, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        const auto& want = attrs_as<BatchNorm2dBackwardAttrs>(n.attrs);
        const auto [dx, dw, db] = wanted_gradient_spans(want, out);
        ops::batch_norm2d_eval_backward_cpu(pool, eval_backward_shape(inputs_of(g, n)), want.bn, in[EBX], in[EBDy],
                                            in[EBWeight], in[EBRunningMean], in[EBRunningVar], dx, dw, db);
    },
};

ValueId Graph::batch_norm2d(ValueId x, ValueId weight, ValueId bias, ValueId running_mean, ValueId running_var,
                            bool training, const ops::BatchNorm2dAttrs& attrs, std::string name) {
    if (training) return add_node(Op::batch_norm2d, std::move(name), {running_mean, running_var, x, weight, bias}, attrs)[0];
    return add_node(Op::batch_norm2d_eval, std::move(name), {x, weight, bias, running_mean, running_var}, attrs)[0];
}

} // namespace vkcnn::graph
