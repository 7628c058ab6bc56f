// `vkcnn bench`: training throughput of a model (forward, loss, backward, SGD
// with momentum, the loss read back every step, as `vkcnn train` runs it) on
// the Vulkan and / or the CPU backend: ms per step and images/s, the median of
// several timed runs after untimed warm-up steps (first-use costs: pipeline
// creation, allocation). On Vulkan a separate profiled run splits a step into
// GPU time and host time (uploads, submit, wait, read-back). --csv prints the
// lines scripts/bench_train.sh puts beside PyTorch's (bench/torch_train.py).
#include "commands.h"
#include "common.h"

#include "vkcnn/core/error.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace vkcnn::cli {

namespace {

// The batches the steps train on: one fixed synthetic batch, or a dataset's
// shuffled batches (so the timing includes the loader's copy, as in training).
class Batches {
public:
    explicit Batches(const BenchArgs& a) : batch_(a.batch) {
        images_.resize(static_cast<size_t>(a.batch) * 784);
        labels_.resize(static_cast<size_t>(a.batch));
        if (a.dataset == "random") {
            for (size_t i = 0; i < images_.size(); ++i) images_[i] = std::sin(0.01f * static_cast<float>(i));
            for (size_t i = 0; i < labels_.size(); ++i) labels_[i] = static_cast<int32_t>(i % 10);
            return;
        }
        data_ = load_dataset(a.data_dir, a.dataset, data::Split::Train);
        check(data_.size() >= a.batch, "bench: --batch ", a.batch, " is larger than the ", a.dataset,
              " training set (", data_.size(), " images)");
        loader_.emplace(data_, data::LoaderOptions{.batch_size = a.batch, .shuffle = true, .seed = 1, .drop_last = true});
    }
    // The next batch (a dataset wraps around to its next epoch).
    void next() {
        if (!loader_) return;
        if (loader_->next(images_, labels_) < batch_) {
            loader_->start_epoch(loader_->epoch() + 1);
            loader_->next(images_, labels_);
        }
    }
    std::span<const float> images() const { return images_; }
    std::span<const int32_t> labels() const { return labels_; }

private:
    int64_t batch_;
    std::vector<float> images_;
    std::vector<int32_t> labels_;
    data::Dataset data_;
    std::optional<data::BatchLoader> loader_;
};

constexpr double kLr = 0.01; // small: the timing must not depend on the loss blowing up

nn::TrainerOptions options(const BenchArgs& a, bool profile) {
    return {.batch = a.batch, .optimizer = ops::SgdAttrs{.lr = kLr, .momentum = 0.9}, .profile = profile};
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

struct Timing {
    double median_ms = 0, min_ms = 0, max_ms = 0; // per step, over the runs
};

// `warmup` untimed steps, then `runs` runs of `steps` steps: each run's mean step time.
Timing time_steps(nn::Trainer& t, Batches& b, const BenchArgs& a) {
    for (int s = 0; s < a.warmup; ++s) {
        b.next();
        t.step(b.images(), b.labels());
    }
    std::vector<double> ms;
    for (int r = 0; r < a.runs; ++r) {
        // As `vkcnn train` runs: pipelined, the next batch prepared while a step computes.
        const auto start = std::chrono::steady_clock::now();
        for (int s = 0; s < a.steps; ++s) {
            b.next();
            t.start_step(b.images(), b.labels());
        }
        t.flush();
        ms.push_back(elapsed_ms(start) / a.steps);
    }
    std::sort(ms.begin(), ms.end());
    // The median; of an even count, the mean of the middle two.
    const size_t n = ms.size();
    return {n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]), ms.front(), ms.back()};
}

} // namespace

int bench(const BenchArgs& a) {
    check(a.backend == "vulkan" || a.backend == "cpu" || a.backend == "both", "unknown backend '", a.backend,
          "'; backends: vulkan, cpu, both");
    check(a.dataset == "random" || a.dataset == "mnist" || a.dataset == "fashion-mnist", "unknown dataset '",
          a.dataset, "'; datasets: random, mnist, fashion-mnist");
    check(a.warmup >= 0 && a.steps > 0 && a.runs > 0, "bench: --steps and --runs must be positive, --warmup >= 0");
    const nn::Sequential net = nn::model_by_name(a.model);
    std::unique_ptr<Device> dev;
    if (a.backend != "cpu") {
        doing("opening the Vulkan device");
        dev = Device::create();
        std::fprintf(a.csv ? stderr : stdout, "device: %s\n", dev->info().name.c_str());
    }
    const unsigned threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
    cpu::ThreadPool pool(threads);
    // Before the batch is allocated: a --batch of millions is refused with
    // what it needs and what there is, not a std::bad_alloc (or swapping).
    doing(cat("estimating the memory of ", a.model, " at batch ", a.batch));
    const exec::MemoryEstimate need = nn::estimate_training_memory(nn::Model(net, {}, pool), options(a, false));
    if (a.backend != "cpu") exec::check_memory(need, dev.get(), cat("bench: the training step at batch ", a.batch));
    if (a.backend != "vulkan") exec::check_memory(need, nullptr, cat("bench: the training step at batch ", a.batch));
    doing(cat("preparing the batches (batch ", a.batch, ")"));
    Batches batches(a);
    doing("benchmarking");
    if (!a.csv)
        std::printf("%s, batch %lld, %s data, SGD with momentum; median of %d runs of %d steps after %d warm-up\n",
                    a.model.c_str(), static_cast<long long>(a.batch), a.dataset.c_str(), a.runs, a.steps, a.warmup);
    for (const char* backend : {"vulkan", "cpu"}) {
        if (a.backend != "both" && a.backend != backend) continue;
        Device* device = backend == std::string("vulkan") ? dev.get() : nullptr;
        Timing t;
        TransferStats moved;
        {
            nn::Model model(net, {}, device, &pool);
            nn::Trainer trainer(model, options(a, false));
            if (device) device->reset_transfer_stats();
            t = time_steps(trainer, batches, a);
            if (device) moved = device->transfer_stats();
        }
        const double images_per_s = 1000.0 * static_cast<double>(a.batch) / t.median_ms;
        if (a.csv) {
            std::printf("%s,%s,%lld,%u,%.3f,%.1f\n", a.model.c_str(), backend, static_cast<long long>(a.batch), threads,
                        t.median_ms, images_per_s);
            std::fflush(stdout);
            continue;
        }
        std::printf("%-6s %9.2f ms/step %10.1f images/s   (runs %.2f .. %.2f ms)", backend, t.median_ms,
                    images_per_s, t.min_ms, t.max_ms);
        if (device) {
            // What crosses between host and device per step: the batch in, the loss and count out.
            const double steps = static_cast<double>(a.warmup + a.runs * a.steps);
            std::printf("; host->device %.1f KiB, device->host %.2f KiB per step",
                        static_cast<double>(moved.uploaded) / steps / 1024, static_cast<double>(moved.downloaded) / steps / 1024);
            // A profiled trainer (a timestamp after every dispatch) splits a step into GPU and host time.
            nn::Model model(net, {}, *device);
            nn::Trainer profiled(model, options(a, true));
            const ProfiledSteps p = profile_steps(profiled, a.steps, [&] {
                batches.next();
                return std::pair(batches.images(), batches.labels());
            });
            std::printf("; profiled: %.2f ms GPU + %.2f ms host per step", p.gpu_ms, std::max(0.0, p.wall_ms - p.gpu_ms));
        } else {
            std::printf("; %u threads", threads);
        }
        std::printf("\n");
        std::fflush(stdout);
    }
    return 0;
}

} // namespace vkcnn::cli
