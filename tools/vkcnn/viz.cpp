// `vkcnn viz`: the visualisation and adversarial toolkit (src/viz) from the
// command line, one subcommand per method, with `vkcnn predict`'s
// conventions: a checkpoint, --model, --dataset, --data, --backend, the
// image as --image FILE or --index N, and --out for what is drawn.
#include "viz.h"

#include "common.h"

#include "vkcnn/core/error.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/viz/attribution.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

namespace vkcnn::cli {

namespace {

const CLI::Validator kCount = whole_number(1, "POSITIVE");
const CLI::Validator kOptional = whole_number(0, "NONNEGATIVE");
const CLI::Validator kPositive = finite_number(0, false, "a finite number > 0", "POSITIVE");
const CLI::Validator kNonNegative = finite_number(0, true, "a finite number >= 0", "NONNEGATIVE");

// What options a method takes, beside the checkpoint and the model's.
enum Needs : unsigned {
    kImage = 1,   // --image / --index
    kClass = 2,   // --class
    kLayer = 4,   // --layer
    kTestSet = 8, // --limit
};

struct Method {
    const char* name;
    const char* help;
    unsigned needs;
    const char* out; // the default --out
};

// Every method of issue #11, in its order.
constexpr Method kMethods[] = {
    {"filters", "First-layer filters (a convolution weight) as images", 0, "filters.png"},
    {"activations", "Every layer's output for one image, channel tiles in a grid", kImage, "activations.png"},
    {"patches", "Maximally activating test patches of a layer's channels, cropped to their receptive field",
     kLayer | kTestSet, "patches.png"},
    {"neighbours", "Nearest test images in feature space beside pixel space", kImage | kLayer | kTestSet,
     "neighbours.png"},
    {"embed", "PCA or t-SNE of the penultimate features, a scatter plot by class (.svg or .png)", kLayer | kTestSet,
     "embed.svg"},
    {"saliency", "Saliency: max over channels of |d score / d x| (Simonyan 2013)", kImage | kClass, "saliency.png"},
    {"gradient-x-input", "Gradient x input", kImage | kClass, "gradient-x-input.png"},
    {"smoothgrad", "SmoothGrad: saliency averaged over noisy copies", kImage | kClass, "smoothgrad.png"},
    {"integrated-gradients", "Integrated Gradients from a black baseline, with the completeness error",
     kImage | kClass, "integrated-gradients.png"},
    {"guided-backprop", "Guided backpropagation", kImage | kClass, "guided-backprop.png"},
    {"deconvnet", "Deconvnet", kImage | kClass, "deconvnet.png"},
    {"grad-cam", "Grad-CAM on the last convolutional maps (or --layer)", kImage | kClass | kLayer, "grad-cam.png"},
    {"guided-grad-cam", "Guided Grad-CAM", kImage | kClass | kLayer, "guided-grad-cam.png"},
    {"occlusion", "Occlusion sensitivity: the score's drop with a patch covered", kImage | kClass, "occlusion.png"},
    {"class-model", "Class model visualisation by gradient ascent from a zero image (--class, default all)", kClass,
     "class-model.png"},
    {"deepdream", "DeepDream on a layer, with octaves", kImage | kLayer, "deepdream.png"},
    {"unit", "Feature visualisation of a layer's units by gradient ascent", kLayer, "unit.png"},
    {"style", "Texture synthesis from noise by matching the image's Gram matrices", kImage | kLayer, "style.png"},
    {"fgsm", "FGSM adversarial example (--epsilon, pixel units)", kImage, "fgsm.png"},
    {"pgd", "PGD adversarial example (--epsilon, --steps, --step, --random-start)", kImage, "pgd.png"},
    {"targeted", "Targeted attack: the image read as --class (default every class)", kImage | kClass, "targeted.png"},
    {"robustness", "Test accuracy against --epsilons of FGSM or PGD, a table and a plot (.svg)", kTestSet,
     "robustness.svg"},
    {"confusion", "Confusion matrix of the test set (.png heat map or .svg with counts)", kTestSet, "confusion.png"},
    {"misclassified", "The most confidently misclassified test digits with their top-3", kTestSet,
     "misclassified.png"},
    {"curves", "Training curves from `vkcnn train --log FILE` (.svg)", 0, "curves.svg"},
};

bool is(const VizArgs& a, const char* name) { return a.method == name; }

} // namespace

CLI::App* add_viz(CLI::App& app, VizArgs& a) {
    std::string help = "Visualise and attack a trained network; methods:";
    for (const Method& m : kMethods) help += cat(" ", m.name);
    auto* viz = app.add_subcommand("viz", help);
    viz->require_subcommand(1);
    for (const Method& m : kMethods) {
        auto* s = viz->add_subcommand(m.name, m.help);
        const std::string name = m.name;
        s->callback([&a, name] { a.method = name; });
        s->add_option("--out", a.out, cat("Output file (default ", m.out, ")"));
        if (name == "curves") {
            s->add_option("log", a.checkpoint, "The CSV `vkcnn train --log` wrote")->required();
            continue;
        }
        s->add_option("checkpoint", a.checkpoint, "Checkpoint file (safetensors)")->required();
        s->add_option("--model", a.model, "lenet5, resnet or mobilenet")->capture_default_str();
        s->add_option("--dataset", a.dataset, "mnist or fashion-mnist")->capture_default_str();
        s->add_option("--data", a.data_dir, "Folder holding mnist/ and fashion-mnist/")->capture_default_str();
        s->add_option("--backend", a.backend, "vulkan or cpu")->capture_default_str();
        s->add_option("--threads", a.threads, "CPU threads (0: all)")->check(kOptional);
        if (m.needs & kImage) {
            auto* image = s->add_option("--image", a.image, "A PNG (as `vkcnn predict --image` takes it)");
            s->add_option("--index", a.index, "A test-set sample instead")->excludes(image)->check(kOptional);
            s->add_flag("--preprocess", a.preprocess, "Preprocess a 28x28 image as a drawn digit too")->needs(image);
        }
        if (m.needs & kClass)
            s->add_option("--class", a.cls, name == "targeted" ? "The target class (default: each class)"
                                            : name == "class-model" ? "The class (default: each class)"
                                                                    : "The class explained (default: the predicted one)")
                ->check(kOptional);
        if (m.needs & kLayer) s->add_option("--layer", a.layer, "Layer path (as `--layer 3`; default: the method's)");
        if (m.needs & kTestSet)
            s->add_option("--limit", a.limit, "Use the first N test samples only (0: all)")->check(kOptional);
        s->add_option("--seed", a.seed, "Seed of the method's random draws")->check(kOptional);
        if (name == "filters") {
            s->add_option("--layer", a.layer, "The convolution weight (default 0.weight)");
            s->add_flag("--shared-range", a.shared_range, "One symmetric range for every filter");
            s->add_option("--scale", a.scale, "Pixels per weight (default 16)")->check(kCount);
        }
        if (name == "activations") {
            s->add_flag("--shared-range", a.shared_range, "One range per layer instead of per channel");
            s->add_option("--scale", a.scale, "Pixels per value (default 4)")->check(kCount);
        }
        if (name != "filters" && name != "activations" && name != "embed" && name != "robustness")
            s->add_option("--scale", a.scale, "Pixels per image pixel (default: the method's)")->check(kCount);
        if (name == "patches" || name == "unit")
            s->add_option("--channels", a.channels, "Channels (default: the first 8)")->delimiter(',');
        if (name == "patches" || name == "neighbours")
            s->add_option("--k", a.k, "Patches or neighbours per row (default 8)")->check(kCount);
        if (name == "embed") s->add_option("--method", a.embedding, "pca or tsne")->capture_default_str();
        if (name == "misclassified") s->add_option("--count", a.count, "Digits shown (default 16)")->check(kCount);
        if (name == "smoothgrad") {
            s->add_option("--samples", a.samples, "Noisy copies")->check(kCount)->capture_default_str();
            s->add_option("--sigma", a.sigma, "Noise sigma, a fraction of the pixel range")->check(kPositive)
                ->capture_default_str();
        }
        if (name == "integrated-gradients" || name == "class-model" || name == "deepdream" || name == "unit" ||
            name == "style" || name == "pgd" || name == "robustness" || name == "targeted")
            s->add_option("--steps", a.steps, "Steps (default: the method's)")->check(kCount);
        if (name == "occlusion") {
            s->add_option("--patch", a.patch, "Patch side, pixels")->check(kCount)->capture_default_str();
            s->add_option("--stride", a.stride, "Patch stride, pixels")->check(kCount)->capture_default_str();
        }
        if (name == "grad-cam" || name == "saliency" || name == "occlusion")
            s->add_option("--alpha", a.alpha, "Opacity of the map over the image")->check(CLI::Range(0.0, 1.0))
                ->capture_default_str();
        if (name == "deepdream") s->add_option("--octaves", a.octaves, "Octaves")->check(kCount)->capture_default_str();
        if (name == "class-model" || name == "deepdream" || name == "unit" || name == "style" || name == "pgd" ||
            name == "targeted")
            s->add_option("--step", a.step, "Step size, pixel units (default: the method's)")->check(kPositive);
        if (name == "fgsm" || name == "pgd" || name == "targeted")
            s->add_option("--epsilon", a.epsilon, "L-inf radius, pixel units (default: fgsm 0.1, pgd 0.3, targeted 1)")
                ->check(kNonNegative);
        if (name == "pgd") s->add_flag("--random-start", a.random_start, "Start from a random point in the ball");
        if (name == "robustness") {
            s->add_option("--attack", a.attack, "fgsm or pgd")->capture_default_str();
            s->add_option("--epsilons", a.epsilons, "Epsilons, pixel units")->delimiter(',')->check(kNonNegative);
        }
    }
    return viz;
}

VizContext::VizContext(const VizArgs& a) : args(a), norm_(normalization_of(a.dataset)) {
    check(a.dataset == "mnist" || a.dataset == "fashion-mnist", "unknown dataset '", a.dataset,
          "'; datasets: mnist, fashion-mnist");
    const nn::Sequential net = nn::model_by_name(a.model);
    check(a.image.empty() || a.index < 0, "give --image or --index, not both");
    dev_ = open_device(a.backend);
    pool_ = std::make_unique<cpu::ThreadPool>(a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency()));
    model_ = std::make_unique<nn::Model>(net, nn::ModelOptions{}, dev_.get(), pool_.get());
    doing(cat("reading ", a.checkpoint));
    model_->load_checkpoint(a.checkpoint);
}

VizContext::~VizContext() = default;

const data::Dataset& VizContext::test() {
    if (!test_) test_ = first_samples(load_dataset(args.data_dir, args.dataset, data::Split::Test), args.limit);
    return *test_;
}

void VizContext::load_image() {
    if (!image_.empty()) return;
    if (!args.image.empty()) {
        const std::vector<float> pixels = load_image_file();
        image_ = viz::PixelSpace{norm_}.to_model(pixels);
        what_ = args.image;
    } else {
        check(args.index >= 0, args.method, ": give --image FILE.png or --index N");
        const data::Dataset& t = test();
        check(args.index < t.size(), "--index ", args.index, " is outside the test set (0..", t.size() - 1, ")");
        const auto img = t.image(args.index);
        image_.assign(img.begin(), img.end());
        label_ = t.label(args.index);
        what_ = cat(args.dataset, " test sample ", args.index, " (label ", *label_, ")");
    }
    const std::vector<float> logits = model_->predict(image_, 1);
    probabilities_ = viz::probabilities(logits);
    predicted_ = static_cast<int32_t>(std::max_element(probabilities_.begin(), probabilities_.end()) - probabilities_.begin());
}

std::vector<float> VizContext::load_image_file() const {
    const auto in = input();
    check(in[0] == 1 && in[1] == 28 && in[2] == 28, "--image: the model takes (", in[0], ", ", in[1], ", ", in[2],
          ") images; image files are read as 28x28 grey");
    return cli::load_image(args.image, args.dataset, args.preprocess);
}

const std::vector<float>& VizContext::image() {
    load_image();
    return image_;
}
const std::string& VizContext::what() {
    load_image();
    return what_;
}
std::optional<int32_t> VizContext::label() {
    load_image();
    return label_;
}
int32_t VizContext::predicted() {
    load_image();
    return predicted_;
}
const std::vector<float>& VizContext::probabilities() {
    load_image();
    return probabilities_;
}

int32_t VizContext::explained_class() {
    load_image();
    if (args.cls < 0) return predicted_;
    check_class(args.cls, "--class");
    return args.cls;
}

void VizContext::check_class(int32_t cls, const char* option) const {
    const auto classes = static_cast<int32_t>(model_->options().classes);
    check(cls >= 0 && cls < classes, option, " ", cls, " is outside the model's classes (0..", classes - 1, ")");
}

void VizContext::check_layer(const std::string& layer) const {
    const auto& layers = model_->layers();
    const bool known = layer == "input" || std::any_of(layers.begin(), layers.end(),
                                                       [&](const nn::LayerInfo& l) { return l.path == layer; });
    check(known, "--layer ", layer, ": ", args.model, " has no such layer; layers: ", model_->layer_paths());
}

viz::Picture image_picture(const viz::PixelSpace& pixels, std::span<const float> image, std::array<int64_t, 3> shape) {
    const auto h = static_cast<uint32_t>(shape[1]), w = static_cast<uint32_t>(shape[2]);
    const std::vector<float> p = pixels.to_pixels(image.subspan(0, size_t{h} * w)); // the first channel: grey
    return viz::grey(p, h, w, viz::Range{0.0f, 1.0f});
}

void write_picture(const std::string& path, const viz::Picture& p) {
    doing(cat("writing ", path));
    viz::write_png(path, p);
    std::printf("wrote %s (%ux%u)\n", path.c_str(), p.width, p.height);
}

void write_text(const std::string& path, const std::string& text) {
    doing(cat("writing ", path));
    {
        std::ofstream f(path, std::ios::binary);
        f << text;
        f.flush();
        if (!f) {
            f.close();
            std::remove(path.c_str());
            throw Error(cat(path, ": cannot write the file"));
        }
    }
    std::printf("wrote %s\n", path.c_str());
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int viz(const VizArgs& given) {
    VizArgs a = given;
    const auto m = std::find_if(std::begin(kMethods), std::end(kMethods), [&](const Method& x) { return is(a, x.name); });
    check(m != std::end(kMethods), "viz: unknown method '", a.method, "'");
    if (a.out.empty()) a.out = m->out;
    if (is(a, "curves")) return viz_curves(a);
    VizContext c(a);
    if (is(a, "filters")) return viz_filters(c);
    if (is(a, "activations")) return viz_activations(c);
    if (is(a, "patches")) return viz_patches(c);
    if (is(a, "neighbours")) return viz_neighbours(c);
    if (is(a, "embed")) return viz_embed(c);
    if (is(a, "class-model") || is(a, "deepdream") || is(a, "unit") || is(a, "style")) return viz_optimize(c);
    if (is(a, "fgsm") || is(a, "pgd") || is(a, "targeted")) return viz_attack(c);
    if (is(a, "robustness")) return viz_robustness(c);
    if (is(a, "confusion")) return viz_confusion(c);
    if (is(a, "misclassified")) return viz_misclassified(c);
    return viz_attribution(c);
}

} // namespace vkcnn::cli
