// BuildContext and Sequential (see module.h).
#include "vkcnn/nn/module.h"

#include "vkcnn/core/error.h"

namespace vkcnn::nn {

BuildContext::Scope::Scope(BuildContext& ctx, std::string_view name) : ctx_(ctx), previous_(ctx.scope_.size()) {
    if (!ctx.scope_.empty()) ctx.scope_ += '.';
    ctx.scope_ += name;
}

BuildContext::Scope::~Scope() { ctx_.scope_.resize(previous_); }

std::string BuildContext::node_name(std::string_view suffix) const {
    std::string name = scope_.empty() ? "net" : scope_;
    if (!suffix.empty()) name += cat(".", suffix);
    return name;
}

graph::ValueId BuildContext::dropout_key() {
    if (const auto key = graph_.find("dropout.key")) return *key;
    return graph_.input("dropout.key", Shape{2}, DType::I32);
}

graph::ValueId BuildContext::persistent(std::string_view local, Shape shape, Init init, graph::Role role) {
    const std::string name = scope_.empty() ? std::string(local) : cat(scope_, ".", local);
    state_.push_back({name, shape, role, init});
    return role == graph::Role::Parameter ? graph_.parameter(name, std::move(shape))
                                          : graph_.running_stat(name, std::move(shape));
}

graph::ValueId BuildContext::parameter(std::string_view local, Shape shape, Init init) {
    return persistent(local, std::move(shape), init, graph::Role::Parameter);
}

graph::ValueId BuildContext::running_stat(std::string_view local, Shape shape, Init init) {
    return persistent(local, std::move(shape), init, graph::Role::RunningStat);
}

void BuildContext::record_layer(graph::ValueId output) {
    for (Layer& l : layers_)
        if (l.path == scope_) {
            l.value = output;
            return;
        }
    layers_.push_back({scope_, output});
}

graph::ValueId Sequential::forward(BuildContext& ctx, graph::ValueId x) const {
    for (size_t i = 0; i < children_.size(); ++i) {
        BuildContext::Scope scope(ctx, std::to_string(i));
        x = children_[i]->forward(ctx, x);
        ctx.record_layer(x);
    }
    return x;
}

} // namespace vkcnn::nn
