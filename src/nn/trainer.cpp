// The trainer (see trainer.h).
#include "vkcnn/nn/trainer.h"

#include "vkcnn/core/error.h"
#include "vkcnn/exec/cpu_program.h"
#if VKCNN_HAS_VULKAN
#include "vkcnn/exec/vulkan_program.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vkcnn::nn {

namespace {

// Names of the values of the training step (never shown to users).
constexpr const char* kInput = "input";
constexpr const char* kTargets = "targets"; // class labels (i32) or regression targets (f32)
constexpr const char* kScalars = "optimizer.scalars";
constexpr const char* kLoss = "loss";
constexpr const char* kCorrect = "correct";
constexpr const char* kDropoutKey = "dropout.key";
constexpr const char* kAugmentKey = "augment.key";
constexpr const char* kAugmented = "input.augmented";
constexpr const char* kGradientPrefix = "grad:";

// The training graph: input (-> augment) -> net -> loss (and the accuracy
// count), backward, one optimizer step per trained parameter in model
// order; and where each layer's output is.
struct TrainingGraph {
    graph::Graph g;
    std::vector<std::string> results;
    std::map<std::string, std::string, std::less<>> layers; // path -> value name
};

TrainingGraph build_training_graph(const Model& model, const TrainerOptions& o) {
    TrainingGraph t;
    graph::Graph& g = t.g;
    BuildContext ctx(g, true);
    const auto& [c, h, w] = model.options().input;
    auto x = g.input(kInput, Shape{o.batch, c, h, w});
    t.layers.emplace(kInput, kInput);
    if (o.augment) {
        x = g.augment(x, g.input(kAugmentKey, Shape{2}, DType::I32), *o.augment, kAugmented);
        t.layers.insert_or_assign(kInput, kAugmented); // what the network saw
    }
    const auto logits = model.build(ctx, x);
    for (const BuildContext::Layer& l : ctx.layers()) t.layers.insert_or_assign(l.path, g.value(l.value).name);
    graph::ValueId loss;
    if (o.loss == Loss::CrossEntropy) {
        const auto labels = g.input(kTargets, Shape{o.batch}, DType::I32);
        loss = g.cross_entropy(logits, labels, {o.label_smoothing}, kLoss);
        g.accuracy(logits, labels, kCorrect);
        t.results = {kLoss, kCorrect};
    } else {
        check(o.label_smoothing == 0.0f, "Trainer: label smoothing applies to the cross-entropy loss only");
        loss = g.mse_loss(logits, g.input(kTargets, g.value(logits).shape), kLoss);
        t.results = {kLoss};
    }
    const std::vector<StateSpec>& specs = model.parameters();
    for (const std::string& prefix : o.frozen) {
        bool matched = false;
        for (const StateSpec& spec : specs)
            if (spec.role == graph::Role::Parameter && spec.name.starts_with(prefix)) {
                g.freeze(*g.find(spec.name));
                matched = true;
            }
        check(matched, "Trainer: frozen names '", prefix, "', which is the prefix of no parameter of the model");
    }
    const auto grads = g.backward(loss);
    const auto scalars = g.input(kScalars, Shape{4});
    size_t stepped = 0;
    for (const StateSpec& spec : specs) { // in model order: a deterministic step order
        if (spec.role != graph::Role::Parameter) continue;
        const auto grad = grads.find(*g.find(spec.name));
        if (grad == grads.end()) continue; // frozen, or does not reach the loss
        ++stepped;
        // Kept on request like a layer's output: what a demo's histograms show.
        t.layers.emplace(cat(kGradientPrefix, spec.name), g.value(grad->second).name);
        std::visit(
            [&](const auto& attrs) {
                if constexpr (std::is_same_v<std::decay_t<decltype(attrs)>, ops::SgdAttrs>)
                    g.sgd_step(grad->first, grad->second, scalars, attrs);
                else g.adam_step(grad->first, grad->second, scalars, attrs);
            },
            o.optimizer);
    }
    // Otherwise compile() would say only that the optimizer's scalars input
    // is connected to nothing.
    if (stepped == 0) {
        std::string frozen;
        for (const std::string& prefix : o.frozen) frozen += (frozen.empty() ? "" : ",") + prefix;
        check(o.frozen.empty(), "frozen ", frozen, " freezes every parameter: nothing to train");
        throw Error("Trainer: no parameter of the model reaches the loss: nothing to train");
    }
    return t;
}

graph::CompileOptions training_compile_options(const TrainingGraph& t, const Model& model, const TrainerOptions& o) {
    graph::CompileOptions c{.results = t.results};
    for (const std::string& path : o.keep) {
        const auto it = t.layers.find(path);
        check(it != t.layers.end(), "Trainer: keep names '", path, "', which is not a layer of the model (",
              model.layer_paths(), ") nor \"", kGradientPrefix, "\" and a trained parameter's name");
        c.keep.push_back(it->second);
    }
    return c;
}

ops::StepScalars step_scalars(const Optimizer& optimizer, double lr, uint64_t t) {
    return std::visit(
        [&](auto attrs) {
            attrs.lr = lr;
            if constexpr (std::is_same_v<decltype(attrs), ops::SgdAttrs>) return ops::sgd_step_scalars(attrs, t);
            else return ops::adam_step_scalars(attrs, t);
        },
        optimizer);
}

double learning_rate_of(const Optimizer& optimizer) {
    return std::visit([](const auto& attrs) { return static_cast<double>(attrs.lr); }, optimizer);
}

} // namespace

Trainer::Trainer(Model& model, TrainerOptions options)
    : model_(model), options_(std::move(options)), lr_(learning_rate_of(options_.optimizer)) {
    check(options_.batch > 0, "Trainer: the batch size must be positive, got ", options_.batch);
    std::visit([](const auto& a) {
        if constexpr (std::is_same_v<std::decay_t<decltype(a)>, ops::SgdAttrs>) ops::check_sgd_attrs(a);
        else ops::check_adam_attrs(a);
    }, options_.optimizer);

    TrainingGraph t = build_training_graph(model_, options_);
    graph::Graph& g = t.g;
    for (graph::ValueId v = 0; v < g.value_count(); ++v)
        if (g.value(v).role == graph::Role::OptimizerState)
            optimizer_state_.push_back({g.value(v).name, g.value(v).shape, graph::Role::OptimizerState, Init::constant(0)});
    for (const char* key : {kDropoutKey, kAugmentKey})
        if (g.find(key)) step_keys_.emplace_back(key);
    graph::CompileOptions compile = training_compile_options(t, model_, options_); // checks the kept paths
    for (size_t i = 0; i < options_.keep.size(); ++i) kept_.emplace(options_.keep[i], compile.keep[i]);
    train_ = model_.compile(std::move(g), std::move(compile), cat("the training step at batch ", options_.batch),
                            {.debug_schedule = options_.debug_schedule,
                             .profile = options_.profile,
                             .max_segment_flops = options_.max_segment_flops});
    // Optimizer state starts at zero: a state bound afresh is; one a former
    // Trainer of the model left behind is reset.
    for (const StateSpec& spec : optimizer_state_)
        train_->write(spec.name, std::vector<float>(static_cast<size_t>(spec.shape.elements())));
}

Trainer::~Trainer() = default;

void Trainer::set_learning_rate(double lr) {
    check(std::isfinite(lr) && lr >= 0, "Trainer::set_learning_rate: ", lr, " is not a learning rate");
    lr_ = lr;
}

void Trainer::write_step(std::span<const float> images, Targets targets) {
    const auto& [c, h, w] = model_.options().input;
    const size_t batch = static_cast<size_t>(options_.batch);
    const bool want_float = options_.loss == Loss::MeanSquaredError;
    check(targets.floats == want_float, "Trainer::step: ", want_float ? "the mean squared error takes float targets"
                                                                     : "the cross-entropy loss takes class labels (int32)");
    const size_t per_sample = want_float ? model_.options().classes : 1;
    check(images.size() == batch * static_cast<size_t>(c * h * w) && targets.bytes.size() == batch * per_sample * 4,
          "Trainer::step: expected a batch of ", batch, " images (", c, ", ", h, ", ", w, ") and ", batch * per_sample,
          want_float ? " targets" : " labels", ", got ", images.size(), " floats and ", targets.bytes.size() / 4,
          want_float ? " targets" : " labels");
    ++steps_;
    if (options_.transform_batch) {
        transformed_.assign(images.begin(), images.end());
        const std::span<const int32_t> labels =
            want_float ? std::span<const int32_t>{}
                       : std::span(reinterpret_cast<const int32_t*>(targets.bytes.data()), targets.bytes.size() / 4);
        options_.transform_batch(transformed_, labels, steps_);
        images = transformed_;
    }
    train_->write(kInput, images);
    if (want_float) train_->write(kTargets, std::span(reinterpret_cast<const float*>(targets.bytes.data()), targets.bytes.size() / 4));
    else train_->write(kTargets, std::span(reinterpret_cast<const int32_t*>(targets.bytes.data()), targets.bytes.size() / 4));
    train_->write(kScalars, step_scalars(options_.optimizer, lr_, steps_));
    // New dropout masks and augmentations every step, the same for the same seed and step.
    const uint32_t key[2] = {static_cast<uint32_t>(model_.options().seed), static_cast<uint32_t>(steps_)};
    for (const std::string& name : step_keys_)
        train_->write(name, std::span<const int32_t>(reinterpret_cast<const int32_t*>(key), 2));
}

StepResult Trainer::checked(const exec::StepResults& results, uint64_t step) const {
    StepResult r{results.read(kLoss)[0], 0};
    if (options_.loss == Loss::CrossEntropy) r.correct = results.read_i32(kCorrect)[0];
    check(std::isfinite(r.loss), "training step ", step, ": the loss is ", r.loss,
          "; stopping instead of training on garbage (try a lower learning rate)");
    return r;
}

StepResult Trainer::collect() {
    // Off the queue before the wait: a step that throws (a lost device) is
    // not left behind as one still to be flushed.
    const uint64_t step = started_.front();
    started_.pop_front();
    return checked(train_->finish(), step);
}

StepResult Trainer::step(std::span<const float> images, std::span<const int32_t> labels) {
    return step(images, Targets{std::as_bytes(labels), false});
}

StepResult Trainer::step(std::span<const float> images, std::span<const float> targets) {
    return step(images, Targets{std::as_bytes(targets), true});
}

StepResult Trainer::step(std::span<const float> images, Targets targets) {
    check(started_.empty(), "Trainer::step: ", started_.size(), " pipelined step(s) not flushed");
    start_step(images, targets); // nothing else in flight: returns nothing
    return collect();
}

std::optional<StepResult> Trainer::start_step(std::span<const float> images, std::span<const int32_t> labels) {
    return start_step(images, Targets{std::as_bytes(labels), false});
}

std::optional<StepResult> Trainer::start_step(std::span<const float> images, std::span<const float> targets) {
    return start_step(images, Targets{std::as_bytes(targets), true});
}

std::optional<StepResult> Trainer::start_step(std::span<const float> images, Targets targets) {
    check(prepared_.empty(), "Trainer::start_step: ", prepared_.size(), " host-scheduled step(s) not finished");
    write_step(images, targets); // does not wait: the inputs are staged when the step starts
    train_->enqueue();
    started_.push_back(steps_);
    if (started_.size() < 2) return std::nullopt;
    return collect();
}

std::optional<StepResult> Trainer::flush() {
    std::optional<StepResult> last;
    while (!started_.empty()) last = collect();
    return last;
}

exec::VulkanProgram& Trainer::vulkan_program() const {
#if VKCNN_HAS_VULKAN
    if (auto* gpu = dynamic_cast<exec::VulkanProgram*>(train_.get())) return *gpu;
#endif
    throw Error("Trainer: host-scheduled steps need the Vulkan backend");
}

uint32_t Trainer::prepare_step(std::span<const float> images, std::span<const int32_t> labels) {
    return prepare_step(images, Targets{std::as_bytes(labels), false});
}

uint32_t Trainer::prepare_step(std::span<const float> images, std::span<const float> targets) {
    return prepare_step(images, Targets{std::as_bytes(targets), true});
}

uint32_t Trainer::prepare_step(std::span<const float> images, Targets targets) {
    [[maybe_unused]] exec::VulkanProgram& gpu = vulkan_program();
    check(started_.empty(), "Trainer::prepare_step: ", started_.size(), " pipelined step(s) not flushed");
    const uint32_t slot = next_host_slot_;
    check(!prepared_.contains(slot), "Trainer::prepare_step: both upload slots hold steps not finished; finish_step() first");
    write_step(images, targets);
#if VKCNN_HAS_VULKAN
    gpu.stage(slot);
#endif
    prepared_.emplace(slot, steps_);
    next_host_slot_ = (slot + 1) % 2;
    return slot;
}

StepResult Trainer::finish_step(uint32_t slot) {
    const auto it = prepared_.find(slot);
    check(it != prepared_.end(), "Trainer::finish_step: slot ", slot, " holds no prepared step");
    const uint64_t step = it->second;
    prepared_.erase(it);
#if VKCNN_HAS_VULKAN
    return checked(vulkan_program().results(slot), step);
#else
    (void)step;
    throw Error("Trainer: host-scheduled steps need the Vulkan backend");
#endif
}

std::string Trainer::value_of_layer(std::string_view path) const {
    const auto it = kept_.find(path);
    check(it != kept_.end(), "Trainer: layer '", path, "' is not kept in the training step (TrainerOptions::keep)");
    return it->second;
}

std::vector<float> Trainer::activation(std::string_view path) const { return train_->read(value_of_layer(path)); }

std::unique_ptr<exec::Snapshot> Trainer::snapshot(std::span<const std::string> names) {
    std::vector<std::string> values;
    for (const std::string& name : names) values.push_back(model_.state().contains(name) ? name : value_of_layer(name));
    return train_->snapshot(values, names);
}

StateDict Trainer::state() const {
    StateDict s = model_.weights();
    for (const StateSpec& spec : optimizer_state_) s[spec.name] = model_.state().read(spec.name);
    return s;
}

std::vector<exec::NodeTime> Trainer::profile() const {
#if VKCNN_HAS_VULKAN
    if (const auto* gpu = dynamic_cast<const exec::VulkanProgram*>(train_.get())) return gpu->profile();
#endif
    if (const auto* cpu = dynamic_cast<const exec::CpuProgram*>(train_.get())) return cpu->profile();
    throw Error("Trainer::profile: this backend measures no per-node times");
}

std::vector<StateSpec> Trainer::state_layout() const {
    std::vector<StateSpec> all = model_.parameters();
    all.insert(all.end(), optimizer_state_.begin(), optimizer_state_.end());
    return all;
}

void Trainer::load_state(const StateDict& state, uint64_t steps) {
    for (const StateSpec& spec : optimizer_state_) { // checked before anything is written
        const auto it = state.find(spec.name);
        check(it == state.end() || static_cast<int64_t>(it->second.size()) == spec.shape.elements(), "load_state: '",
              spec.name, "' has ", it == state.end() ? 0 : it->second.size(), " values, ", spec.shape.str(), " has ",
              spec.shape.elements());
    }
    model_.load_weights(state);
    for (const StateSpec& spec : optimizer_state_) { // absent: a fresh optimizer (zeros)
        const auto it = state.find(spec.name);
        model_.state().write(spec.name, it != state.end() ? it->second
                                                          : std::vector<float>(static_cast<size_t>(spec.shape.elements())));
    }
    steps_ = steps;
}

exec::MemoryEstimate estimate_training_memory(const Model& model, const TrainerOptions& options) {
    TrainingGraph t = build_training_graph(model, options);
    graph::CompileOptions c = training_compile_options(t, model, options);
    return exec::estimate_memory(graph::compile(std::move(t.g), c));
}

} // namespace vkcnn::nn
