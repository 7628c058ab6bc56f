#include "session.h"

#include "vkcnn/core/error.h"
#include "vkcnn/data/idx.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/schedule.h"
#include "vkcnn/viz/features.h"

#include <algorithm>
#include <cmath>

namespace vkcnn::web {

namespace {

constexpr int64_t kSide = 28, kPixels = kSide * kSide;
const viz::PixelSpace kPixelSpace{kNormalization};

nn::ModelOptions lenet_options(uint64_t seed = 0) { return {.input = {1, kSide, kSide}, .classes = 10, .seed = seed}; }

int32_t argmax(std::span<const float> v) {
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Divides by the largest value, so the largest is 1 (all zeros stay zeros).
std::vector<float> scaled_to_one(std::vector<float> v) {
    const float peak = v.empty() ? 0.0f : *std::max_element(v.begin(), v.end());
    if (peak > 0)
        for (float& x : v) x /= peak;
    return v;
}

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

} // namespace

// What explains drawings on one model: the attribution and attack programs
// and an activations program keeping every layer, compiled on first use
// and bound to the model's live weights (so training does not stale them);
// the training digits' features, which do go stale, carry the step they
// were computed at.
struct Session::Views {
    explicit Views(nn::Model& m) : model(&m), explainer(m, kPixelSpace), attack(m, kPixelSpace, 1) {}

    nn::ModelProgram& activations() {
        if (!activations_program) {
            nn::ProgramOptions options{.batch = 1};
            for (const nn::LayerInfo& layer : model->layers()) options.keep.push_back(layer.path);
            activations_program = model->program(options);
        }
        return *activations_program;
    }

    nn::Model* model;
    viz::Explainer explainer;
    viz::Attack attack;
    std::unique_ptr<nn::ModelProgram> activations_program;
    std::optional<viz::Features> features; // of the first `features_pool` training images
    int64_t features_pool = 0;
    uint64_t features_version = 0;
};

Session::Session(unsigned threads) : pool_(threads), shipped_(nn::lenet5(), lenet_options(), nullptr, &pool_) {}

Session::~Session() = default;

io::Metadata Session::load_weights(std::span<const std::byte> bytes, const std::string& source) {
    // Model::load_checkpoint checks every tensor before it writes any: a
    // refused file leaves the shipped weights as they were.
    io::Metadata metadata = shipped_.load_checkpoint(bytes, source);
    ++shipped_version_;
    return metadata;
}

void Session::set_mnist(data::Split split, std::span<const uint8_t> images, std::span<const uint8_t> labels,
                        const std::string& source) {
    const std::string images_source = source + " images";
    (split == data::Split::Train ? train_set_ : test_set_) = data::idx_dataset(
        data::decode_idx_pair(images, images_source, labels, source + " labels", 10), images_source, 10,
        kNormalization, data::kMnistImageSize);
}

bool Session::has_mnist(data::Split split) const {
    return (split == data::Split::Train ? train_set_ : test_set_).has_value();
}

const data::Dataset& Session::dataset(data::Split split) const {
    const std::optional<data::Dataset>& d = split == data::Split::Train ? train_set_ : test_set_;
    check(d.has_value(), "the MNIST ", data::split_name(split), " set is not loaded");
    return *d;
}

void Session::use(Slot slot) {
    check(slot == Slot::Shipped || trained_, "no model is being trained yet: start training first");
    active_ = slot;
}

Session::Views& Session::views() {
    nn::Model& model = active_model();
    if (!views_ || views_->model != &model) views_ = std::make_unique<Views>(model);
    return *views_;
}

void Session::forget_views(const nn::Model* model) {
    if (views_ && views_->model == model) views_.reset();
}

const std::vector<float>& Session::current() const {
    check(!current_.empty(), "nothing has been drawn yet");
    return current_;
}

Prediction Session::predict(std::span<const float> gray, int width, int height) {
    Prediction p;
    p.digit = data::mnist_preprocess(gray, width, height);
    current_ = kPixelSpace.to_model(p.digit.pixels);
    p.probabilities.assign(10, 0.0f);
    if (p.digit.empty) return p;
    p.probabilities = viz::probabilities(active_model().predict(current_, 1));
    p.top = argmax(p.probabilities);
    return p;
}

std::vector<float> Session::classify(std::span<const float> pixels, int64_t n) {
    check(n > 0 && pixels.size() == static_cast<size_t>(n * kPixels), "classify: ", n, " images of 28x28 need ",
          n * kPixels, " values, got ", pixels.size());
    return active_model().predict(kPixelSpace.to_model(pixels), n);
}

Inspection Session::inspect(int32_t cls) {
    check(cls >= 0 && cls < 10, "inspect: class ", cls, " is not a digit (0..9)");
    Views& v = views();
    nn::ModelProgram& program = v.activations();
    program.set_input(current());
    program.run();
    Inspection r{.cls = cls};
    for (const nn::LayerInfo& layer : active_model().layers()) {
        const Shape& s = layer.shape; // (1, C, H, W) or (1, n)
        std::array<int64_t, 3> shape{s.rank() > 1 ? s[1] : 1, s.rank() > 2 ? s[2] : 1, s.rank() > 3 ? s[3] : 1};
        r.layers.push_back({layer.path, shape, program.activation(layer.path)});
    }
    r.saliency = scaled_to_one(v.explainer.saliency(current_, cls));
    r.grad_cam = v.explainer.grad_cam(current_, cls).map;
    return r;
}

std::vector<float> Session::filters(std::array<int64_t, 4>& shape) const {
    for (const nn::StateSpec& spec : active_model().parameters())
        if (spec.shape.rank() == 4) { // the first convolution's weight, in model order
            std::copy(spec.shape.dims.begin(), spec.shape.dims.end(), shape.begin());
            return active_model().weights().at(spec.name);
        }
    throw Error("the model has no convolution");
}

Nudge Session::nudge(int32_t target) {
    check(target >= 0 && target < 10, "nudge: class ", target, " is not a digit (0..9)");
    const std::vector<float>& x = current();
    const int32_t targets[] = {target};
    viz::TargetedResult t = views().attack.targeted(x, targets, {.epsilon = 1.0f, .step = 0.01f, .max_steps = 300});
    Nudge n;
    n.image = kPixelSpace.to_pixels(t.images);
    n.probabilities = viz::probabilities(active_model().predict(t.images, 1));
    n.top = t.predicted[0];
    n.steps = t.steps[0];
    return n;
}

std::vector<Neighbour> Session::nearest(int32_t k, int64_t pool) {
    check(k > 0, "nearest: k must be positive, not ", k);
    const data::Dataset& train = dataset(data::Split::Train);
    pool = std::min(pool, train.size());
    Views& v = views();
    const uint64_t version = active_model_version();
    if (!v.features || v.features_pool != pool || v.features_version != version) {
        const auto n = static_cast<size_t>(pool * kPixels);
        data::Dataset subset(1, kSide, kSide, 10, {train.images().begin(), train.images().begin() + n},
                             {train.labels().begin(), train.labels().begin() + pool}, kNormalization);
        v.features = viz::features(active_model(), subset);
        v.features_pool = pool;
        v.features_version = version;
    }
    const data::Dataset query(1, kSide, kSide, 10, current(), {0}, kNormalization);
    const viz::Features q = viz::features(active_model(), query, {.layer = v.features->layer});
    std::vector<Neighbour> out;
    for (const viz::Neighbour& nb : viz::nearest(v.features->values, v.features->dims, q.values, k))
        out.push_back({nb.index, train.labels()[static_cast<size_t>(nb.index)], nb.distance,
                       kPixelSpace.to_pixels(train.image(nb.index))});
    return out;
}

uint64_t Session::active_model_version() const {
    return active_ == Slot::Trained && trained_ ? (uint64_t{1} << 63) | trainer_->steps() : shipped_version_;
}

void Session::start_training(const TrainOptions& options) {
    check(options.lr > 0 && std::isfinite(options.lr), "the learning rate must be positive, not ", options.lr);
    check(options.batch > 0 && options.batch <= 1024, "the batch must be in 1..1024, not ", options.batch);
    check(options.epochs > 0, "epochs must be positive, not ", options.epochs);
    const data::Dataset& train = dataset(data::Split::Train);
    forget_views(trained_.get());
    trainer_.reset();
    trained_ = std::make_unique<nn::Model>(nn::lenet5(), lenet_options(options.seed), nullptr, &pool_);
    make_trainer(options);
    loader_ = std::make_unique<data::BatchLoader>(
        train, data::LoaderOptions{.batch_size = options.batch, .shuffle = options.shuffle, .seed = options.seed,
                                   .drop_last = true});
    progress_ = {.epochs = options.epochs};
}

void Session::make_trainer(const TrainOptions& options) {
    train_options_ = options;
    trainer_ = std::make_unique<nn::Trainer>(
        *trained_, nn::TrainerOptions{.batch = options.batch, .optimizer = ops::SgdAttrs{.lr = options.lr, .momentum = 0.9}});
    batch_images_.resize(static_cast<size_t>(options.batch * kPixels));
    batch_labels_.resize(static_cast<size_t>(options.batch));
}

void Session::set_learning_rate(double lr) {
    check(lr > 0 && std::isfinite(lr), "the learning rate must be positive, not ", lr);
    train_options_.lr = lr;
    if (trainer_) trainer_->set_learning_rate(lr);
}

nn::StepResult Session::train_step() {
    if (loader_->next(batch_images_, batch_labels_) == 0) { // past the last epoch: go round again
        loader_->start_epoch(loader_->epoch() + 1);
        loader_->next(batch_images_, batch_labels_);
    }
    const uint64_t total = static_cast<uint64_t>(loader_->batches_per_epoch() * train_options_.epochs);
    const uint64_t t = trainer_->steps() + 1;
    trainer_->set_learning_rate(
        train_options_.cosine && t <= total
            ? nn::learning_rate({.kind = nn::Schedule::Cosine, .lr = train_options_.lr}, t, total)
            : train_options_.lr);
    return trainer_->step(batch_images_, batch_labels_);
}

TrainProgress Session::train_for(double budget_ms) {
    check(training(), "no training is running: start training first");
    const Clock::time_point start = Clock::now();
    TrainProgress report = progress_;
    report.test_accuracy.reset();
    double loss_sum = 0, step_ms = 0;
    int64_t right = 0, steps = 0;
    const auto per_epoch = static_cast<uint64_t>(loader_->batches_per_epoch());
    while (milliseconds_since(start) < budget_ms || steps == 0) {
        const Clock::time_point step_start = Clock::now();
        const nn::StepResult r = train_step();
        step_ms += milliseconds_since(step_start);
        loss_sum += r.loss;
        right += r.correct;
        ++steps;
        if (trainer_->steps() % per_epoch == 0) { // an epoch ends: evaluate (not counted in images/s)
            ++report.epoch;
            if (test_set_) report.test_accuracy = trained_->evaluate(*test_set_).accuracy();
            report.done = report.epoch >= report.epochs;
            break;
        }
    }
    const int64_t seen = steps * train_options_.batch;
    report.step = trainer_->steps();
    report.samples += seen;
    report.loss = loss_sum / static_cast<double>(steps);
    report.accuracy = static_cast<double>(right) / static_cast<double>(seen);
    report.images_per_second = step_ms > 0 ? static_cast<double>(seen) * 1000.0 / step_ms : 0.0;
    progress_ = report;
    progress_.test_accuracy.reset();
    return report;
}

std::vector<float> Session::train_steps(int64_t steps) {
    check(training(), "no training is running: start training first");
    std::vector<float> losses;
    for (int64_t s = 0; s < steps; ++s) losses.push_back(train_step().loss);
    progress_.step = trainer_->steps();
    progress_.samples += steps * train_options_.batch;
    return losses;
}

int64_t Session::add_example(int32_t label) {
    check(label >= 0 && label < 10, "add_example: label ", label, " is not a digit (0..9)");
    const std::vector<float>& x = current();
    check(std::any_of(x.begin(), x.end(), [](float v) { return v > kPixelSpace.lo(); }),
          "add_example: the drawing is empty");
    user_images_.insert(user_images_.end(), x.begin(), x.end());
    user_labels_.push_back(label);
    return static_cast<int64_t>(user_labels_.size());
}

std::vector<float> Session::fine_tune(int64_t steps, double lr) {
    check(!user_labels_.empty(), "fine-tune: add some of your own digits first");
    check(steps > 0 && steps <= 10000, "fine-tune: steps must be in 1..10000, not ", steps);
    check(lr > 0 && std::isfinite(lr), "the learning rate must be positive, not ", lr);
    if (!trained_) { // start from the shipped weights
        trained_ = std::make_unique<nn::Model>(nn::lenet5(), lenet_options(), nullptr, &pool_);
        trained_->load_weights(shipped_.weights());
        make_trainer({.lr = lr, .cosine = false});
        progress_ = {.epochs = 0, .done = true};
    }
    set_learning_rate(lr);
    train_options_.cosine = false; // a constant rate from here on
    progress_.done = true;         // and a run in progress ends here
    // Each batch: up to half the user's digits (cycled), the rest random
    // training digits so the network does not forget the other shapes.
    const auto batch = static_cast<size_t>(train_options_.batch);
    const size_t users = user_labels_.size();
    const size_t own = train_set_ ? std::min(users, std::max<size_t>(1, batch / 2)) : batch;
    data::SplitMix64 rng(trainer_->steps() + 1);
    std::vector<float> losses;
    for (int64_t s = 0; s < steps; ++s) {
        for (size_t i = 0; i < batch; ++i) {
            const float* src;
            int32_t label;
            if (i < own) {
                const size_t u = (static_cast<size_t>(s) * own + i) % users;
                src = user_images_.data() + u * kPixels;
                label = user_labels_[u];
            } else {
                const auto t = static_cast<int64_t>(rng.below(static_cast<uint64_t>(train_set_->size())));
                src = train_set_->image(t).data();
                label = train_set_->labels()[static_cast<size_t>(t)];
            }
            std::copy(src, src + kPixels, batch_images_.begin() + static_cast<std::ptrdiff_t>(i * kPixels));
            batch_labels_[i] = label;
        }
        losses.push_back(trainer_->step(batch_images_, batch_labels_).loss);
    }
    return losses;
}

} // namespace vkcnn::web
