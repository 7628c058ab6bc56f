// The layers (see layers.h).
#include "vkcnn/nn/layers.h"

#include "vkcnn/core/error.h"

#include <cmath>

namespace vkcnn::nn {

namespace {

Init fan_in_uniform(double fan_in) { return Init::uniform(static_cast<float>(1.0 / std::sqrt(fan_in))); }

} // namespace

Conv2d::Conv2d(uint32_t in_channels, uint32_t out_channels, uint32_t kernel, Conv2dOptions options)
    : in_(in_channels), out_(out_channels), kernel_(kernel), options_(options) {
    check(options.groups > 0 && in_channels % options.groups == 0 && out_channels % options.groups == 0,
          "Conv2d(", in_channels, ", ", out_channels, "): channels are not divisible by groups ", options.groups);
}

graph::ValueId Conv2d::forward(BuildContext& ctx, graph::ValueId x) const {
    const int64_t cin_g = in_ / options_.groups, k = kernel_;
    const Init init = fan_in_uniform(static_cast<double>(cin_g * k * k));
    const auto w = ctx.parameter("weight", Shape{out_, cin_g, k, k}, init);
    std::optional<graph::ValueId> b;
    if (options_.bias) b = ctx.parameter("bias", Shape{out_}, init);
    ops::Conv2dAttrs attrs;
    attrs.stride_h = attrs.stride_w = options_.stride;
    attrs.dilation_h = attrs.dilation_w = options_.dilation;
    attrs.groups = options_.groups;
    attrs.pad(options_.padding, options_.padding);
    return ctx.graph().conv2d(x, w, b, attrs, ctx.node_name());
}

ConvTranspose2d::ConvTranspose2d(uint32_t in_channels, uint32_t out_channels, uint32_t kernel,
                                 ConvTranspose2dOptions options)
    : in_(in_channels), out_(out_channels), kernel_(kernel), options_(options) {
    check(options.groups > 0 && in_channels % options.groups == 0 && out_channels % options.groups == 0,
          "ConvTranspose2d(", in_channels, ", ", out_channels, "): channels are not divisible by groups ",
          options.groups);
}

graph::ValueId ConvTranspose2d::forward(BuildContext& ctx, graph::ValueId x) const {
    const int64_t cout_g = out_ / options_.groups, k = kernel_;
    // kaiming_uniform_(a=sqrt(5)) and the bias both use the weight's fan_in,
    // which torch reads from dimension 1: out / groups here, not in.
    const Init init = fan_in_uniform(static_cast<double>(cout_g * k * k));
    const auto w = ctx.parameter("weight", Shape{in_, cout_g, k, k}, init);
    std::optional<graph::ValueId> b;
    if (options_.bias) b = ctx.parameter("bias", Shape{out_}, init);
    ops::ConvTranspose2dAttrs attrs;
    attrs.stride_h = attrs.stride_w = options_.stride;
    attrs.output_padding_h = attrs.output_padding_w = options_.output_padding;
    attrs.dilation_h = attrs.dilation_w = options_.dilation;
    attrs.groups = options_.groups;
    attrs.pad(options_.padding, options_.padding);
    return ctx.graph().conv_transpose2d(x, w, b, attrs, ctx.node_name());
}

Linear::Linear(uint32_t in_features, uint32_t out_features, bool bias)
    : in_(in_features), out_(out_features), bias_(bias) {}

graph::ValueId Linear::forward(BuildContext& ctx, graph::ValueId x) const {
    const Init init = fan_in_uniform(in_);
    const auto w = ctx.parameter("weight", Shape{out_, in_}, init);
    std::optional<graph::ValueId> b;
    if (bias_) b = ctx.parameter("bias", Shape{out_}, init);
    return ctx.graph().linear(x, w, b, ctx.node_name());
}

graph::ValueId BatchNorm2d::forward(BuildContext& ctx, graph::ValueId x) const {
    const Shape c{channels_};
    const auto w = ctx.parameter("weight", c, Init::constant(1.0f));
    const auto b = ctx.parameter("bias", c, Init::constant(0.0f));
    const auto mean = ctx.running_stat("running_mean", c, Init::constant(0.0f));
    const auto var = ctx.running_stat("running_var", c, Init::constant(1.0f));
    return ctx.graph().batch_norm2d(x, w, b, mean, var, ctx.training(), attrs_, ctx.node_name());
}

graph::ValueId ReLU::forward(BuildContext& ctx, graph::ValueId x) const { return ctx.graph().relu(x, ctx.node_name()); }

graph::ValueId LeakyReLU::forward(BuildContext& ctx, graph::ValueId x) const {
    return ctx.graph().leaky_relu(x, slope_, ctx.node_name());
}

graph::ValueId Sigmoid::forward(BuildContext& ctx, graph::ValueId x) const {
    return ctx.graph().sigmoid(x, ctx.node_name());
}

graph::ValueId Tanh::forward(BuildContext& ctx, graph::ValueId x) const { return ctx.graph().tanh(x, ctx.node_name()); }

MaxPool2d::MaxPool2d(int kernel, int stride, int padding)
    : attrs_{.kernel = {kernel, kernel}, .stride = {stride, stride}, .padding = {padding, padding}} {}

graph::ValueId MaxPool2d::forward(BuildContext& ctx, graph::ValueId x) const {
    return ctx.graph().max_pool2d(x, attrs_, ctx.node_name());
}

AvgPool2d::AvgPool2d(int kernel, int stride, int padding)
    : attrs_{.kernel = {kernel, kernel}, .stride = {stride, stride}, .padding = {padding, padding}} {}

graph::ValueId AvgPool2d::forward(BuildContext& ctx, graph::ValueId x) const {
    return ctx.graph().avg_pool2d(x, attrs_, ctx.node_name());
}

graph::ValueId AdaptiveAvgPool2d::forward(BuildContext& ctx, graph::ValueId x) const {
    return ctx.graph().adaptive_avg_pool2d(x, attrs_, ctx.node_name());
}

graph::ValueId Dropout::forward(BuildContext& ctx, graph::ValueId x) const {
    if (!ctx.training()) return x;
    const ops::DropoutAttrs attrs{p_, true, ctx.next_dropout_stream()};
    return ctx.graph().dropout(x, ctx.dropout_key(), attrs, ctx.node_name());
}

graph::ValueId Flatten::forward(BuildContext& ctx, graph::ValueId x) const {
    return ctx.graph().flatten(x, ctx.node_name());
}

graph::ValueId Residual::forward(BuildContext& ctx, graph::ValueId x) const {
    graph::ValueId body, skip = x;
    {
        BuildContext::Scope scope(ctx, "body");
        body = body_.forward(ctx, x);
        ctx.record_layer(body);
    }
    if (shortcut_) {
        BuildContext::Scope scope(ctx, "shortcut");
        skip = shortcut_->forward(ctx, x);
        ctx.record_layer(skip);
    }
    graph::Graph& g = ctx.graph();
    return g.relu(g.add(body, skip, ctx.node_name("add")), ctx.node_name("relu"));
}

} // namespace vkcnn::nn
