// Images made by the network: gradient ascent on the input image towards an
// objective of the model, on its live weights, either backend.
//
//   class model visualisation   the unnormalised class score from a zero image, with L2 decay
//                               (Simonyan et al. 2013), blur every k steps, jitter and small-value
//                               clipping (Yosinski et al. 2015)
//   feature visualisation       the same for one unit: a channel of a layer (its mean over the map)
//                               or one output of a vector layer
//   DeepDream                   the L2 norm of a layer's output from a given image, over octaves
//                               (Mordvintsev et al. 2015)
//   texture synthesis           matching the Gram matrices G = F F^T / (C H W) of chosen layers,
//                               from noise (Gatys et al. 2015)
//
// ImageAscent is the machinery they share: a batch of images, each step one
// forward and backward run of a ModelProgram, a step along the normalised
// gradient, then the regularisers, then clipping to the valid pixel range.
#pragma once

#include "vkcnn/nn/model.h"
#include "vkcnn/viz/pixels.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::viz {

struct AscentOptions {
    int32_t steps = 200;
    // Each step moves the image by step * g / rms(g), in pixel units (rms
    // over the image: the step does not depend on the gradient's scale).
    float step = 0.05f;
    float l2_decay = 0.01f;    // x <- (1 - l2_decay) x after each step (x in pixels about the background)
    int32_t blur_every = 4;    // a Gaussian blur every this many steps; 0: never
    float blur_sigma = 0.5f;   // in pixels
    int32_t jitter = 1;        // each step sees the image shifted by up to this many pixels; 0: none
    // Pixels whose deviation from the background is below this fraction of
    // the image's largest are set to the background at the end (Yosinski's
    // small-value clipping); 0: none.
    float clip_small = 0.1f;
    bool clamp = true; // keep every pixel in [0, 1] after each step
    uint64_t seed = 0; // jitter
};

// What is ascended, per image of the batch.
struct Objective {
    enum class Kind : uint8_t {
        ClassScore, // the logit of `index`
        Channel,    // the mean of channel `index` of `layer` (a spatial layer) or output `index` of a vector layer
        LayerNorm,  // 0.5 * ||layer output||^2 (DeepDream)
    };
    Kind kind = Kind::ClassScore;
    std::string layer; // Channel and LayerNorm
    std::vector<int32_t> index; // ClassScore and Channel: one per image
};

// Gradient ascent of a batch of images on one objective.
class ImageAscent {
public:
    ImageAscent(nn::Model& model, PixelSpace pixels, Objective objective, int64_t batch, nn::ExecOptions exec = {});
    ~ImageAscent();

    // The objective of each image (ClassScore: the logits' row as well: logits()).
    std::vector<double> objective(std::span<const float> images);
    // d objective / d image for each image (the images as the model sees them, no jitter).
    std::vector<float> gradient(std::span<const float> images);
    // `options.steps` steps from `images` (batch x C x H x W), in place.
    void run(std::vector<float>& images, const AscentOptions& options);
    // Logits of the images at the last objective() or gradient().
    const std::vector<float>& logits() const { return logits_; }

private:
    // One forward (and backward) run; the objective per image into `value`.
    void evaluate(std::span<const float> images, std::vector<double>* value, std::vector<float>* grad);

    nn::Model& model_;
    PixelSpace pixels_;
    Objective objective_;
    int64_t batch_, image_size_;
    std::unique_ptr<nn::ModelProgram> program_;
    std::vector<float> logits_;
};

// Class model visualisation of each class in `classes`, from a zero image
// (the background), all in one batch: (n, C, H, W) images.
std::vector<float> class_models(nn::Model& model, PixelSpace pixels, std::span<const int32_t> classes,
                                const AscentOptions& options = {}, nn::ExecOptions exec = {});
// Feature visualisation of channels of a layer (Objective::Channel), from
// uniform noise over [0, 1] (seeded by options.seed). A unit after a ReLU
// that is off on the start image everywhere has no gradient: choose the
// layer before the ReLU to see such a unit.
std::vector<float> unit_images(nn::Model& model, PixelSpace pixels, const std::string& layer,
                               std::span<const int32_t> channels, const AscentOptions& options = {},
                               nn::ExecOptions exec = {});

struct DreamOptions {
    int32_t octaves = 3;
    float octave_scale = 1.4f;  // each octave works on detail this much finer
    int32_t steps = 20;         // per octave
    float step = 0.02f;         // pixel units per normalised step
    int32_t jitter = 1;
    uint64_t seed = 0;
};
struct Dream {
    std::vector<float> image;   // (C, H, W)
    double norm_before = 0, norm_after = 0; // ||layer output|| on the image given and the dreamed one
};
// DeepDream of one image on `layer`. The network's input size is fixed
// (LeNet-5's Linear layers), so an octave cannot enlarge the image as the
// original does on a fully convolutional net: octave k takes steps whose
// gradient is resampled to (H, W) / octave_scale^(octaves - 1 - k) and back
// — coarse structure first, then finer detail.
Dream deep_dream(nn::Model& model, PixelSpace pixels, std::span<const float> image, const std::string& layer,
                 const DreamOptions& options = {}, nn::ExecOptions exec = {});

// G = F F^T / (C H W) of one sample's (C, H, W) map (a vector layer: C = its length, H = W = 1): C x C.
std::vector<double> gram_matrix(std::span<const float> activation, const Shape& layer);

struct TextureOptions {
    std::vector<std::string> layers; // empty: every spatial layer
    int32_t steps = 300;
    float step = 0.02f;              // the first step, in pixel units; falls linearly to 0
    uint64_t seed = 0;               // the starting noise
};
struct Texture {
    std::vector<float> image; // (C, H, W)
    // sum over layers of ||G(x) - G(target)||_F^2 / ||G(target)||_F^2, at the start (noise) and the end
    double loss_before = 0, loss_after = 0;
};
// An image whose Gram matrices at `layers` match those of `target`, from noise.
Texture synthesize_texture(nn::Model& model, PixelSpace pixels, std::span<const float> target,
                           const TextureOptions& options = {}, nn::ExecOptions exec = {});

// A separable Gaussian blur of (C, H, W) images (edges clamped), sigma in
// pixels: what the ascent's regulariser applies.
void gaussian_blur(std::span<float> images, int64_t channels, int64_t height, int64_t width, float sigma);

} // namespace vkcnn::viz
