// Training a Module on a backend: the training step (forward, cross-entropy
// loss, accuracy, backward, optimizer) compiled once into a Program and run
// per batch; evaluation in eval mode (batch-norm running statistics) by
// Programs of the same model, fed the trained state by name.
#pragma once

#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/data/dataset.h"
#include "vkcnn/exec/profile.h"
#include "vkcnn/exec/program.h"
#include "vkcnn/nn/module.h"

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vkcnn {
class Device;
}

namespace vkcnn::nn {

using Optimizer = std::variant<ops::SgdAttrs, ops::AdamAttrs>;
using State = std::map<std::string, std::vector<float>>; // name -> values, as a state_dict

struct TrainerOptions {
    int64_t batch = 64;
    std::array<int64_t, 3> input{1, 28, 28}; // (C, H, W)
    uint32_t classes = 10;
    Optimizer optimizer = ops::SgdAttrs{.lr = 0.05, .momentum = 0.9};
    float label_smoothing = 0.0f;
    uint64_t seed = 0; // initial weights
    bool profile = false; // Vulkan: GPU timestamps per node, for profile()
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
};

struct StepResult {
    float loss = 0;
    int32_t correct = 0; // in the batch, before the update
};

struct EvalResult {
    double loss = 0; // mean over the samples
    int64_t correct = 0, total = 0;
    std::vector<int64_t> confusion; // classes x classes, row = true class, column = predicted
    double accuracy() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

class Trainer {
public:
    // device == nullptr: the CPU backend on `pool`.
    Trainer(const Module& net, TrainerOptions options, Device* device, cpu::ThreadPool& pool);
    ~Trainer();

    // One optimizer step on a full batch (batch x C x H x W images, batch
    // labels) at learning rate `lr`. Throws, naming the step, if the loss is
    // not finite — the parameters of that step are then already updated, so
    // stop rather than continue.
    StepResult step(std::span<const float> images, std::span<const int32_t> labels, double lr);
    // The same, pipelined: starts the step and returns at once with the
    // previous step's result, if one is still to be collected — so the next
    // batch is prepared while this one computes, and the loss is read a step
    // late without stalling the device. flush() waits for the last started
    // step and returns its result. The loss check names the step it was in.
    std::optional<StepResult> start_step(std::span<const float> images, std::span<const int32_t> labels, double lr);
    std::optional<StepResult> flush();
    // Eval mode over the whole dataset, pipelined (a batch is staged while
    // the one before runs; loss, count and predictions read back per batch).
    EvalResult evaluate(const data::Dataset& dataset);
    // Class scores (logits) of `n` images, eval mode.
    std::vector<float> predict(std::span<const float> images, int64_t n);

    // Parameters, running statistics and optimizer state, by name.
    State state() const;
    // Restores what state() returned (names and sizes checked; missing
    // names are an error); `steps` continues the optimizer's step count.
    void load_state(const State& state, uint64_t steps);
    uint64_t steps() const { return steps_; }
    // Parameters and running statistics, in model order.
    const std::vector<StateSpec>& parameters() const { return specs_; }
    // Everything state() holds: parameters, running statistics, optimizer state.
    std::vector<StateSpec> state_layout() const;
    exec::Program& training_program() { return *train_; }
    // With TrainerOptions::profile on the Vulkan backend: where the last
    // training step's GPU time went, per node, slowest first.
    std::vector<exec::NodeTime> profile() const;

private:
    exec::Program& eval_program(int64_t batch);
    void sync_eval_state();
    std::unique_ptr<exec::Program> compile_program(graph::Graph g, std::string_view what, bool profile,
                                                   std::vector<std::string> results);
    void write_step(std::span<const float> images, std::span<const int32_t> labels, double lr);
    StepResult collect(); // the oldest started step's result, checked

    const Module& net_;
    TrainerOptions options_;
    Device* device_;
    cpu::ThreadPool& pool_;
    std::vector<StateSpec> specs_;           // parameters and running statistics
    std::vector<StateSpec> optimizer_state_; // momentum buffers, Adam moments
    std::unique_ptr<exec::Program> train_;
    std::map<int64_t, std::unique_ptr<exec::Program>> eval_; // by batch size
    bool eval_stale_ = true;
    std::vector<std::string> step_keys_; // (2,) i32 Philox keys written {seed, step} every step
    uint64_t steps_ = 0;
    std::deque<uint64_t> started_; // step numbers of started steps not yet collected
};

// Initial values for the specs, PyTorch's distributions, from `seed`.
State initial_state(const std::vector<StateSpec>& specs, uint64_t seed);

// The parameters and running statistics of `net` on inputs of `input` (C,
// H, W), in model order, as Trainer::parameters() will list them: the model
// built, nothing compiled or allocated (a caller checks names first).
std::vector<StateSpec> model_state(const Module& net, std::array<int64_t, 3> input);

// What a compiled step needs, in bytes, estimated from its plan before
// anything is allocated, so that a batch too large is refused with a message
// saying so instead of a failed allocation deep inside (or a machine that
// swaps itself to a halt): the arena (activations, gradients and temporaries
// alive at once, packed as the memory plan packs them; the GPU's scratch for
// split reductions is not counted), the persistent values (parameters,
// optimizer state, running statistics) and the fed inputs (the batch).
struct MemoryEstimate {
    uint64_t arena = 0, persistent = 0, feeds = 0;
    uint64_t total() const { return arena + persistent + feeds; }
};
MemoryEstimate estimate_memory(const graph::Plan& plan);
// The training step a Trainer(net, options, ...) compiles.
MemoryEstimate estimate_training_memory(const Module& net, const TrainerOptions& options);
// Throws OutOfMemoryError, naming `what` ("the training step at batch 64"),
// what it needs and what there is, when `need` does not fit: on Vulkan the
// device's largest device-local heap (and the host's three copies of the
// inputs the host's memory); on the CPU backend (nullptr) the whole step and
// a caller's copy of the inputs the host's memory. The host's memory is the
// physical memory, or less under an address-space limit (ulimit -v) or a
// cgroup's memory.max. Every Trainer checks its Programs so before it
// allocates them.
void check_memory(const MemoryEstimate& need, const Device* device, std::string_view what);

} // namespace vkcnn::nn
