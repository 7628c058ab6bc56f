// What the browser demo's worker runs: one LeNet-5 with the shipped weights
// and one being trained in the page, on the CPU backend, and everything the
// page shows about a drawing — MNIST's preprocessing, the class
// probabilities, every layer's activations, saliency and Grad-CAM for any
// class, a targeted adversarial nudge and the nearest training digits in
// feature space. Plain C++ on vkcnn's public API: bindings.cpp exposes it to
// JavaScript, and natively it is the reference the browser tests compare
// against (tests/web/).
#pragma once

#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/data/dataset.h"
#include "vkcnn/data/digit.h"
#include "vkcnn/io/safetensors.h"
#include "vkcnn/nn/model.h"
#include "vkcnn/nn/trainer.h"
#include "vkcnn/viz/adversarial.h"
#include "vkcnn/viz/attribution.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::web {

// MNIST's training normalisation: what every image is turned into before the network.
inline constexpr data::Normalization kNormalization = data::kMnistNormalization;

struct Prediction {
    data::DigitImage digit;            // the 28x28 image the network sees, pixels in [0, 1]
    std::vector<float> probabilities;  // softmax of the logits (all 0 for an empty drawing)
    int32_t top = -1;                  // argmax; -1 for an empty drawing
};

struct LayerMaps {
    std::string path;          // "0", "3", ... ("input" for the preprocessed image)
    std::array<int64_t, 3> shape; // (C, H, W) of one sample; vectors are (n, 1, 1)
    std::vector<float> values; // C * H * W
};

struct Inspection {
    int32_t cls = 0;
    std::vector<LayerMaps> layers;  // every layer in build order
    std::vector<float> saliency;    // (28, 28), max-abs over channels, scaled to [0, 1]
    std::vector<float> grad_cam;    // (28, 28) in [0, 1] (all 0: no positive evidence)
};

struct Nudge {
    std::vector<float> image;         // (28, 28) pixels in [0, 1]
    std::vector<float> probabilities; // of the nudged image
    int32_t top = 0;
    int32_t steps = -1;               // sign steps until it read as the target; -1: not within the budget
};

struct Neighbour {
    int64_t index = 0; // in the training set
    int32_t label = 0;
    double distance = 0;
    std::vector<float> image; // (28, 28) pixels in [0, 1]
};

struct TrainOptions {
    // SGD with momentum 0.9 at `lr`, annealed over all epochs to 0 by
    // PyTorch's CosineAnnealingLR when `cosine` (98.7% after one epoch of
    // MNIST, where a constant 0.05 gives 97.5%).
    double lr = 0.05;
    bool cosine = true;
    int64_t batch = 64;
    uint64_t seed = 1;     // initial weights and the epochs' order
    int32_t epochs = 1;
    bool shuffle = true;   // false: batches in file order (tests)
};

struct TrainProgress {
    uint64_t step = 0;          // optimizer steps so far
    int32_t epoch = 0;          // epochs completed
    int32_t epochs = 0;
    int64_t samples = 0;        // images trained on so far
    double loss = 0;            // mean loss of the steps of this report
    double accuracy = 0;        // fraction right in those steps' batches (before each update)
    double images_per_second = 0; // of this report's steps
    std::optional<double> test_accuracy; // after an epoch completed in this report
    bool done = false;
};

enum class Slot : uint8_t { Shipped, Trained };

class Session {
public:
    // threads: the CPU backend's worker threads, caller included (1 without pthreads).
    explicit Session(unsigned threads = 1);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    unsigned threads() const { return pool_.size(); }
    const std::vector<nn::LayerInfo>& layers() const { return shipped_.layers(); }

    // A LeNet-5 checkpoint (safetensors, as `vkcnn train` writes) into the
    // shipped slot. A file of another model, or a truncated or corrupt one,
    // is an error naming `source` and the problem; the weights loaded before
    // stay.
    io::Metadata load_weights(std::span<const std::byte> bytes, const std::string& source);

    // MNIST's IDX files as plain (gunzipped) bytes; `source` names them in errors.
    void set_mnist(data::Split split, std::span<const uint8_t> images, std::span<const uint8_t> labels,
                   const std::string& source);
    bool has_mnist(data::Split split) const;

    // The model predict, inspect, nudge and nearest use.
    void use(Slot slot);
    Slot active() const { return active_; }
    bool has_trained() const { return trained_ != nullptr; }

    // A drawing: (height, width) ink amounts in [0, 1], ink high. It becomes
    // the current drawing the other calls below explain.
    Prediction predict(std::span<const float> gray, int width, int height);
    // Class scores (logits, (n, 10)) of n 28x28 images already in MNIST's
    // form (pixels in [0, 1], as the test set): normalised, then one
    // forward pass of the active model at batch n. No current drawing changes.
    std::vector<float> classify(std::span<const float> pixels, int64_t n);
    // Every layer's maps, saliency and Grad-CAM of class `cls` (any class:
    // "why not 3?") for the current drawing.
    Inspection inspect(int32_t cls);
    // The first convolution's weights (out, in, kh, kw) of the active model.
    std::vector<float> filters(std::array<int64_t, 4>& shape) const;
    // The current drawing moved, a pixel level at a time within the valid
    // range, until the active model reads it as `target`.
    Nudge nudge(int32_t target);
    // The k nearest training digits to the current drawing in the
    // penultimate layer's feature space (the first `pool` training images).
    std::vector<Neighbour> nearest(int32_t k, int64_t pool = 10000);

    // Training a fresh LeNet-5 in the trained slot (needs the training set;
    // the test set, when present, is evaluated after each epoch).
    void start_training(const TrainOptions& options);
    bool training() const { return trainer_ != nullptr && !progress_.done; }
    void set_learning_rate(double lr);
    // Runs whole steps for about `budget_ms` (at least one), then returns what they did.
    TrainProgress train_for(double budget_ms);
    // `steps` steps at once, each one's loss: what the browser test compares
    // against a native run.
    std::vector<float> train_steps(int64_t steps);

    // The user's own digits: the current drawing under `label`; returns how many there are.
    int64_t add_example(int32_t label);
    // Fine-tunes the trained slot (starting from the shipped weights when
    // nothing was trained) on batches of the user's digits mixed with
    // training digits, at a constant rate (a training run in progress
    // ends); returns each step's loss.
    std::vector<float> fine_tune(int64_t steps, double lr);

private:
    nn::Model& active_model() { return active_ == Slot::Trained && trained_ ? *trained_ : shipped_; }
    const nn::Model& active_model() const {
        return active_ == Slot::Trained && trained_ ? *trained_ : shipped_;
    }
    // Per-model helpers, built on first use and rebuilt when the model changes.
    struct Views;
    Views& views();
    void forget_views(const nn::Model* model);
    const std::vector<float>& current() const; // the current drawing, model space
    // Changes whenever the active model's weights do (features go stale).
    uint64_t active_model_version() const;
    void make_trainer(const TrainOptions& options); // for trained_
    nn::StepResult train_step(); // the next batch, at the schedule's rate
    const data::Dataset& dataset(data::Split split) const;

    cpu::ThreadPool pool_;
    nn::Model shipped_;
    uint64_t shipped_version_ = 0; // checkpoints loaded
    std::unique_ptr<nn::Model> trained_;
    std::unique_ptr<nn::Trainer> trainer_;
    Slot active_ = Slot::Shipped;
    std::optional<data::Dataset> train_set_, test_set_;
    std::unique_ptr<Views> views_;
    std::vector<float> current_; // (1, 28, 28) model space; empty before the first drawing

    TrainOptions train_options_;
    std::unique_ptr<data::BatchLoader> loader_;
    std::vector<float> batch_images_;
    std::vector<int32_t> batch_labels_;
    TrainProgress progress_;

    std::vector<float> user_images_; // (n, 1, 28, 28) model space
    std::vector<int32_t> user_labels_;
};

} // namespace vkcnn::web
