#include "vkcnn/viz/optimize.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>

namespace vkcnn::viz {

namespace {

// Circular shift of each (C, H, W) image by (dy, dx): jitter, and its inverse with (-dy, -dx).
void roll(std::span<float> images, int64_t planes, int64_t h, int64_t w, int64_t dy, int64_t dx) {
    std::vector<float> plane(static_cast<size_t>(h * w));
    for (int64_t p = 0; p < planes; ++p) {
        float* at = images.data() + p * h * w;
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
                plane[static_cast<size_t>(((y + dy + h) % h) * w + (x + dx + w) % w)] = at[y * w + x];
        std::copy(plane.begin(), plane.end(), at);
    }
}

// x += scale * g / rms(g), image by image.
void normalised_step(std::span<float> x, std::span<const float> g, size_t image_size, float scale) {
    for (size_t start = 0; start < x.size(); start += image_size) {
        double sum = 0;
        for (size_t i = start; i < start + image_size; ++i) sum += static_cast<double>(g[i]) * g[i];
        const double rms = std::sqrt(sum / static_cast<double>(image_size));
        if (rms == 0) continue; // nothing to follow: the image stays
        const float k = static_cast<float>(scale / rms);
        for (size_t i = start; i < start + image_size; ++i) x[i] += k * g[i];
    }
}

int64_t draw_shift(data::SplitMix64& rng, int32_t jitter) {
    return jitter > 0 ? static_cast<int64_t>(rng.below(2 * static_cast<uint64_t>(jitter) + 1)) - jitter : 0;
}

} // namespace

void gaussian_blur(std::span<float> images, int64_t channels, int64_t height, int64_t width, float sigma) {
    check(sigma >= 0 && std::isfinite(sigma), "gaussian_blur: sigma must be finite and >= 0, got ", sigma);
    if (sigma == 0) return;
    const int64_t radius = static_cast<int64_t>(std::ceil(3 * sigma));
    std::vector<float> k(static_cast<size_t>(2 * radius + 1));
    double total = 0;
    for (int64_t i = -radius; i <= radius; ++i)
        total += k[static_cast<size_t>(i + radius)] = static_cast<float>(std::exp(-0.5 * double(i * i) / (sigma * sigma)));
    for (float& v : k) v = static_cast<float>(v / total);
    const int64_t plane = height * width, planes = static_cast<int64_t>(images.size()) / plane;
    check(planes * plane == static_cast<int64_t>(images.size()) && planes % channels == 0, "gaussian_blur: ",
          images.size(), " values are not images of (", channels, ", ", height, ", ", width, ")");
    std::vector<float> tmp(static_cast<size_t>(plane));
    for (int64_t p = 0; p < planes; ++p) {
        float* at = images.data() + p * plane;
        for (int64_t y = 0; y < height; ++y) // rows, then columns; edges clamped
            for (int64_t x = 0; x < width; ++x) {
                float s = 0;
                for (int64_t i = -radius; i <= radius; ++i)
                    s += k[static_cast<size_t>(i + radius)] * at[y * width + std::clamp(x + i, int64_t{0}, width - 1)];
                tmp[static_cast<size_t>(y * width + x)] = s;
            }
        for (int64_t y = 0; y < height; ++y)
            for (int64_t x = 0; x < width; ++x) {
                float s = 0;
                for (int64_t i = -radius; i <= radius; ++i)
                    s += k[static_cast<size_t>(i + radius)] * tmp[static_cast<size_t>(std::clamp(y + i, int64_t{0}, height - 1) * width + x)];
                at[y * width + x] = s;
            }
    }
}

ImageAscent::ImageAscent(nn::Model& model, PixelSpace pixels, Objective objective, int64_t batch, nn::ExecOptions exec)
    : model_(model), pixels_(pixels), objective_(std::move(objective)), batch_(batch) {
    const auto& [c, h, w] = model.options().input;
    image_size_ = c * h * w;
    check(batch > 0, "ImageAscent: the batch must be positive, got ", batch);
    const bool by_class = objective_.kind == Objective::Kind::ClassScore;
    if (objective_.kind != Objective::Kind::LayerNorm)
        check(static_cast<int64_t>(objective_.index.size()) == batch, "ImageAscent: ", objective_.index.size(),
              " indices (classes or channels) for a batch of ", batch);
    nn::ProgramOptions options{.batch = batch, .exec = exec};
    options.gradient = nn::GradientOptions{.of = by_class ? "" : objective_.layer};
    if (!by_class) options.keep.push_back(objective_.layer);
    program_ = model.program(options);
    if (by_class) {
        program_->seed_one_hot(objective_.index);
    } else if (objective_.kind == Objective::Kind::Channel) {
        // d mean(channel) / d layer: 1 / (h w) on the channel's map (a vector layer: 1 on its output).
        const Shape s = program_->shape(objective_.layer);
        const int64_t channels = s[1], plane = s.rank() == 4 ? s[2] * s[3] : 1;
        std::vector<float> seed(static_cast<size_t>(s.elements()), 0.0f);
        for (int64_t i = 0; i < batch; ++i) {
            const int32_t ch = objective_.index[static_cast<size_t>(i)];
            check(ch >= 0 && ch < channels, "ImageAscent: unit ", ch, " of layer '", objective_.layer, "' (output ",
                  s.str(), ") is not in [0, ", channels, ")");
            for (int64_t p = 0; p < plane; ++p)
                seed[static_cast<size_t>((i * channels + ch) * plane + p)] = 1.0f / static_cast<float>(plane);
        }
        program_->seed(seed);
    }
}

ImageAscent::~ImageAscent() = default;

void ImageAscent::evaluate(std::span<const float> images, std::vector<double>* value, std::vector<float>* grad) {
    check(static_cast<int64_t>(images.size()) == batch_ * image_size_, "ImageAscent: ", images.size(),
          " values for ", batch_, " images of ", image_size_);
    program_->set_input(images);
    if (objective_.kind == Objective::Kind::LayerNorm) {
        // d (0.5 ||A||^2) / d A = A: the activation of this image seeds the backward run.
        program_->run();
        program_->seed(program_->activation(objective_.layer));
    }
    program_->run();
    logits_ = program_->output();
    if (value) {
        value->assign(static_cast<size_t>(batch_), 0.0);
        const size_t k = model_.options().classes;
        if (objective_.kind == Objective::Kind::ClassScore) {
            for (size_t i = 0; i < value->size(); ++i)
                (*value)[i] = logits_[i * k + static_cast<size_t>(objective_.index[i])];
        } else {
            const std::vector<float> a = program_->activation(objective_.layer);
            const Shape s = program_->shape(objective_.layer);
            const size_t per = static_cast<size_t>(s.elements() / batch_), channels = static_cast<size_t>(s[1]),
                         plane = per / channels;
            for (size_t i = 0; i < value->size(); ++i) {
                double v = 0;
                if (objective_.kind == Objective::Kind::LayerNorm) {
                    for (size_t j = 0; j < per; ++j) v += 0.5 * static_cast<double>(a[i * per + j]) * a[i * per + j];
                } else {
                    const size_t ch = static_cast<size_t>(objective_.index[i]);
                    for (size_t p = 0; p < plane; ++p) v += a[i * per + ch * plane + p];
                    v /= static_cast<double>(plane);
                }
                (*value)[i] = v;
            }
        }
    }
    if (grad) *grad = program_->gradient("input");
}

std::vector<double> ImageAscent::objective(std::span<const float> images) {
    std::vector<double> v;
    evaluate(images, &v, nullptr);
    return v;
}

std::vector<float> ImageAscent::gradient(std::span<const float> images) {
    std::vector<float> g;
    evaluate(images, nullptr, &g);
    return g;
}

void ImageAscent::run(std::vector<float>& images, const AscentOptions& o) {
    check(o.steps >= 0 && o.step >= 0 && o.l2_decay >= 0 && o.l2_decay < 1 && o.blur_every >= 0 && o.jitter >= 0 &&
              o.clip_small >= 0 && o.clip_small < 1,
          "ImageAscent: steps, step, blur_every and jitter must be >= 0, l2_decay and clip_small in [0, 1)");
    const auto& [c, h, w] = model_.options().input;
    const float lo = pixels_.lo();
    data::SplitMix64 rng(o.seed);
    std::vector<float> shifted, g;
    for (int32_t step = 0; step < o.steps; ++step) {
        const int64_t dy = draw_shift(rng, o.jitter), dx = draw_shift(rng, o.jitter);
        shifted = images;
        roll(shifted, batch_ * c, h, w, dy, dx);
        evaluate(shifted, nullptr, &g);
        roll(g, batch_ * c, h, w, -dy, -dx);
        normalised_step(images, g, static_cast<size_t>(image_size_), pixels_.length(o.step));
        for (float& x : images) x = lo + (x - lo) * (1 - o.l2_decay); // decay towards the background
        if (o.blur_every > 0 && (step + 1) % o.blur_every == 0) gaussian_blur(images, c, h, w, o.blur_sigma);
        if (o.clamp)
            for (float& x : images) x = pixels_.clamp(x);
    }
    if (o.clip_small > 0)
        for (size_t start = 0; start < images.size(); start += static_cast<size_t>(image_size_)) {
            const auto image = std::span(images).subspan(start, static_cast<size_t>(image_size_));
            float largest = 0;
            for (float x : image) largest = std::max(largest, std::abs(x - lo));
            for (float& x : image)
                if (std::abs(x - lo) < o.clip_small * largest) x = lo;
        }
}

std::vector<float> class_models(nn::Model& model, PixelSpace pixels, std::span<const int32_t> classes,
                                const AscentOptions& options, nn::ExecOptions exec) {
    check(!classes.empty(), "class_models: no class given");
    for (int32_t c : classes)
        check(c >= 0 && static_cast<uint32_t>(c) < model.options().classes, "class_models: class ", c,
              " is not one of the model's ", model.options().classes, " classes");
    const auto& [c, h, w] = model.options().input;
    const int64_t n = static_cast<int64_t>(classes.size());
    ImageAscent ascent(model, pixels, {.kind = Objective::Kind::ClassScore, .index = {classes.begin(), classes.end()}}, n,
                       exec);
    std::vector<float> images(static_cast<size_t>(n * c * h * w), pixels.lo()); // the zero image: background
    ascent.run(images, options);
    return images;
}

std::vector<float> unit_images(nn::Model& model, PixelSpace pixels, const std::string& layer,
                               std::span<const int32_t> channels, const AscentOptions& options, nn::ExecOptions exec) {
    check(!channels.empty(), "unit_images: no unit given");
    const auto& [c, h, w] = model.options().input;
    const int64_t n = static_cast<int64_t>(channels.size());
    ImageAscent ascent(model, pixels,
                       {.kind = Objective::Kind::Channel, .layer = layer, .index = {channels.begin(), channels.end()}}, n,
                       exec);
    // Uniform noise over the pixel range: from the background, or any flat
    // image, a ReLU unit that is off everywhere has no gradient to follow.
    data::SplitMix64 rng(options.seed);
    std::vector<float> images(static_cast<size_t>(n * c * h * w));
    for (float& x : images) x = pixels.to_model(static_cast<float>(static_cast<double>(rng.next() >> 11) * 0x1p-53));
    ascent.run(images, options);
    return images;
}

Dream deep_dream(nn::Model& model, PixelSpace pixels, std::span<const float> image, const std::string& layer,
                 const DreamOptions& o, nn::ExecOptions exec) {
    const auto& [c, h, w] = model.options().input;
    check(static_cast<int64_t>(image.size()) == c * h * w, "deep_dream: an image of ", image.size(),
          " values; the model takes (", c, ", ", h, ", ", w, ")");
    check(o.octaves > 0 && o.octave_scale >= 1 && o.steps >= 0 && o.step >= 0 && o.jitter >= 0,
          "deep_dream: octaves must be positive, octave_scale >= 1, steps, step and jitter >= 0");
    ImageAscent ascent(model, pixels, {.kind = Objective::Kind::LayerNorm, .layer = layer}, 1, exec);
    Dream dream{{image.begin(), image.end()}, 0, 0};
    dream.norm_before = std::sqrt(2 * ascent.objective(dream.image)[0]);
    data::SplitMix64 rng(o.seed);
    std::vector<float> shifted, g;
    for (int32_t octave = 0; octave < o.octaves; ++octave) {
        const double scale = std::pow(static_cast<double>(o.octave_scale), o.octaves - 1 - octave);
        const int64_t oh = std::max<int64_t>(1, std::lround(static_cast<double>(h) / scale)),
                      ow = std::max<int64_t>(1, std::lround(static_cast<double>(w) / scale));
        for (int32_t step = 0; step < o.steps; ++step) {
            const int64_t dy = draw_shift(rng, o.jitter), dx = draw_shift(rng, o.jitter);
            shifted = dream.image;
            roll(shifted, c, h, w, dy, dx);
            g = ascent.gradient(shifted);
            roll(g, c, h, w, -dy, -dx);
            if (oh != h || ow != w) g = resample_bilinear(resample_bilinear(g, c, h, w, oh, ow), c, oh, ow, h, w); // this octave's detail
            normalised_step(dream.image, g, dream.image.size(), pixels.length(o.step));
            for (float& x : dream.image) x = pixels.clamp(x);
        }
    }
    dream.norm_after = std::sqrt(2 * ascent.objective(dream.image)[0]);
    return dream;
}

std::vector<double> gram_matrix(std::span<const float> activation, const Shape& layer) {
    check(layer.rank() >= 2 && layer[0] == 1, "gram_matrix: the layer's output must be one sample, got ", layer.str());
    const int64_t channels = layer[1], plane = layer.elements() / channels;
    check(static_cast<int64_t>(activation.size()) == layer.elements(), "gram_matrix: ", activation.size(),
          " values for ", layer.str());
    std::vector<double> g(static_cast<size_t>(channels * channels), 0.0);
    const double n = static_cast<double>(layer.elements());
    for (int64_t i = 0; i < channels; ++i)
        for (int64_t j = i; j < channels; ++j) {
            double s = 0;
            for (int64_t p = 0; p < plane; ++p)
                s += static_cast<double>(activation[static_cast<size_t>(i * plane + p)]) * activation[static_cast<size_t>(j * plane + p)];
            g[static_cast<size_t>(i * channels + j)] = g[static_cast<size_t>(j * channels + i)] = s / n;
        }
    return g;
}

Texture synthesize_texture(nn::Model& model, PixelSpace pixels, std::span<const float> target,
                           const TextureOptions& o, nn::ExecOptions exec) {
    const auto& [c, h, w] = model.options().input;
    check(static_cast<int64_t>(target.size()) == c * h * w, "synthesize_texture: a target of ", target.size(),
          " values; the model takes (", c, ", ", h, ", ", w, ")");
    check(o.steps >= 0 && o.step >= 0, "synthesize_texture: steps and step must be >= 0");
    std::vector<std::string> layers = o.layers;
    if (layers.empty())
        for (const nn::LayerInfo& l : model.layers())
            if (l.shape.rank() == 4) layers.push_back(l.path);
    check(!layers.empty(), "synthesize_texture: the model has no spatial layer to take Gram matrices of");
    // One program per layer: the gradient of that layer's Gram loss, seeded
    // by d loss / d F = 4 / (C H W) (G - G_target) F / ||G_target||^2.
    struct Term {
        std::string layer;
        std::unique_ptr<nn::ModelProgram> program;
        Shape shape;
        std::vector<double> target;
        double scale = 0; // 1 / ||G_target||^2
    };
    std::vector<Term> terms;
    for (const std::string& layer : layers) {
        Term t{layer, model.program({.batch = 1, .keep = {layer}, .gradient = nn::GradientOptions{.of = layer}, .exec = exec}), {}, {}, 0};
        t.shape = t.program->shape(layer);
        t.program->set_input(target);
        t.program->run();
        t.target = gram_matrix(t.program->activation(layer), t.shape);
        double norm = 0;
        for (double v : t.target) norm += v * v;
        check(norm > 0, "synthesize_texture: layer '", layer, "' is all zero on the target: nothing to match");
        t.scale = 1 / norm;
        terms.push_back(std::move(t));
    }
    const auto loss_and_gradient = [&](std::span<const float> x, std::vector<float>* grad) {
        double loss = 0;
        if (grad) grad->assign(x.size(), 0.0f);
        for (Term& t : terms) {
            t.program->set_input(x);
            t.program->run();
            const std::vector<float> a = t.program->activation(t.layer);
            const std::vector<double> gm = gram_matrix(a, t.shape);
            const int64_t channels = t.shape[1], plane = t.shape.elements() / channels;
            std::vector<double> d(gm.size());
            for (size_t i = 0; i < gm.size(); ++i) {
                d[i] = gm[i] - t.target[i];
                loss += t.scale * d[i] * d[i];
            }
            if (!grad) continue;
            std::vector<float> seed(a.size(), 0.0f);
            const double k = 4.0 * t.scale / static_cast<double>(t.shape.elements());
            for (int64_t i = 0; i < channels; ++i)
                for (int64_t p = 0; p < plane; ++p) {
                    double s = 0;
                    for (int64_t j = 0; j < channels; ++j)
                        s += d[static_cast<size_t>(i * channels + j)] * a[static_cast<size_t>(j * plane + p)];
                    seed[static_cast<size_t>(i * plane + p)] = static_cast<float>(k * s);
                }
            t.program->seed(seed);
            t.program->run();
            const std::vector<float> g = t.program->gradient("input");
            for (size_t i = 0; i < g.size(); ++i) (*grad)[i] += g[i];
        }
        return loss;
    };
    Texture texture;
    data::SplitMix64 rng(o.seed);
    texture.image.resize(target.size());
    for (float& x : texture.image) x = pixels.to_model(static_cast<float>(static_cast<double>(rng.next() >> 11) * 0x1p-53));
    texture.loss_before = loss_and_gradient(texture.image, nullptr);
    std::vector<float> g;
    for (int32_t step = 0; step < o.steps; ++step) {
        loss_and_gradient(texture.image, &g);
        // Descent with a step falling linearly to 0: a fixed normalised step circles the minimum.
        const float size = o.step * static_cast<float>(o.steps - step) / static_cast<float>(o.steps);
        normalised_step(texture.image, g, texture.image.size(), -pixels.length(size));
        for (float& x : texture.image) x = pixels.clamp(x);
    }
    texture.loss_after = loss_and_gradient(texture.image, nullptr);
    return texture;
}

} // namespace vkcnn::viz
