// What several subcommands share (see common.h).
#include "common.h"

#include "vkcnn/core/error.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

namespace vkcnn::cli {

data::Dataset load_dataset(const std::string& dir, const std::string& name, data::Split split) {
    if (name == "mnist") return data::load_mnist((std::filesystem::path(dir) / "mnist").string(), split);
    if (name == "fashion-mnist")
        return data::load_fashion_mnist((std::filesystem::path(dir) / "fashion-mnist").string(), split);
    throw Error(cat("unknown dataset '", name, "'; datasets: mnist, fashion-mnist"));
}

std::unique_ptr<Device> open_device(const std::string& backend) {
    if (backend == "cpu") return nullptr;
    vkcnn::check(backend == "vulkan", "unknown backend '", backend, "'; backends: vulkan, cpu");
    auto dev = Device::create();
    std::printf("device: %s\n", dev->info().name.c_str());
    return dev;
}

ProfiledSteps profile_steps(nn::Trainer& trainer, int steps, double lr, const BatchSource& next_batch) {
    const auto [images, labels] = next_batch();
    trainer.step(images, labels, lr);
    ProfiledSteps p;
    for (int s = 0; s < steps; ++s) {
        const auto [x, y] = next_batch();
        const auto start = std::chrono::steady_clock::now();
        trainer.step(x, y, lr);
        p.wall_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        p.last = trainer.profile();
        for (const exec::NodeTime& r : p.last) p.gpu_ms += r.microseconds * 1e-3;
    }
    p.wall_ms /= steps;
    p.gpu_ms /= steps;
    return p;
}

} // namespace vkcnn::cli
