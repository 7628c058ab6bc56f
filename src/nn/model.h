// One network on one backend: a Module, the shape of its input and output,
// and its persistent values — parameters and batch-norm running statistics,
// plus a Trainer's optimizer state — held once in an exec::State that every
// program of the network binds to by name. The training step, evaluation
// and prediction at any batch size, and every inspection program
// (activations, gradients w.r.t. the input or a layer, for saliency, class
// visualisation, adversarial examples) run on the same live weights: nothing
// is copied to evaluate or predict while a Trainer trains the model.
//
// Layers are named as PyTorch names modules ("3", "4.body.1"): a program
// keeps the output of any layer and reads it by that path; "input" is the
// network's input.
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/exec/program.h"
#include "vkcnn/io/safetensors.h"
#include "vkcnn/nn/module.h"

#include <array>
#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace vkcnn {
class Device;
}
namespace vkcnn::cpu {
class ThreadPool;
}

namespace vkcnn::nn {

// Values by name, as torch's state_dict.
using StateDict = std::map<std::string, std::vector<float>>;

struct ModelOptions {
    std::array<int64_t, 3> input{1, 28, 28}; // (C, H, W)
    uint32_t classes = 10;                    // outputs: the model's output is (batch, classes)
    uint64_t seed = 0;                        // initial weights (PyTorch's distributions)
};

// How programs of the model execute (the Vulkan backend's choices; ignored on the CPU).
struct ExecOptions {
    // A full barrier after every dispatch and no memory reuse: results must
    // be bitwise those of the optimised schedule.
    bool debug_schedule = false;
    bool profile = false;            // per-node times: GPU timestamps, or a clock on the CPU
    double max_segment_flops = 0;    // split a step into command buffers of this much work; 0: one
};

struct EvalResult {
    double loss = 0; // mean cross-entropy over the samples
    int64_t correct = 0, total = 0;
    std::vector<int64_t> confusion; // classes x classes, row = true class, column = predicted
    double accuracy() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

struct LayerInfo {
    std::string path; // "3", "4.body.1"
    Shape shape;      // of its output, for one sample (batch 1)
};

// How a gradient passes the ReLU layers: by the chain rule, or by the
// rules attribution methods use (graph::guided_relu_gradient: guided
// backpropagation; graph::deconvnet_relu_gradient: the deconvnet).
enum class ReluGradient : uint8_t { ChainRule, Guided, Deconvnet };

// A gradient an inspection program computes: of `of` — the model's output
// (empty) or a layer's — seeded per run (ModelProgram::seed*), or of the
// mean cross-entropy loss of the output against labels written per run
// (`loss`, ModelProgram::set_labels: adversarial examples); w.r.t. each of
// `wrt`: "input" (saliency, class visualisation, adversarial examples) or
// layer paths. Parameters get no gradient.
struct GradientOptions {
    std::string of;
    std::vector<std::string> wrt{"input"};
    bool loss = false; // PyTorch's F.cross_entropy(output, labels), reduction 'mean'; `of` must be empty
    ReluGradient relu = ReluGradient::ChainRule;
};

struct ProgramOptions {
    int64_t batch = 1;
    // Training mode: batch statistics (and the running statistics updated,
    // as torch's train()), dropout drawn anew every run. Otherwise eval mode.
    bool training = false;
    // Layer paths whose outputs stay readable after run().
    std::vector<std::string> keep;
    std::optional<GradientOptions> gradient;
    ExecOptions exec;
};

class ModelProgram;

class Model {
public:
    // The module is moved or copied into the model (Sequential copies
    // share their children), so a temporary is fine: Model(nn::lenet5(), {}, device).
    template <typename M>
        requires std::derived_from<std::decay_t<M>, Module>
    Model(M&& module, ModelOptions options, Device& device)
        : Model(std::make_shared<std::decay_t<M>>(std::forward<M>(module)), options, &device, nullptr) {}
    template <typename M>
        requires std::derived_from<std::decay_t<M>, Module>
    Model(M&& module, ModelOptions options, cpu::ThreadPool& pool)
        : Model(std::make_shared<std::decay_t<M>>(std::forward<M>(module)), options, nullptr, &pool) {}
    template <typename M>
        requires std::derived_from<std::decay_t<M>, Module>
    Model(M&& module, ModelOptions options, Device* device, cpu::ThreadPool* pool)
        : Model(std::make_shared<std::decay_t<M>>(std::forward<M>(module)), options, device, pool) {}
    // device == nullptr: the CPU backend on `pool`; a device needs no pool.
    Model(std::shared_ptr<const Module> module, ModelOptions options, Device* device, cpu::ThreadPool* pool);
    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const Module& module() const { return *module_; }
    const ModelOptions& options() const { return options_; }
    Device* device() const { return device_; }
    // Parameters and running statistics, in model order (state_dict order).
    const std::vector<StateSpec>& parameters() const { return specs_; }
    // Every layer path and the shape of its output for one sample, in build order.
    const std::vector<LayerInfo>& layers() const { return layers_; }
    // "input" and every layer path, for messages: "input, 0, 1, ...".
    std::string layer_paths() const;

    // The shared values: parameters, running statistics and, once a Trainer
    // bound its step, optimizer state.
    exec::State& state() const { return *state_; }
    const std::shared_ptr<exec::State>& shared_state() const { return state_; }
    // Parameters and running statistics by name (reading waits for the steps in flight).
    StateDict weights() const;
    // Sets the parameters and running statistics: every one must be
    // present with its shape; other names (optimizer state) are ignored.
    void load_weights(const StateDict& weights);
    // PyTorch's initialisation from `seed`.
    void initialise(uint64_t seed);

    // Checkpoints (safetensors, as save_checkpoint writes them, or
    // torch.save_file of a state_dict): parameters and running statistics
    // loaded, names and shapes checked (errors name the file and tensor),
    // optimizer tensors ignored. Returns the file's metadata.
    io::Metadata load_checkpoint(const std::string& path);
    // The same from bytes in memory (the browser fetches them); `source`
    // names them in errors.
    io::Metadata load_checkpoint(std::span<const std::byte> bytes, const std::string& source);

    // Class scores (logits) of `n` images (n x C x H x W), eval mode, on the live weights.
    std::vector<float> predict(std::span<const float> images, int64_t n);
    // Eval mode over a dataset in batches of `batch`, pipelined.
    EvalResult evaluate(const data::Dataset& dataset, int64_t batch = 256);

    // A program of this model for other jobs than training (see ProgramOptions).
    std::unique_ptr<ModelProgram> program(const ProgramOptions& options);

    // For a Trainer and other programs of the model: builds the network
    // after `x` in `ctx` (checking the output shape is (batch, classes)).
    graph::ValueId build(BuildContext& ctx, graph::ValueId x) const;
    // Compiles a graph of this model into a program bound to its state,
    // after checking that it fits in memory (`what` names it in that error).
    std::unique_ptr<exec::Program> compile(graph::Graph g, graph::CompileOptions compile, std::string_view what,
                                           const ExecOptions& exec = {});

private:
    struct EvalProgram {
        std::unique_ptr<exec::Program> program;
        std::string logits; // its output's value name
    };
    EvalProgram& eval_program(int64_t batch);
    std::shared_ptr<const Module> module_;
    ModelOptions options_;
    Device* device_;
    cpu::ThreadPool* pool_;
    std::shared_ptr<exec::State> state_;
    std::vector<StateSpec> specs_;
    std::vector<LayerInfo> layers_;
    std::map<int64_t, EvalProgram> eval_; // by batch size
};

// A forward (and optionally backward) program of a Model: one batch in,
// the model's output, the kept layers' outputs and the asked-for gradients
// out, on the model's live weights. Made by Model::program; must not
// outlive the Model's device.
class ModelProgram {
public:
    ModelProgram(Model& model, const ProgramOptions& options);

    int64_t batch() const { return options_.batch; }
    // batch x C x H x W floats.
    void set_input(std::span<const float> images);
    // The seed of the gradient (GradientOptions::of's shape): a given
    // tensor; a one-hot row per sample (the class score's gradient); or all
    // ones (the gradient of the sum of a layer's output: DeepDream, filter
    // visualisation). Kept across runs.
    void seed(std::span<const float> values);
    void seed_one_hot(std::span<const int32_t> classes);
    void seed_ones();
    // With GradientOptions::loss: the class of each sample (kept across runs).
    void set_labels(std::span<const int32_t> labels);

    void run();
    // After run(): the model's output (batch, classes), a kept layer's
    // output or "input", and a gradient w.r.t. one of GradientOptions::wrt.
    std::vector<float> output() const;
    std::vector<float> activation(std::string_view path) const;
    std::vector<float> gradient(std::string_view wrt) const;
    // With GradientOptions::loss: the loss of the last run.
    float loss() const;
    // The shape of a layer's output (or "input") at this program's batch.
    Shape shape(std::string_view path) const;
    // Copies of kept layers ("input" included), gradients (named
    // "grad:<wrt>") and parameters, taken on request (exec::Snapshot).
    std::unique_ptr<exec::Snapshot> snapshot(std::span<const std::string> names);

    exec::Program& program() { return *program_; }
    const exec::Program& program() const { return *program_; }

private:
    // The graph value a layer path, "input", a parameter or "grad:<wrt>" names.
    std::string value_name(std::string_view name, bool gradient = false) const;
    ProgramOptions options_;
    uint64_t seed_ = 0, runs_ = 0;
    std::map<std::string, std::string, std::less<>> layer_value_; // path -> graph value name
    std::map<std::string, std::string, std::less<>> gradient_value_; // wrt -> its gradient's value name
    std::optional<Shape> seed_shape_;
    bool loss_ = false;
    int64_t classes_ = 0;
    bool dropout_ = false;
    std::unique_ptr<exec::Program> program_;
};

// Initial values for the specs, PyTorch's distributions, from `seed`.
StateDict initial_state(const std::vector<StateSpec>& specs, uint64_t seed);

// The parameters and running statistics of `net` on inputs of `input` (C,
// H, W), in model order: the model built, nothing compiled or allocated.
std::vector<StateSpec> model_state(const Module& net, std::array<int64_t, 3> input);

} // namespace vkcnn::nn
