// Graph construction (see graph.h). Shape rules are in each op's OpDef
// (src/graph/ops), autodiff in autodiff.cpp.
#include "vkcnn/graph/graph.h"

#include "vkcnn/core/error.h"
#include "vkcnn/graph/op_def.h"

#include <array>
#include <variant>

namespace vkcnn::graph {

const char* role_name(Role r) {
    static const char* names[] = {"input", "parameter", "activation", "gradient", "optimizer state", "running stat"};
    static_assert(std::size(names) == static_cast<size_t>(Role::RunningStat) + 1);
    // A Role cast from a number (an add_node output_role) may lie outside the enum.
    return static_cast<size_t>(r) < std::size(names) ? names[static_cast<size_t>(r)] : "unknown role";
}

const char* op_name(Op op) {
    static const char* names[] = {
#define VKCNN_OP_NAME(name) #name,
        VKCNN_GRAPH_OPS(VKCNN_OP_NAME)
#undef VKCNN_OP_NAME
    };
    static_assert(std::size(names) == kOpCount);
    return static_cast<size_t>(op) < kOpCount ? names[static_cast<size_t>(op)] : "unknown op";
}

namespace {

// One overload per Attributes alternative: a new alternative without a name
// does not compile in attributes_name's visit.
const char* kind(const std::monostate&) { return "none"; }
const char* kind(const FillAttrs&) { return "FillAttrs"; }
const char* kind(const ReshapeAttrs&) { return "ReshapeAttrs"; }
const char* kind(const ops::LeakyReluAttrs&) { return "ops::LeakyReluAttrs"; }
const char* kind(const LinearBackwardAttrs&) { return "LinearBackwardAttrs"; }
const char* kind(const ops::Conv2dAttrs&) { return "ops::Conv2dAttrs"; }
const char* kind(const Conv2dBackwardAttrs&) { return "Conv2dBackwardAttrs"; }
const char* kind(const ops::MaxPool2dAttrs&) { return "ops::MaxPool2dAttrs"; }
const char* kind(const PoolBackwardAttrs<ops::MaxPool2dAttrs>&) { return "PoolBackwardAttrs<ops::MaxPool2dAttrs>"; }
const char* kind(const ops::AvgPool2dAttrs&) { return "ops::AvgPool2dAttrs"; }
const char* kind(const PoolBackwardAttrs<ops::AvgPool2dAttrs>&) { return "PoolBackwardAttrs<ops::AvgPool2dAttrs>"; }
const char* kind(const ops::AdaptiveAvgPool2dAttrs&) { return "ops::AdaptiveAvgPool2dAttrs"; }
const char* kind(const PoolBackwardAttrs<ops::AdaptiveAvgPool2dAttrs>&) {
    return "PoolBackwardAttrs<ops::AdaptiveAvgPool2dAttrs>";
}
const char* kind(const ops::BatchNorm2dAttrs&) { return "ops::BatchNorm2dAttrs"; }
const char* kind(const BatchNorm2dBackwardAttrs&) { return "BatchNorm2dBackwardAttrs"; }
const char* kind(const ops::CrossEntropyAttrs&) { return "ops::CrossEntropyAttrs"; }
const char* kind(const ops::SgdAttrs&) { return "ops::SgdAttrs"; }
const char* kind(const ops::AdamAttrs&) { return "ops::AdamAttrs"; }
const char* kind(const ops::DropoutAttrs&) { return "ops::DropoutAttrs"; }
const char* kind(const ops::AugmentAttrs&) { return "ops::AugmentAttrs"; }
const char* kind(const ops::ConvTranspose2dAttrs&) { return "ops::ConvTranspose2dAttrs"; }
const char* kind(const ConvTranspose2dBackwardAttrs&) { return "ConvTranspose2dBackwardAttrs"; }
const char* kind(const ConcatBackwardAttrs&) { return "ConcatBackwardAttrs"; }
const char* kind(const ops::UnaryMathAttrs&) { return "ops::UnaryMathAttrs"; }
const char* kind(const ReduceAttrs&) { return "ReduceAttrs"; }
const char* kind(const ReduceBackwardAttrs&) { return "ReduceBackwardAttrs"; }

} // namespace

const char* attributes_name(const Attributes& a) {
    // std::visit throws std::bad_variant_access on a valueless variant (left
    // so by a throwing assignment): that one is named too.
    if (a.valueless_by_exception()) return "valueless";
    return std::visit([](const auto& attrs) { return kind(attrs); }, a);
}

namespace {

std::string describe_inputs(const Graph& g, const std::vector<ValueId>& inputs) {
    std::string s;
    for (ValueId v : inputs) s += cat(s.empty() ? "" : ", ", "'", g.value(v).name, "' ", g.value(v).shape.str());
    return s.empty() ? "none" : s;
}

} // namespace

void Graph::no_value(ValueId v) const {
    throw Error(cat("graph: value ", v, " does not exist (the graph has ", values_.size(), " values)"));
}

void Graph::no_node(size_t i) const {
    throw Error(cat("graph: node ", i, " does not exist (the graph has ", nodes_.size(), " nodes)"));
}

std::string Graph::unique_name(std::string wanted, std::string_view fallback_prefix) {
    if (wanted.empty()) wanted = cat(fallback_prefix, "_", values_.size());
    check(!by_name_.contains(wanted), "the name '", wanted, "' is already used in this graph");
    return wanted;
}

ValueId Graph::new_value(std::string name, Shape shape, DType dtype, Role role, int32_t producer) {
    // Every size computed from a shape (elements, bytes, offsets) then fits an int64.
    constexpr int64_t kMaxElements = int64_t{1} << 60;
    int64_t elements = 1;
    for (int64_t d : shape.dims) {
        check(d > 0, "value '", name, "': shape ", shape.str(), " has a non-positive dimension");
        check(d <= kMaxElements / elements, "value '", name, "': shape ", shape.str(), " has more than 2^60 elements");
        elements *= d;
    }
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
    check(static_cast<size_t>(op) < kOpCount, "add_node: op ", static_cast<unsigned>(op), " is not an op (the graph knows ",
          kOpCount, ": 0..", kOpCount - 1, ")");
    check(output_role == Role::Activation || output_role == Role::Gradient, "add_node: node '", name, "' (",
          op_name(op), "): its outputs' role is ", role_name(output_role), " (", static_cast<unsigned>(output_role),
          "), but a node computes activations or gradients (parameters, inputs and state are made by parameter(), "
          "input(), running_stat(), optimizer_state())");
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
