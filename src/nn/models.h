// The models the CLI trains, for 1x28x28 inputs (MNIST, Fashion-MNIST).
#pragma once

#include "vkcnn/nn/layers.h"

#include <string_view>
#include <vector>

namespace vkcnn::nn {

// LeNet-5 as in docs (ReLU, max pooling): two 5x5 convolutions, three linear layers.
Sequential lenet5(uint32_t classes = 10);
// A small ResNet with batch norm: a 3x3 stem, basic blocks 16 -> 32 -> 64
// (stride 2 where the width doubles, 1x1 projection shortcuts), global pool.
Sequential resnet_small(uint32_t classes = 10);
// Depthwise-separable (MobileNet-style) blocks 16 -> 32 -> 64 -> 64, global pool.
Sequential mobilenet_small(uint32_t classes = 10);

// "lenet5", "resnet", "mobilenet"; an error listing the names otherwise.
Sequential model_by_name(std::string_view name, uint32_t classes = 10);
std::vector<std::string_view> model_names();

} // namespace vkcnn::nn
