// Training a Model: the training step (forward, the loss, accuracy,
// backward, optimizer) compiled once into a Program bound to the model's
// state and run per batch, pipelined or scheduled by a host application
// (its semaphores, its command buffer, a step split over frames).
// Evaluation and prediction run the model's own programs on the same live
// weights (Model::evaluate / predict).
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/exec/memory_check.h"
#include "vkcnn/exec/profile.h"
#include "vkcnn/exec/program.h"
#include "vkcnn/nn/model.h"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vkcnn::exec {
class VulkanProgram;
}

namespace vkcnn::nn {

using Optimizer = std::variant<ops::SgdAttrs, ops::AdamAttrs>;

enum class Loss : uint8_t {
    CrossEntropy,     // class labels (i32), with the accuracy count
    MeanSquaredError, // float targets of the output's shape (batch, classes): regression
};

struct TrainerOptions {
    int64_t batch = 64;
    // Its lr is the learning rate until set_learning_rate() changes it.
    Optimizer optimizer = ops::SgdAttrs{.lr = 0.05, .momentum = 0.9};
    Loss loss = Loss::CrossEntropy;
    float label_smoothing = 0.0f; // cross-entropy only
    bool profile = false; // per-node times for profile(): GPU timestamps, or a clock on the CPU
    // Vulkan: a full barrier after every dispatch, no memory reuse, no
    // in-place ops; results must be bitwise those of the optimised schedule.
    bool debug_schedule = false;
    // Vulkan: split the training step into command buffers of at most this
    // many estimated FLOPs (VulkanProgramOptions::max_segment_flops), for a
    // host that must keep each submission short; 0: one command buffer.
    double max_segment_flops = 0;
    // Random affine augmentation (rotation, scale, translation) of every
    // training batch on the backend, before the network; a new draw each step,
    // keyed by (seed, step) as dropout. Evaluation and predict never augment.
    // fill should be the normalised background: -mean / std.
    std::optional<ops::AugmentAttrs> augment;
    // Parameters not trained (transfer learning), by name prefix: "0." is
    // the first layer's weight and bias, "7.weight" one tensor. They get no
    // gradient, no optimizer step and no optimizer state; each prefix must
    // match a parameter, and at least one parameter must stay trained.
    std::vector<std::string> frozen;
    // Layer paths ("3", "4.body.1", "input") whose outputs in the training
    // step stay readable after it (activation(), snapshot()): what a demo
    // draws while the network trains. "grad:<parameter>" ("grad:0.weight")
    // keeps that parameter's gradient of the step's loss (mean over the batch).
    std::vector<std::string> keep;
    // Rewrites each batch before its step, given a copy of its images, its
    // labels (empty with MeanSquaredError) and the step's number (from 1):
    // adversarial training replaces a share of each batch by attacks made on
    // the live weights (viz::adversarial_batches). Runs on the host thread
    // that starts the step; programs of the model it runs see every earlier
    // step's update.
    std::function<void(std::span<float> images, std::span<const int32_t> labels, uint64_t step)> transform_batch;
};

struct StepResult {
    float loss = 0;
    int32_t correct = 0; // in the batch, before the update (cross-entropy only)
};

class Trainer {
public:
    // Trains `model`, which must outlive the Trainer; its state gains the
    // optimizer's (momentum buffers, Adam moments), zero.
    Trainer(Model& model, TrainerOptions options);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    Model& model() const { return model_; }
    const TrainerOptions& options() const { return options_; }
    // The one learning rate every later step uses (a schedule sets it per step).
    void set_learning_rate(double lr);
    double learning_rate() const { return lr_; }

    // One optimizer step on a full batch (batch x C x H x W images, batch
    // labels; or batch x classes targets with Loss::MeanSquaredError).
    // Throws, naming the step, if the loss is not finite — the parameters of
    // that step are then already updated, so stop rather than continue.
    StepResult step(std::span<const float> images, std::span<const int32_t> labels);
    StepResult step(std::span<const float> images, std::span<const float> targets);
    // The same, pipelined: starts the step and returns at once with the
    // previous step's result, if one is still to be collected — so the next
    // batch is prepared while this one computes, and the loss is read a step
    // late without stalling the device. flush() waits for the last started
    // step and returns its result. The loss check names the step it was in.
    std::optional<StepResult> start_step(std::span<const float> images, std::span<const int32_t> labels);
    std::optional<StepResult> start_step(std::span<const float> images, std::span<const float> targets);
    std::optional<StepResult> flush();

    // Steps a host application schedules itself (Vulkan): prepare_step
    // writes the batch and stages it into a free upload slot, which it
    // returns; the host then submits vulkan_program().submit(slot, sync) —
    // whole, or in segments within a frame's budget (submit_segments,
    // segments_within) — or records it into its own command buffer
    // (record(cmd, slot)); finish_step(slot), once the step is done (our
    // fence is waited for; a step the host recorded it must have waited for
    // itself), reads the result. No pipelined step may be in flight.
    uint32_t prepare_step(std::span<const float> images, std::span<const int32_t> labels);
    uint32_t prepare_step(std::span<const float> images, std::span<const float> targets);
    StepResult finish_step(uint32_t slot);
    exec::VulkanProgram& vulkan_program() const;

    // Eval mode on the model's live weights, at the training batch size.
    EvalResult evaluate(const data::Dataset& dataset) { return model_.evaluate(dataset, options_.batch); }
    std::vector<float> predict(std::span<const float> images, int64_t n) { return model_.predict(images, n); }

    // A kept layer's output (TrainerOptions::keep) as the last step left it
    // (waits for the steps in flight).
    std::vector<float> activation(std::string_view path) const;
    // Copies of kept layers and parameters ("0.weight") taken on request
    // at the end of a step, without waiting for it (exec::Snapshot).
    std::unique_ptr<exec::Snapshot> snapshot(std::span<const std::string> names);

    // Parameters, running statistics and optimizer state, by name.
    StateDict state() const;
    // Restores what state() returned (names and sizes checked; missing
    // names are an error, except optimizer state: a fresh optimizer);
    // `steps` continues the optimizer's step count.
    void load_state(const StateDict& state, uint64_t steps);
    uint64_t steps() const { return steps_; }
    // Parameters and running statistics, in model order.
    const std::vector<StateSpec>& parameters() const { return model_.parameters(); }
    // Everything state() holds: parameters, running statistics, optimizer state.
    std::vector<StateSpec> state_layout() const;
    exec::Program& training_program() { return *train_; }
    // With TrainerOptions::profile: where the last training step's time went
    // (GPU time on Vulkan, wall time on the CPU), per node, slowest first.
    std::vector<exec::NodeTime> profile() const;

private:
    // A batch's labels (i32) or regression targets (f32), as bytes: what the
    // public overloads of step, start_step and prepare_step share.
    struct Targets {
        std::span<const std::byte> bytes;
        bool floats;
    };
    StepResult step(std::span<const float> images, Targets targets);
    std::optional<StepResult> start_step(std::span<const float> images, Targets targets);
    uint32_t prepare_step(std::span<const float> images, Targets targets);
    void write_step(std::span<const float> images, Targets targets);
    StepResult collect(); // the oldest started step's result, checked
    StepResult checked(const exec::StepResults& results, uint64_t step) const;
    std::string value_of_layer(std::string_view path) const;

    Model& model_;
    TrainerOptions options_;
    double lr_;
    std::vector<StateSpec> optimizer_state_; // momentum buffers, Adam moments
    std::map<std::string, std::string, std::less<>> kept_; // layer path -> value name in the training graph
    std::unique_ptr<exec::Program> train_;
    std::vector<std::string> step_keys_; // (2,) i32 Philox keys written {seed, step} every step
    uint64_t steps_ = 0;
    std::vector<float> transformed_; // the batch transform_batch rewrote
    std::deque<uint64_t> started_; // step numbers of started steps not yet collected
    uint32_t next_host_slot_ = 0;
    std::map<uint32_t, uint64_t> prepared_; // host-scheduled slot -> its step number
};

// The training step a Trainer of `model` with `options` compiles, estimated
// without compiling anything for a device (exec::check_memory takes it).
exec::MemoryEstimate estimate_training_memory(const Model& model, const TrainerOptions& options);


} // namespace vkcnn::nn
