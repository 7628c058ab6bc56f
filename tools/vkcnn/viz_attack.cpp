// `vkcnn viz` adversarial methods: FGSM, PGD and targeted examples of one
// image, and the test accuracy against epsilon (adversarial.h).
#include "viz.h"

#include "vkcnn/core/error.h"
#include "vkcnn/viz/adversarial.h"
#include "vkcnn/viz/attribution.h"
#include "vkcnn/viz/plot.h"

#include <algorithm>
#include <cstdio>

namespace vkcnn::cli {

namespace {

bool is(const VizArgs& a, const char* name) { return a.method == name; }

struct Read {
    int32_t cls;
    double p;
};
Read read_as(nn::Model& m, std::span<const float> image) {
    const std::vector<float> p = viz::probabilities(m.predict(image, 1));
    const auto top = std::max_element(p.begin(), p.end());
    return {static_cast<int32_t>(top - p.begin()), static_cast<double>(*top)};
}

viz::Picture grey_of(VizContext& c, std::span<const float> image, uint32_t scale) {
    return viz::upscale(image_picture(c.pixels(), image, c.input()), scale);
}

} // namespace

int viz_attack(VizContext& c) {
    const VizArgs& a = c.args;
    const std::vector<float>& x = c.image();
    const uint32_t scale = a.scale ? a.scale : 6;
    viz::Attack attack(c.model(), c.pixels(), 1);
    std::printf("%s: class %d (%.2f%%)\n", c.what().c_str(), c.predicted(),
                100.0 * static_cast<double>(c.probabilities()[static_cast<size_t>(c.predicted())]));
    if (is(a, "targeted")) {
        std::vector<int32_t> targets;
        if (a.cls >= 0) c.check_class(a.cls, "--class"), targets.push_back(a.cls);
        else
            for (int32_t k = 0; k < static_cast<int32_t>(c.model().options().classes); ++k) targets.push_back(k);
        viz::TargetedOptions o;
        if (a.epsilon >= 0) o.epsilon = a.epsilon;
        if (a.step > 0) o.step = a.step;
        if (a.steps) o.max_steps = a.steps;
        std::vector<float> images;
        for (size_t i = 0; i < targets.size(); ++i) images.insert(images.end(), x.begin(), x.end());
        const viz::TargetedResult r = attack.targeted(images, targets, o);
        std::vector<viz::Picture> cells;
        const size_t per = x.size();
        for (size_t i = 0; i < targets.size(); ++i) {
            std::printf("target %d: read as %d%s\n", targets[i], r.predicted[i],
                        r.steps[i] >= 0 ? cat(" after ", r.steps[i], " steps").c_str() : " (not reached)");
            cells.push_back(grey_of(c, std::span<const float>(r.images).subspan(i * per, per), scale));
        }
        std::printf("%lld of %zu targets reached within epsilon %.3g\n", static_cast<long long>(r.reached()),
                    targets.size(), static_cast<double>(o.epsilon));
        write_picture(a.out, viz::grid(cells, {.columns = static_cast<uint32_t>(std::min<size_t>(targets.size(), 5)),
                                               .padding = 2, .background = kDigitPadding}));
        return 0;
    }
    // Attacked against the test label, or the predicted class for an image file.
    const int32_t label = c.label().value_or(c.predicted());
    const int32_t labels[] = {label};
    std::vector<float> adv;
    float eps = 0;
    if (is(a, "fgsm")) {
        eps = a.epsilon >= 0 ? a.epsilon : 0.1f;
        adv = attack.fgsm(x, labels, eps);
        std::printf("FGSM at epsilon %.3g (pixel units)\n", static_cast<double>(eps));
    } else {
        viz::PgdOptions o{.epsilon = a.epsilon >= 0 ? a.epsilon : 0.3f, .random_start = a.random_start, .seed = a.seed};
        if (a.steps) o.steps = a.steps;
        if (a.step > 0) o.step = a.step;
        eps = o.epsilon;
        adv = attack.pgd(x, labels, o);
        std::printf("PGD-%d at epsilon %.3g (pixel units)%s\n", o.steps, static_cast<double>(eps),
                    o.random_start ? ", random start" : "");
    }
    const Read before = read_as(c.model(), x), after = read_as(c.model(), adv);
    std::printf("label %d: read as %d (%.2f%%) before, %d (%.2f%%) after%s\n", label, before.cls, 100.0 * before.p,
                after.cls, 100.0 * after.p, after.cls != label ? ": fooled" : ": not fooled");
    // The image, the adversarial image and the change (pixel units, 0 in the middle).
    std::vector<float> change(x.size());
    const viz::PixelSpace px = c.pixels();
    for (size_t i = 0; i < x.size(); ++i) change[i] = px.to_pixel(adv[i]) - px.to_pixel(x[i]);
    const auto in = c.input();
    const viz::Picture row[] = {grey_of(c, x, scale), grey_of(c, adv, scale),
                                viz::upscale(viz::signed_heat(std::span<const float>(change).subspan(0, size_t(in[1] * in[2])),
                                                              uint32_t(in[1]), uint32_t(in[2]), eps > 0 ? eps : 1.0f),
                                             scale)};
    write_picture(a.out, viz::grid(row, {.columns = 3, .padding = 4, .background = kDigitPadding}));
    return 0;
}

int viz_robustness(VizContext& c) {
    const VizArgs& a = c.args;
    check(ends_with(a.out, ".svg"), "--out ", a.out, ": the accuracy-vs-epsilon plot is written as SVG (give a .svg name)");
    check(a.attack == "fgsm" || a.attack == "pgd", "--attack ", a.attack, ": expected fgsm or pgd");
    check(!a.epsilons.empty(), "--epsilons: give at least one");
    viz::CurveOptions o{.epsilons = a.epsilons, .method = a.attack == "pgd" ? viz::AttackMethod::Pgd : viz::AttackMethod::Fgsm};
    if (a.steps) o.pgd.steps = a.steps;
    o.pgd.seed = a.seed;
    const viz::AccuracyCurve curve = viz::accuracy_vs_epsilon(c.model(), c.test(), o);
    std::printf("%s", viz::format_curve(curve).c_str());
    viz::Series s{viz::attack_name(curve.method), {}, {}};
    for (const viz::CurvePoint& p : curve.points) s.x.push_back(p.epsilon), s.y.push_back(p.accuracy());
    const std::string title = cat(viz::attack_name(curve.method), curve.steps > 1 ? cat("-", curve.steps) : std::string(),
                                  " on ", curve.points.empty() ? 0 : curve.points[0].total, " test images");
    write_text(a.out, viz::line_plot_svg({title, "epsilon (pixel units)", "accuracy", {s}, 0.0, 1.0, true}));
    return 0;
}

} // namespace vkcnn::cli
