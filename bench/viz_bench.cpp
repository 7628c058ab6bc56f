// How long the visualisation toolkit takes on a trained LeNet-5, per call,
// on the CPU backend (what the browser runs per stroke) and on the Vulkan
// device: the medians of repeated calls with the programs built (the first
// call, which builds them, is timed apart). Not a test: nothing is asserted.
// Usage: vkcnn_viz_bench CHECKPOINT [data-dir] [threads]
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/data/dataset.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/viz/attribution.h"
#include "vkcnn/viz/optimize.h"
#include "vkcnn/vulkan/device.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

using namespace vkcnn;

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// First call (programs built) and the median of `runs` more, in ms.
std::pair<double, double> time_calls(int runs, const std::function<void()>& call) {
    auto t = std::chrono::steady_clock::now();
    call();
    const double first = ms_since(t);
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
        t = std::chrono::steady_clock::now();
        call();
        times.push_back(ms_since(t));
    }
    std::nth_element(times.begin(), times.begin() + runs / 2, times.end());
    return {first, times[size_t(runs / 2)]};
}

void bench(const char* backend, nn::Model& model, const data::Dataset& test) {
    const viz::PixelSpace pixels{test.normalization()};
    viz::Explainer e(model, pixels);
    const auto image = test.image(0);
    const int32_t label = test.label(0);
    const auto row = [&](const char* method, int runs, const std::function<void()>& call) {
        const auto [first, median] = time_calls(runs, call);
        std::printf("| %s | %s | %.2f | %.1f |\n", backend, method, median, first);
    };
    row("saliency", 100, [&] { e.saliency(image, label); });
    row("gradient x input", 100, [&] { e.gradient_x_input(image, label); });
    row("guided backprop", 100, [&] { e.guided_backprop(image, label); });
    row("Grad-CAM", 100, [&] { e.grad_cam(image, label); });
    row("SmoothGrad, 50 samples", 10, [&] { e.smoothgrad(image, label); });
    row("Integrated Gradients, 64 steps", 10, [&] { e.integrated_gradients(image, label); });
    row("occlusion, 6x6 patch, stride 2", 10, [&] { e.occlusion(image, label); });
    const int32_t one = 3;
    row("class model, 200 steps, 1 class", 3, [&] { viz::class_models(model, pixels, std::span(&one, 1)); });
    std::vector<int32_t> all(10);
    std::iota(all.begin(), all.end(), 0);
    row("class models, 200 steps, 10 classes in one batch", 3, [&] { viz::class_models(model, pixels, all); });
    row("DeepDream, layer 4, 3 octaves x 20 steps", 3, [&] { viz::deep_dream(model, pixels, image, "4"); });
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CHECKPOINT [data-dir] [threads]\n", argv[0]);
        return 2;
    }
    try {
        const std::string data_dir = argc > 2 ? argv[2] : "data";
        const unsigned threads = argc > 3 ? unsigned(std::atoi(argv[3])) : 1;
        const data::Dataset test = data::load_mnist(data_dir + "/mnist", data::Split::Test);
        std::printf("| backend | method | median ms | first call ms |\n| --- | --- | ---: | ---: |\n");
        cpu::ThreadPool pool(threads);
        nn::Model cpu(nn::lenet5(), {}, pool);
        cpu.load_checkpoint(argv[1]);
        bench(threads == 1 ? "CPU, 1 thread" : "CPU", cpu, test);
        const std::unique_ptr<Device> device = Device::create();
        nn::Model gpu(nn::lenet5(), {}, *device);
        gpu.load_checkpoint(argv[1]);
        bench(device->info().name.c_str(), gpu, test);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkcnn_viz_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
