// Training throughput: LeNet-5 training steps (forward, loss, backward, SGD
// with momentum) at a given batch size on the Vulkan and the CPU backend, in
// images per second, and the host's share of a Vulkan step. Prints CSV lines
// `model,backend,batch,threads,ms_per_step,images_per_s`; bench/torch_train.py
// prints the same for PyTorch. Run by scripts/bench_train.sh.
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/trainer.h"
#include "vkcnn/vulkan/device.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace vkcnn;

namespace {

double median_ms_per_step(nn::Trainer& t, int64_t batch, int steps, int runs) {
    std::vector<float> images(static_cast<size_t>(batch) * 784);
    std::vector<int32_t> labels(static_cast<size_t>(batch));
    for (size_t i = 0; i < images.size(); ++i) images[i] = std::sin(0.01f * static_cast<float>(i));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
    for (int s = 0; s < 3; ++s) t.step(images, labels, 0.01); // warm-up
    std::vector<double> ms;
    for (int r = 0; r < runs; ++r) {
        const auto start = std::chrono::steady_clock::now();
        for (int s = 0; s < steps; ++s) t.step(images, labels, 0.01);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / steps);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    int64_t batch = 64;
    unsigned threads = 2;
    int steps = 10, runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--threads")) threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    }
    try {
        const nn::Sequential net = nn::lenet5();
        const nn::TrainerOptions options{.batch = batch, .optimizer = ops::SgdAttrs{.lr = 0.01, .momentum = 0.9}};
        cpu::ThreadPool pool(threads);
        auto dev = Device::create();
        std::fprintf(stderr, "device: %s\n", dev->info().name.c_str());
        for (const char* backend : {"vulkan", "cpu"}) {
            nn::Trainer t(net, options, std::strcmp(backend, "vulkan") ? nullptr : dev.get(), pool);
            const double ms = median_ms_per_step(t, batch, steps, runs);
            std::printf("lenet5,%s,%lld,%u,%.3f,%.1f\n", backend, static_cast<long long>(batch), threads, ms,
                        1000.0 * static_cast<double>(batch) / ms);
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "train_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
