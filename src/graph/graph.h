// The graph IR: values (shape, dtype, role) and nodes (an op, its attributes,
// input and output values). Nodes are appended in a valid execution order —
// a node can only use values that already exist — so a graph is acyclic by
// construction. The graph knows nothing about Vulkan.
#pragma once

#include "vkcnn/core/tensor.h"
#include "vkcnn/ops/activations.h"
#include "vkcnn/ops/adaptive_avg_pool2d.h"
#include "vkcnn/ops/augment.h"
#include "vkcnn/ops/avg_pool2d.h"
#include "vkcnn/ops/batch_norm2d.h"
#include "vkcnn/ops/conv2d.h"
#include "vkcnn/ops/conv_transpose2d.h"
#include "vkcnn/ops/cross_entropy.h"
#include "vkcnn/ops/dropout.h"
#include "vkcnn/ops/max_pool2d.h"
#include "vkcnn/ops/optimizer.h"
#include "vkcnn/ops/unary_math.h"

#include <array>
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
const char* role_name(Role r); // "unknown role" for a value outside the enum
inline bool is_persistent(Role r) { return r == Role::Parameter || r == Role::OptimizerState || r == Role::RunningStat; }

// The ops the graph knows. One list drives the enum, the names and the table
// of OpDefs (op_def.h: shape rule, gradient rule, lowerings), which
// src/graph/ops/<family>.cpp define.
#define VKCNN_GRAPH_OPS(X)  \
    X(fill)                 \
    X(reshape)              \
    X(add)                  \
    X(mul)                  \
    X(mul_backward)         \
    X(relu)                 \
    X(relu_backward)        \
    X(leaky_relu)           \
    X(leaky_relu_backward)  \
    X(sigmoid)              \
    X(sigmoid_backward)     \
    X(tanh)                 \
    X(tanh_backward)        \
    X(linear)               \
    X(linear_backward)      \
    X(conv2d)               \
    X(conv2d_backward)      \
    X(conv_transpose2d)     \
    X(conv_transpose2d_backward) \
    X(concat)               \
    X(concat_backward)      \
    X(max_pool2d)           \
    X(max_pool2d_backward)  \
    X(avg_pool2d)           \
    X(avg_pool2d_backward)  \
    X(adaptive_avg_pool2d)  \
    X(adaptive_avg_pool2d_backward) \
    X(batch_norm2d)         \
    X(batch_norm2d_eval)    \
    X(batch_norm2d_backward) \
    X(batch_norm2d_eval_backward) \
    X(softmax)              \
    X(softmax_backward)     \
    X(log_softmax)          \
    X(log_softmax_backward) \
    X(cross_entropy)        \
    X(cross_entropy_backward) \
    X(mse_loss)             \
    X(mse_loss_backward)    \
    X(accuracy)             \
    X(sgd_step)             \
    X(sgd_momentum_step)    \
    X(adam_step)            \
    X(dropout)              \
    X(dropout_backward)     \
    X(augment)              \
    X(unary_math)           \
    X(unary_math_backward)  \
    X(sum)                  \
    X(mean)                 \
    X(reduce_backward)

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
const char* op_name(Op op); // "unknown op" for a value outside the enum

struct FillAttrs {
    Shape shape;
    float value = 0.0f;
};
struct ReshapeAttrs {
    Shape shape;
};
// Which gradients the backward node of a layer with a weight computes; its
// outputs are the wanted ones, in the order dx, dweight, dbias.
struct WantedGradients {
    bool dx = false, dweight = false, dbias = false;
};
struct LinearBackwardAttrs : WantedGradients {};
struct Conv2dBackwardAttrs : WantedGradients {
    ops::Conv2dAttrs conv;
};
struct ConvTranspose2dBackwardAttrs : WantedGradients {
    ops::ConvTranspose2dAttrs conv;
};
// concat's backward node reads only dy: the channels of every forward input
// say where each gradient's block lies in dy; its outputs are the gradients
// of the inputs marked wanted, in input order.
struct ConcatBackwardAttrs {
    std::vector<uint32_t> channels;
    std::vector<bool> wanted;
};
// A pooling backward node: the forward's attributes and input shape.
template <typename PoolAttrs>
struct PoolBackwardAttrs {
    PoolAttrs pool;
    std::array<int64_t, 4> x_shape;
};
struct BatchNorm2dBackwardAttrs : WantedGradients {
    ops::BatchNorm2dAttrs bn; // eval backward's eps; training backward reads the saved invstd
};
// sum and mean over a block of trailing axes (negative ones count from the
// end); none: the whole tensor.
struct ReduceAttrs {
    std::vector<int64_t> axes;
};
// Their backward node reads only dy: the forward input's shape says how far
// each element of dy is broadcast, and `mean` whether it is divided by the count.
struct ReduceBackwardAttrs {
    Shape x_shape;
    bool mean = false;
};
using Attributes =
    std::variant<std::monostate, FillAttrs, ReshapeAttrs, ops::LeakyReluAttrs, LinearBackwardAttrs, ops::Conv2dAttrs,
                 Conv2dBackwardAttrs, ops::MaxPool2dAttrs, PoolBackwardAttrs<ops::MaxPool2dAttrs>, ops::AvgPool2dAttrs,
                 PoolBackwardAttrs<ops::AvgPool2dAttrs>, ops::AdaptiveAvgPool2dAttrs,
                 PoolBackwardAttrs<ops::AdaptiveAvgPool2dAttrs>, ops::BatchNorm2dAttrs, BatchNorm2dBackwardAttrs, ops::CrossEntropyAttrs, ops::SgdAttrs,
                 ops::AdamAttrs, ops::DropoutAttrs, ops::AugmentAttrs, ops::ConvTranspose2dAttrs,
                 ConvTranspose2dBackwardAttrs, ConcatBackwardAttrs, ops::UnaryMathAttrs, ReduceAttrs,
                 ReduceBackwardAttrs>;
// The kind of attributes `a` holds, as errors name it: "ops::Conv2dAttrs", "none".
const char* attributes_name(const Attributes& a);

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

class Graph;

// An op's gradient rule (its OpDef's, op_def.h): given the node and the
// gradient of each of its outputs (absent where none flows), appends the
// backward nodes and returns the gradient of each input whose `need` is set.
using GradRule = std::vector<std::optional<ValueId>> (*)(Graph& g, const Node& n,
                                                         std::span<const std::optional<ValueId>> dy,
                                                         const std::vector<bool>& need);
// A rule that replaces an op's own for one backward() call, the op table
// untouched: how attribution methods pass a gradient through a ReLU.
struct GradientOverride {
    Op op;
    GradRule rule;
};
// ReLU's rule in guided backpropagation (Springenberg et al. 2015): the
// gradient passes where the forward input was positive and the gradient
// itself is positive, dx = dy * [x > 0] * [dy > 0].
std::vector<std::optional<ValueId>> guided_relu_gradient(Graph& g, const Node& n,
                                                         std::span<const std::optional<ValueId>> dy,
                                                         const std::vector<bool>& need);
// ReLU's rule in the deconvnet (Zeiler & Fergus 2014): the ReLU of the
// gradient, whatever the forward input was, dx = max(dy, 0).
std::vector<std::optional<ValueId>> deconvnet_relu_gradient(Graph& g, const Node& n,
                                                            std::span<const std::optional<ValueId>> dy,
                                                            const std::vector<bool>& need);

class Graph {
public:
    ValueId input(std::string name, Shape shape, DType dtype = DType::F32);
    ValueId parameter(std::string name, Shape shape);
    // Persistent values that are not trained: batch-norm running statistics,
    // optimizer state.
    ValueId running_stat(std::string name, Shape shape);
    ValueId optimizer_state(std::string name, Shape shape);
    void freeze(ValueId parameter);
    // Marks a value as a result of the step (kept readable after each run).
    // backward() marks its output and the gradients it returns.
    void mark_output(ValueId v);

    // Ops, as torch.nn.functional. An empty name gets "<op>_<index>". Shape
    // errors name the node and its inputs. Backward ops are appended by
    // backward(), through add_node.
    ValueId fill(Shape shape, float value, std::string name = {});
    // The same elements under another shape (a view: no copy).
    ValueId reshape(ValueId x, Shape shape, std::string name = {});
    // (N, d1, d2, ...) -> (N, d1 * d2 * ...), as torch.flatten(x, 1).
    ValueId flatten(ValueId x, std::string name = {});
    ValueId add(ValueId a, ValueId b, std::string name = {});
    ValueId mul(ValueId a, ValueId b, std::string name = {});
    ValueId relu(ValueId x, std::string name = {});
    ValueId leaky_relu(ValueId x, float negative_slope = 0.01f, std::string name = {});
    ValueId sigmoid(ValueId x, std::string name = {});
    ValueId tanh(ValueId x, std::string name = {});
    // y = x W^T + b: x (N, in), weight (out, in), bias (out).
    ValueId linear(ValueId x, ValueId weight, std::optional<ValueId> bias = std::nullopt, std::string name = {});
    // x (N, Cin, H, W), weight (Cout, Cin / groups, kH, kW), bias (Cout).
    ValueId conv2d(ValueId x, ValueId weight, std::optional<ValueId> bias, const ops::Conv2dAttrs& attrs,
                   std::string name = {});
    // x (N, Cin, H, W), weight (Cin, Cout / groups, kH, kW), bias (Cout), as
    // torch.nn.functional.conv_transpose2d.
    ValueId conv_transpose2d(ValueId x, ValueId weight, std::optional<ValueId> bias,
                             const ops::ConvTranspose2dAttrs& attrs, std::string name = {});
    // torch.cat(inputs, dim=1): (N, C_i, H, W) each, N, H and W equal.
    ValueId concat(std::vector<ValueId> inputs, std::string name = {});
    ValueId max_pool2d(ValueId x, const ops::MaxPool2dAttrs& attrs, std::string name = {});
    ValueId avg_pool2d(ValueId x, const ops::AvgPool2dAttrs& attrs, std::string name = {});
    ValueId adaptive_avg_pool2d(ValueId x, const ops::AdaptiveAvgPool2dAttrs& attrs, std::string name = {});
    // Training: batch statistics, and running_mean / running_var (running
    // stats) updated in place. Eval: normalises with the running statistics.
    ValueId batch_norm2d(ValueId x, ValueId weight, ValueId bias, ValueId running_mean, ValueId running_var,
                         bool training, const ops::BatchNorm2dAttrs& attrs = {}, std::string name = {});
    // Inverted dropout with the mask drawn from `key`, a (2,) i32 input the
    // host sets to {seed, step} before each run; attrs.stream tells layers apart.
    ValueId dropout(ValueId x, ValueId key, const ops::DropoutAttrs& attrs, std::string name = {});
    // Random affine augmentation of a batch x (N, C, H, W), each sample's
    // transform drawn from `key`, a (2,) i32 input as dropout's. No gradient:
    // it belongs on the input, before anything trained.
    ValueId augment(ValueId x, ValueId key, const ops::AugmentAttrs& attrs, std::string name = {});
    // Over the last dimension of (N, C).
    ValueId softmax(ValueId x, std::string name = {});
    ValueId log_softmax(ValueId x, std::string name = {});
    // Mean cross-entropy of logits (N, C) against i32 class indices (N): a (1,) loss.
    ValueId cross_entropy(ValueId logits, ValueId targets, const ops::CrossEntropyAttrs& attrs = {},
                          std::string name = {});
    ValueId mse_loss(ValueId x, ValueId target, std::string name = {});
    // Rows whose argmax is the target: a (1,) i32 count (output 1: the (N,) predictions).
    ValueId accuracy(ValueId logits, ValueId targets, std::string name = {});

    // Elementwise math as torch (ops/unary_math.h): y = a * x + b, abs, sign,
    // clamp (lo <= hi, the gradient passing at both bounds), square, sqrt,
    // exp, log; unary_math takes the kind as attributes.
    ValueId unary_math(ValueId x, const ops::UnaryMathAttrs& attrs, std::string name = {});
    ValueId scale(ValueId x, float a, float b = 0.0f, std::string name = {});
    ValueId abs(ValueId x, std::string name = {});
    ValueId sign(ValueId x, std::string name = {});
    ValueId clamp(ValueId x, float lo, float hi, std::string name = {});
    ValueId square(ValueId x, std::string name = {});
    ValueId sqrt(ValueId x, std::string name = {});
    ValueId exp(ValueId x, std::string name = {});
    ValueId log(ValueId x, std::string name = {});
    // Sum and mean over `axes`, a contiguous block of trailing axes (negative
    // ones count from the end), leaving the leading ones: x (N, C, H, W),
    // axes {2, 3} -> (N, C). No axes, or every axis: the whole tensor, a (1,)
    // value as a loss is. Deterministic reductions (ops/reduce.h).
    ValueId sum(ValueId x, std::vector<int64_t> axes = {}, std::string name = {});
    ValueId mean(ValueId x, std::vector<int64_t> axes = {}, std::string name = {});

    // Optimizer steps: update `param` (and its state, created here with
    // PyTorch's state names) in place from `grad`. `scalars` is a (4,) input
    // the host fills each step with ops::sgd_step_scalars / adam_step_scalars.
    void sgd_step(ValueId param, ValueId grad, ValueId scalars, const ops::SgdAttrs& attrs);
    void adam_step(ValueId param, ValueId grad, ValueId scalars, const ops::AdamAttrs& attrs);

    // Appends a node after inferring its output shapes (throws naming the node
    // and its input shapes); returns its outputs. Throws, too, for an op
    // outside the list, attributes of another kind than the op takes, and an
    // output role other than Activation or Gradient.
    std::vector<ValueId> add_node(Op op, std::string name, std::vector<ValueId> inputs, Attributes attrs,
                                  Role output_role = Role::Activation);

    // Reverse-mode autodiff from `output`: appends the backward nodes and
    // returns the gradient of every trainable (not frozen) parameter and of each
    // value in `wrt` (inputs, for saliency), keyed by the value; each is also
    // named "<value>.grad". The output's gradient is 1 for a scalar loss, or
    // `seed` (a value of the output's shape: a one-hot for d score / d image).
    // Gradients of values used more than once are summed. Throws naming the
    // node when a gradient must flow through an op that has none.
    // `overrides` replace the rules of their ops for this call only (guided
    // backprop's ReLU); an op named twice is an error.
    std::unordered_map<ValueId, ValueId> backward(ValueId output, std::span<const ValueId> wrt = {},
                                                  std::optional<ValueId> seed = std::nullopt,
                                                  std::span<const GradientOverride> overrides = {});

    // Throw naming the id and the graph's size when it has no such value or node.
    const Value& value(ValueId v) const {
        if (v >= values_.size()) [[unlikely]] no_value(v);
        return values_[v];
    }
    const Node& node(size_t i) const {
        if (i >= nodes_.size()) [[unlikely]] no_node(i);
        return nodes_[i];
    }
    size_t value_count() const { return values_.size(); }
    size_t node_count() const { return nodes_.size(); }
    // A value by its name or an alias ("conv1.weight.grad"); names are unique.
    std::optional<ValueId> find(std::string_view name) const;
    void alias(ValueId v, std::string name);

private:
    [[noreturn]] void no_value(ValueId v) const;
    [[noreturn]] void no_node(size_t i) const;
    ValueId new_value(std::string name, Shape shape, DType dtype, Role role, int32_t producer);
    std::string unique_name(std::string wanted, std::string_view fallback_prefix);

    std::vector<Value> values_;
    std::vector<Node> nodes_;
    std::unordered_map<std::string, ValueId> by_name_;
};

} // namespace vkcnn::graph
