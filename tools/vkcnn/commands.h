// The subcommands of the vkcnn tool, one file each. Each returns the exit code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
    // Random affine augmentation of the training batches on the backend
    // (ops::AugmentAttrs): angle in [-degrees, degrees], scale in
    // [1 - scale, 1 + scale], shifts in [-translate, translate] pixels.
    bool augment = false;
    double augment_degrees = 10, augment_scale = 0.1, augment_translate = 2;
    // Random stroke width (data/stroke_width.h): this share of each batch
    // thickened by grey dilation on the host, for networks that read drawings; 0: off.
    double augment_stroke = 0;
    // Adversarial training (viz::adversarial_batches): "" (off), "fgsm" or
    // "pgd"; a share of each batch replaced by attacks on the live weights.
    std::string adversarial;
    double adversarial_epsilon = 0.3, adversarial_share = 0.5;
    int adversarial_steps = 7;
    std::vector<std::string> freeze; // parameter name prefixes not trained
    int64_t validation = 0;          // training samples held out, evaluated each epoch
    uint64_t save_every = 0;         // also a checkpoint every this many steps (0: at epoch ends only)
    uint64_t log_every = 0;          // print every this many steps' loss, exactly (0: the progress line only)
    int64_t limit = 0;               // train and test on the first this many samples of each set (0: all)
    // A CSV of the run as it goes (viz/reports.h: kLogHeader): a line per
    // step and per test evaluation, flushed per line; appended to on --resume.
    std::string log;
};
// Trains, evaluates on the test set after every epoch, writes checkpoints.
// SIGINT, SIGTERM and SIGHUP save a checkpoint of the steps done and return
// 128 + the signal's number, as a shell reports a process the signal ended.
int train(const TrainArgs& args);

struct EvalArgs {
    std::string model = "lenet5", dataset = "mnist", data_dir = "data", backend = "vulkan", checkpoint;
    int64_t batch = 256;
    int64_t limit = 0; // the first this many test samples (0: all)
    bool confusion = false;
};
// Test-set accuracy of a checkpoint; exits 1 (after printing it) when the
// weights hold NaN or infinity.
int evaluate(const EvalArgs& args);

struct TuneArgs {
    int64_t batch = 64;
    int runs = 3;
    bool dry_run = false; // measure and print, save nothing
};
// Measures the device's GEMM tilings and saves the fastest (exec/autotune.h).
int tune(const TuneArgs& args);

struct ProfileArgs {
    std::string model = "lenet5", backend = "vulkan";
    int64_t batch = 64;
    int steps = 5;
    unsigned threads = 0; // CPU backend; 0: all cores
};
struct PredictArgs {
    std::string checkpoint, model = "lenet5", dataset = "mnist", data_dir = "data", backend = "vulkan", image;
    int64_t index = -1;
    bool preprocess = false;       // MNIST's digit preprocessing for a 28x28 image too (other sizes always get it)
    std::string save_preprocessed; // where to write the 28x28 the network sees (PNG), if anywhere
};
// The class of one image (a PNG, or a test-set sample) and the top scores.
int predict(const PredictArgs& args);

// Where a training step's GPU time goes, node by node (random data).
int profile(const ProfileArgs& args);

struct BenchArgs {
    std::string model = "lenet5", backend = "vulkan", dataset = "random", data_dir = "data";
    int64_t batch = 64;
    unsigned threads = 0; // CPU backend; 0: all cores
    int warmup = 3, steps = 10, runs = 5;
    bool csv = false;
};
// Training throughput: the median over `runs` of the mean time of `steps`
// training steps after `warmup` untimed ones, per backend ("vulkan", "cpu" or
// "both"); on Vulkan also the GPU's and the host's share (a profiled run).
int bench(const BenchArgs& args);

} // namespace vkcnn::cli
