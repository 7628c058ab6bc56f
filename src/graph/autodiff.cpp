// Reverse-mode autodiff over the graph: each op's gradient rule (its OpDef,
// as tinygrad's and PyTorch's derivatives.yaml), applied to the nodes
// in reverse order, only where a gradient is needed.
#include "vkcnn/graph/graph.h"

#include "vkcnn/core/error.h"
#include "vkcnn/graph/op_def.h"

#include <algorithm>
#include <array>
#include <map>

namespace vkcnn::graph {

std::unordered_map<ValueId, ValueId> Graph::backward(ValueId loss, std::span<const ValueId> wrt,
                                                     std::optional<ValueId> seed,
                                                     std::span<const GradientOverride> overrides) {
    for (size_t i = 0; i < overrides.size(); ++i) {
        check(overrides[i].rule != nullptr, "backward: the override of ", op_name(overrides[i].op), " has no rule");
        for (size_t j = 0; j < i; ++j)
            check(overrides[j].op != overrides[i].op, "backward: ", op_name(overrides[i].op), " is overridden twice");
    }
    const auto rule_of = [&](Op op) {
        for (const GradientOverride& o : overrides)
            if (o.op == op) return o.rule;
        return op_def(op).grad;
    };
    check(loss < values_.size(), "backward: output value ", loss, " does not exist");
    if (seed) {
        check(*seed < values_.size(), "backward: seed value ", *seed, " does not exist");
        check(values_[*seed].shape == values_[loss].shape, "backward: the seed '", values_[*seed].name, "' has shape ",
              values_[*seed].shape.str(), ", the output '", values_[loss].name, "' has ", values_[loss].shape.str());
    } else {
        check(values_[loss].shape.elements() == 1, "backward: the output '", values_[loss].name, "' has shape ",
              values_[loss].shape.str(), "; give a seed gradient or reduce it to a scalar loss");
    }
    const size_t forward_nodes = nodes_.size();
    mark_output(loss); // the loss is what a caller reads after every step

    // A value needs a gradient if it depends on a trainable parameter or a
    // `wrt` value, and the loss depends on it.
    std::vector<bool> depends(values_.size(), false), reaches(values_.size(), false);
    for (ValueId v = 0; v < values_.size(); ++v)
        depends[v] = values_[v].role == Role::Parameter && !values_[v].frozen;
    for (ValueId v : wrt) {
        check(v < values_.size(), "backward: value ", v, " does not exist");
        depends[v] = true;
    }
    for (size_t i = 0; i < forward_nodes; ++i) {
        bool any = false;
        for (ValueId v : nodes_[i].inputs) any = any || depends[v];
        for (ValueId v : nodes_[i].outputs) depends[v] = depends[v] || any;
    }
    reaches[loss] = true;
    for (size_t i = forward_nodes; i-- > 0;) {
        bool any = false;
        for (ValueId v : nodes_[i].outputs) any = any || reaches[v];
        for (ValueId v : nodes_[i].inputs) reaches[v] = reaches[v] || any;
    }

    // Gradient contributions per value, summed when a value is used more than once.
    std::map<ValueId, std::vector<ValueId>> contributions;
    contributions[loss].push_back(seed ? *seed
                                       : add_node(Op::fill, values_[loss].name + ".grad_seed", {},
                                                  FillAttrs{values_[loss].shape, 1.0f}, Role::Gradient)[0]);
    auto summed = [&](ValueId v) -> std::optional<ValueId> {
        auto it = contributions.find(v);
        if (it == contributions.end()) return std::nullopt;
        std::vector<ValueId>& parts = it->second;
        while (parts.size() > 1) { // a fixed, pairwise order: deterministic
            const ValueId b = parts.back();
            parts.pop_back();
            const ValueId a = parts.back();
            parts.back() = add_node(Op::add, cat(values_[v].name, ".grad_sum_", parts.size()), {a, b}, {},
                                    Role::Gradient)[0];
        }
        return parts[0];
    };

    for (size_t i = forward_nodes; i-- > 0;) {
        const Node node = nodes_[i]; // a copy: the rule appends nodes
        std::vector<bool> need(node.inputs.size());
        bool any_need = false;
        for (size_t k = 0; k < node.inputs.size(); ++k)
            any_need |= need[k] = depends[node.inputs[k]] && reaches[node.inputs[k]];
        if (!any_need) continue;
        std::vector<std::optional<ValueId>> dy;
        for (ValueId out : node.outputs) dy.push_back(summed(out));
        if (std::none_of(dy.begin(), dy.end(), [](auto& d) { return d.has_value(); })) continue;
        const GradRule rule = rule_of(node.op);
        check(rule != nullptr, "backward: a gradient must flow through node '", node.name, "' (", op_name(node.op),
              "), which is not differentiable");
        // The rules take the gradient of output 0 (dy[0] must be there); the
        // other outputs (max_pool2d's indices, batch norm's saved statistics)
        // are not differentiable, and a gradient into one would be lost.
        for (size_t k = 1; k < dy.size(); ++k)
            check(!dy[k], "backward: a gradient reaches output ", k, " '", values_[node.outputs[k]].name,
                  "' of node '", node.name, "' (", op_name(node.op), "), but only its first output is differentiable");
        const size_t first_new = nodes_.size();
        const auto dx = rule(*this, node, dy, need);
        for (size_t j = first_new; j < nodes_.size(); ++j) // what the rule built is backward pass
            for (ValueId out : nodes_[j].outputs) values_[out].role = Role::Gradient;
        for (size_t k = 0; k < node.inputs.size(); ++k)
            if (need[k] && k < dx.size() && dx[k]) contributions[node.inputs[k]].push_back(*dx[k]);
    }

    std::unordered_map<ValueId, ValueId> result;
    // Each gradient is also found as "<value>.grad". One gradient value may
    // serve several (add passes its gradient through to both inputs).
    auto record = [&](ValueId v) {
        if (auto g = summed(v)) {
            alias(*g, values_[v].name + ".grad");
            mark_output(*g);
            result[v] = *g;
        }
    };
    for (ValueId v = 0; v < values_.size(); ++v)
        if (values_[v].role == Role::Parameter && !values_[v].frozen && !result.contains(v)) record(v);
    for (ValueId v : wrt)
        if (!result.contains(v)) record(v);
    return result;
}

} // namespace vkcnn::graph
