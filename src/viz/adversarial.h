// Adversarial examples (issue 11, item 8): images moved a few pixel levels
// away from test digits, within an L-inf ball, so that a trained network
// misreads them — FGSM (Goodfellow et al. 2015), iterative FGSM / PGD
// (Madry et al. 2018), targeted attacks that make a digit read as any chosen
// class, and the accuracy-vs-epsilon curve over a dataset. Images are in
// model space (viz/pixels.h); epsilons, steps and the valid range are in
// pixel units through the PixelSpace. Every attack is deterministic: the
// same images and options give the same result on every thread count.
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/nn/model.h"
#include "vkcnn/viz/pixels.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::viz {

struct AccuracyCurve;
struct CurveOptions;

// Iterative FGSM with projection (PGD). Each step moves every pixel by
// `step` along the sign of the loss gradient, then projects onto the L-inf
// ball of `epsilon` around the original image and onto the valid pixel range.
struct PgdOptions {
    float epsilon = 0.3f; // the ball's radius, pixel units
    int32_t steps = 40;
    // Pixel units per step; 0: 2.5 * epsilon / steps (Madry et al.'s rule:
    // 0.01 at epsilon 0.3 with 40 steps, so a step sequence can cross the ball and back).
    float step = 0.0f;
    // Start from a uniform draw in the ball (clipped to the valid range)
    // instead of the image itself, as Madry et al.'s training attack.
    bool random_start = false;
    uint64_t seed = 0; // the random start's draws: sample i of a call gets the same noise for any batch size
};

// Descends the loss of a target class until each image reads as its target
// (argmax of the logits), one sign step of `step` at a time within the ball
// of `epsilon` and the valid range; an image stops moving once it reads as
// its target.
struct TargetedOptions {
    float epsilon = 1.0f; // pixel units; 1: any valid image ("fooling images")
    float step = 0.01f;   // pixel units per step
    int32_t max_steps = 200;
};

struct TargetedResult {
    std::vector<float> images;      // (n, C, H, W), model space
    std::vector<int32_t> predicted; // (n,): what each final image reads as
    // (n,): the number of steps after which each image first read as its
    // target (0: it already did); -1: not within max_steps.
    std::vector<int32_t> steps;
    int64_t reached() const; // how many read as their target
};

// The attacks on one model's live weights, run in batches of a fixed size
// through one gradient program (and one forward program to classify): any
// number of images, the last partial batch padded. Must not outlive the model.
class Attack {
public:
    Attack(nn::Model& model, PixelSpace pixels, int64_t batch = 64);
    ~Attack();
    Attack(const Attack&) = delete;
    Attack& operator=(const Attack&) = delete;

    int64_t batch() const { return batch_; }
    const PixelSpace& pixels() const { return pixels_; }
    nn::Model& model() const { return model_; }

    // The gradient of each image's own cross-entropy loss against its label
    // (d CE(f(x_i), y_i) / d x_i), model space, (n, C, H, W).
    std::vector<float> loss_gradient(std::span<const float> images, std::span<const int32_t> labels);
    // The class each image reads as (argmax of the logits; the first of equal maxima).
    std::vector<int32_t> classify(std::span<const float> images);

    // FGSM: x' = clip(x + epsilon * sign(d loss / d x)) to the valid range,
    // epsilon in pixel units; sign(0) = 0, as torch.sign.
    std::vector<float> fgsm(std::span<const float> images, std::span<const int32_t> labels, float epsilon);
    std::vector<float> pgd(std::span<const float> images, std::span<const int32_t> labels, const PgdOptions& options);
    // One target class per image, any class of the model.
    TargetedResult targeted(std::span<const float> images, std::span<const int32_t> targets,
                            const TargetedOptions& options);

private:
    friend AccuracyCurve accuracy_vs_epsilon(nn::Model&, const data::Dataset&, const CurveOptions&);
    struct Programs;
    // PGD drawing its random start from `rng`, in image order.
    std::vector<float> pgd(std::span<const float> images, std::span<const int32_t> labels, const PgdOptions& options,
                           data::SplitMix64& rng);
    // Checks `n` images against their labels (or targets): sizes and classes.
    int64_t checked_count(const char* what, std::span<const float> images, std::span<const int32_t> labels) const;
    // The loss gradient and the logits of one padded batch (batch_ images, batch_ labels).
    void batch_gradient(std::span<const float> x, std::span<const int32_t> labels, std::vector<float>& logits,
                        std::vector<float>& gradient);
    nn::Model& model_;
    PixelSpace pixels_;
    int64_t batch_, elements_, classes_;
    std::unique_ptr<Programs> programs_;
};

enum class AttackMethod : uint8_t { Fgsm, Pgd };
const char* attack_name(AttackMethod method); // "FGSM", "PGD"

struct CurveOptions {
    std::vector<float> epsilons{0.0f, 0.05f, 0.1f, 0.15f, 0.2f, 0.25f, 0.3f}; // pixel units
    AttackMethod method = AttackMethod::Fgsm;
    PgdOptions pgd; // PGD's steps, step rule and random start; the epsilon comes from the list
    int64_t batch = 256;
    int64_t limit = 0; // the first `limit` samples; 0: all
};

struct CurvePoint {
    float epsilon = 0;
    int64_t correct = 0, total = 0;
    double accuracy() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

struct AccuracyCurve {
    AttackMethod method = AttackMethod::Fgsm;
    int32_t steps = 1;              // 1 for FGSM
    std::vector<CurvePoint> points; // in the order of CurveOptions::epsilons
};

// Accuracy on adversarial versions of the dataset's images (each attacked
// against its own label) at every epsilon, in batches of options.batch
// through one Attack; pixel units from the dataset's normalisation.
AccuracyCurve accuracy_vs_epsilon(nn::Model& model, const data::Dataset& dataset, const CurveOptions& options);

// Adversarial training (Goodfellow et al. 2015; Madry et al. 2018): a
// share of each training batch replaced by adversarial versions of its
// images, made against the live weights just before the step.
struct AdversarialTraining {
    AttackMethod method = AttackMethod::Pgd;
    // The attack; FGSM takes its epsilon. The random start's seed is offset
    // by the trainer's step count, so every step draws new starts.
    PgdOptions pgd{.epsilon = 0.3f, .steps = 7, .random_start = true};
    double share = 0.5; // of each batch, in [0, 1]: its first round(share * batch) images
};

// Adversarial training as a Trainer option: the batch rewrite for
// nn::TrainerOptions::transform_batch, which replaces the first
// round(share * batch) images of each batch by attacks made on the live
// weights just before its step:
//
//     viz::Attack attack(model, pixels, 32);  // the attacked share of a batch of 64
//     nn::Trainer trainer(model, {.batch = 64, .transform_batch = viz::adversarial_batches(attack, {})});
//
// The attack must be of the trainer's model and outlive the trainer; it
// runs in eval mode (the network's eval-mode function is the one attacked),
// its gradients on the model's backend, the sign step and the projection on
// the host. Give it a batch of the attacked share: fewer images are padded.
std::function<void(std::span<float> images, std::span<const int32_t> labels, uint64_t step)>
adversarial_batches(Attack& attack, const AdversarialTraining& options);

// The curve as a text table, one row per epsilon: "epsilon  accuracy  correct/total".
std::string format_curve(const AccuracyCurve& curve);

} // namespace vkcnn::viz
