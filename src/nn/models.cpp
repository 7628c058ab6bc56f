// Model definitions (see models.h).
#include "vkcnn/nn/models.h"

#include "vkcnn/core/error.h"

#include <memory>

namespace vkcnn::nn {

namespace {

// conv 3x3 (no bias: batch norm follows) + batch norm
Sequential conv_bn(uint32_t in, uint32_t out, uint32_t kernel, uint32_t stride, uint32_t groups = 1) {
    return Sequential(Conv2d(in, out, kernel, {.stride = stride, .padding = kernel / 2, .groups = groups, .bias = false}),
                      BatchNorm2d(out));
}

Residual basic_block(uint32_t in, uint32_t out, uint32_t stride) {
    Sequential body(Conv2d(in, out, 3, {.stride = stride, .padding = 1, .bias = false}), BatchNorm2d(out), ReLU(),
                    Conv2d(out, out, 3, {.padding = 1, .bias = false}), BatchNorm2d(out));
    if (stride == 1 && in == out) return Residual(std::move(body));
    return Residual(std::move(body), std::make_shared<Sequential>(conv_bn(in, out, 1, stride)));
}

// depthwise 3x3 + BN + ReLU, then pointwise 1x1 + BN + ReLU
Sequential separable(uint32_t in, uint32_t out, uint32_t stride) {
    return Sequential(Conv2d(in, in, 3, {.stride = stride, .padding = 1, .groups = in, .bias = false}), BatchNorm2d(in),
                      ReLU(), Conv2d(in, out, 1, {.bias = false}), BatchNorm2d(out), ReLU());
}

} // namespace

Sequential lenet5(uint32_t classes) {
    return Sequential(Conv2d(1, 6, 5, {.padding = 2}), ReLU(), MaxPool2d(2), Conv2d(6, 16, 5), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(400, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, classes));
}

Sequential resnet_small(uint32_t classes) {
    return Sequential(Conv2d(1, 16, 3, {.padding = 1, .bias = false}), BatchNorm2d(16), ReLU(), basic_block(16, 16, 1),
                      basic_block(16, 32, 2), basic_block(32, 64, 2), AdaptiveAvgPool2d(1, 1), Flatten(),
                      Linear(64, classes));
}

Sequential mobilenet_small(uint32_t classes) {
    return Sequential(Conv2d(1, 16, 3, {.padding = 1, .bias = false}), BatchNorm2d(16), ReLU(), separable(16, 32, 2),
                      separable(32, 64, 2), separable(64, 64, 1), AdaptiveAvgPool2d(1, 1), Flatten(),
                      Linear(64, classes));
}

std::vector<std::string_view> model_names() { return {"lenet5", "resnet", "mobilenet"}; }

Sequential model_by_name(std::string_view name, uint32_t classes) {
    if (name == "lenet5") return lenet5(classes);
    if (name == "resnet") return resnet_small(classes);
    if (name == "mobilenet") return mobilenet_small(classes);
    std::string known;
    for (std::string_view n : model_names()) known += cat(known.empty() ? "" : ", ", n);
    throw Error(cat("unknown model '", name, "'; models: ", known));
}

} // namespace vkcnn::nn
