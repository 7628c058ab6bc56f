// What several subcommands share: the datasets by name and the device for --backend.
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/nn/trainer.h"
#include "vkcnn/vulkan/device.h"

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace vkcnn::cli {

// What the command is doing now ("loading data/mnist (train)"): main.cpp
// turns a std::bad_alloc into "out of memory while <this>", where the
// exception itself says nothing.
void doing(std::string what);
const std::string& doing();

// "mnist" or "fashion-mnist" under `dir` (dir/mnist, dir/fashion-mnist).
data::Dataset load_dataset(const std::string& dir, const std::string& name, data::Split split);
// The first `n` samples of `ds` (--limit); all of them for 0 or n >= its size.
data::Dataset first_samples(data::Dataset ds, int64_t n);

// The device for --backend vulkan (VKCNN_DEVICE chooses among several),
// printing its name; nullptr for --backend cpu.
std::unique_ptr<Device> open_device(const std::string& backend);

// `steps` synchronous steps of a trainer built with TrainerOptions::profile,
// after one untimed step (first-use costs): per step, the mean wall time and
// the GPU's timestamped time (wall less GPU: the host's share), and the last
// step's per-node profile. next_batch() gives each step's images and labels,
// outside the timed part.
struct ProfiledSteps {
    double wall_ms = 0, gpu_ms = 0;
    std::vector<exec::NodeTime> last;
};
using BatchSource = std::function<std::pair<std::span<const float>, std::span<const int32_t>>()>;
ProfiledSteps profile_steps(nn::Trainer& trainer, int steps, const BatchSource& next_batch);

} // namespace vkcnn::cli
