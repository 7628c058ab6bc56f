// The layers, as torch.nn, with PyTorch's default initialisation: weights and
// biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); batch norm weight 1, bias 0,
// running mean 0, running variance 1. State names are PyTorch's.
#pragma once

#include "vkcnn/nn/module.h"

#include <cstdint>
#include <memory>

namespace vkcnn::nn {

struct Conv2dOptions {
    uint32_t stride = 1, padding = 0, dilation = 1, groups = 1;
    bool bias = true;
};

class Conv2d final : public Module {
public:
    Conv2d(uint32_t in_channels, uint32_t out_channels, uint32_t kernel, Conv2dOptions options = {});
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    uint32_t in_, out_, kernel_;
    Conv2dOptions options_;
};

struct ConvTranspose2dOptions {
    uint32_t stride = 1, padding = 0, output_padding = 0, dilation = 1, groups = 1;
    bool bias = true;
};

// torch.nn.ConvTranspose2d: weight (in, out / groups, k, k). Its fan_in, as
// PyTorch computes it from the weight's second dimension, is
// (out / groups) * k * k: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
class ConvTranspose2d final : public Module {
public:
    ConvTranspose2d(uint32_t in_channels, uint32_t out_channels, uint32_t kernel, ConvTranspose2dOptions options = {});
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    uint32_t in_, out_, kernel_;
    ConvTranspose2dOptions options_;
};

class Linear final : public Module {
public:
    Linear(uint32_t in_features, uint32_t out_features, bool bias = true);
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    uint32_t in_, out_;
    bool bias_;
};

class BatchNorm2d final : public Module {
public:
    explicit BatchNorm2d(uint32_t channels, ops::BatchNorm2dAttrs attrs = {}) : channels_(channels), attrs_(attrs) {}
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    uint32_t channels_;
    ops::BatchNorm2dAttrs attrs_;
};

class ReLU final : public Module {
public:
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;
};

class LeakyReLU final : public Module {
public:
    explicit LeakyReLU(float negative_slope = 0.01f) : slope_(negative_slope) {}
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    float slope_;
};

class Sigmoid final : public Module {
public:
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;
};

class Tanh final : public Module {
public:
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;
};

class MaxPool2d final : public Module {
public:
    explicit MaxPool2d(int kernel, int stride = 0, int padding = 0);
    explicit MaxPool2d(ops::MaxPool2dAttrs attrs) : attrs_(attrs) {}
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    ops::MaxPool2dAttrs attrs_;
};

class AvgPool2d final : public Module {
public:
    explicit AvgPool2d(int kernel, int stride = 0, int padding = 0);
    explicit AvgPool2d(ops::AvgPool2dAttrs attrs) : attrs_(attrs) {}
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    ops::AvgPool2dAttrs attrs_;
};

class AdaptiveAvgPool2d final : public Module {
public:
    AdaptiveAvgPool2d(int64_t out_h, int64_t out_w) : attrs_{{out_h, out_w}} {}
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    ops::AdaptiveAvgPool2dAttrs attrs_;
};

// Inverted dropout in training (a new mask every step, from the trainer's
// seed and step), the identity in eval.
class Dropout final : public Module {
public:
    explicit Dropout(float p = 0.5f) : p_(p) {}
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    float p_;
};

// (N, ...) -> (N, features), a view.
class Flatten final : public Module {
public:
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;
};

// relu(body(x) + shortcut(x)), the shortcut the identity when absent: a
// ResNet basic block's skeleton. Named "body.*" and "shortcut.*".
class Residual final : public Module {
public:
    explicit Residual(Sequential body, std::shared_ptr<const Module> shortcut = nullptr)
        : body_(std::move(body)), shortcut_(std::move(shortcut)) {}
    graph::ValueId forward(BuildContext& ctx, graph::ValueId x) const override;

private:
    Sequential body_;
    std::shared_ptr<const Module> shortcut_;
};

} // namespace vkcnn::nn
