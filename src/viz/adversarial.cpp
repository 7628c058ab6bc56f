#include "vkcnn/viz/adversarial.h"
#include "vkcnn/viz/attribution.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

namespace vkcnn::viz {

namespace {

// torch.sign: 0 for a zero gradient (a pixel no path reaches, behind a dead
// ReLU or an unchosen max-pool input), so FGSM leaves such pixels alone, as
// PyTorch's FGSM tutorial does.
float sign(float g) { return static_cast<float>((g > 0.0f) - (g < 0.0f)); }

void check_epsilon(const char* what, const char* name, float value) {
    check(value >= 0.0f && std::isfinite(value), what, ": ", name, " must be a finite length >= 0 in pixel units, got ",
          value);
}

// The first of equal maxima, as torch.argmax.
int32_t argmax(std::span<const float> row) {
    return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

// Uniform in [0, 1) from the top 24 bits: exact in float, the same on every platform.
float unit_uniform(data::SplitMix64& rng) { return static_cast<float>(rng.next() >> 40) * 0x1.0p-24f; }

} // namespace

int64_t TargetedResult::reached() const {
    return std::count_if(steps.begin(), steps.end(), [](int32_t s) { return s >= 0; });
}

// The programs an Attack runs at its batch: a forward (the logits, to
// classify and to seed the gradient) and a forward + backward of the
// logits seeded per run, w.r.t. the input.
struct Attack::Programs {
    std::unique_ptr<nn::ModelProgram> gradient, forward;
};

Attack::Attack(nn::Model& model, PixelSpace pixels, int64_t batch)
    : model_(model), pixels_(pixels), batch_(batch), classes_(model.options().classes) {
    check(batch > 0, "Attack: the batch size must be positive, got ", batch);
    check(pixels.norm.std > 0.0f, "Attack: the pixel space's std must be positive, got ", pixels.norm.std);
    const auto& [c, h, w] = model.options().input;
    elements_ = c * h * w;
    programs_ = std::make_unique<Programs>();
    programs_->gradient = model.program({.batch = batch, .gradient = nn::GradientOptions{}});
    programs_->forward = model.program({.batch = batch});
}

Attack::~Attack() = default;

int64_t Attack::checked_count(const char* what, std::span<const float> images, std::span<const int32_t> labels) const {
    const auto n = static_cast<int64_t>(labels.size());
    const auto& [c, h, w] = model_.options().input;
    check(static_cast<int64_t>(images.size()) == n * elements_, what, ": ", n, " labels need ", n * elements_,
          " image values (", n, " x ", c, " x ", h, " x ", w, "), got ", images.size());
    for (size_t i = 0; i < labels.size(); ++i)
        check(labels[i] >= 0 && labels[i] < classes_, what, ": class ", labels[i], " of image ", i,
              " is not a class of the model [0, ", classes_, ")");
    return n;
}

void Attack::batch_gradient(std::span<const float> x, std::span<const int32_t> labels, std::vector<float>& logits,
                            std::vector<float>& gradient) {
    // d CE / d logits = softmax - onehot, seeded into the backward pass of
    // the logits; samples do not mix in eval mode, so each image gets the
    // gradient of its own loss. The seed is computed here, in double, with
    // the label's entry as minus the sum of the others' probabilities:
    // softmax - 1 in float (the graph's cross-entropy backward, as
    // PyTorch's) cancels for a confident digit — p = 1 - 1e-6 keeps four
    // significant bits — and for p above 1 - 3e-8 gives 0, so an attack on a
    // digit the network is sure of would follow rounding, not the gradient.
    nn::ModelProgram& forward = *programs_->forward;
    forward.set_input(x);
    forward.run();
    logits = forward.output();
    const auto k = static_cast<size_t>(classes_);
    std::vector<float> seed(logits.size());
    for (size_t i = 0; i < labels.size(); ++i) {
        const std::vector<double> p = softmax(std::span<const float>(logits.data() + i * k, k));
        const auto label = static_cast<size_t>(labels[i]);
        double others = 0;
        for (size_t j = 0; j < k; ++j)
            if (j != label) others += p[j];
        for (size_t j = 0; j < k; ++j) seed[i * k + j] = static_cast<float>(j == label ? -others : p[j]);
    }
    nn::ModelProgram& backward = *programs_->gradient;
    backward.set_input(x);
    backward.seed(seed);
    backward.run();
    gradient = backward.gradient("input");
}

namespace {

// Runs `attack` over n images in batches of `batch`: each call gets a full
// batch (the last one padded with black images of label 0) and the number
// of real images in it, and changes the images in place.
void in_batches(
    int64_t n, int64_t batch, int64_t elements, float fill, std::span<const float> images,
    std::span<const int32_t> labels, std::span<float> out,
    const std::function<void(std::span<float>, std::span<const int32_t>, int64_t first, int64_t m)>& attack) {
    std::vector<float> x(static_cast<size_t>(batch * elements));
    std::vector<int32_t> y(static_cast<size_t>(batch));
    const auto e = static_cast<size_t>(elements);
    for (int64_t first = 0; first < n; first += batch) {
        const auto m = static_cast<size_t>(std::min(batch, n - first));
        const auto at = static_cast<size_t>(first);
        std::copy_n(images.begin() + static_cast<std::ptrdiff_t>(at * e), m * e, x.begin());
        std::fill(x.begin() + static_cast<std::ptrdiff_t>(m * e), x.end(), fill);
        std::copy_n(labels.begin() + static_cast<std::ptrdiff_t>(at), m, y.begin());
        std::fill(y.begin() + static_cast<std::ptrdiff_t>(m), y.end(), 0);
        attack(x, y, first, static_cast<int64_t>(m));
        std::copy_n(x.begin(), m * e, out.begin() + static_cast<std::ptrdiff_t>(at * e));
    }
}

} // namespace

std::vector<float> Attack::loss_gradient(std::span<const float> images, std::span<const int32_t> labels) {
    const int64_t n = checked_count("loss_gradient", images, labels);
    std::vector<float> out(images.size()), logits, gradient;
    in_batches(n, batch_, elements_, pixels_.lo(), images, labels, out,
               [&](std::span<float> x, std::span<const int32_t> y, int64_t, int64_t) {
                   batch_gradient(x, y, logits, gradient);
                   std::copy(gradient.begin(), gradient.end(), x.begin());
               });
    return out;
}

std::vector<int32_t> Attack::classify(std::span<const float> images) {
    check(elements_ > 0 && images.size() % static_cast<size_t>(elements_) == 0, "classify: ", images.size(),
          " values are not whole images of ", elements_, " values");
    const auto n = static_cast<int64_t>(images.size()) / elements_;
    const std::vector<int32_t> none(static_cast<size_t>(n), 0);
    std::vector<float> scratch(images.size());
    std::vector<int32_t> classes(static_cast<size_t>(n));
    nn::ModelProgram& forward = *programs_->forward;
    const auto k = static_cast<size_t>(classes_);
    in_batches(n, batch_, elements_, pixels_.lo(), images, none, scratch,
               [&](std::span<float> x, std::span<const int32_t>, int64_t first, int64_t m) {
                   forward.set_input(x);
                   forward.run();
                   const std::vector<float> logits = forward.output();
                   for (size_t i = 0; i < static_cast<size_t>(m); ++i)
                       classes[static_cast<size_t>(first) + i] = argmax(std::span(logits).subspan(i * k, k));
               });
    return classes;
}

std::vector<float> Attack::fgsm(std::span<const float> images, std::span<const int32_t> labels, float epsilon) {
    check_epsilon("fgsm", "epsilon", epsilon);
    const int64_t n = checked_count("fgsm", images, labels);
    const float eps = pixels_.length(epsilon);
    std::vector<float> out(images.size()), logits, gradient;
    in_batches(n, batch_, elements_, pixels_.lo(), images, labels, out,
               [&](std::span<float> x, std::span<const int32_t> y, int64_t, int64_t) {
                   batch_gradient(x, y, logits, gradient);
                   for (size_t i = 0; i < x.size(); ++i) x[i] = pixels_.clamp(x[i] + eps * sign(gradient[i]));
               });
    return out;
}

std::vector<float> Attack::pgd(std::span<const float> images, std::span<const int32_t> labels,
                               const PgdOptions& options) {
    // One generator over the call's images in order, drawing for real
    // images only: sample i's start does not depend on the batch size.
    data::SplitMix64 rng(options.seed);
    return pgd(images, labels, options, rng);
}

std::vector<float> Attack::pgd(std::span<const float> images, std::span<const int32_t> labels,
                               const PgdOptions& options, data::SplitMix64& rng) {
    check_epsilon("pgd", "epsilon", options.epsilon);
    check_epsilon("pgd", "step", options.step);
    check(options.steps > 0, "pgd: steps must be positive, got ", options.steps);
    const int64_t n = checked_count("pgd", images, labels);
    const float eps = pixels_.length(options.epsilon);
    const float step =
        options.step > 0.0f ? pixels_.length(options.step) : 2.5f * eps / static_cast<float>(options.steps);
    std::vector<float> out(images.size()), logits, gradient, original;
    in_batches(n, batch_, elements_, pixels_.lo(), images, labels, out,
               [&](std::span<float> x, std::span<const int32_t> y, int64_t, int64_t m) {
                   original.assign(x.begin(), x.end());
                   const size_t real = static_cast<size_t>(m * elements_);
                   if (options.random_start)
                       for (size_t i = 0; i < real; ++i)
                           x[i] = pixels_.clamp(x[i] + eps * (2.0f * unit_uniform(rng) - 1.0f));
                   for (int32_t s = 0; s < options.steps; ++s) {
                       batch_gradient(x, y, logits, gradient);
                       for (size_t i = 0; i < x.size(); ++i) {
                           const float moved =
                               std::clamp(x[i] + step * sign(gradient[i]), original[i] - eps, original[i] + eps);
                           x[i] = pixels_.clamp(moved);
                       }
                   }
               });
    return out;
}

TargetedResult Attack::targeted(std::span<const float> images, std::span<const int32_t> targets,
                                const TargetedOptions& options) {
    check_epsilon("targeted", "epsilon", options.epsilon);
    check_epsilon("targeted", "step", options.step);
    check(options.max_steps > 0, "targeted: max_steps must be positive, got ", options.max_steps);
    const int64_t n = checked_count("targeted", images, targets);
    const float eps = pixels_.length(options.epsilon), step = pixels_.length(options.step);
    TargetedResult result;
    result.images.resize(images.size());
    result.predicted.assign(static_cast<size_t>(n), -1);
    result.steps.assign(static_cast<size_t>(n), -1);
    const auto k = static_cast<size_t>(classes_), e = static_cast<size_t>(elements_);
    std::vector<float> logits, gradient, original;
    in_batches(n, batch_, elements_, pixels_.lo(), images, targets, result.images,
               [&](std::span<float> x, std::span<const int32_t> y, int64_t first, int64_t m) {
                   original.assign(x.begin(), x.end());
                   const auto at = static_cast<size_t>(first), real = static_cast<size_t>(m);
                   // Each pass reads the logits of the images as the last step
                   // left them, so the check after step s costs no extra run.
                   for (int32_t s = 0;; ++s) {
                       batch_gradient(x, y, logits, gradient);
                       size_t open = 0;
                       for (size_t i = 0; i < real; ++i) {
                           int32_t& taken = result.steps[at + i];
                           result.predicted[at + i] = argmax(std::span(logits).subspan(i * k, k));
                           if (taken < 0 && result.predicted[at + i] == y[i]) taken = s;
                           open += taken < 0;
                       }
                       if (open == 0 || s == options.max_steps) break;
                       for (size_t i = 0; i < real; ++i) {
                           if (result.steps[at + i] >= 0) continue; // reads as its target: stays as it is
                           for (size_t j = i * e; j < (i + 1) * e; ++j) {
                               const float moved =
                                   std::clamp(x[j] - step * sign(gradient[j]), original[j] - eps, original[j] + eps);
                               x[j] = pixels_.clamp(moved);
                           }
                       }
                   }
               });
    return result;
}

const char* attack_name(AttackMethod method) { return method == AttackMethod::Fgsm ? "FGSM" : "PGD"; }

AccuracyCurve accuracy_vs_epsilon(nn::Model& model, const data::Dataset& dataset, const CurveOptions& options) {
    check(!options.epsilons.empty(), "accuracy_vs_epsilon: no epsilon given");
    for (float eps : options.epsilons) check_epsilon("accuracy_vs_epsilon", "epsilon", eps);
    check(options.limit >= 0, "accuracy_vs_epsilon: limit must be >= 0 (0: all), got ", options.limit);
    const auto& [c, h, w] = model.options().input;
    check(dataset.channels() == c && dataset.height() == h && dataset.width() == w,
          "accuracy_vs_epsilon: the dataset's images are ", dataset.channels(), " x ", dataset.height(), " x ",
          dataset.width(), ", the model takes ", c, " x ", h, " x ", w);
    if (options.method == AttackMethod::Pgd)
        check(options.pgd.steps > 0, "accuracy_vs_epsilon: PGD steps must be positive, got ", options.pgd.steps);
    const int64_t n = options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();
    Attack attack(model, PixelSpace{dataset.normalization()}, options.batch);
    AccuracyCurve curve{.method = options.method,
                        .steps = options.method == AttackMethod::Fgsm ? 1 : options.pgd.steps};
    for (float eps : options.epsilons) curve.points.push_back({.epsilon = eps, .correct = 0, .total = n});

    const int64_t e = dataset.image_elements();
    const PixelSpace& pixels = attack.pixels();
    std::vector<float> adversarial;
    // PGD's random starts: one generator per epsilon, run on over the
    // batches, so each point is what one pgd() call over the whole dataset
    // gives, whatever the batch size.
    std::vector<data::SplitMix64> starts(options.epsilons.size(), data::SplitMix64(options.pgd.seed));
    // One batch of the dataset at a time, every epsilon on it: FGSM's
    // gradient is the same for all of them, so it is computed once.
    for (int64_t first = 0; first < n; first += options.batch) {
        const int64_t m = std::min(options.batch, n - first);
        const auto images = dataset.images().subspan(static_cast<size_t>(first * e), static_cast<size_t>(m * e));
        const auto labels = dataset.labels().subspan(static_cast<size_t>(first), static_cast<size_t>(m));
        std::vector<float> gradient;
        if (options.method == AttackMethod::Fgsm) gradient = attack.loss_gradient(images, labels);
        for (size_t p = 0; p < curve.points.size(); ++p) {
            CurvePoint& point = curve.points[p];
            if (options.method == AttackMethod::Fgsm) {
                const float eps = pixels.length(point.epsilon);
                adversarial.resize(images.size());
                for (size_t i = 0; i < images.size(); ++i)
                    adversarial[i] = pixels.clamp(images[i] + eps * sign(gradient[i]));
            } else {
                PgdOptions pgd = options.pgd;
                pgd.epsilon = point.epsilon;
                adversarial = attack.pgd(images, labels, pgd, starts[p]);
            }
            const std::vector<int32_t> predicted = attack.classify(adversarial);
            for (size_t i = 0; i < predicted.size(); ++i) point.correct += predicted[i] == labels[i];
        }
    }
    return curve;
}

std::function<void(std::span<float>, std::span<const int32_t>, uint64_t)>
adversarial_batches(Attack& attack, const AdversarialTraining& options) {
    check(options.share >= 0.0 && options.share <= 1.0, "adversarial_batches: share must be in [0, 1], got ",
          options.share);
    return [&attack, options](std::span<float> images, std::span<const int32_t> labels, uint64_t step) {
        check(!labels.empty(), "adversarial_batches: adversarial training needs class labels (the cross-entropy loss)");
        const auto n = static_cast<int64_t>(labels.size());
        const size_t e = images.size() / labels.size();
        check(static_cast<int64_t>(e) == attack.model().options().input[0] * attack.model().options().input[1] *
                                             attack.model().options().input[2],
              "adversarial_batches: the batch's images are not the attacked model's");
        const auto k = static_cast<size_t>(std::llround(options.share * static_cast<double>(n)));
        if (k == 0) return;
        const auto x = images.first(k * e);
        const auto y = labels.first(k);
        std::vector<float> adversarial;
        if (options.method == AttackMethod::Fgsm) {
            adversarial = attack.fgsm(x, y, options.pgd.epsilon);
        } else {
            PgdOptions pgd = options.pgd;
            pgd.seed += step - 1; // new random starts every step
            adversarial = attack.pgd(x, y, pgd);
        }
        std::copy(adversarial.begin(), adversarial.end(), x.begin());
    };
}

std::string format_curve(const AccuracyCurve& curve) {
    std::string text = cat(attack_name(curve.method), curve.method == AttackMethod::Pgd ? cat("-", curve.steps) : "",
                           "\nepsilon  accuracy  correct/total\n");
    for (const CurvePoint& p : curve.points) {
        char row[96];
        std::snprintf(row, sizeof row, "%7.3f  %7.2f%%  %lld/%lld\n", static_cast<double>(p.epsilon),
                      100.0 * p.accuracy(), static_cast<long long>(p.correct), static_cast<long long>(p.total));
        text += row;
    }
    return text;
}

} // namespace vkcnn::viz
