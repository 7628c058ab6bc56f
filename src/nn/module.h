// Modules, as torch.nn: each adds its nodes to a graph. Building a model
// twice (a training graph, an eval graph) gives values with the same names —
// PyTorch's state_dict keys, "0.weight", "features.3.running_mean" — so
// parameters move between Programs, and to and from checkpoints, by name.
#pragma once

#include "vkcnn/graph/graph.h"

#include <concepts>
#include <memory>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vkcnn::nn {

// How a persistent value starts: U(-bound, bound), or a constant.
struct Init {
    enum Kind : uint8_t { Uniform, Constant } kind = Constant;
    float value = 0.0f; // the bound or the constant

    static Init uniform(float bound) { return {Uniform, bound}; }
    static Init constant(float v) { return {Constant, v}; }
};

struct StateSpec {
    std::string name;
    Shape shape;
    graph::Role role; // Parameter or RunningStat
    Init init;
};

// What a module sees while it adds its nodes: the graph, the mode and the
// name of the module being built.
class BuildContext {
public:
    BuildContext(graph::Graph& graph, bool training) : graph_(graph), training_(training) {}

    graph::Graph& graph() { return graph_; }
    bool training() const { return training_; }

    // A trained parameter / a running statistic named "<scope>.<local>".
    graph::ValueId parameter(std::string_view local, Shape shape, Init init);
    graph::ValueId running_stat(std::string_view local, Shape shape, Init init);
    // The (2,) i32 input "dropout.key" every dropout layer draws from, and a
    // stream number of its own for each layer.
    graph::ValueId dropout_key();
    uint32_t next_dropout_stream() { return dropout_streams_++; }
    // The module's own name ("3", "features.3"), for its nodes.
    std::string node_name(std::string_view suffix = {}) const;

    // Builds a child under `name` (Sequential's index).
    class Scope {
    public:
        Scope(BuildContext& ctx, std::string_view name);
        ~Scope();
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

    private:
        BuildContext& ctx_;
        size_t previous_;
    };

    // Every parameter and running statistic created, in creation order.
    const std::vector<StateSpec>& state() const { return state_; }

    // The output of the module being built, under its path: containers call
    // it for each child (Sequential's "3", Residual's "4.body"), so that a
    // program can keep and read any layer's output by PyTorch's module name.
    void record_layer(graph::ValueId output);
    struct Layer {
        std::string path;
        graph::ValueId value;
    };
    // In build order; a path recorded twice keeps its last value.
    const std::vector<Layer>& layers() const { return layers_; }

private:
    graph::ValueId persistent(std::string_view local, Shape shape, Init init, graph::Role role);

    graph::Graph& graph_;
    bool training_;
    std::string scope_;
    std::vector<StateSpec> state_;
    std::vector<Layer> layers_;
    uint32_t dropout_streams_ = 0;
};

class Module {
public:
    virtual ~Module() = default;
    // Adds this module's nodes after `x` and returns its output.
    virtual graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const = 0;
};

// Modules in order; child i is named "<i>", as torch.nn.Sequential.
class Sequential final : public Module {
public:
    // Sequential(Conv2d(...), ReLU(), ...). One Sequential argument copies it
    // rather than nesting it.
    template <typename... Ms>
        requires((std::derived_from<std::decay_t<Ms>, Module> && ...) &&
                 !(sizeof...(Ms) == 1 && (std::is_same_v<std::decay_t<Ms>, Sequential> && ...)))
    explicit Sequential(Ms&&... modules) {
        (children_.push_back(std::make_shared<std::decay_t<Ms>>(std::forward<Ms>(modules))), ...);
    }
    Sequential& add(std::shared_ptr<const Module> m) {
        children_.push_back(std::move(m));
        return *this;
    }
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;
    size_t size() const { return children_.size(); }

private:
    std::vector<std::shared_ptr<const Module>> children_;
};

} // namespace vkcnn::nn
