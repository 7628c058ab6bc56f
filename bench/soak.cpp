// The long run (not a test; scripts/soak.sh): LeNet-5 trained for many
// replayed steps on the default Vulkan device with validation and
// synchronization validation on, sampling the process's resident memory and
// the device allocator's blocks as it goes. Fails on any validation message,
// a non-finite loss, or memory that keeps growing after the first samples.
// Usage: vkcnn_soak [steps] [batch]
#include "vkcnn/core/error.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/trainer.h"
#include "vkcnn/vulkan/device.h"
#include "vkcnn/vulkan/device_testing.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

// VmRSS of this process in KiB, from /proc/self/status.
long resident_kib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

} // namespace

int main(int argc, char** argv) try {
    using namespace vkcnn;
    const long steps = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 10000;
    const int64_t batch = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 64;
    check(steps > 0 && batch > 0, "usage: vkcnn_soak [steps > 0] [batch > 0]");

    DeviceOptions options;
    options.validation = true;
    options.sync_validation = true;
    auto device = Device::create(options);
    device->validation_log().echo_to_stderr = true;
    nn::Model model(nn::lenet5(), {}, *device);
    nn::Trainer trainer(model, {.batch = batch, .optimizer = ops::SgdAttrs{.lr = 0.01, .momentum = 0.9}});

    // A fixed synthetic batch per residue mod 7, so the data changes between steps.
    std::vector<std::vector<float>> images(7, std::vector<float>(static_cast<size_t>(batch) * 784));
    std::vector<std::vector<int32_t>> labels(7, std::vector<int32_t>(static_cast<size_t>(batch)));
    for (size_t b = 0; b < images.size(); ++b) {
        for (size_t i = 0; i < images[b].size(); ++i) images[b][i] = std::sin(0.01f * static_cast<float>(i * (b + 1)));
        for (size_t i = 0; i < labels[b].size(); ++i) labels[b][i] = static_cast<int32_t>((i + b) % 10);
    }

    const auto start = std::chrono::steady_clock::now();
    std::printf("%8s %10s %12s %8s %10s\n", "step", "loss", "RSS (MiB)", "blocks", "seconds");
    long first_rss = -1, max_rss = 0;
    size_t first_blocks = 0, messages = 0;
    const long sample_every = std::max(1L, steps / 20);
    for (long s = 1; s <= steps; ++s) {
        const size_t b = static_cast<size_t>(s) % images.size();
        const auto r = trainer.start_step(images[b], labels[b]);
        messages += device->validation_log().take().size();
        if (s % sample_every == 0 || s == steps) {
            const long rss = resident_kib();
            const size_t blocks = vkcnn::vulkan::DeviceTesting::memory_blocks(*device);
            if (first_rss < 0) first_rss = rss, first_blocks = blocks;
            max_rss = std::max(max_rss, rss);
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::printf("%8ld %10.4f %12.1f %8zu %10.1f\n", s, r ? r->loss : NAN, rss / 1024.0, blocks, secs);
            std::fflush(stdout);
            check(blocks == first_blocks, "device memory blocks grew from ", first_blocks, " to ", blocks, " by step ", s);
        }
    }
    trainer.flush();
    messages += device->validation_log().take().size();
    // Allocator pools and the driver's caches settle in the first samples;
    // past that the resident size may wobble but must not keep growing.
    const double growth_mib = (max_rss - first_rss) / 1024.0;
    std::printf("soak: %ld steps, %zu validation messages, RSS %.1f MiB at the first sample, %.1f MiB at most (+%.1f)\n",
                steps, messages, first_rss / 1024.0, max_rss / 1024.0, growth_mib);
    check(messages == 0, "soak: ", messages, " validation messages");
    check(growth_mib < 32, "soak: resident memory grew by ", growth_mib, " MiB after the first sample");
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "vkcnn_soak: %s\n", e.what());
    return 1;
}
