// Which input pixels a class score depends on: the attribution methods of
// the lectures, on the live weights of a Model, either backend. The score is
// the unnormalised class logit (Simonyan et al. 2013), the input the
// model's (normalised) image, and every map is over that input.
//
//   saliency            max over channels of |d score / d x|        (Simonyan et al. 2013)
//   gradient x input    x * d score / d x                           (Shrikumar et al. 2016; Captum's InputXGradient)
//   SmoothGrad          mean of |d score / d x| over noisy copies   (Smilkov et al. 2017; Captum's NoiseTunnel(Saliency))
//   integrated grads    (x - x') * mean of the gradients on x' -> x (Sundararajan et al. 2017), with its completeness error
//   guided backprop     the gradient through guided ReLUs           (Springenberg et al. 2015)
//   deconvnet           the gradient through deconvnet ReLUs        (Zeiler & Fergus 2014)
//   Grad-CAM            ReLU(sum_k mean_hw(d score / d A_k) A_k)    (Selvaraju et al. 2017), and guided Grad-CAM
//   occlusion           the drop of the score with a patch covered  (Zeiler & Fergus 2014; Captum's Occlusion)
//
// Explainer builds each program it needs once and reuses it, so the browser
// can explain every stroke; the functions on gradients are what a caller
// with programs of its own (the desktop demo) uses.
#pragma once

#include "vkcnn/nn/model.h"
#include "vkcnn/viz/pixels.h"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace vkcnn::viz {

// Class probabilities of a row of logits: softmax in double, shifted by the largest.
std::vector<double> softmax(std::span<const float> logits);
// The same as floats (what a display shows).
std::vector<float> probabilities(std::span<const float> logits);

// max over channels of |g| at each pixel: (C, H, W) -> (H, W).
std::vector<float> max_abs_over_channels(std::span<const float> g, int64_t channels);

// The layer Grad-CAM looks at by default (Selvaraju et al.: the last
// convolutional maps): the last layer with a spatial map larger than 1x1, or
// the layer it pools when it is a pooling of the one before (same channels,
// a larger map); empty when the model has none.
std::string default_cam_layer(const nn::Model& model);

struct GradCam {
    std::vector<float> coarse; // (h, w) at the layer: ReLU(sum_k w_k A_k), unscaled
    std::vector<float> map;    // (H, W) at the input: bilinear (align_corners=False), min-max scaled to [0, 1]
    std::vector<float> channel_weights; // w_k = mean over h x w of d score / d A_k
    float peak = 0; // max of `coarse`; 0: no positive evidence for the class at that layer
};
// Grad-CAM from a layer's activation A and d score / d A, both (K, h, w) of
// one sample, upsampled to height x width.
GradCam grad_cam(std::span<const float> activation, std::span<const float> gradient, const Shape& layer,
                 int64_t height, int64_t width);

struct SmoothGradOptions {
    float sigma = 0.15f;  // noise standard deviation as a fraction of the pixel range [0, 1] (Smilkov et al.: 10-20%)
    int32_t samples = 50;
    uint64_t seed = 0;
};

struct IntegratedGradientsOptions {
    int32_t steps = 64; // points of the midpoint rule on the path baseline -> image
    // The baseline in pixels; empty: black (pixel 0 everywhere).
    std::vector<float> baseline_pixels;
};
struct IntegratedGradients {
    std::vector<float> attribution; // (C, H, W)
    double score = 0, baseline_score = 0;
    // |sum of the attribution - (score - baseline score)|, absolute and
    // relative to |score - baseline score|: how well `steps` integrates.
    double completeness_error = 0, relative_error = 0;
};

struct OcclusionOptions {
    int32_t patch = 6, stride = 2; // square patch and its stride, in pixels
    float fill_pixel = 0.0f;       // what covers the patch, in pixels (0: MNIST's background)
};

// One image's attributions, each method's program built on first use and
// kept. Images are (C, H, W) in the model's input space; `cls` is the class
// whose score is explained (vkcnn::Error outside [0, classes)).
class Explainer {
public:
    Explainer(nn::Model& model, PixelSpace pixels, nn::ExecOptions exec = {});
    ~Explainer();

    // The class scores of the image (eval mode).
    std::vector<float> logits(std::span<const float> image);
    // d score_cls / d image, through ReLUs by `rule`.
    std::vector<float> gradient(std::span<const float> image, int32_t cls,
                                nn::ReluGradient rule = nn::ReluGradient::ChainRule);

    std::vector<float> saliency(std::span<const float> image, int32_t cls); // (H, W)
    std::vector<float> gradient_x_input(std::span<const float> image, int32_t cls); // (C, H, W)
    std::vector<float> smoothgrad(std::span<const float> image, int32_t cls, const SmoothGradOptions& options = {}); // (C, H, W)
    IntegratedGradients integrated_gradients(std::span<const float> image, int32_t cls,
                                             const IntegratedGradientsOptions& options = {});
    std::vector<float> guided_backprop(std::span<const float> image, int32_t cls) { // (C, H, W)
        return gradient(image, cls, nn::ReluGradient::Guided);
    }
    std::vector<float> deconvnet(std::span<const float> image, int32_t cls) { // (C, H, W)
        return gradient(image, cls, nn::ReluGradient::Deconvnet);
    }
    // `layer` empty: default_cam_layer.
    GradCam grad_cam(std::span<const float> image, int32_t cls, const std::string& layer = {});
    // Guided backprop times the Grad-CAM map, per channel: (C, H, W).
    std::vector<float> guided_grad_cam(std::span<const float> image, int32_t cls, const std::string& layer = {});
    // score(image) - score(image with the patch covered), averaged over the
    // patches covering each pixel (0 where none does): (H, W).
    std::vector<float> occlusion(std::span<const float> image, int32_t cls, const OcclusionOptions& options = {});

    nn::Model& model() const { return model_; }

private:
    // d score / d input for n images (each its class) through one program
    // per (rule, batch), in chunks of at most kMaxBatch.
    std::vector<float> gradients(std::span<const float> images, std::span<const int32_t> classes,
                                 nn::ReluGradient rule, std::vector<float>* logits = nullptr);
    nn::ModelProgram& program(nn::ReluGradient rule, int64_t batch, const std::string& cam_layer = {});
    void check_image(std::span<const float> image, const char* method) const;
    void check_class(int32_t cls, const char* method) const;

    nn::Model& model_;
    PixelSpace pixels_;
    nn::ExecOptions exec_;
    int64_t image_size_ = 0;
    std::map<std::tuple<nn::ReluGradient, int64_t, std::string>, std::unique_ptr<nn::ModelProgram>> programs_;
};

} // namespace vkcnn::viz
