// The demo's training run (see session.h).
#include "session.h"

#include <vkcnn/core/error.h>
#include <vkcnn/exec/vulkan_program.h>
#include <vkcnn/nn/checkpoint.h>
#include <vkcnn/nn/models.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

namespace demo {

using namespace vkcnn;

namespace {

data::Dataset load_split(const SessionOptions& o, data::Split split) {
    const std::string dir = (std::filesystem::path(o.data_dir) / o.dataset).string();
    if (o.dataset == "mnist") return data::load_mnist(dir, split);
    if (o.dataset == "fashion-mnist") return data::load_fashion_mnist(dir, split);
    throw Error(cat("unknown dataset '", o.dataset, "'; datasets: mnist, fashion-mnist"));
}

nn::Optimizer optimizer(const SessionOptions& o) {
    if (o.optimizer == "sgd") return ops::SgdAttrs{.lr = o.lr, .momentum = 0.9};
    if (o.optimizer == "adam") return ops::AdamAttrs{.lr = o.lr};
    throw Error(cat("unknown optimizer '", o.optimizer, "'; optimizers: sgd, adam"));
}

// A running mean that forgets: the display's images/s and ms/step.
double smooth(double average, double sample) { return average == 0 ? sample : 0.9 * average + 0.1 * sample; }

} // namespace

Session::Session(Device& device, const SessionOptions& options)
    : device_(device), options_(options), train_(load_split(options, data::Split::Train)), test_(load_split(options, data::Split::Test)) {
    std::vector<int64_t> first(size_t(std::min(options.validation_samples, test_.size())));
    std::iota(first.begin(), first.end(), int64_t{0});
    validation_ = test_.subset(first);

    const auto classes = static_cast<uint32_t>(train_.num_classes());
    model_ = std::make_unique<nn::Model>(nn::model_by_name(options.model, classes),
                                         nn::ModelOptions{.input = {train_.channels(), train_.height(), train_.width()},
                                                          .classes = classes,
                                                          .seed = options.seed},
                                         device);
    // Histograms for the weights of the layers that learn (not biases, not batch-norm statistics).
    for (const nn::StateSpec& spec : model_->parameters())
        if (spec.role == graph::Role::Parameter && spec.name.ends_with(".weight") && spec.shape.dims.size() >= 2)
            trained_.push_back(spec.name);
    std::vector<std::string> keep;
    for (const std::string& name : trained_) keep.push_back("grad:" + name);

    std::optional<ops::AugmentAttrs> augment;
    if (options.augment) {
        const data::Normalization n = train_.normalization();
        augment = ops::AugmentAttrs{.max_degrees = 10, .max_scale = 0.1f, .max_translate = 2, .fill = -n.mean / n.std};
    }
    // Segments small enough that a frame can take a few: the scheduler
    // splits the step where a level of its work ends.
    nn::TrainerOptions to{.batch = options.batch,
                          .optimizer = optimizer(options),
                          .profile = true,
                          .max_segment_flops = 0,
                          .augment = augment,
                          .keep = keep};
    {
        // One compile to learn the step's size (its pipelines are cached for the second).
        const nn::Trainer sizing(*model_, to);
        to.max_segment_flops = sizing.vulkan_program().step_flops() / 64;
    }
    trainer_ = std::make_unique<nn::Trainer>(*model_, to);
    loader_ = std::make_unique<data::BatchLoader>(train_, data::LoaderOptions{.batch_size = options.batch,
                                                                              .seed = options.seed,
                                                                              .drop_last = true});
    images_.resize(size_t(options.batch * train_.image_elements()));
    labels_.resize(size_t(options.batch));
    start_ = std::chrono::steady_clock::now();
    read_tensors();
    evaluate();
}

Session::~Session() {
    try {
        drain();
    } catch (const Error&) { // a lost device has nothing left to wait for
    }
}

std::vector<std::string> Session::class_names() const {
    if (options_.dataset == "fashion-mnist")
        return {"T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"};
    return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

double Session::seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Session::step_flops() const { return trainer_->vulkan_program().step_flops(); }

void Session::single_step() {
    single_ = true;
    running = true;
}

void Session::set_learning_rate(double lr) { trainer_->set_learning_rate(lr); }

bool Session::advance(double budget_flops) {
    exec::VulkanProgram& gpu = trainer_->vulkan_program();
    bool finished = false;
    // The step whose last segment went out in an earlier frame: done or nearly.
    if (slot_ && next_segment_ == gpu.segment_count()) {
        finish();
        finished = true;
    }
    if (pending_ && !slot_) { // a part of the evaluation this frame, and no training
        evaluate_some(kEvalChunk);
        return finished;
    }
    if (!slot_ && running && !(stop_at && trainer_->steps() >= *stop_at)) {
        if (loader_->next(images_, labels_) == 0) { // the epoch is over
            loader_->start_epoch(loader_->epoch() + 1);
            loader_->next(images_, labels_);
        }
        slot_ = trainer_->prepare_step(images_, labels_);
        next_segment_ = 0;
        step_start_ = std::chrono::steady_clock::now();
    }
    if (slot_ && next_segment_ < gpu.segment_count()) {
        const size_t n = gpu.segments_within(next_segment_, budget_flops);
        gpu.submit_segments(*slot_, next_segment_, n);
        next_segment_ += n;
    }
    return finished;
}

void Session::finish() {
    const nn::StepResult r = trainer_->finish_step(*slot_);
    slot_.reset();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - step_start_).count();
    ms_per_step_ = smooth(ms_per_step_, ms);
    images_per_second_ = 1000.0 * double(options_.batch) / ms_per_step_;
    steps_.push_back({trainer_->steps(), seconds(), r.loss, float(r.correct) / float(options_.batch),
                      float(trainer_->learning_rate())});
    if (trainer_->steps() % 10 == 1) profile_ = trainer_->profile();
    // Evaluated every eval_every steps and where training pauses at stop_at;
    // the histograms also after the first step, the first with gradients.
    const bool stopping = stop_at && trainer_->steps() == *stop_at;
    if (trainer_->steps() % options_.eval_every == 0 || stopping) start_evaluation();
    if (trainer_->steps() % options_.eval_every == 0 || stopping || trainer_->steps() == 1) read_tensors();
    if (single_) {
        single_ = false;
        running = false;
    }
}

bool Session::all_submitted() const {
    return !slot_ || next_segment_ == trainer_->vulkan_program().segment_count();
}

void Session::drain() {
    if (!slot_) return;
    exec::VulkanProgram& gpu = trainer_->vulkan_program();
    if (next_segment_ < gpu.segment_count()) gpu.submit_segments(*slot_, next_segment_, gpu.segment_count() - next_segment_);
    next_segment_ = gpu.segment_count();
    finish();
}

void Session::start_evaluation() {
    const auto classes = size_t(validation_.num_classes());
    pending_ = Evaluation{trainer_->steps(), seconds(), 0, 0, 0, std::vector<int64_t>(classes * classes, 0), {}};
}

void Session::evaluate_some(int64_t samples) {
    Evaluation& e = *pending_;
    const int64_t n = std::min(samples, validation_.size() - e.next), classes = validation_.num_classes();
    const int64_t pixels = validation_.image_elements();
    const std::vector<float> logits =
        model_->predict(validation_.images().subspan(size_t(e.next * pixels), size_t(n * pixels)), n);
    for (int64_t j = 0; j < n; ++j) {
        const int64_t i = e.next + j;
        const float* row = &logits[size_t(j * classes)];
        const float top = *std::max_element(row, row + classes);
        double sum = 0;
        for (int64_t c = 0; c < classes; ++c) sum += std::exp(double(row[c] - top));
        const int32_t label = validation_.label(i);
        e.loss += std::log(sum) - double(row[label] - top);
        std::vector<int32_t> order(static_cast<size_t>(classes));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + 3, order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
        ++e.confusion[size_t(label * classes + order[0])];
        if (order[0] == label) {
            ++e.correct;
        } else if (e.misclassified.size() < 32) {
            Misclassified m{i, label, {}, {}};
            for (int k = 0; k < 3; ++k) {
                m.top[k] = order[size_t(k)];
                m.probability[k] = float(std::exp(double(row[order[size_t(k)]] - top)) / sum);
            }
            e.misclassified.push_back(m);
        }
    }
    e.next += n;
    if (e.next < validation_.size()) return;
    const auto total = double(validation_.size());
    confusion_ = std::move(e.confusion);
    misclassified_ = std::move(e.misclassified);
    evals_.push_back({e.step, e.seconds, e.loss / total, double(e.correct) / total});
    pending_.reset();
}

void Session::evaluate() {
    start_evaluation();
    evaluate_some(validation_.size());
}

void Session::read_tensors() {
    // Between steps: the weights now and the gradients of the last step.
    const auto grads = trainer_->snapshot([&] {
        std::vector<std::string> names;
        for (const std::string& name : trained_) names.push_back("grad:" + name);
        return names;
    }());
    grads->take();
    const nn::StateDict weights = model_->weights();
    tensors_.clear();
    for (const std::string& name : trained_)
        tensors_.push_back({name, weights.at(name), grads->read("grad:" + name)});
}

void Session::save(const std::string& path) {
    drain();
    nn::save_checkpoint(path, *trainer_,
                        {{"model", options_.model}, {"dataset", options_.dataset}, {"step", std::to_string(trainer_->steps())}});
    status = "saved " + path;
}

void Session::load(const std::string& path) {
    drain();
    const nn::Checkpoint c = nn::read_checkpoint(path, *trainer_);
    uint64_t step = 0;
    if (const auto it = c.metadata.find("step"); it != c.metadata.end()) step = std::stoull(it->second);
    trainer_->load_state(c.state, step);
    steps_.clear();
    evals_.clear();
    read_tensors();
    evaluate();
    status = "loaded " + path;
}

} // namespace demo
