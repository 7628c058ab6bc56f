// A training run the demo shows: a Model and a Trainer on the demo's own
// device (adopted), its batches, the step spread over frames, the curves,
// held-out evaluation, and what the panels draw from it. Nothing here
// renders; panels.cpp draws it, inspector.h looks inside the network.
#pragma once

#include <vkcnn/data/dataset.h>
#include <vkcnn/exec/profile.h>
#include <vkcnn/nn/model.h>
#include <vkcnn/nn/trainer.h>
#include <vkcnn/vulkan/device.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace demo {

struct SessionOptions {
    std::string model = "lenet5";  // nn::model_by_name: lenet5, resnet, mobilenet
    std::string dataset = "mnist"; // mnist, fashion-mnist
    std::string data_dir = "data";
    std::string optimizer = "sgd"; // sgd (momentum 0.9), adam
    double lr = 0.05;
    int64_t batch = 64;
    bool augment = false;
    uint64_t seed = 1;
    int64_t validation_samples = 1000; // of the test set, evaluated every eval_every steps
    uint64_t eval_every = 100;
};

// One logged training step; every one is kept, the plots decimate.
struct StepPoint {
    uint64_t step;
    double seconds; // wall clock since the run started
    float loss;
    float accuracy; // of the batch, before the update
    float lr;
};

struct EvalPoint {
    uint64_t step;
    double seconds;
    double loss, accuracy;
};

struct Misclassified {
    int64_t index; // into the test set
    int32_t label;
    int32_t top[3];
    float probability[3];
};

class Session {
public:
    Session(vkcnn::Device& device, const SessionOptions& options);
    ~Session();

    const SessionOptions& options() const { return options_; }
    vkcnn::nn::Model& model() { return *model_; }
    vkcnn::nn::Trainer& trainer() { return *trainer_; }
    const vkcnn::data::Dataset& test_set() const { return test_; }
    std::vector<std::string> class_names() const;

    // Per frame: submits training work worth about `budget_flops` (at least
    // one segment), finishing the step submitted in an earlier frame first.
    // Returns whether a step finished in this call.
    bool advance(double budget_flops);
    bool running = true;           // false: paused
    std::optional<uint64_t> stop_at; // pause after this many steps
    void single_step();            // the next advance() runs one step, then pauses
    bool step_in_flight() const { return slot_.has_value(); }
    // No step in flight, or all of its segments submitted: drain() will not submit.
    bool all_submitted() const;
    // Waits for the step in flight (before a checkpoint, a reset, shutdown).
    void drain();

    void set_learning_rate(double lr);
    double learning_rate() const { return trainer_->learning_rate(); }
    double step_flops() const;

    // Held-out evaluation of validation_samples test images, all at once
    // (blocking: at the start and after a load).
    void evaluate();
    // An evaluation of the weights of the step just finished is under way:
    // advance() predicts the next kEvalChunk images each frame, and starts
    // no step until it is done, so the figures belong to that step.
    bool evaluating() const { return pending_.has_value(); }
    void save(const std::string& path);
    void load(const std::string& path);

    // What the panels draw.
    const std::vector<StepPoint>& steps() const { return steps_; }
    const std::vector<EvalPoint>& evals() const { return evals_; }
    const std::vector<int64_t>& confusion() const { return confusion_; } // classes x classes, row = true class
    const std::vector<Misclassified>& misclassified() const { return misclassified_; }
    const std::vector<vkcnn::exec::NodeTime>& profile() const { return profile_; }
    double images_per_second() const { return images_per_second_; }
    double ms_per_step() const { return ms_per_step_; }
    uint64_t step_count() const { return trainer_->steps(); }
    double seconds() const;
    // Parameter and gradient values for the histograms (read every eval).
    struct Tensor {
        std::string name;
        std::vector<float> weights, gradients;
    };
    const std::vector<Tensor>& tensors() const { return tensors_; }
    std::string status; // the last message worth showing (saved, loaded, an error)

private:
    // An evaluation in parts: the sums so far.
    struct Evaluation {
        uint64_t step;
        double seconds;
        int64_t next = 0; // the first sample not yet predicted
        double loss = 0;
        int64_t correct = 0;
        std::vector<int64_t> confusion;
        std::vector<Misclassified> misclassified;
    };
    static constexpr int64_t kEvalChunk = 50; // images per frame: ~35 ms of LeNet-5 on lavapipe
    void start_evaluation();
    void evaluate_some(int64_t samples); // publishes the figures when the last sample is in
    void finish();
    void read_tensors();

    vkcnn::Device& device_;
    SessionOptions options_;
    vkcnn::data::Dataset train_, test_, validation_;
    std::unique_ptr<vkcnn::nn::Model> model_;
    std::unique_ptr<vkcnn::nn::Trainer> trainer_;
    std::unique_ptr<vkcnn::data::BatchLoader> loader_;
    std::vector<float> images_;
    std::vector<int32_t> labels_;
    std::optional<uint32_t> slot_; // the step being submitted or in flight
    std::optional<Evaluation> pending_;
    size_t next_segment_ = 0;
    bool single_ = false;
    std::chrono::steady_clock::time_point start_, step_start_;
    std::vector<std::string> trained_; // weights with a histogram: parameters of conv and linear layers

    std::vector<StepPoint> steps_;
    std::vector<EvalPoint> evals_;
    std::vector<int64_t> confusion_;
    std::vector<Misclassified> misclassified_;
    std::vector<vkcnn::exec::NodeTime> profile_;
    std::vector<Tensor> tensors_;
    double images_per_second_ = 0, ms_per_step_ = 0;
};

} // namespace demo
