// `vkcnn viz` methods that look at what the network holds and how it does:
// filters, activations, maximally activating patches, nearest neighbours,
// embeddings, the confusion matrix, the misclassified gallery and the
// training curves.
#include "viz.h"

#include "common.h"

#include "vkcnn/core/error.h"
#include "vkcnn/viz/embedding.h"
#include "vkcnn/viz/features.h"
#include "vkcnn/viz/plot.h"
#include "vkcnn/viz/reports.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace vkcnn::cli {

namespace {

std::vector<int64_t> first_channels(const VizArgs& a, int64_t available) {
    std::vector<int64_t> ch = a.channels;
    if (ch.empty())
        for (int64_t i = 0; i < std::min<int64_t>(8, available); ++i) ch.push_back(i);
    for (int64_t c : ch)
        check(c >= 0 && c < available, "--channels: channel ", c, " is outside the layer's 0..", available - 1);
    return ch;
}

// A picture with a white frame `width` pixels wide around it (marks the query in a row of results).
viz::Picture framed(const viz::Picture& p, uint32_t width, viz::Rgb8 colour) {
    viz::Picture out(p.width + 2 * width, p.height + 2 * width, colour);
    for (uint32_t y = 0; y < p.height; ++y)
        for (uint32_t x = 0; x < p.width; ++x) out.set(x + width, y + width, p.at(x, y));
    return out;
}

} // namespace

int viz_filters(VizContext& c) {
    const VizArgs& a = c.args;
    const std::string parameter = a.layer.empty() ? "0.weight" : a.layer;
    const viz::Picture p = viz::filters(c.model(), parameter, {.shared_range = a.shared_range, .scale = a.scale ? a.scale : 16});
    for (const nn::StateSpec& s : c.model().parameters())
        if (s.name == parameter) std::printf("filters of %s %s\n", parameter.c_str(), s.shape.str().c_str());
    write_picture(a.out, p);
    return 0;
}

int viz_activations(VizContext& c) {
    const VizArgs& a = c.args;
    const std::vector<viz::LayerPicture> layers = viz::layer_pictures(
        c.model(), c.image(), {.shared_range = a.shared_range, .scale = a.scale ? a.scale : 4});
    std::printf("%s: class %d (%.2f%%)\n", c.what().c_str(), c.predicted(),
                100.0 * static_cast<double>(c.probabilities()[static_cast<size_t>(c.predicted())]));
    // One picture: the layers top to bottom, 6 pixels apart.
    std::vector<viz::Picture> rows;
    uint32_t y = 0;
    for (const viz::LayerPicture& l : layers) {
        std::printf("  %-6s %-16s rows %u..%u\n", l.path.c_str(), l.shape.str().c_str(), y, y + l.picture.height - 1);
        y += l.picture.height + 6;
        rows.push_back(l.picture);
    }
    write_picture(a.out, viz::stack(rows, 6));
    return 0;
}

int viz_patches(VizContext& c) {
    const VizArgs& a = c.args;
    const std::string layer = a.layer.empty() ? "3" : a.layer;
    c.check_layer(layer);
    const Shape shape = c.model().program({.batch = 1})->shape(layer);
    check(shape.rank() == 4, "--layer ", layer, ": its output is ", shape.str(), "; patches need a (C, H, W) map");
    const viz::PatchOptions o{.layer = layer, .channels = first_channels(a, shape[1]), .k = a.k ? a.k : 8};
    const std::vector<viz::ChannelPatches> top = viz::top_patches(c.model(), c.test(), o);
    std::vector<viz::Picture> cells;
    size_t per_row = 0;
    for (const viz::ChannelPatches& ch : top) {
        std::printf("channel %lld:", static_cast<long long>(ch.channel));
        for (const viz::Patch& p : ch.patches) {
            std::printf(" #%lld %.3g", static_cast<long long>(p.image), static_cast<double>(p.value));
        }
        std::printf("\n");
        per_row = std::max(per_row, ch.patches.size());
    }
    // Every crop of a layer has its field's size: the first tells it.
    check(!top.empty() && !top[0].patches.empty(), "patches: no patches found");
    const viz::ReceptiveField field = viz::receptive_field(c.model(), layer);
    const std::array<int64_t, 3> crop_shape{c.input()[0], field.y.size, field.x.size};
    std::printf("receptive field of %s: %lldx%lld pixels, stride %lld\n", layer.c_str(),
                static_cast<long long>(field.y.size), static_cast<long long>(field.x.size),
                static_cast<long long>(field.y.jump));
    const uint32_t scale = a.scale ? a.scale : 4;
    for (const viz::ChannelPatches& ch : top) {
        for (size_t i = 0; i < per_row; ++i) {
            if (i < ch.patches.size()) cells.push_back(viz::upscale(image_picture(c.pixels(), ch.patches[i].crop, crop_shape), scale));
            else cells.emplace_back(1, 1, viz::kBackground);
        }
    }
    write_picture(a.out, viz::grid(cells, {.columns = static_cast<uint32_t>(per_row), .padding = 2, .background = kDigitPadding}));
    return 0;
}

int viz_neighbours(VizContext& c) {
    const VizArgs& a = c.args;
    const data::Dataset& test = c.test();
    const int64_t k = a.k ? a.k : 8;
    const viz::Features f = viz::features(c.model(), test, {.layer = a.layer});
    // The query's own features (it may be a file, not in the set).
    const data::Dataset query(test.channels(), test.height(), test.width(), test.num_classes(), c.image(), {0},
                              test.normalization());
    const viz::Features q = viz::features(c.model(), query, {.layer = f.layer});
    const int64_t self = a.image.empty() ? a.index : -1; // a test sample is not its own neighbour
    const std::vector<viz::Neighbour> by_features = viz::nearest(f.values, f.dims, q.row(0), k, self);
    const std::vector<viz::Neighbour> by_pixels = viz::nearest(test.images(), test.image_elements(), c.image(), k, self);
    std::vector<viz::Picture> cells;
    const uint32_t scale = a.scale ? a.scale : 3;
    const viz::Picture query_picture = framed(viz::upscale(image_picture(c.pixels(), c.image(), c.input()), scale), 2, {255, 255, 255});
    auto row = [&](const char* name, const std::vector<viz::Neighbour>& n) {
        std::printf("%s:", name);
        cells.push_back(query_picture);
        for (const viz::Neighbour& x : n) {
            std::printf(" #%lld (label %d, %.3g)", static_cast<long long>(x.index), test.label(x.index), x.distance);
            cells.push_back(framed(viz::upscale(image_picture(c.pixels(), test.image(x.index), c.input()), scale), 2,
                                   viz::kBackground));
        }
        std::printf("\n");
    };
    std::printf("%s: class %d; features of layer %s (%lld values)\n", c.what().c_str(), c.predicted(), f.layer.c_str(),
                static_cast<long long>(f.dims));
    row("feature space", by_features);
    row("pixel space", by_pixels);
    write_picture(a.out, viz::grid(cells, {.columns = static_cast<uint32_t>(k + 1), .padding = 2, .background = kDigitPadding}));
    return 0;
}

int viz_embed(VizContext& c) {
    const VizArgs& a = c.args;
    check(a.embedding == "pca" || a.embedding == "tsne", "--method ", a.embedding, ": expected pca or tsne");
    const data::Dataset& test = c.test();
    const viz::Features f = viz::features(c.model(), test, {.layer = a.layer});
    std::vector<float> xy;
    if (a.embedding == "pca") {
        const viz::Pca p = viz::pca_2d(f.values, f.dims);
        xy = p.points;
        std::printf("PCA of %lld features of layer %s (%lld values): variance %.4g, %.4g along the axes\n",
                    static_cast<long long>(f.n), f.layer.c_str(), static_cast<long long>(f.dims), p.variance[0],
                    p.variance[1]);
    } else {
        xy = viz::tsne_2d(f.values, f.dims, {.seed = a.seed}, &c.pool());
        std::printf("t-SNE of %lld features of layer %s (%lld values)\n", static_cast<long long>(f.n), f.layer.c_str(),
                    static_cast<long long>(f.dims));
    }
    const std::vector<int32_t> labels(test.labels().begin(), test.labels().end());
    std::printf("5-NN accuracy in 2-D: %.2f%%\n", 100.0 * viz::knn_accuracy(xy, 2, labels, 5));
    viz::ScatterPlot plot{cat(a.embedding == "pca" ? "PCA" : "t-SNE", " of layer ", f.layer, ", ", f.n, " test images"),
                          {}, {}, labels, {}};
    for (size_t i = 0; i < labels.size(); ++i) plot.x.push_back(xy[2 * i]), plot.y.push_back(xy[2 * i + 1]);
    if (ends_with(a.out, ".svg")) write_text(a.out, viz::scatter_svg(plot));
    else write_picture(a.out, viz::scatter_picture(plot));
    return 0;
}

int viz_confusion(VizContext& c) {
    const VizArgs& a = c.args;
    const nn::EvalResult r = c.model().evaluate(c.test());
    const auto classes = c.model().options().classes;
    std::printf("test accuracy %.2f%% (%lld / %lld)\n", 100.0 * r.accuracy(), static_cast<long long>(r.correct),
                static_cast<long long>(r.total));
    if (ends_with(a.out, ".svg")) write_text(a.out, viz::confusion_svg(r.confusion, classes));
    else write_picture(a.out, viz::confusion_picture(r.confusion, classes, a.scale ? a.scale : 24));
    return 0;
}

int viz_misclassified(VizContext& c) {
    const VizArgs& a = c.args;
    const data::Dataset& test = c.test();
    const std::vector<viz::Misclassified> wrong =
        viz::misclassified(c.model(), test, static_cast<size_t>(a.count ? a.count : 16));
    check(!wrong.empty(), "misclassified: every one of the ", test.size(), " test samples is classified right");
    std::printf("%zu most confident mistakes (of %lld test samples), row by row:\n", wrong.size(),
                static_cast<long long>(test.size()));
    for (const viz::Misclassified& m : wrong) std::printf("  %s\n", viz::caption(m).c_str());
    write_picture(a.out, viz::gallery(test, wrong, a.scale ? a.scale : 3, 4));
    return 0;
}

int viz_curves(const VizArgs& a) {
    check(ends_with(a.out, ".svg"), "--out ", a.out, ": training curves are written as SVG (give a .svg name)");
    doing(cat("reading ", a.checkpoint));
    std::ifstream f(a.checkpoint, std::ios::binary);
    check(f.good(), a.checkpoint, ": cannot read the training log");
    std::ostringstream text;
    text << f.rdbuf();
    const viz::TrainingLog log = viz::parse_training_log(text.str(), a.checkpoint);
    std::printf("%s: %zu steps, %zu evaluations\n", a.checkpoint.c_str(), log.train.size(), log.test.size());
    if (!log.train.empty())
        std::printf("last step %llu: loss %.4f, batch accuracy %.2f%%\n",
                    static_cast<unsigned long long>(log.train.back().step), log.train.back().loss,
                    100.0 * log.train.back().accuracy);
    if (!log.test.empty())
        std::printf("last test: loss %.4f, accuracy %.2f%%\n", log.test.back().loss, 100.0 * log.test.back().accuracy);
    write_text(a.out, viz::curves_svg(log));
    return 0;
}

} // namespace vkcnn::cli
