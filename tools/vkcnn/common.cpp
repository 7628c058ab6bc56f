// What several subcommands share (see common.h).
#include "common.h"

#include "vkcnn/core/error.h"
#include "vkcnn/data/digit.h"
#include "vkcnn/io/image.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <numeric>

namespace vkcnn::cli {

namespace {
std::string g_doing = "starting";
} // namespace

CLI::Validator finite_number(double min, bool allow_min, const char* want, const char* name) {
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            const bool ok = !text.empty() && end == text.c_str() + text.size() && std::isfinite(v) &&
                            (allow_min ? v >= min : v > min);
            return ok ? std::string() : vkcnn::cat("must be ", want, ", got '", text, "'");
        },
        name); // the help's word, as CLI11's own validators
}

CLI::Validator whole_number(unsigned min, const char* name) {
    const std::string want = vkcnn::cat("a whole number >= ", min);
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            const bool digits = !text.empty() && text.size() <= 19 && text.find_first_not_of("0123456789") == std::string::npos;
            return digits && std::stoull(text) >= min ? std::string() : vkcnn::cat("must be ", want, ", got '", text, "'");
        },
        name);
}

data::Normalization normalization_of(const std::string& dataset) {
    return dataset == "fashion-mnist" ? data::kFashionMnistNormalization : data::kMnistNormalization;
}

std::vector<float> load_image(const std::string& path, const std::string& dataset, bool preprocess) {
    doing(cat("reading ", path));
    const io::Image image = io::read_image(path); // io's default size cap (4096x4096)
    const std::vector<uint8_t> grey = io::grey_pixels(image);
    std::vector<float> x(grey.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(grey[i]) / 255.0f;
    const bool mnist_sized = image.width == 28 && image.height == 28;
    if (mnist_sized && !preprocess) return x;
    check(dataset == "mnist", path, ": the image is ", image.width, "x", image.height, "; the ", dataset,
          " models take 28x28 grey images (the digit preprocessing is for --dataset mnist)");
    const data::DigitImage d = data::mnist_preprocess(x, int(image.width), int(image.height),
                                                      {.background = data::DigitBackground::Detect});
    check(!d.empty, path, ": the ", image.width, "x", image.height, " image has no ink",
          d.inverted ? " (a light background, inverted)" : "", ": nothing to classify");
    std::printf("%s: %ux%u%s, ink %dx%d at (%d, %d) fitted into %dx%d, centre of mass moved to (14, 14)\n",
                path.c_str(), image.width, image.height, d.inverted ? " on a light background (inverted)" : "",
                d.box_width, d.box_height, d.box_x, d.box_y, d.fitted_width, d.fitted_height);
    return {d.pixels.begin(), d.pixels.end()};
}

void doing(std::string what) { g_doing = std::move(what); }
const std::string& doing() { return g_doing; }

data::Dataset load_dataset(const std::string& dir, const std::string& name, data::Split split) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    doing(cat("loading ", path, " (", data::split_name(split), ")"));
    if (name == "mnist") return data::load_mnist(path, split);
    if (name == "fashion-mnist") return data::load_fashion_mnist(path, split);
    throw Error(cat("unknown dataset '", name, "'; datasets: mnist, fashion-mnist"));
}

data::Dataset first_samples(data::Dataset ds, int64_t n) {
    if (n <= 0 || n >= ds.size()) return ds;
    std::vector<int64_t> first(static_cast<size_t>(n));
    std::iota(first.begin(), first.end(), int64_t{0});
    return ds.subset(first);
}

std::unique_ptr<Device> open_device(const std::string& backend) {
    if (backend == "cpu") return nullptr;
    vkcnn::check(backend == "vulkan", "unknown backend '", backend, "'; backends: vulkan, cpu");
    doing("opening the Vulkan device");
    auto dev = Device::create();
    std::printf("device: %s\n", dev->info().name.c_str());
    return dev;
}

ProfiledSteps profile_steps(nn::Trainer& trainer, int steps, const BatchSource& next_batch) {
    const auto [images, labels] = next_batch();
    trainer.step(images, labels);
    ProfiledSteps p;
    for (int s = 0; s < steps; ++s) {
        const auto [x, y] = next_batch();
        const auto start = std::chrono::steady_clock::now();
        trainer.step(x, y);
        p.wall_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        p.last = trainer.profile();
        for (const exec::NodeTime& r : p.last) p.gpu_ms += r.microseconds * 1e-3;
    }
    p.wall_ms /= steps;
    p.gpu_ms /= steps;
    return p;
}

} // namespace vkcnn::cli
