// A network and its shared state, and the programs made of it (see model.h).
#include "vkcnn/nn/model.h"

#include "vkcnn/core/error.h"
#include "vkcnn/exec/cpu_program.h"
#include "vkcnn/exec/memory_check.h"
#include "vkcnn/nn/checkpoint.h"
#if VKCNN_HAS_VULKAN
#include "vkcnn/exec/vulkan_program.h"
#include "vkcnn/vulkan/device.h"
#endif

#include <algorithm>
#include <deque>

namespace vkcnn::nn {

namespace {

// Names inside the evaluation programs (never shown to users).
constexpr const char* kInput = "input";
constexpr const char* kLabels = "labels";
constexpr const char* kLoss = "loss";
constexpr const char* kCorrect = "correct";
constexpr const char* kPredictions = "correct.1"; // the accuracy node's second output
constexpr const char* kSeed = "gradient.seed";
constexpr const char* kDropoutKey = "dropout.key";

} // namespace

StateDict initial_state(const std::vector<StateSpec>& specs, uint64_t seed) {
    data::SplitMix64 rng(seed);
    StateDict state;
    for (const StateSpec& s : specs) {
        std::vector<float>& v = state[s.name];
        v.resize(static_cast<size_t>(s.shape.elements()));
        for (float& x : v) {
            if (s.init.kind == Init::Constant) {
                x = s.init.value;
            } else {
                const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53; // [0, 1)
                x = static_cast<float>((2.0 * u - 1.0) * s.init.value);
            }
        }
    }
    return state;
}

std::vector<StateSpec> model_state(const Module& net, std::array<int64_t, 3> input) {
    graph::Graph g;
    BuildContext ctx(g, true);
    net.forward(ctx, g.input(kInput, Shape{1, input[0], input[1], input[2]}));
    return ctx.state();
}

Model::Model(std::shared_ptr<const Module> module, ModelOptions options, Device* device, cpu::ThreadPool* pool)
    : module_(std::move(module)), options_(options), device_(device), pool_(pool) {
    check(module_ != nullptr, "Model: no module");
    check(device_ != nullptr || pool_ != nullptr, "Model: the CPU backend needs a thread pool");
    check(options_.classes > 0, "Model: the number of classes must be positive");
    for (int64_t d : options_.input)
        check(d > 0, "Model: the input shape (", options_.input[0], ", ", options_.input[1], ", ", options_.input[2],
              ") must be positive");
#if VKCNN_HAS_VULKAN
    if (device_) state_ = std::make_shared<exec::VulkanState>(*device_);
#endif
    check(state_ || device_ == nullptr, "Model: this build has no Vulkan backend");
    if (!state_) state_ = std::make_shared<exec::CpuState>();

    // Built once at batch 1: the parameters, and every layer's output shape.
    graph::Graph g;
    BuildContext ctx(g, true);
    build(ctx, g.input(kInput, Shape{1, options_.input[0], options_.input[1], options_.input[2]}));
    specs_ = ctx.state();
    for (const BuildContext::Layer& l : ctx.layers()) layers_.push_back({l.path, g.value(l.value).shape});
    std::vector<exec::StateValue> values;
    for (const StateSpec& spec : specs_) values.push_back({spec.name, spec.shape, spec.role});
    state_->add(values);
    initialise(options_.seed);
}

Model::~Model() = default;

std::string Model::layer_paths() const {
    std::string s = kInput;
    for (const LayerInfo& l : layers_) s += ", " + l.path;
    return s;
}

graph::ValueId Model::build(BuildContext& ctx, graph::ValueId x) const {
    graph::Graph& g = ctx.graph();
    const auto logits = module_->forward(ctx, x);
    const Shape want{g.value(x).shape[0], static_cast<int64_t>(options_.classes)};
    check(g.value(logits).shape == want, "the model's output '", g.value(logits).name, "' has shape ",
          g.value(logits).shape.str(), ", expected ", want.str(), " (batch, classes)");
    return logits;
}

std::unique_ptr<exec::Program> Model::compile(graph::Graph g, graph::CompileOptions options, std::string_view what,
                                              [[maybe_unused]] const ExecOptions& exec) {
    options.in_place = options.in_place && !(device_ && exec.debug_schedule);
    graph::Plan plan = graph::compile(std::move(g), options);
    exec::check_memory(exec::estimate_memory(plan), device_, what); // before anything is allocated
#if VKCNN_HAS_VULKAN
    if (device_)
        return std::make_unique<exec::VulkanProgram>(
            *device_, std::move(plan),
            exec::VulkanProgramOptions{.debug_schedule = exec.debug_schedule, .profile = exec.profile,
                                       .max_segment_flops = exec.max_segment_flops},
            std::static_pointer_cast<exec::VulkanState>(state_));
#endif
    return std::make_unique<exec::CpuProgram>(std::move(plan), *pool_, std::static_pointer_cast<exec::CpuState>(state_),
                                              exec.profile);
}

StateDict Model::weights() const {
    StateDict w;
    for (const StateSpec& spec : specs_) w[spec.name] = state_->read(spec.name);
    return w;
}

void Model::load_weights(const StateDict& weights) {
    for (const StateSpec& spec : specs_) {
        const auto it = weights.find(spec.name);
        check(it != weights.end(), "load_weights: '", spec.name, "' ", spec.shape.str(), " is missing");
        check(static_cast<int64_t>(it->second.size()) == spec.shape.elements(), "load_weights: '", spec.name,
              "' has ", it->second.size(), " values, the model's ", spec.shape.str(), " has ", spec.shape.elements());
    }
    for (const StateSpec& spec : specs_) state_->write(spec.name, weights.at(spec.name)); // all checked first
}

void Model::initialise(uint64_t seed) { load_weights(initial_state(specs_, seed)); }

io::Metadata Model::load_checkpoint(const std::string& path) {
    const io::SafeTensors file = io::read_safetensors(path);
    load_weights(read_checkpoint(file, path, specs_).state);
    return file.metadata;
}

io::Metadata Model::load_checkpoint(std::span<const std::byte> bytes, const std::string& source) {
    const io::SafeTensors file = io::parse_safetensors(bytes, source);
    load_weights(read_checkpoint(file, source, specs_).state);
    return file.metadata;
}

Model::EvalProgram& Model::eval_program(int64_t batch) {
    auto it = eval_.find(batch);
    if (it != eval_.end()) return it->second;
    graph::Graph g;
    BuildContext ctx(g, false);
    const auto& [c, h, w] = options_.input;
    const auto logits = build(ctx, g.input(kInput, Shape{batch, c, h, w}));
    const auto labels = g.input(kLabels, Shape{batch}, DType::I32);
    g.mark_output(logits);
    g.cross_entropy(logits, labels, {}, kLoss);
    g.accuracy(logits, labels, kCorrect);
    const std::string logits_name = g.value(logits).name;
    auto program = compile(std::move(g), {.keep = {logits_name}, .results = {kLoss, kCorrect, kPredictions}},
                           cat("evaluation at batch ", batch));
    return eval_.emplace(batch, EvalProgram{std::move(program), logits_name}).first->second;
}

EvalResult Model::evaluate(const data::Dataset& ds, int64_t batch) {
    const auto& [c, h, w] = options_.input;
    check(batch > 0, "evaluate: the batch size must be positive, got ", batch);
    check(ds.channels() == c && ds.height() == h && ds.width() == w, "evaluate: the dataset's images are (",
          ds.channels(), ", ", ds.height(), ", ", ds.width(), "), the model takes (", c, ", ", h, ", ", w, ")");
    EvalResult r;
    const size_t classes = options_.classes;
    r.confusion.assign(classes * classes, 0);
    const size_t image = static_cast<size_t>(ds.image_elements());
    // Pipelined: the next batch is staged while one runs, and each batch's
    // loss, count and predictions come back with it (StepResults).
    struct Batch {
        exec::Program* program;
        int64_t start, n;
    };
    std::deque<Batch> running;
    const auto collect = [&] {
        const Batch b = running.front();
        running.pop_front();
        const exec::StepResults out = b.program->finish();
        r.loss += static_cast<double>(out.read(kLoss)[0]) * static_cast<double>(b.n);
        r.correct += out.read_i32(kCorrect)[0];
        const auto labels = ds.labels().subspan(static_cast<size_t>(b.start), static_cast<size_t>(b.n));
        const auto predicted = out.read_i32(kPredictions);
        for (size_t i = 0; i < predicted.size(); ++i)
            if (labels[i] >= 0 && static_cast<size_t>(labels[i]) < classes && predicted[i] >= 0)
                ++r.confusion[static_cast<size_t>(labels[i]) * classes + static_cast<size_t>(predicted[i])];
        r.total += b.n;
    };
    for (int64_t start = 0; start < ds.size(); start += batch) {
        const int64_t n = std::min(batch, ds.size() - start);
        exec::Program& p = *eval_program(n).program;
        p.write(kInput, ds.images().subspan(static_cast<size_t>(start) * image, static_cast<size_t>(n) * image));
        p.write(kLabels, ds.labels().subspan(static_cast<size_t>(start), static_cast<size_t>(n)));
        p.enqueue();
        running.push_back({&p, start, n});
        if (running.size() == 2) collect();
    }
    while (!running.empty()) collect();
    if (r.total) r.loss /= static_cast<double>(r.total);
    return r;
}

std::vector<float> Model::predict(std::span<const float> images, int64_t n) {
    const auto& [c, h, w] = options_.input;
    check(n > 0 && images.size() == static_cast<size_t>(n * c * h * w), "predict: ", n, " images of (", c, ", ", h,
          ", ", w, ") need ", n * c * h * w, " floats, got ", images.size());
    EvalProgram& e = eval_program(n);
    e.program->write(kInput, images);
    e.program->write(kLabels, std::vector<int32_t>(static_cast<size_t>(n), 0));
    e.program->run();
    return e.program->read(e.logits);
}

std::unique_ptr<ModelProgram> Model::program(const ProgramOptions& options) {
    return std::make_unique<ModelProgram>(*this, options);
}

ModelProgram::ModelProgram(Model& model, const ProgramOptions& options) : options_(options), seed_(model.options().seed) {
    check(options.batch > 0, "ModelProgram: the batch size must be positive, got ", options.batch);
    graph::Graph g;
    BuildContext ctx(g, options.training);
    const auto& [c, h, w] = model.options().input;
    const graph::ValueId input = g.input(kInput, Shape{options.batch, c, h, w});
    const graph::ValueId logits = model.build(ctx, input);
    g.mark_output(logits);
    layer_value_.emplace(kInput, kInput);
    layer_value_.emplace("output", g.value(logits).name);
    for (const BuildContext::Layer& l : ctx.layers()) layer_value_.insert_or_assign(l.path, g.value(l.value).name);
    const auto value_of = [&](std::string_view path, const char* what) {
        const auto it = layer_value_.find(path);
        check(it != layer_value_.end(), "ModelProgram: ", what, " names '", path, "', which is not a layer of the model (",
              model.layer_paths(), ")");
        return *g.find(it->second);
    };
    graph::CompileOptions compile;
    for (const std::string& path : options.keep) compile.keep.push_back(g.value(value_of(path, "keep")).name);
    if (options.gradient) {
        for (const StateSpec& spec : model.parameters())
            if (spec.role == graph::Role::Parameter) g.freeze(*g.find(spec.name)); // gradients of inputs only
        const GradientOptions& grad = *options.gradient;
        check(!grad.wrt.empty(), "ModelProgram: a gradient w.r.t. nothing");
        check(!grad.loss || grad.of.empty(), "ModelProgram: the gradient is of the loss or of '", grad.of,
              "', not both");
        std::vector<graph::ValueId> wrt;
        for (const std::string& path : grad.wrt) wrt.push_back(value_of(path, "the gradient's 'wrt'"));
        std::vector<graph::GradientOverride> rules;
        if (grad.relu == ReluGradient::Guided) rules.push_back({graph::Op::relu, graph::guided_relu_gradient});
        if (grad.relu == ReluGradient::Deconvnet) rules.push_back({graph::Op::relu, graph::deconvnet_relu_gradient});
        graph::ValueId of = logits;
        std::optional<graph::ValueId> seed;
        if (grad.loss) {
            of = g.cross_entropy(logits, g.input(kLabels, Shape{options.batch}, DType::I32), {}, kLoss);
            loss_ = true;
            classes_ = g.value(logits).shape[1];
        } else {
            if (!grad.of.empty()) of = value_of(grad.of, "the gradient's 'of'");
            seed_shape_ = g.value(of).shape;
            seed = g.input(kSeed, *seed_shape_);
        }
        const auto grads = g.backward(of, wrt, seed, rules);
        for (size_t i = 0; i < wrt.size(); ++i) {
            const auto it = grads.find(wrt[i]);
            check(it != grads.end(), "ModelProgram: '", grad.of.empty() ? "output" : grad.of, "' does not depend on '",
                  grad.wrt[i], "': no gradient flows to it");
            gradient_value_.emplace(grad.wrt[i], g.value(it->second).name);
        }
    }
    dropout_ = g.find(kDropoutKey).has_value();
    program_ = model.compile(std::move(g), compile, cat("a program at batch ", options.batch), options.exec);
    if (seed_shape_) seed_ones();
    if (loss_) set_labels(std::vector<int32_t>(static_cast<size_t>(options.batch), 0));
}

std::string ModelProgram::value_name(std::string_view name, bool gradient) const {
    if (gradient) {
        const auto it = gradient_value_.find(name);
        check(it != gradient_value_.end(), "ModelProgram: no gradient w.r.t. '", name,
              "' (GradientOptions::wrt names the ones computed)");
        return it->second;
    }
    if (name.starts_with("grad:")) return value_name(name.substr(5), true);
    if (const auto it = layer_value_.find(name); it != layer_value_.end()) return it->second;
    check(program_->state().contains(name), "ModelProgram: '", name,
          "' is neither a layer of the model, nor a parameter, nor grad:<wrt>");
    return std::string(name);
}

void ModelProgram::set_input(std::span<const float> images) { program_->write(kInput, images); }

void ModelProgram::seed(std::span<const float> values) {
    check(seed_shape_.has_value(), "ModelProgram::seed: this program computes no gradient");
    check(static_cast<int64_t>(values.size()) == seed_shape_->elements(), "ModelProgram::seed: the gradient's seed has shape ",
          seed_shape_->str(), " (", seed_shape_->elements(), " values), ", values.size(), " were given");
    program_->write(kSeed, values);
}

void ModelProgram::seed_one_hot(std::span<const int32_t> classes) {
    check(seed_shape_.has_value(), "ModelProgram::seed_one_hot: this program computes no gradient");
    check(seed_shape_->rank() == 2 && static_cast<int64_t>(classes.size()) == (*seed_shape_)[0],
          "ModelProgram::seed_one_hot: one class per sample of a (batch, classes) output; the gradient's output is ",
          seed_shape_->str(), ", ", classes.size(), " classes were given");
    const int64_t k = (*seed_shape_)[1];
    std::vector<float> v(static_cast<size_t>(seed_shape_->elements()), 0.0f);
    for (size_t i = 0; i < classes.size(); ++i) {
        check(classes[i] >= 0 && classes[i] < k, "ModelProgram::seed_one_hot: class ", classes[i], " of sample ", i,
              " is not in [0, ", k, ")");
        v[i * static_cast<size_t>(k) + static_cast<size_t>(classes[i])] = 1.0f;
    }
    program_->write(kSeed, v);
}

void ModelProgram::seed_ones() {
    check(seed_shape_.has_value(), "ModelProgram::seed_ones: this program computes no gradient");
    program_->write(kSeed, std::vector<float>(static_cast<size_t>(seed_shape_->elements()), 1.0f));
}

void ModelProgram::set_labels(std::span<const int32_t> labels) {
    check(loss_, "ModelProgram::set_labels: this program's gradient is not of the loss (GradientOptions::loss)");
    check(static_cast<int64_t>(labels.size()) == options_.batch, "ModelProgram::set_labels: ", labels.size(),
          " labels for a batch of ", options_.batch);
    for (size_t i = 0; i < labels.size(); ++i)
        check(labels[i] >= 0 && labels[i] < classes_, "ModelProgram::set_labels: label ", labels[i], " of sample ", i,
              " is not in [0, ", classes_, ")");
    program_->write(kLabels, labels);
}

float ModelProgram::loss() const {
    check(loss_, "ModelProgram::loss: this program's gradient is not of the loss (GradientOptions::loss)");
    return program_->read(kLoss)[0];
}

void ModelProgram::run() {
    ++runs_;
    if (dropout_) { // a new mask every run, the same for the same seed and run
        const int32_t key[2] = {static_cast<int32_t>(seed_), static_cast<int32_t>(runs_)};
        program_->write(kDropoutKey, std::span<const int32_t>(key));
    }
    program_->run();
}

std::vector<float> ModelProgram::output() const { return program_->read(layer_value_.find("output")->second); }

std::vector<float> ModelProgram::activation(std::string_view path) const {
    const auto it = layer_value_.find(path);
    check(it != layer_value_.end(), "ModelProgram::activation: '", path, "' is not a layer of the model");
    const graph::Plan& plan = program_->plan();
    const graph::ValueId v = *plan.graph.find(it->second);
    check(plan.storage[v] != graph::Storage::Transient || plan.kept[v], "ModelProgram::activation: layer '", path,
          "' is not kept: name it in ProgramOptions::keep");
    return program_->read(it->second);
}

std::vector<float> ModelProgram::gradient(std::string_view wrt) const { return program_->read(value_name(wrt, true)); }

Shape ModelProgram::shape(std::string_view path) const {
    const auto it = layer_value_.find(path);
    check(it != layer_value_.end(), "ModelProgram::shape: '", path, "' is not a layer of the model");
    return program_->plan().graph.value(*program_->plan().graph.find(it->second)).shape;
}

std::unique_ptr<exec::Snapshot> ModelProgram::snapshot(std::span<const std::string> names) {
    std::vector<std::string> values;
    for (const std::string& name : names) values.push_back(value_name(name));
    return program_->snapshot(values, names);
}

} // namespace vkcnn::nn
