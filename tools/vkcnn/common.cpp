// What several subcommands share (see common.h).
#include "common.h"

#include "vkcnn/core/error.h"

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

} // namespace vkcnn::cli
