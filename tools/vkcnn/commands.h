// The subcommands of the vkcnn tool, one file each. Each returns the exit code.
#pragma once

#include <cstdint>
#include <string>

namespace vkcnn::cli {

// Lists every Vulkan device with what vkcnn cares about, marks the one it would choose.
int info();

// Runs relu forward and backward on the chosen device and on the CPU backend and compares them.
int check_gpu(size_t elements, bool validation);

struct TrainArgs {
    std::string model = "lenet5", dataset = "mnist", data_dir = "data", backend = "vulkan";
    std::string optimizer = "sgd", schedule = "constant", out = "checkpoints/model.safetensors", resume;
    int epochs = 1, step_epochs = 1;
    int64_t batch = 64;
    double lr = 0.05, momentum = 0.9, weight_decay = 0;
    bool nesterov = false;
    uint64_t warmup_steps = 0, seed = 1;
    unsigned threads = 0; // CPU backend and data; 0: all cores
};
// Trains, evaluates on the test set after every epoch, writes checkpoints.
int train(const TrainArgs& args);

struct EvalArgs {
    std::string model = "lenet5", dataset = "mnist", data_dir = "data", backend = "vulkan", checkpoint;
    int64_t batch = 256;
    bool confusion = false;
};
// Test-set accuracy of a checkpoint.
int evaluate(const EvalArgs& args);

struct ProfileArgs {
    std::string model = "lenet5";
    int64_t batch = 64;
    int steps = 5;
};
struct PredictArgs {
    std::string checkpoint, model = "lenet5", dataset = "mnist", data_dir = "data", backend = "vulkan", image;
    int64_t index = -1;
};
// The class of one image (a PNG, or a test-set sample) and the top scores.
int predict(const PredictArgs& args);

// Where a training step's GPU time goes, node by node (random data).
int profile(const ProfileArgs& args);

} // namespace vkcnn::cli
