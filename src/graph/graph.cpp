// Graph construction (see graph.h). Shape rules are in each op's OpDef
// (src/graph/ops), autodiff in autodiff.cpp.
#include "vkcnn/graph/graph.h"

#include "vkcnn/core/error.h"
#include "vkcnn/graph/op_def.h"

#include <array>

namespace vkcnn::graph {

const char* role_name(Role r) {
    static const char* names[] = {"input", "parameter", "activation", "gradient", "optimizer state", "running stat"};
    return names[static_cast<size_t>(r)];
}

const char* op_name(Op op) {
    static const char* names[] = {
#define VKCNN_OP_NAME(name) #name,
        VKCNN_GRAPH_OPS(VKCNN_OP_NAME)
#undef VKCNN_OP_NAME
    };
    static_assert(std::size(names) == kOpCount);
    return names[static_cast<size_t>(op)];
}

namespace {

std::string describe_inputs(const Graph& g, const std::vector<ValueId>& inputs) {
    std::string s;
    for (ValueId v : inputs) s += cat(s.empty() ? "" : ", ", "'", g.value(v).name, "' ", g.value(v).shape.str());
    return s.empty() ? "none" : s;
}

} // namespace

std::string Graph::unique_name(std::string wanted, std::string_view fallback_prefix) {
    if (wanted.empty()) wanted = cat(fallback_prefix, "_", values_.size());
    check(!by_name_.contains(wanted), "the name '", wanted, "' is already used in this graph");
    return wanted;
}

ValueId Graph::new_value(std::string name, Shape shape, DType dtype, Role role, int32_t producer) {
    for (int64_t d : shape.dims) check(d > 0, "value '", name, "': shape ", shape.str(), " has a non-positive dimension");
    const ValueId id = static_cast<ValueId>(values_.size());
    by_name_.emplace(name, id);
    values_.push_back({std::move(name), std::move(shape), dtype, role, producer, false, false});
    return id;
}

ValueId Graph::input(std::string name, Shape shape, DType dtype) {
    name = unique_name(std::move(name), "input");
    return new_value(std::move(name), std::move(shape), dtype, Role::Input, -1);
}

ValueId Graph::parameter(std::string name, Shape shape) {
    name = unique_name(std::move(name), "parameter");
    return new_value(std::move(name), std::move(shape), DType::F32, Role::Parameter, -1);
}

ValueId Graph::running_stat(std::string name, Shape shape) {
    name = unique_name(std::move(name), "running_stat");
    return new_value(std::move(name), std::move(shape), DType::F32, Role::RunningStat, -1);
}

ValueId Graph::optimizer_state(std::string name, Shape shape) {
    name = unique_name(std::move(name), "optimizer_state");
    return new_value(std::move(name), std::move(shape), DType::F32, Role::OptimizerState, -1);
}

void Graph::freeze(ValueId p) {
    check(p < values_.size() && values_[p].role == Role::Parameter, "freeze: value ", p, " is not a parameter");
    values_[p].frozen = true;
}

void Graph::mark_output(ValueId v) {
    check(v < values_.size(), "mark_output: value ", v, " does not exist");
    values_[v].output = true;
}

void Graph::alias(ValueId v, std::string name) {
    check(v < values_.size(), "alias: value ", v, " does not exist");
    check(!by_name_.contains(name), "the name '", name, "' is already used in this graph");
    by_name_.emplace(std::move(name), v);
}

std::optional<ValueId> Graph::find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
}

std::vector<ValueId> Graph::add_node(Op op, std::string name, std::vector<ValueId> inputs, Attributes attrs,
                                     Role output_role) {
    if (name.empty()) name = cat(op_name(op), "_", nodes_.size());
    for (const Node& n : nodes_) check(n.name != name, "a node named '", name, "' already exists");
    std::vector<const Value*> in;
    for (ValueId v : inputs) {
        check(v < values_.size(), "node '", name, "' (", op_name(op), "): input ", v, " does not exist");
        in.push_back(&values_[v]);
    }
    std::vector<TensorType> out;
    try {
        out = op_def(op).shape(in, attrs);
    } catch (const Error& e) {
        throw Error(cat("node '", name, "' (", op_name(op), "): ", e.what(), "; inputs: ", describe_inputs(*this, inputs)));
    }
    const int32_t index = static_cast<int32_t>(nodes_.size());
    Node node{op, name, std::move(inputs), {}, std::move(attrs)};
    for (size_t i = 0; i < out.size(); ++i) {
        // The first output is named as the node (what a caller reads), the others "<node>.<i>".
        std::string value_name = unique_name(i == 0 ? name : cat(name, ".", i), "");
        node.outputs.push_back(new_value(std::move(value_name), out[i].shape, out[i].dtype, output_role, index));
    }
    nodes_.push_back(std::move(node));
    return nodes_.back().outputs;
}

} // namespace vkcnn::graph
