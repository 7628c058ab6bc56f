// The graph IR: values (shape, dtype, role) and nodes (an op, its attributes,
// input and output values). Nodes are appended in a valid execution order —
// a node can only use values that already exist — so a graph is acyclic by
// construction. The graph knows nothing about Vulkan.
#pragma once

#include "vkcnn/core/tensor.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace vkcnn::graph {

using ValueId = uint32_t;

enum class Role : uint8_t {
    Input,          // fed by the caller every run (a batch, labels)
    Parameter,      // trained weights: persistent
    Activation,     // computed by the forward pass
    Gradient,       // computed by the backward pass
    OptimizerState, // momentum, Adam moments: persistent
    RunningStat,    // batch-norm running statistics: persistent
};
const char* role_name(Role r);
inline bool is_persistent(Role r) { return r == Role::Parameter || r == Role::OptimizerState || r == Role::RunningStat; }

// The ops the graph knows. One list drives the enum, the names, the shape
// rules, the gradient rules and the lowerings; each table static_asserts
// that it covers kOpCount entries.
#define VKCNN_GRAPH_OPS(X) \
    X(fill)                \
    X(add)                 \
    X(relu)                \
    X(relu_backward)

enum class Op : uint8_t {
#define VKCNN_OP_ENUM(name) name,
    VKCNN_GRAPH_OPS(VKCNN_OP_ENUM)
#undef VKCNN_OP_ENUM
};
inline constexpr size_t kOpCount = 0
#define VKCNN_OP_COUNT(name) +1
    VKCNN_GRAPH_OPS(VKCNN_OP_COUNT)
#undef VKCNN_OP_COUNT
    ;
const char* op_name(Op op);

struct FillAttrs {
    Shape shape;
    float value = 0.0f;
};
using Attributes = std::variant<std::monostate, FillAttrs>;

struct Value {
    std::string name;
    Shape shape;
    DType dtype = DType::F32;
    Role role = Role::Activation;
    int32_t producer = -1; // node index, -1 for inputs and persistent values
    bool frozen = false;   // a parameter that gets no gradient (transfer learning)
    bool output = false;   // the caller reads it after a run: its memory is never reused
};

struct Node {
    Op op;
    std::string name;
    std::vector<ValueId> inputs, outputs;
    Attributes attrs;
};

class Graph {
public:
    ValueId input(std::string name, Shape shape, DType dtype = DType::F32);
    ValueId parameter(std::string name, Shape shape);
    void freeze(ValueId parameter);
    // Marks a value as a result of the step (kept readable after each run).
    // backward() marks the gradients it returns.
    void mark_output(ValueId v);

    // Ops. An empty name gets "<op>_<index>". Shape errors name the node.
    ValueId fill(Shape shape, float value, std::string name = {});
    ValueId add(ValueId a, ValueId b, std::string name = {});
    ValueId relu(ValueId x, std::string name = {});
    ValueId relu_backward(ValueId x, ValueId dy, std::string name = {});

    // Appends a node after inferring its output shapes (throws naming the node
    // and its input shapes); returns its outputs.
    std::vector<ValueId> add_node(Op op, std::string name, std::vector<ValueId> inputs, Attributes attrs,
                                  Role output_role = Role::Activation);

    // Reverse-mode autodiff from `output`: appends the backward nodes and
    // returns the gradient of every trainable (not frozen) parameter and of each
    // value in `wrt` (inputs, for saliency), keyed by the value; each is also
    // named "<value>.grad". The output's gradient is 1 for a scalar loss, or
    // `seed` (a value of the output's shape: a one-hot for d score / d image).
    // Gradients of values used more than once are summed. Throws naming the
    // node when a gradient must flow through an op that has none.
    std::unordered_map<ValueId, ValueId> backward(ValueId output, std::span<const ValueId> wrt = {},
                                                  std::optional<ValueId> seed = std::nullopt);

    const Value& value(ValueId v) const { return values_.at(v); }
    const Node& node(size_t i) const { return nodes_.at(i); }
    size_t value_count() const { return values_.size(); }
    size_t node_count() const { return nodes_.size(); }
    // A value by its name or an alias ("conv1.weight.grad"); names are unique.
    std::optional<ValueId> find(std::string_view name) const;
    void alias(ValueId v, std::string name);

private:
    ValueId new_value(std::string name, Shape shape, DType dtype, Role role, int32_t producer);
    std::string unique_name(std::string wanted, std::string_view fallback_prefix);

    std::vector<Value> values_;
    std::vector<Node> nodes_;
    std::unordered_map<std::string, ValueId> by_name_;
};

} // namespace vkcnn::graph
