// `vkcnn viz <method>`: what the methods' files share — the options of every
// method, the model loaded from a checkpoint on the chosen backend, the
// image to explain (a PNG or a test sample), and writing what was drawn.
// viz.cpp registers the methods; viz_<group>.cpp run them.
#pragma once

#include "vkcnn/data/dataset.h"
#include "vkcnn/nn/model.h"
#include "vkcnn/viz/picture.h"
#include "vkcnn/viz/pixels.h"
#include "vkcnn/vulkan/device.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vkcnn::cpu {
class ThreadPool;
}

namespace vkcnn::cli {

struct VizArgs {
    std::string method; // the subcommand's name
    std::string checkpoint, model = "lenet5", dataset = "mnist", data_dir = "data", backend = "vulkan", out;
    std::string image;   // --image FILE
    int64_t index = -1;  // --index N (a test sample)
    bool preprocess = false;
    int32_t cls = -1;    // --class: the class explained (default: the predicted one), or the target
    std::string layer;   // the layer (or parameter) a method looks at
    std::vector<int64_t> channels;
    int64_t limit = 0, k = 0, count = 0;
    uint32_t scale = 0; // pixels per value; 0: the method's default
    bool shared_range = false;
    std::string embedding = "pca"; // embed: pca or tsne
    // Attribution.
    int32_t samples = 50, steps = 0, patch = 6, stride = 2;
    float sigma = 0.15f, alpha = 0.5f;
    // Image optimisation and attacks.
    float step = 0, epsilon = -1;
    int32_t octaves = 3;
    bool random_start = false;
    std::string attack = "fgsm";
    std::vector<float> epsilons{0.0f, 0.05f, 0.1f, 0.15f, 0.2f, 0.25f, 0.3f};
    uint64_t seed = 0;
    unsigned threads = 0;
};

// Registers `viz` and one subcommand per method on `app`, options into `args`.
CLI::App* add_viz(CLI::App& app, VizArgs& args);
// Runs the method `args.method` names.
int viz(const VizArgs& args);

// What a method runs on: the model with the checkpoint's weights, the test
// set when it is needed, and the image the options name.
class VizContext {
public:
    explicit VizContext(const VizArgs& args);
    ~VizContext();

    const VizArgs& args;
    nn::Model& model() { return *model_; }
    cpu::ThreadPool& pool() { return *pool_; }
    viz::PixelSpace pixels() const { return {norm_}; }
    const data::Dataset& test(); // loaded on first use, --limit applied
    // --image or --index, model space (C, H, W); what() says which, for the printout.
    const std::vector<float>& image();
    const std::string& what();
    std::optional<int32_t> label(); // the test sample's, if the image is one
    // The class scores and probabilities of the image, and the class to
    // explain: --class, checked, or the predicted class.
    int32_t explained_class();
    int32_t predicted();
    const std::vector<float>& probabilities();
    std::array<int64_t, 3> input() const { return model_->options().input; }
    // Errors name the option: "--layer 7x: the model has no such layer; layers: input, 0, ...".
    void check_layer(const std::string& layer) const;
    void check_class(int32_t cls, const char* option) const;

private:
    void load_image();
    std::vector<float> load_image_file() const;
    std::unique_ptr<Device> dev_;
    std::unique_ptr<cpu::ThreadPool> pool_;
    std::unique_ptr<nn::Model> model_;
    data::Normalization norm_;
    std::optional<data::Dataset> test_;
    std::vector<float> image_, probabilities_;
    std::string what_;
    std::optional<int32_t> label_;
    int32_t predicted_ = -1;
};

// A model-space image (C, H, W) as a grey picture of its pixels ([0, 1] black to white).
viz::Picture image_picture(const viz::PixelSpace& pixels, std::span<const float> image, std::array<int64_t, 3> shape);
// Writes the PNG and prints "wrote <path> (<w>x<h>)".
void write_picture(const std::string& path, const viz::Picture& p);
// Writes text (an SVG) and prints "wrote <path>".
void write_text(const std::string& path, const std::string& text);
bool ends_with(const std::string& s, const std::string& suffix);
// Between grey digits: MNIST's black background would merge with the usual dark grey.
inline constexpr viz::Rgb8 kDigitPadding{0x80, 0x80, 0x80};

// The methods, one function each (viz_explain.cpp, viz_inspect.cpp, viz_attack.cpp).
int viz_filters(VizContext& c);
int viz_activations(VizContext& c);
int viz_patches(VizContext& c);
int viz_neighbours(VizContext& c);
int viz_embed(VizContext& c);
int viz_attribution(VizContext& c); // saliency ... occlusion: args.method says which
int viz_optimize(VizContext& c);    // class-model, deepdream, unit, style
int viz_attack(VizContext& c);      // fgsm, pgd, targeted
int viz_robustness(VizContext& c);
int viz_confusion(VizContext& c);
int viz_misclassified(VizContext& c);
int viz_curves(const VizArgs& args); // no model: a log file

} // namespace vkcnn::cli
