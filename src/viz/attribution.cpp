#include "vkcnn/viz/attribution.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace vkcnn::viz {

namespace {

// The most images one gradient program takes: SmoothGrad's 50 samples and
// Integrated Gradients' 64 steps run as one batch.
constexpr int64_t kMaxBatch = 64;

// Standard normal draws (Box-Muller on SplitMix64's 53-bit uniforms): the
// same noise for the same seed in every build, the browser's included.
class Normal {
public:
    explicit Normal(uint64_t seed) : rng_(seed) {}
    double next() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double u1 = (static_cast<double>(rng_.next() >> 11) + 1.0) * 0x1p-53; // (0, 1]: log is finite
        const double u2 = static_cast<double>(rng_.next() >> 11) * 0x1p-53;
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
        has_spare_ = true;
        return r * std::cos(2.0 * std::numbers::pi * u2);
    }

private:
    data::SplitMix64 rng_;
    double spare_ = 0;
    bool has_spare_ = false;
};

} // namespace

std::vector<double> softmax(std::span<const float> logits) {
    check(!logits.empty(), "softmax: no logits");
    const double top = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double sum = 0;
    for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(static_cast<double>(logits[i]) - top);
    for (double& v : p) v /= sum;
    return p;
}

std::vector<float> probabilities(std::span<const float> logits) {
    const std::vector<double> p = softmax(logits);
    return {p.begin(), p.end()};
}

std::vector<float> max_abs_over_channels(std::span<const float> g, int64_t channels) {
    check(channels > 0 && g.size() % static_cast<size_t>(channels) == 0, "max_abs_over_channels: ", g.size(),
          " values are not ", channels, " channels");
    const size_t pixels = g.size() / static_cast<size_t>(channels);
    std::vector<float> out(pixels, 0.0f);
    for (size_t c = 0; c < static_cast<size_t>(channels); ++c)
        for (size_t p = 0; p < pixels; ++p) out[p] = std::max(out[p], std::abs(g[c * pixels + p]));
    return out;
}

std::string default_cam_layer(const nn::Model& model) {
    std::string layer;
    const std::vector<nn::LayerInfo>& layers = model.layers();
    for (size_t i = 0; i < layers.size(); ++i) {
        const Shape& s = layers[i].shape;
        if (s.rank() != 4 || s[2] <= 1 || s[3] <= 1) continue;
        layer = layers[i].path;
        if (i > 0) {
            const Shape& before = layers[i - 1].shape;
            if (before.rank() == 4 && before[1] == s[1] && before[2] > s[2]) layer = layers[i - 1].path;
        }
    }
    return layer;
}

GradCam grad_cam(std::span<const float> activation, std::span<const float> gradient, const Shape& layer,
                 int64_t height, int64_t width) {
    check(layer.rank() == 4 && layer[0] == 1, "grad_cam: the layer's output must be (1, K, h, w), got ", layer.str());
    const int64_t k = layer[1], h = layer[2], w = layer[3], hw = h * w;
    check(static_cast<int64_t>(activation.size()) == k * hw && static_cast<int64_t>(gradient.size()) == k * hw,
          "grad_cam: the activation (", activation.size(), " values) and its gradient (", gradient.size(),
          ") must both be ", layer.str());
    GradCam cam;
    cam.coarse.assign(static_cast<size_t>(hw), 0.0f);
    for (int64_t c = 0; c < k; ++c) {
        double weight = 0;
        for (int64_t p = 0; p < hw; ++p) weight += gradient[static_cast<size_t>(c * hw + p)];
        cam.channel_weights.push_back(static_cast<float>(weight / static_cast<double>(hw)));
    }
    for (int64_t p = 0; p < hw; ++p) { // the sum in double, channel by channel: the same in every build
        double v = 0;
        for (int64_t c = 0; c < k; ++c)
            v += static_cast<double>(cam.channel_weights[static_cast<size_t>(c)]) * activation[static_cast<size_t>(c * hw + p)];
        cam.coarse[static_cast<size_t>(p)] = std::max(static_cast<float>(v), 0.0f);
    }
    cam.peak = *std::max_element(cam.coarse.begin(), cam.coarse.end());
    cam.map = resample_bilinear(cam.coarse, 1, h, w, height, width);
    const auto [lo, hi] = std::minmax_element(cam.map.begin(), cam.map.end());
    const float low = *lo, range = *hi - *lo;
    for (float& v : cam.map) v = range > 0 ? (v - low) / range : 0.0f;
    return cam;
}

Explainer::Explainer(nn::Model& model, PixelSpace pixels, nn::ExecOptions exec)
    : model_(model), pixels_(pixels), exec_(exec) {
    const auto& [c, h, w] = model.options().input;
    image_size_ = c * h * w;
}

Explainer::~Explainer() = default;

void Explainer::check_image(std::span<const float> image, const char* method) const {
    const auto& [c, h, w] = model_.options().input;
    check(static_cast<int64_t>(image.size()) == image_size_, method, ": an image of ", image.size(),
          " values; the model takes (", c, ", ", h, ", ", w, ") = ", image_size_);
}

void Explainer::check_class(int32_t cls, const char* method) const {
    check(cls >= 0 && static_cast<uint32_t>(cls) < model_.options().classes, method, ": class ", cls,
          " is not one of the model's ", model_.options().classes, " classes");
}

nn::ModelProgram& Explainer::program(nn::ReluGradient rule, int64_t batch, const std::string& cam_layer) {
    auto& slot = programs_[{rule, batch, cam_layer}];
    if (!slot) {
        nn::ProgramOptions options{.batch = batch, .exec = exec_};
        options.gradient = nn::GradientOptions{.relu = rule};
        if (!cam_layer.empty()) {
            options.keep.push_back(cam_layer);
            options.gradient->wrt.push_back(cam_layer);
        }
        slot = model_.program(options);
    }
    return *slot;
}

std::vector<float> Explainer::gradients(std::span<const float> images, std::span<const int32_t> classes,
                                        nn::ReluGradient rule, std::vector<float>* logits) {
    const size_t n = classes.size(), size = static_cast<size_t>(image_size_);
    const size_t k = model_.options().classes;
    const int64_t batch = std::min<int64_t>(static_cast<int64_t>(n), kMaxBatch);
    nn::ModelProgram& p = program(rule, batch);
    std::vector<float> grad(n * size);
    if (logits) logits->resize(n * k);
    std::vector<float> chunk(static_cast<size_t>(batch) * size);
    std::vector<int32_t> chunk_classes(static_cast<size_t>(batch));
    for (size_t start = 0; start < n; start += static_cast<size_t>(batch)) {
        const size_t m = std::min(n - start, static_cast<size_t>(batch));
        // A short last chunk repeats its last image: eval mode treats each
        // sample alone, and the copies are not read back.
        for (size_t i = 0; i < static_cast<size_t>(batch); ++i) {
            const size_t from = start + std::min(i, m - 1);
            std::copy_n(images.begin() + static_cast<ptrdiff_t>(from * size), size, chunk.begin() + static_cast<ptrdiff_t>(i * size));
            chunk_classes[i] = classes[from];
        }
        p.set_input(chunk);
        p.seed_one_hot(chunk_classes);
        p.run();
        const std::vector<float> g = p.gradient("input");
        std::copy_n(g.begin(), m * size, grad.begin() + static_cast<ptrdiff_t>(start * size));
        if (logits) {
            const std::vector<float> out = p.output();
            std::copy_n(out.begin(), m * k, logits->begin() + static_cast<ptrdiff_t>(start * k));
        }
    }
    return grad;
}

std::vector<float> Explainer::logits(std::span<const float> image) {
    check_image(image, "logits");
    return model_.predict(image, 1);
}

std::vector<float> Explainer::gradient(std::span<const float> image, int32_t cls, nn::ReluGradient rule) {
    check_image(image, "gradient");
    check_class(cls, "gradient");
    return gradients(image, std::span<const int32_t>(&cls, 1), rule);
}

std::vector<float> Explainer::saliency(std::span<const float> image, int32_t cls) {
    return max_abs_over_channels(gradient(image, cls), model_.options().input[0]);
}

std::vector<float> Explainer::gradient_x_input(std::span<const float> image, int32_t cls) {
    std::vector<float> g = gradient(image, cls);
    for (size_t i = 0; i < g.size(); ++i) g[i] *= image[i];
    return g;
}

std::vector<float> Explainer::smoothgrad(std::span<const float> image, int32_t cls, const SmoothGradOptions& options) {
    check_image(image, "smoothgrad");
    check_class(cls, "smoothgrad");
    check(options.samples > 0, "smoothgrad: the number of samples must be positive, got ", options.samples);
    check(options.sigma >= 0 && std::isfinite(options.sigma), "smoothgrad: sigma must be finite and >= 0, got ",
          options.sigma);
    const size_t size = image.size(), n = static_cast<size_t>(options.samples);
    // The noise is in pixel units (a fraction of the range [0, 1]); in the model's units it is divided by std.
    const double sigma = static_cast<double>(pixels_.length(options.sigma));
    Normal normal(options.seed);
    std::vector<float> noisy(n * size);
    for (size_t s = 0; s < n; ++s)
        for (size_t i = 0; i < size; ++i)
            noisy[s * size + i] = image[i] + static_cast<float>(sigma * normal.next());
    const std::vector<int32_t> classes(n, cls);
    const std::vector<float> g = gradients(noisy, classes, nn::ReluGradient::ChainRule);
    std::vector<double> sum(size, 0.0);
    for (size_t s = 0; s < n; ++s) // in sample order: deterministic
        for (size_t i = 0; i < size; ++i) sum[i] += std::abs(static_cast<double>(g[s * size + i]));
    std::vector<float> out(size);
    for (size_t i = 0; i < size; ++i) out[i] = static_cast<float>(sum[i] / static_cast<double>(n));
    return out;
}

IntegratedGradients Explainer::integrated_gradients(std::span<const float> image, int32_t cls,
                                                    const IntegratedGradientsOptions& options) {
    check_image(image, "integrated_gradients");
    check_class(cls, "integrated_gradients");
    check(options.steps > 0, "integrated_gradients: the number of steps must be positive, got ", options.steps);
    const size_t size = image.size(), m = static_cast<size_t>(options.steps);
    std::vector<float> baseline(size, pixels_.to_model(0.0f));
    if (!options.baseline_pixels.empty()) {
        check(options.baseline_pixels.size() == size, "integrated_gradients: a baseline of ",
              options.baseline_pixels.size(), " values for an image of ", size);
        baseline = pixels_.to_model(options.baseline_pixels);
    }
    // The midpoint rule (Captum's riemann_middle): alpha = (k + 1/2) / m.
    std::vector<float> path(m * size);
    for (size_t k = 0; k < m; ++k) {
        const double alpha = (static_cast<double>(k) + 0.5) / static_cast<double>(m);
        for (size_t i = 0; i < size; ++i)
            path[k * size + i] = static_cast<float>(baseline[i] + alpha * (static_cast<double>(image[i]) - baseline[i]));
    }
    const std::vector<int32_t> classes(m, cls);
    const std::vector<float> g = gradients(path, classes, nn::ReluGradient::ChainRule);
    IntegratedGradients ig;
    ig.attribution.resize(size);
    double total = 0;
    for (size_t i = 0; i < size; ++i) {
        double mean = 0;
        for (size_t k = 0; k < m; ++k) mean += g[k * size + i];
        mean /= static_cast<double>(m);
        const double a = (static_cast<double>(image[i]) - baseline[i]) * mean;
        ig.attribution[i] = static_cast<float>(a);
        total += a;
    }
    std::vector<float> both(2 * size);
    std::copy(image.begin(), image.end(), both.begin());
    std::copy(baseline.begin(), baseline.end(), both.begin() + static_cast<ptrdiff_t>(size));
    const std::vector<float> scores = model_.predict(both, 2);
    const size_t k = model_.options().classes, c = static_cast<size_t>(cls);
    ig.score = scores[c];
    ig.baseline_score = scores[k + c];
    const double delta = ig.score - ig.baseline_score;
    ig.completeness_error = std::abs(total - delta);
    ig.relative_error = delta != 0 ? ig.completeness_error / std::abs(delta) : 0.0;
    return ig;
}

GradCam Explainer::grad_cam(std::span<const float> image, int32_t cls, const std::string& layer) {
    check_image(image, "grad_cam");
    check_class(cls, "grad_cam");
    const std::string at = layer.empty() ? default_cam_layer(model_) : layer;
    check(!at.empty(), "grad_cam: the model has no layer with a spatial map");
    const auto& [c, h, w] = model_.options().input;
    nn::ModelProgram& p = program(nn::ReluGradient::ChainRule, 1, at);
    const Shape shape = p.shape(at);
    check(shape.rank() == 4, "grad_cam: layer '", at, "' has output ", shape.str(), ", not a spatial map (N, K, h, w)");
    p.set_input(image);
    p.seed_one_hot(std::span<const int32_t>(&cls, 1));
    p.run();
    return viz::grad_cam(p.activation(at), p.gradient(at), shape, h, w);
}

std::vector<float> Explainer::guided_grad_cam(std::span<const float> image, int32_t cls, const std::string& layer) {
    const GradCam cam = grad_cam(image, cls, layer);
    std::vector<float> guided = guided_backprop(image, cls);
    const size_t pixels = cam.map.size();
    for (size_t i = 0; i < guided.size(); ++i) guided[i] *= cam.map[i % pixels];
    return guided;
}

std::vector<float> Explainer::occlusion(std::span<const float> image, int32_t cls, const OcclusionOptions& options) {
    check_image(image, "occlusion");
    check_class(cls, "occlusion");
    const auto& [c, h, w] = model_.options().input;
    check(options.patch > 0 && options.stride > 0 && options.patch <= std::min(h, w), "occlusion: patch ",
          options.patch, " and stride ", options.stride, " must be positive, the patch at most the image (", h, "x", w,
          ")");
    // Captum's windows: every position from 0 in steps of the stride that fits whole.
    std::vector<std::pair<int64_t, int64_t>> corners;
    for (int64_t y = 0; y + options.patch <= h; y += options.stride)
        for (int64_t x = 0; x + options.patch <= w; x += options.stride) corners.emplace_back(y, x);
    const size_t size = image.size(), plane = static_cast<size_t>(h * w), k = model_.options().classes;
    const float fill = pixels_.to_model(options.fill_pixel);
    const double base = model_.predict(image, 1)[static_cast<size_t>(cls)];
    std::vector<double> sum(plane, 0.0);
    std::vector<int32_t> count(plane, 0);
    const size_t batch = static_cast<size_t>(kMaxBatch);
    std::vector<float> covered;
    for (size_t start = 0; start < corners.size(); start += batch) {
        const size_t m = std::min(batch, corners.size() - start);
        covered.assign(m * size, 0.0f);
        for (size_t j = 0; j < m; ++j) {
            float* x = covered.data() + j * size;
            std::copy(image.begin(), image.end(), x);
            const auto [y0, x0] = corners[start + j];
            for (int64_t ch = 0; ch < c; ++ch)
                for (int64_t y = y0; y < y0 + options.patch; ++y)
                    for (int64_t xx = x0; xx < x0 + options.patch; ++xx) x[static_cast<size_t>((ch * h + y) * w + xx)] = fill;
        }
        const std::vector<float> scores = model_.predict(covered, static_cast<int64_t>(m));
        for (size_t j = 0; j < m; ++j) {
            const double drop = base - scores[j * k + static_cast<size_t>(cls)];
            const auto [y0, x0] = corners[start + j];
            for (int64_t y = y0; y < y0 + options.patch; ++y)
                for (int64_t xx = x0; xx < x0 + options.patch; ++xx) {
                    sum[static_cast<size_t>(y * w + xx)] += drop;
                    ++count[static_cast<size_t>(y * w + xx)];
                }
        }
    }
    std::vector<float> out(plane, 0.0f);
    for (size_t i = 0; i < plane; ++i)
        if (count[i]) out[i] = static_cast<float>(sum[i] / count[i]);
    return out;
}

} // namespace vkcnn::viz
