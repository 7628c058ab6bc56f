// Layer features over a dataset, nearest neighbours, k-NN accuracy and
// maximally activating patches (see features.h).
#include "vkcnn/viz/features.h"

#include "vkcnn/core/error.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/viz/pixels.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>

namespace vkcnn::viz {

namespace {

void check_images(const nn::Model& model, const data::Dataset& ds, const char* what) {
    const auto& [c, h, w] = model.options().input;
    check(ds.channels() == c && ds.height() == h && ds.width() == w, what, ": the dataset's images are (",
          ds.channels(), ", ", ds.height(), ", ", ds.width(), "), the model takes (", c, ", ", h, ", ", w, ")");
    check(ds.size() > 0, what, ": the dataset is empty");
}

// Runs every image of `ds` through eval-mode programs keeping `layer` and
// hands each batch's output (n, ...) to `take(start, n, values)`. Batches of
// `batch` and one smaller last batch on a second program.
void for_each_batch(nn::Model& model, const data::Dataset& ds, const std::string& layer, int64_t batch,
                    const std::function<void(int64_t start, int64_t n, std::span<const float> values)>& take) {
    check(batch > 0, "features of layer '", layer, "': the batch size must be positive, got ", batch);
    const int64_t full = std::min(batch, ds.size()), rest = ds.size() % full;
    std::unique_ptr<nn::ModelProgram> programs[2];
    programs[0] = model.program({.batch = full, .keep = {layer}});
    if (rest) programs[1] = model.program({.batch = rest, .keep = {layer}});
    const size_t image = static_cast<size_t>(ds.image_elements());
    for (int64_t start = 0; start < ds.size(); start += full) {
        const int64_t n = std::min(full, ds.size() - start);
        nn::ModelProgram& p = *programs[n == full ? 0 : 1];
        p.set_input(ds.images().subspan(static_cast<size_t>(start) * image, static_cast<size_t>(n) * image));
        p.run();
        take(start, n, p.activation(layer));
    }
}

bool higher(const Patch& a, const Patch& b) {
    if (a.value != b.value) return a.value > b.value;
    if (a.image != b.image) return a.image < b.image;
    return a.y != b.y ? a.y < b.y : a.x < b.x;
}

} // namespace

std::string penultimate_layer(const nn::Model& model) {
    graph::Graph g;
    nn::BuildContext ctx(g, false);
    const auto& [c, h, w] = model.options().input;
    const graph::ValueId input = g.input("input", Shape{1, c, h, w});
    model.build(ctx, input);
    std::optional<graph::ValueId> feeds;
    for (size_t i = 0; i < g.node_count(); ++i)
        if (g.node(i).op == graph::Op::linear) feeds = g.node(i).inputs[0];
    check(feeds.has_value(), "penultimate_layer: the model has no Linear layer (layers: ", model.layer_paths(), ")");
    if (*feeds == input) return "input";
    // The last path naming the value: a layer that passes its input on
    // unchanged (eval-mode dropout) is the one right before the Linear.
    std::optional<std::string> path;
    for (const nn::BuildContext::Layer& l : ctx.layers())
        if (l.value == *feeds) path = l.path;
    check(path.has_value(), "penultimate_layer: the last Linear's input '", g.value(*feeds).name,
          "' is not the output of a layer of the model");
    return *path;
}

Features features(nn::Model& model, const data::Dataset& ds, const FeatureOptions& options) {
    check_images(model, ds, "features");
    Features f;
    f.layer = options.layer.empty() ? penultimate_layer(model) : options.layer;
    f.n = ds.size();
    for_each_batch(model, ds, f.layer, options.batch, [&](int64_t start, int64_t n, std::span<const float> values) {
        if (f.values.empty()) {
            f.dims = static_cast<int64_t>(values.size()) / n;
            f.values.resize(static_cast<size_t>(f.n * f.dims));
        }
        std::copy(values.begin(), values.end(), f.values.begin() + start * f.dims);
    });
    return f;
}

// Squared distances in double from `query` to every row but `exclude`,
// then the k smallest, ties by index.
std::vector<Neighbour> nearest_squared(std::span<const float> points, int64_t dims, std::span<const float> query,
                                       int64_t k, int64_t exclude) {
    const int64_t n = static_cast<int64_t>(points.size()) / dims;
    std::vector<Neighbour> all;
    all.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        if (i == exclude) continue;
        const float* p = points.data() + i * dims;
        double d2 = 0;
        for (int64_t j = 0; j < dims; ++j) {
            const double d = static_cast<double>(p[j]) - static_cast<double>(query[static_cast<size_t>(j)]);
            d2 += d * d;
        }
        all.push_back({i, d2});
    }
    const auto closer = [](const Neighbour& a, const Neighbour& b) {
        return a.distance < b.distance || (a.distance == b.distance && a.index < b.index);
    };
    const size_t m = static_cast<size_t>(std::min<int64_t>(k, static_cast<int64_t>(all.size())));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(m), all.end(), closer);
    all.resize(m);
    return all;
}

void check_points(std::span<const float> points, int64_t dims, const char* what) {
    check(dims > 0, what, ": points need at least one dimension, got ", dims);
    check(points.size() % static_cast<size_t>(dims) == 0, what, ": ", points.size(),
          " values are not a whole number of points of ", dims, " dimensions");
    const auto bad = std::find_if(points.begin(), points.end(), [](float v) { return !std::isfinite(v); });
    check(bad == points.end(), what, ": point ", (bad - points.begin()) / dims, " has a non-finite coordinate (",
          *(bad == points.end() ? points.begin() : bad), ")");
}

// Highest activation first; equal ones in dataset order, then by position.
std::vector<Neighbour> nearest(std::span<const float> points, int64_t dims, std::span<const float> query, int64_t k,
                               int64_t exclude) {
    check_points(points, dims, "nearest");
    check(static_cast<int64_t>(query.size()) == dims, "nearest: the query has ", query.size(),
          " values, the points have ", dims, " dimensions");
    check(std::all_of(query.begin(), query.end(), [](float v) { return std::isfinite(v); }),
          "nearest: the query has a non-finite coordinate");
    check(k > 0, "nearest: k must be positive, got ", k);
    std::vector<Neighbour> found = nearest_squared(points, dims, query, k, exclude);
    for (Neighbour& nb : found) nb.distance = std::sqrt(nb.distance);
    return found;
}

double knn_accuracy(std::span<const float> points, int64_t dims, std::span<const int32_t> labels, int64_t k,
                    cpu::ThreadPool* pool) {
    check_points(points, dims, "knn_accuracy");
    const int64_t n = static_cast<int64_t>(points.size()) / dims;
    check(static_cast<int64_t>(labels.size()) == n, "knn_accuracy: ", n, " points but ", labels.size(), " labels");
    check(k > 0 && k < n, "knn_accuracy: k must be in [1, ", n - 1, "] for ", n, " points, got ", k);
    std::vector<uint8_t> right(static_cast<size_t>(n), 0);
    const auto classify = [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            const auto row = points.subspan(i * static_cast<size_t>(dims), static_cast<size_t>(dims));
            const std::vector<Neighbour> nbs = nearest_squared(points, dims, row, k, static_cast<int64_t>(i));
            std::vector<std::pair<int32_t, int64_t>> votes; // label, count: at most k labels
            for (const Neighbour& nb : nbs) {
                const int32_t l = labels[static_cast<size_t>(nb.index)];
                auto it = std::find_if(votes.begin(), votes.end(), [&](const auto& v) { return v.first == l; });
                if (it == votes.end()) votes.push_back({l, 1});
                else ++it->second;
            }
            // votes are in order of each label's nearest neighbour, so the
            // first with the most votes wins a tie by nearness.
            const auto best = std::max_element(votes.begin(), votes.end(),
                                               [](const auto& a, const auto& b) { return a.second < b.second; });
            right[i] = best->first == labels[i];
        }
    };
    if (pool) pool->parallel_for(static_cast<size_t>(n), classify);
    else classify(0, static_cast<size_t>(n));
    int64_t correct = 0;
    for (uint8_t r : right) correct += r;
    return static_cast<double>(correct) / static_cast<double>(n);
}

std::vector<float> crop(std::span<const float> image, std::array<int64_t, 3> shape, Box box, float fill) {
    const auto& [c, h, w] = shape;
    check(static_cast<int64_t>(image.size()) == c * h * w, "crop: the image has ", image.size(), " values, (", c,
          ", ", h, ", ", w, ") needs ", c * h * w);
    check(box.width() > 0 && box.height() > 0, "crop: the box [", box.x0, ", ", box.x1, ") x [", box.y0, ", ",
          box.y1, ") is empty");
    std::vector<float> out(static_cast<size_t>(c * box.height() * box.width()), fill);
    for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = std::max<int64_t>(box.y0, 0); y < std::min(box.y1, h); ++y)
            for (int64_t x = std::max<int64_t>(box.x0, 0); x < std::min(box.x1, w); ++x)
                out[static_cast<size_t>((ch * box.height() + y - box.y0) * box.width() + x - box.x0)] =
                    image[static_cast<size_t>((ch * h + y) * w + x)];
    return out;
}

std::vector<ChannelPatches> top_patches(nn::Model& model, const data::Dataset& ds, const PatchOptions& options) {
    check_images(model, ds, "top_patches");
    check(options.k > 0, "top_patches: k must be positive, got ", options.k);
    const ReceptiveField field = receptive_field(model, options.layer);
    check(field.shape.rank() == 4, "top_patches: layer '", options.layer, "' has output ", field.shape.str(),
          "; patches need a (C, H, W) output");
    const int64_t channels = field.shape[1], oh = field.shape[2], ow = field.shape[3];
    std::vector<ChannelPatches> out;
    if (options.channels.empty())
        for (int64_t ch = 0; ch < channels; ++ch) out.push_back({ch, {}});
    for (int64_t ch : options.channels) {
        check(ch >= 0 && ch < channels, "top_patches: channel ", ch, " is not in layer '", options.layer,
              "', which has ", channels, " channels");
        out.push_back({ch, {}});
    }
    const size_t k = static_cast<size_t>(options.k);
    for_each_batch(model, ds, options.layer, options.batch, [&](int64_t start, int64_t n, std::span<const float> act) {
        for (ChannelPatches& cp : out)
            for (int64_t i = 0; i < n; ++i)
                for (int64_t y = 0; y < oh; ++y)
                    for (int64_t x = 0; x < ow; ++x) {
                        const float v = act[static_cast<size_t>(((i * channels + cp.channel) * oh + y) * ow + x)];
                        const Patch p{start + i, y, x, v, {}, {}};
                        std::vector<Patch>& top = cp.patches;
                        if (std::isnan(v) || (top.size() == k && !higher(p, top.back()))) continue;
                        top.insert(std::upper_bound(top.begin(), top.end(), p, higher), p);
                        if (top.size() > k) top.pop_back();
                    }
    });
    const auto& input = model.options().input;
    const float black = PixelSpace{ds.normalization()}.lo();
    for (ChannelPatches& cp : out)
        for (Patch& p : cp.patches) {
            const Unit unit{cp.channel, p.y, p.x};
            p.box = input_box(field, input, unit);
            p.crop = crop(ds.image(p.image), input, field_box(field, input, unit), black);
        }
    return out;
}

} // namespace vkcnn::viz
