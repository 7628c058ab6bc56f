// The trainer (see trainer.h).
#include "vkcnn/nn/trainer.h"

#include "vkcnn/core/error.h"
#include "vkcnn/exec/cpu_program.h"
#if VKCNN_HAS_VULKAN
#include "vkcnn/exec/vulkan_program.h"
#include "vkcnn/vulkan/device.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <sys/resource.h>
#include <unistd.h>

namespace vkcnn::nn {

namespace {

// Names of the values every Program of a Trainer has.
constexpr const char* kInput = "input";
constexpr const char* kLabels = "labels";
constexpr const char* kScalars = "optimizer.scalars";
constexpr const char* kLoss = "loss";
constexpr const char* kCorrect = "correct";
constexpr const char* kPredictions = "correct.1"; // the accuracy node's second output
constexpr const char* kLogits = "logits";
constexpr const char* kDropoutKey = "dropout.key";
constexpr const char* kAugmentKey = "augment.key";
constexpr const char* kAugmented = "input.augmented";

struct Heads {
    graph::ValueId logits, loss;
};

// input (-> augment, when training with it) -> net -> logits; loss and the
// accuracy count beside them.
Heads build_heads(graph::Graph& g, BuildContext& ctx, const Module& net, const TrainerOptions& o, int64_t batch) {
    const auto& [c, h, w] = o.input;
    auto x = g.input(kInput, Shape{batch, c, h, w});
    const auto labels = g.input(kLabels, Shape{batch}, DType::I32);
    if (ctx.training() && o.augment) {
        x = g.augment(x, g.input(kAugmentKey, Shape{2}, DType::I32), *o.augment, kAugmented);
        g.mark_output(x); // readable after a step: what the network saw
    }
    const auto logits = net.forward(ctx, x);
    const Shape want{batch, static_cast<int64_t>(o.classes)};
    check(g.value(logits).shape == want, "the model's output '", g.value(logits).name, "' has shape ",
          g.value(logits).shape.str(), ", expected ", want.str(), " (batch, classes)");
    g.alias(logits, kLogits);
    g.mark_output(logits);
    const auto loss = g.cross_entropy(logits, labels, {o.label_smoothing}, kLoss);
    g.mark_output(loss);
    g.mark_output(g.accuracy(logits, labels, kCorrect));
    return {logits, loss};
}

// The training graph: heads, backward, one optimizer step per trained
// parameter in model order, and the state specs it created.
struct TrainingGraph {
    graph::Graph g;
    std::vector<StateSpec> specs;
};

TrainingGraph build_training_graph(const Module& net, const TrainerOptions& o) {
    TrainingGraph t;
    graph::Graph& g = t.g;
    BuildContext ctx(g, true);
    const Heads heads = build_heads(g, ctx, net, o, o.batch);
    t.specs = ctx.state();
    for (const std::string& prefix : o.frozen) {
        bool matched = false;
        for (const StateSpec& spec : t.specs)
            if (spec.role == graph::Role::Parameter && spec.name.starts_with(prefix)) {
                g.freeze(*g.find(spec.name));
                matched = true;
            }
        check(matched, "Trainer: frozen names '", prefix, "', which is the prefix of no parameter of the model");
    }
    const auto grads = g.backward(heads.loss);
    const auto scalars = g.input(kScalars, Shape{4});
    size_t stepped = 0;
    for (const StateSpec& spec : t.specs) { // in model order: a deterministic step order
        if (spec.role != graph::Role::Parameter) continue;
        const auto grad = grads.find(*g.find(spec.name));
        if (grad == grads.end()) continue; // frozen, or does not reach the loss
        ++stepped;
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

// What this process may use of the host's memory, and what that limit is:
// the physical memory, or less where an address-space limit (ulimit -v) or
// the cgroup's memory.max (a container's) says so. 0 bytes: unknown.
struct HostMemory {
    uint64_t bytes = 0;
    std::string what;
};
HostMemory host_memory() {
    HostMemory m;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) m = {static_cast<uint64_t>(pages) * static_cast<uint64_t>(page), "this machine's physical memory"};
#endif
#if !defined(__EMSCRIPTEN__)
    const auto lower = [&](uint64_t bytes, const char* what) {
        if (bytes > 0 && (m.bytes == 0 || bytes < m.bytes)) m = {bytes, what};
    };
    rlimit limit{};
    if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        lower(static_cast<uint64_t>(limit.rlim_cur), "this process's address-space limit (ulimit -v)");
    if (std::FILE* f = std::fopen("/sys/fs/cgroup/memory.max", "r")) { // "max" when unlimited
        unsigned long long bytes = 0;
        if (std::fscanf(f, "%llu", &bytes) == 1) lower(bytes, "the cgroup's memory.max");
        std::fclose(f);
    }
#endif
    return m;
}

std::string bytes_str(uint64_t bytes) {
    char buf[32];
    const double b = static_cast<double>(bytes);
    if (bytes >= (uint64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", b / 0x1p30);
    else std::snprintf(buf, sizeof buf, "%.1f MiB", b / 0x1p20);
    return buf;
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

} // namespace

State initial_state(const std::vector<StateSpec>& specs, uint64_t seed) {
    data::SplitMix64 rng(seed);
    State state;
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

Trainer::Trainer(const Module& net, TrainerOptions options, Device* device, cpu::ThreadPool& pool)
    : net_(net), options_(std::move(options)), device_(device), pool_(pool) {
    check(options_.batch > 0, "Trainer: the batch size must be positive, got ", options_.batch);
    std::visit([](const auto& a) {
        if constexpr (std::is_same_v<std::decay_t<decltype(a)>, ops::SgdAttrs>) ops::check_sgd_attrs(a);
        else ops::check_adam_attrs(a);
    }, options_.optimizer);

    TrainingGraph t = build_training_graph(net_, options_);
    graph::Graph& g = t.g;
    specs_ = std::move(t.specs);
    for (graph::ValueId v = 0; v < g.value_count(); ++v)
        if (g.value(v).role == graph::Role::OptimizerState)
            optimizer_state_.push_back({g.value(v).name, g.value(v).shape, graph::Role::OptimizerState, Init::constant(0)});
    for (const char* key : {kDropoutKey, kAugmentKey})
        if (g.find(key)) step_keys_.emplace_back(key);
    train_ = compile_program(std::move(g), cat("the training step at batch ", options_.batch), options_.profile,
                             {kLoss, kCorrect});
    for (const auto& [name, values] : initial_state(specs_, options_.seed)) train_->write(name, values);
}

Trainer::~Trainer() = default;

std::unique_ptr<exec::Program> Trainer::compile_program(graph::Graph g, std::string_view what,
                                                        [[maybe_unused]] bool profile,
                                                        std::vector<std::string> results) {
    graph::Plan plan = graph::compile(
        std::move(g), {.results = std::move(results), .in_place = !(device_ && options_.debug_schedule)});
    check_memory(estimate_memory(plan), device_, what); // before anything is allocated
#if VKCNN_HAS_VULKAN
    if (device_)
        return std::make_unique<exec::VulkanProgram>(*device_, std::move(plan),
                                                     exec::VulkanProgramOptions{.debug_schedule = options_.debug_schedule,
                                                                                .profile = profile,
                                                                                .max_segment_flops = options_.max_segment_flops});
#endif
    check(device_ == nullptr, "Trainer: this build has no Vulkan backend");
    return std::make_unique<exec::CpuProgram>(std::move(plan), pool_);
}

void Trainer::write_step(std::span<const float> images, std::span<const int32_t> labels, double lr) {
    const auto& [c, h, w] = options_.input;
    const size_t batch = static_cast<size_t>(options_.batch);
    check(images.size() == batch * static_cast<size_t>(c * h * w) && labels.size() == batch,
          "Trainer::step: expected a batch of ", batch, " images (", c, ", ", h, ", ", w, ") and ", batch,
          " labels, got ", images.size(), " floats and ", labels.size(), " labels");
    ++steps_;
    train_->write(kInput, images);
    train_->write(kLabels, labels);
    train_->write(kScalars, step_scalars(options_.optimizer, lr, steps_));
    // New dropout masks and augmentations every step, the same for the same seed and step.
    const uint32_t key[2] = {static_cast<uint32_t>(options_.seed), static_cast<uint32_t>(steps_)};
    for (const std::string& name : step_keys_)
        train_->write(name, std::span<const int32_t>(reinterpret_cast<const int32_t*>(key), 2));
}

StepResult Trainer::collect() {
    // Off the queue before the wait: a step that throws (a lost device) is
    // not left behind as one still to be flushed.
    const uint64_t step = started_.front();
    started_.pop_front();
    const exec::StepResults results = train_->finish();
    const StepResult r{results.read(kLoss)[0], results.read_i32(kCorrect)[0]};
    check(std::isfinite(r.loss), "training step ", step, ": the loss is ", r.loss,
          "; stopping instead of training on garbage (try a lower learning rate)");
    return r;
}

StepResult Trainer::step(std::span<const float> images, std::span<const int32_t> labels, double lr) {
    check(started_.empty(), "Trainer::step: ", started_.size(), " pipelined step(s) not flushed");
    start_step(images, labels, lr); // nothing else in flight: returns nothing
    return collect();
}

std::optional<StepResult> Trainer::start_step(std::span<const float> images, std::span<const int32_t> labels,
                                              double lr) {
    write_step(images, labels, lr); // does not wait: the inputs are staged when the step starts
    train_->enqueue();
    started_.push_back(steps_);
    eval_stale_ = true;
    if (started_.size() < 2) return std::nullopt;
    return collect();
}

std::optional<StepResult> Trainer::flush() {
    std::optional<StepResult> last;
    while (!started_.empty()) last = collect();
    return last;
}

exec::Program& Trainer::eval_program(int64_t batch) {
    auto it = eval_.find(batch);
    if (it == eval_.end()) {
        graph::Graph g;
        BuildContext ctx(g, false);
        build_heads(g, ctx, net_, options_, batch);
        it = eval_.emplace(batch, compile_program(std::move(g), cat("evaluation at batch ", batch), false,
                                                  {kLoss, kCorrect, kPredictions}))
                 .first;
        for (const StateSpec& spec : specs_) it->second->write(spec.name, train_->read(spec.name));
    }
    return *it->second;
}

void Trainer::sync_eval_state() {
    if (!eval_stale_) return;
    for (const StateSpec& spec : specs_) {
        const std::vector<float> values = train_->read(spec.name);
        for (auto& [batch, program] : eval_) program->write(spec.name, values);
    }
    eval_stale_ = false;
}

EvalResult Trainer::evaluate(const data::Dataset& ds) {
    const auto& [c, h, w] = options_.input;
    check(ds.channels() == c && ds.height() == h && ds.width() == w, "evaluate: the dataset's images are (",
          ds.channels(), ", ", ds.height(), ", ", ds.width(), "), the model takes (", c, ", ", h, ", ", w, ")");
    sync_eval_state();
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
    for (int64_t start = 0; start < ds.size(); start += options_.batch) {
        const int64_t n = std::min(options_.batch, ds.size() - start);
        exec::Program& p = eval_program(n);
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

std::vector<float> Trainer::predict(std::span<const float> images, int64_t n) {
    const auto& [c, h, w] = options_.input;
    check(n > 0 && images.size() == static_cast<size_t>(n * c * h * w), "predict: ", n, " images of (", c, ", ", h,
          ", ", w, ") need ", n * c * h * w, " floats, got ", images.size());
    sync_eval_state();
    exec::Program& p = eval_program(n);
    p.write(kInput, images);
    p.write(kLabels, std::vector<int32_t>(static_cast<size_t>(n), 0));
    p.run();
    return p.read(kLogits);
}

State Trainer::state() const {
    State s;
    for (const StateSpec& spec : specs_) s[spec.name] = train_->read(spec.name);
    for (const StateSpec& spec : optimizer_state_) s[spec.name] = train_->read(spec.name);
    return s;
}

std::vector<exec::NodeTime> Trainer::profile() const {
#if VKCNN_HAS_VULKAN
    if (const auto* gpu = dynamic_cast<const exec::VulkanProgram*>(train_.get())) return gpu->profile();
#endif
    throw Error("Trainer::profile: per-node times are measured on the Vulkan backend only");
}

std::vector<StateSpec> Trainer::state_layout() const {
    std::vector<StateSpec> all = specs_;
    all.insert(all.end(), optimizer_state_.begin(), optimizer_state_.end());
    return all;
}

void Trainer::load_state(const State& state, uint64_t steps) {
    for (const StateSpec& spec : specs_) {
        const auto it = state.find(spec.name);
        check(it != state.end(), "load_state: '", spec.name, "' ", spec.shape.str(), " is missing");
        train_->write(spec.name, it->second); // checks the size, naming the value
    }
    for (const StateSpec& spec : optimizer_state_) { // absent: a fresh optimizer (zeros)
        const auto it = state.find(spec.name);
        train_->write(spec.name, it != state.end() ? it->second
                                                   : std::vector<float>(static_cast<size_t>(spec.shape.elements())));
    }
    steps_ = steps;
    eval_stale_ = true;
}

std::vector<StateSpec> model_state(const Module& net, std::array<int64_t, 3> input) {
    graph::Graph g;
    BuildContext ctx(g, true);
    net.forward(ctx, g.input(kInput, Shape{1, input[0], input[1], input[2]}));
    return ctx.state();
}

MemoryEstimate estimate_memory(const graph::Plan& plan) {
    const graph::Graph& g = plan.graph;
    MemoryEstimate m;
    std::vector<graph::Lifetime> transients(g.value_count());
    for (graph::ValueId v = 0; v < g.value_count(); ++v) {
        if (plan.home[v] != v) continue; // a view: its home's memory
        const uint64_t bytes = static_cast<uint64_t>(g.value(v).shape.elements()) * 4; // f32 and i32
        switch (plan.storage[v]) {
        case graph::Storage::Feed: m.feeds += bytes; break;
        case graph::Storage::Persistent: m.persistent += bytes; break;
        case graph::Storage::Transient: transients[v] = plan.lifetimes[v]; break;
        }
    }
    m.arena = graph::plan_memory(transients, 64).arena_bytes;
    return m;
}

MemoryEstimate estimate_training_memory(const Module& net, const TrainerOptions& options) {
    return estimate_memory(graph::compile(build_training_graph(net, options).g, {.results = {kLoss, kCorrect}}));
}

void check_memory(const MemoryEstimate& need, [[maybe_unused]] const Device* device, std::string_view what) {
    const std::string parts = cat("activations and gradients ", bytes_str(need.arena), ", parameters and state ",
                                  bytes_str(need.persistent), ", inputs ", bytes_str(need.feeds));
    const HostMemory host = host_memory();
#if VKCNN_HAS_VULKAN
    if (device) {
        uint64_t heap = 0;
        for (const vulkan::MemoryHeapInfo& h : device->info().heaps)
            if (h.device_local) heap = std::max(heap, h.size);
        if (heap > 0 && need.total() > heap)
            throw OutOfMemoryError(cat("out of memory: ", what, " needs about ", bytes_str(need.total()), " (", parts,
                                       ") on the device, more than the ", bytes_str(heap), " of ", device->info().name,
                                       "'s largest device-local heap; use a smaller batch"));
        // The host's copy of the inputs and the two upload slots.
        if (host.bytes > 0 && 3 * need.feeds > host.bytes)
            throw OutOfMemoryError(cat("out of memory: ", what, " needs about ", bytes_str(3 * need.feeds),
                                       " of host memory for its inputs, more than ", host.what, ", ",
                                       bytes_str(host.bytes), "; use a smaller batch"));
        return;
    }
#endif
    // The Program's values and a caller's copy of the batch it feeds.
    if (host.bytes > 0 && need.total() + need.feeds > host.bytes)
        throw OutOfMemoryError(cat("out of memory: ", what, " needs about ", bytes_str(need.total() + need.feeds), " (",
                                   parts, ", and the caller's copy of the inputs), more than ", host.what, ", ",
                                   bytes_str(host.bytes), "; use a smaller batch"));
}

} // namespace vkcnn::nn
