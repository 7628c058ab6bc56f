// `vkcnn predict`: a checkpoint's class scores for one image — a PNG (a
// 28x28 one as is, light on dark as MNIST; any other size through MNIST's own
// preprocessing, data/digit.h) or a test-set sample.
#include "commands.h"
#include "common.h"

#include "vkcnn/core/error.h"
#include "vkcnn/data/dataset.h"
#include "vkcnn/nn/checkpoint.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/viz/attribution.h"
#include "vkcnn/vulkan/device.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace vkcnn::cli {

namespace {

// The 28x28 image the network sees as an 8-bit grey PNG (`predict --image` reads it back unchanged).
void save_png(const std::string& path, const std::vector<float>& x) {
    std::vector<uint8_t> bytes(x.size());
    for (size_t i = 0; i < x.size(); ++i) bytes[i] = static_cast<uint8_t>(std::lround(std::clamp(x[i], 0.0f, 1.0f) * 255.0f));
    check(stbi_write_png(path.c_str(), 28, 28, 1, bytes.data(), 28) != 0, path, ": cannot write the PNG");
    std::printf("wrote %s\n", path.c_str());
}

} // namespace

int predict(const PredictArgs& a) {
    const data::Normalization norm =
        a.dataset == "fashion-mnist" ? data::kFashionMnistNormalization : data::kMnistNormalization;
    std::vector<float> image;
    std::string what;
    if (!a.image.empty()) {
        image = load_image(a.image, a.dataset, a.preprocess);
        if (!a.save_preprocessed.empty()) save_png(a.save_preprocessed, image);
        for (float& v : image) v = (v - norm.mean) / norm.std;
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
    const std::vector<double> p = viz::softmax(logits);
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return p[x] > p[y]; });
    std::printf("%s: class %zu\n", what.c_str(), order[0]);
    for (size_t k = 0; k < std::min<size_t>(3, order.size()); ++k)
        std::printf("  %zu  %6.2f%%\n", order[k], 100.0 * p[order[k]]);
    return 0;
}

} // namespace vkcnn::cli
