// What several subcommands share: the datasets by name and the device for --backend.
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/nn/trainer.h"
#include "vkcnn/vulkan/device.h"

#include <CLI/CLI.hpp>

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

// Checks of a number's text, before CLI11 converts it. CLI11's
// PositiveNumber and NonNegativeNumber let NaN through (every comparison
// with it is false) and print their range as 1.797693e+308 in full, and an
// unsigned option takes "-1" as 2^64 - 1: these say what they want instead.
// A finite number > min (>= min with allow_min); `want` is the message's
// words, `name` the help's.
CLI::Validator finite_number(double min, bool allow_min, const char* want, const char* name);
// Decimal digits only (no sign, exponent or fraction), at least `min`.
CLI::Validator whole_number(unsigned min, const char* name);

// The normalisation of a dataset by name (what a new image is given).
data::Normalization normalization_of(const std::string& dataset);

// The pixels ([0, 1] grey, 28x28) a model of `dataset` takes from an image
// file: a 28x28 image as is (light on dark, as the training set); any other
// size, or any with `preprocess`, is a drawing: luma, inverted when its
// border is light, cropped, fitted into 20x20 and centred by its mass
// (data::mnist_preprocess), which it prints.
std::vector<float> load_image(const std::string& path, const std::string& dataset, bool preprocess);

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
    double wall_ms = 0, gpu_ms = 0; // gpu_ms: the nodes' times summed (on the CPU backend, wall time in nodes)
    std::vector<exec::NodeTime> last;
};
using BatchSource = std::function<std::pair<std::span<const float>, std::span<const int32_t>>()>;
ProfiledSteps profile_steps(nn::Trainer& trainer, int steps, const BatchSource& next_batch);

} // namespace vkcnn::cli
