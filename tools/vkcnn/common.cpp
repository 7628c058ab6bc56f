// What several subcommands share (see common.h).
#include "common.h"

#include "vkcnn/core/error.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>

namespace vkcnn::cli {

namespace {
std::string g_doing = "starting";
} // namespace

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
