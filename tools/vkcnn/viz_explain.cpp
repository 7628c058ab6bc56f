// `vkcnn viz` methods that explain a decision or make images by gradient
// ascent: the attribution maps (attribution.h) drawn beside the image and
// over it, and class models, DeepDream, unit visualisation and textures
// (optimize.h).
#include "viz.h"

#include "vkcnn/core/error.h"
#include "vkcnn/viz/attribution.h"
#include "vkcnn/viz/optimize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vkcnn::cli {

namespace {

bool is(const VizArgs& a, const char* name) { return a.method == name; }

// The sum over channels of a (C, H, W) map: one signed map per pixel.
std::vector<float> channel_sum(std::span<const float> m, int64_t channels) {
    const size_t hw = m.size() / static_cast<size_t>(channels);
    std::vector<float> s(hw, 0.0f);
    for (size_t c = 0; c < static_cast<size_t>(channels); ++c)
        for (size_t i = 0; i < hw; ++i) s[i] += m[c * hw + i];
    return s;
}

// The image, the map, and the map over the image, side by side.
viz::Picture explained(VizContext& c, const viz::Picture& map) {
    const uint32_t scale = c.args.scale ? c.args.scale : 8;
    const viz::Picture image = viz::upscale(image_picture(c.pixels(), c.image(), c.input()), scale);
    const viz::Picture big = viz::upscale(map, scale);
    const viz::Picture over = viz::overlay(image, big, c.args.alpha);
    const viz::Picture row[] = {image, big, over};
    return viz::grid(row, {.columns = 3, .padding = 4, .background = kDigitPadding});
}

// (n, C, H, W) images as grey pictures in a grid.
viz::Picture image_grid(VizContext& c, std::span<const float> images, uint32_t columns = 0) {
    const auto in = c.input();
    const size_t per = static_cast<size_t>(in[0] * in[1] * in[2]);
    const uint32_t scale = c.args.scale ? c.args.scale : 4;
    std::vector<viz::Picture> cells;
    for (size_t i = 0; i * per < images.size(); ++i)
        cells.push_back(viz::upscale(image_picture(c.pixels(), images.subspan(i * per, per), in), scale));
    return viz::grid(cells, {.columns = columns, .padding = 2, .background = kDigitPadding});
}

void print_prediction(VizContext& c) {
    const int32_t p = c.predicted();
    std::printf("%s: class %d (%.2f%%)\n", c.what().c_str(), p, 100.0 * static_cast<double>(c.probabilities()[static_cast<size_t>(p)]));
}

} // namespace

int viz_attribution(VizContext& c) {
    const VizArgs& a = c.args;
    const auto in = c.input();
    const auto h = static_cast<uint32_t>(in[1]), w = static_cast<uint32_t>(in[2]);
    if (!a.layer.empty()) c.check_layer(a.layer);
    print_prediction(c);
    const int32_t cls = c.explained_class();
    std::printf("explaining class %d (score: its logit)\n", cls);
    viz::Explainer e(c.model(), c.pixels());
    const std::vector<float>& x = c.image();
    viz::Picture map;
    if (is(a, "saliency")) {
        const std::vector<float> s = e.saliency(x, cls);
        std::printf("saliency: max %.4g\n", static_cast<double>(*std::max_element(s.begin(), s.end())));
        map = viz::heat(s, h, w);
    } else if (is(a, "smoothgrad")) {
        const std::vector<float> s = e.smoothgrad(x, cls, {.sigma = a.sigma, .samples = a.samples, .seed = a.seed});
        const std::vector<float> m = viz::max_abs_over_channels(s, in[0]);
        std::printf("smoothgrad: %d samples at sigma %.3g, max %.4g\n", a.samples, static_cast<double>(a.sigma),
                    static_cast<double>(*std::max_element(m.begin(), m.end())));
        map = viz::heat(m, h, w);
    } else if (is(a, "gradient-x-input")) {
        const std::vector<float> g = channel_sum(e.gradient_x_input(x, cls), in[0]);
        double sum = 0;
        for (float v : g) sum += v;
        std::printf("gradient x input: sum %.4g (red: raises the score, blue: lowers it)\n", sum);
        map = viz::signed_heat(g, h, w);
    } else if (is(a, "integrated-gradients")) {
        const viz::IntegratedGradients ig = e.integrated_gradients(x, cls, {.steps = a.steps ? a.steps : 64});
        std::printf("integrated gradients, %d steps from a black baseline: score %.4f, baseline %.4f, "
                    "completeness error %.4g (%.3f%% of the difference)\n",
                    a.steps ? a.steps : 64, ig.score, ig.baseline_score, ig.completeness_error, 100.0 * ig.relative_error);
        map = viz::signed_heat(channel_sum(ig.attribution, in[0]), h, w);
    } else if (is(a, "guided-backprop") || is(a, "deconvnet")) {
        const std::vector<float> g = channel_sum(is(a, "deconvnet") ? e.deconvnet(x, cls) : e.guided_backprop(x, cls), in[0]);
        float m = 0;
        for (float v : g) m = std::max(m, std::fabs(v));
        std::printf("%s: max |gradient| %.4g\n", a.method.c_str(), static_cast<double>(m));
        map = viz::signed_heat(g, h, w);
    } else if (is(a, "grad-cam")) {
        const std::string layer = a.layer.empty() ? viz::default_cam_layer(c.model()) : a.layer;
        const viz::GradCam g = e.grad_cam(x, cls, layer);
        std::printf("grad-cam at layer %s: peak %.4g%s\n", layer.c_str(), static_cast<double>(g.peak),
                    g.peak > 0 ? "" : " (no positive evidence for the class there)");
        map = viz::heat(g.map, h, w, viz::Range{0.0f, 1.0f});
    } else if (is(a, "guided-grad-cam")) {
        const std::string layer = a.layer.empty() ? viz::default_cam_layer(c.model()) : a.layer;
        const std::vector<float> g = channel_sum(e.guided_grad_cam(x, cls, layer), in[0]);
        std::printf("guided grad-cam at layer %s\n", layer.c_str());
        map = viz::signed_heat(g, h, w);
    } else if (is(a, "occlusion")) {
        const std::vector<float> o = e.occlusion(x, cls, {.patch = a.patch, .stride = a.stride});
        const auto top = std::max_element(o.begin(), o.end());
        const auto at = static_cast<size_t>(top - o.begin());
        std::printf("occlusion, %dx%d patches at stride %d: the largest drop of the score %.4g at (x %zu, y %zu)\n",
                    a.patch, a.patch, a.stride, static_cast<double>(*top), at % w, at / w);
        map = viz::signed_heat(o, h, w);
    } else {
        throw Error(cat("viz: unknown method '", a.method, "'"));
    }
    write_picture(a.out, explained(c, map));
    return 0;
}

int viz_optimize(VizContext& c) {
    const VizArgs& a = c.args;
    viz::AscentOptions o;
    if (a.steps) o.steps = a.steps;
    if (a.step > 0) o.step = a.step;
    o.seed = a.seed;
    if (is(a, "class-model")) {
        std::vector<int32_t> classes;
        if (a.cls >= 0) c.check_class(a.cls, "--class"), classes.push_back(a.cls);
        else
            for (int32_t k = 0; k < static_cast<int32_t>(c.model().options().classes); ++k) classes.push_back(k);
        const std::vector<float> images = viz::class_models(c.model(), c.pixels(), classes, o);
        const std::vector<float> logits = c.model().predict(images, static_cast<int64_t>(classes.size()));
        const size_t n = c.model().options().classes;
        int reached = 0;
        for (size_t i = 0; i < classes.size(); ++i) {
            const auto row = std::span<const float>(logits).subspan(i * n, n);
            const auto top = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
            reached += top == classes[i];
            std::printf("class %d: logit %.3f, read as %d\n", classes[i], static_cast<double>(row[static_cast<size_t>(classes[i])]), top);
        }
        std::printf("%d of %zu class models read as their class after %d steps\n", reached, classes.size(), o.steps);
        write_picture(a.out, image_grid(c, images, static_cast<uint32_t>(std::min<size_t>(classes.size(), 5))));
        return 0;
    }
    const std::string layer = a.layer.empty() ? viz::default_cam_layer(c.model()) : a.layer;
    if (!is(a, "style")) c.check_layer(layer);
    if (is(a, "deepdream")) {
        viz::DreamOptions d{.octaves = a.octaves, .seed = a.seed};
        if (a.steps) d.steps = a.steps;
        if (a.step > 0) d.step = a.step;
        const viz::Dream dream = viz::deep_dream(c.model(), c.pixels(), c.image(), layer, d);
        std::printf("deepdream on layer %s, %d octaves of %d steps: ||layer output|| %.4g -> %.4g\n", layer.c_str(),
                    d.octaves, d.steps, dream.norm_before, dream.norm_after);
        std::vector<float> both(c.image());
        both.insert(both.end(), dream.image.begin(), dream.image.end());
        write_picture(a.out, image_grid(c, both, 2));
        return 0;
    }
    if (is(a, "unit")) {
        const Shape shape = c.model().program({.batch = 1})->shape(layer);
        const int64_t units = shape[1];
        std::vector<int32_t> channels;
        if (a.channels.empty())
            for (int32_t k = 0; k < std::min<int64_t>(8, units); ++k) channels.push_back(k);
        for (int64_t ch : a.channels) {
            check(ch >= 0 && ch < units, "--channels: channel ", ch, " is outside layer ", layer, "'s 0..", units - 1);
            channels.push_back(static_cast<int32_t>(ch));
        }
        const std::vector<float> images = viz::unit_images(c.model(), c.pixels(), layer, channels, o);
        std::printf("units of layer %s %s: channels", layer.c_str(), shape.str().c_str());
        for (int32_t ch : channels) std::printf(" %d", ch);
        std::printf(", %d steps of ascent each\n", o.steps);
        write_picture(a.out, image_grid(c, images, 4));
        return 0;
    }
    // style
    viz::TextureOptions t{.seed = a.seed};
    if (!a.layer.empty()) {
        c.check_layer(a.layer);
        t.layers = {a.layer};
    }
    if (a.steps) t.steps = a.steps;
    if (a.step > 0) t.step = a.step;
    const viz::Texture tex = viz::synthesize_texture(c.model(), c.pixels(), c.image(), t);
    std::printf("texture of %s, %d steps: Gram loss %.4g -> %.4g\n", c.what().c_str(), t.steps, tex.loss_before,
                tex.loss_after);
    std::vector<float> both(c.image());
    both.insert(both.end(), tex.image.begin(), tex.image.end());
    write_picture(a.out, image_grid(c, both, 2));
    return 0;
}

} // namespace vkcnn::cli
