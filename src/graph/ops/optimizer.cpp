// Optimizer steps in the graph: nodes with no outputs that update a
// parameter and its state in place (OpDef::updates), appended after the
// backward pass so they run after every read of the old weights — the
// hazard planner orders them (write-after-read). Per-step scalars (learning
// rate, bias corrections) are an input the host writes before each run, so
// the recording never changes. State is named as in PyTorch's optimizer
// state_dict: "<param>.momentum_buffer", "<param>.exp_avg", "<param>.exp_avg_sq".
#include "vkcnn/graph/op_def.h"
#include "vkcnn/graph/step_groups.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/optimizer.h"

namespace vkcnn::graph {

namespace {

// Inputs: the updated values (the parameter first), then grad, then scalars.
std::vector<TensorType> step_shape(std::span<const Value* const> in, size_t updated) {
    expect_inputs(in, updated + 2);
    for (size_t k = 0; k <= updated; ++k) expect_same_shape(*in[0], *in[k]); // state and grad match the parameter
    check(in[updated + 1]->shape == Shape{4}, "step scalars '", in[updated + 1]->name, "' have shape ",
          in[updated + 1]->shape.str(), ", expected (4,)");
    return {};
}

ops::StepScalars scalars_of(std::span<const float> s) { return {s[0], s[1], s[2], s[3]}; }

// A step node's inputs in its shader's argument order: p, grad, its state,
// then the step scalars (the node's own order puts the state before grad).
// Empty for other ops.
std::span<const uint32_t> shader_inputs(Op op) {
    static constexpr uint32_t sgd[] = {0, 1, 2}, momentum[] = {0, 2, 1, 3}, adam[] = {0, 3, 1, 2, 4};
    switch (op) {
    case Op::sgd_step: return sgd;
    case Op::sgd_momentum_step: return momentum;
    case Op::adam_step: return adam;
    default: return {};
    }
}

GpuLowering step_lowering(KernelLaunch launch, const Node& n) {
    LoweredKernel k{std::move(launch), {}};
    for (uint32_t i : shader_inputs(n.op)) k.args.push_back({ArgRef::Input, i});
    return {{}, {std::move(k)}};
}

} // namespace

// sgd_step (p, grad, scalars): p updated.
const OpDef sgd_step_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        ops::check_sgd_attrs(attrs_as<ops::SgdAttrs>(attrs));
        return step_shape(in, 1);
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return step_lowering(ops::sgd_step_launch(attrs_as<ops::SgdAttrs>(n.attrs), elements(g, n.inputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::sgd_step_cpu(pool, attrs_as<ops::SgdAttrs>(n.attrs), scalars_of(in[2]), out[0], in[1], {});
    },
    false,
    1,
};

// sgd_momentum_step (p, buf, grad, scalars): p and buf updated.
const OpDef sgd_momentum_step_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        ops::check_sgd_attrs(attrs_as<ops::SgdAttrs>(attrs));
        return step_shape(in, 2);
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return step_lowering(ops::sgd_step_launch(attrs_as<ops::SgdAttrs>(n.attrs), elements(g, n.inputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::sgd_step_cpu(pool, attrs_as<ops::SgdAttrs>(n.attrs), scalars_of(in[3]), out[0], in[2], out[1]);
    },
    false,
    2,
};

// adam_step (p, m, v, grad, scalars): p, m and v updated. Adam and AdamW.
const OpDef adam_step_def{
    [](std::span<const Value* const> in, const Attributes& attrs) -> std::vector<TensorType> {
        ops::check_adam_attrs(attrs_as<ops::AdamAttrs>(attrs));
        return step_shape(in, 3);
    },
    nullptr,
    [](const Graph& g, const Node& n, const GemmTuning&) {
        return step_lowering(ops::adam_step_launch(attrs_as<ops::AdamAttrs>(n.attrs), elements(g, n.inputs[0])), n);
    },
    [](const Graph&, const Node& n, cpu::ThreadPool& pool, CpuInputs in, CpuOutputs out) {
        ops::adam_step_cpu(pool, attrs_as<ops::AdamAttrs>(n.attrs), scalars_of(in[4]), out[0], in[3], out[1],
                           out[2]);
    },
    false,
    3,
};

// The parameter's name and shape are copies: optimizer_state() and add_node()
// append to values_, which can reallocate it under a reference.
void Graph::sgd_step(ValueId param, ValueId grad, ValueId scalars, const ops::SgdAttrs& attrs) {
    const std::string p = value(param).name;
    if (attrs.momentum == 0) {
        add_node(Op::sgd_step, p + ".sgd_step", {param, grad, scalars}, attrs);
        return;
    }
    const ValueId buf = optimizer_state(p + ".momentum_buffer", value(param).shape);
    add_node(Op::sgd_momentum_step, p + ".sgd_step", {param, buf, grad, scalars}, attrs);
}

void Graph::adam_step(ValueId param, ValueId grad, ValueId scalars, const ops::AdamAttrs& attrs) {
    const std::string p = value(param).name;
    const ValueId m = optimizer_state(p + ".exp_avg", value(param).shape);
    const ValueId v = optimizer_state(p + ".exp_avg_sq", value(param).shape);
    add_node(Op::adam_step, p + ".adam_step", {param, m, v, grad, scalars}, attrs);
}

namespace {

// A step node's operands in its shader's argument order and its scalars
// input; nothing for other nodes.
struct StepOperands {
    std::vector<ValueId> operands;
    ValueId scalars;
};
std::optional<StepOperands> step_operands(const Node& n) {
    const std::span<const uint32_t> order = shader_inputs(n.op);
    if (order.empty()) return std::nullopt;
    StepOperands o{{}, n.inputs[order.back()]};
    for (uint32_t i : order.first(order.size() - 1)) o.operands.push_back(n.inputs[i]);
    return o;
}

} // namespace

std::vector<StepGroup> optimizer_step_groups(const Plan& plan) {
    const Graph& g = plan.graph;
    const auto storage = [&](ValueId v) { return plan.storage[plan.home[v]]; };
    // Can node b join a group that node a started?
    const auto fits = [&](const Node& a, const StepOperands& oa, const Node& b, const StepOperands& ob) {
        if (a.op != b.op || oa.scalars != ob.scalars) return false;
        const bool same_attrs = a.op == Op::adam_step
                                    ? attrs_as<ops::AdamAttrs>(a.attrs) == attrs_as<ops::AdamAttrs>(b.attrs)
                                    : attrs_as<ops::SgdAttrs>(a.attrs) == attrs_as<ops::SgdAttrs>(b.attrs);
        if (!same_attrs) return false;
        for (size_t k = 0; k < oa.operands.size(); ++k)
            if (storage(oa.operands[k]) != storage(ob.operands[k])) return false;
        return true;
    };
    std::vector<StepGroup> groups;
    for (uint32_t pos = 0; pos < plan.order.size();) {
        const Node& a = g.node(plan.order[pos]);
        const auto oa = step_operands(a);
        uint32_t end = pos + 1;
        if (oa) {
            for (; end < plan.order.size(); ++end) {
                const Node& b = g.node(plan.order[end]);
                const auto ob = step_operands(b);
                if (!ob || !fits(a, *oa, b, *ob)) break;
            }
        }
        if (end - pos >= 2) {
            StepGroup group{pos, end - 1, {}, 0, {}, oa->scalars};
            for (uint32_t q = pos; q < end; ++q) {
                const Node& n = g.node(plan.order[q]);
                group.operands.push_back(step_operands(n)->operands);
                group.elements += elements(g, n.inputs[0]);
            }
            const size_t total = group.elements;
            group.launch = a.op == Op::adam_step ? ops::adam_step_multi_launch(attrs_as<ops::AdamAttrs>(a.attrs), total)
                                                 : ops::sgd_step_multi_launch(attrs_as<ops::SgdAttrs>(a.attrs), total);
            groups.push_back(std::move(group));
        }
        pos = end;
    }
    return groups;
}

} // namespace vkcnn::graph
