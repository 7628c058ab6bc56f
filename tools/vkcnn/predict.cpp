// `vkcnn predict`: a checkpoint's class scores for one image — a 28x28 PNG
// (a light digit on a dark background, as MNIST) or a test-set sample.
#include "commands.h"

#include "vkcnn/core/error.h"
#include "vkcnn/data/dataset.h"
#include "vkcnn/io/image.h"
#include "vkcnn/nn/checkpoint.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/vulkan/device.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>

namespace vkcnn::cli {

namespace {

// The PNG's pixels as the model's input (grey), normalised like the training
// set. Nothing larger than 28x28 is decoded.
std::vector<float> load_png(const std::string& path, data::Normalization norm) {
    const io::Image image = io::read_image(path, 28);
    check(image.width == 28 && image.height == 28, path, ": the image is ", image.width, "x", image.height,
          "; the models take 28x28 grey images");
    const std::vector<uint8_t> grey = io::grey_pixels(image);
    std::vector<float> x(grey.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = (static_cast<float>(grey[i]) / 255.0f - norm.mean) / norm.std;
    return x;
}

} // namespace

int predict(const PredictArgs& a) {
    const data::Normalization norm =
        a.dataset == "fashion-mnist" ? data::kFashionMnistNormalization : data::kMnistNormalization;
    std::vector<float> image;
    std::string what;
    if (!a.image.empty()) {
        image = load_png(a.image, norm);
        what = a.image;
    } else {
        const std::string dir = (std::filesystem::path(a.data_dir) / a.dataset).string();
        const data::Dataset test = a.dataset == "fashion-mnist" ? data::load_fashion_mnist(dir, data::Split::Test)
                                                                : data::load_mnist(dir, data::Split::Test);
        vkcnn::check(a.index >= 0 && a.index < test.size(), "--index ", a.index, " is outside the test set (0..",
                     test.size() - 1, ")");
        const auto img = test.image(a.index);
        image.assign(img.begin(), img.end());
        what = cat(a.dataset, " test sample ", a.index, " (label ", test.label(a.index), ")");
    }
    const nn::Sequential net = nn::model_by_name(a.model);
    std::unique_ptr<Device> dev;
    if (a.backend == "vulkan") dev = Device::create();
    else vkcnn::check(a.backend == "cpu", "unknown backend '", a.backend, "'; backends: vulkan, cpu");
    cpu::ThreadPool pool(1);
    nn::Model model(net, {}, dev.get(), &pool);
    model.load_checkpoint(a.checkpoint);
    const std::vector<float> logits = model.predict(image, 1);
    // Softmax in double for the printout.
    const float top = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double sum = 0;
    for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(static_cast<double>(logits[i] - top));
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return p[x] > p[y]; });
    std::printf("%s: class %zu\n", what.c_str(), order[0]);
    for (size_t k = 0; k < std::min<size_t>(3, order.size()); ++k)
        std::printf("  %zu  %6.2f%%\n", order[k], 100.0 * p[order[k]] / sum);
    return 0;
}

} // namespace vkcnn::cli
