// Receptive fields against the support of d unit / d input, a layer's
// features over a dataset against a double-precision forward pass of
// LeNet-5 (and Vulkan against the CPU), nearest neighbours and k-NN
// accuracy against brute force, neighbours in feature space beside pixel
// space on the trained LeNet-5, and maximally activating patches against a
// full sort of a layer's activations.
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/viz/features.h"
#include "vkcnn/viz/pixels.h"
#include "vkcnn/viz/receptive_field.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/trained.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// Weights made positive: with a positive input every pre-activation is
// positive, so every ReLU passes its gradient and every tap of a window
// contributes — the support of d unit / d input is then the whole field
// (max pooling excepted, which passes one tap: see the test).
void make_weights_positive(nn::Model& model) {
    nn::StateDict w = model.weights();
    for (auto& [name, v] : w)
        for (float& x : v) x = std::abs(x) + 0.01f;
    model.load_weights(w);
}

// The bounding box of the input pixels where any sample's gradient is nonzero
// (inputs (batch, 1, H, W)); empty when there are none.
viz::Box support(const std::vector<float>& grad, int64_t batch, int64_t h, int64_t w) {
    viz::Box b{w, h, 0, 0};
    for (int64_t n = 0; n < batch; ++n)
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
                if (grad[static_cast<size_t>((n * h + y) * w + x)] != 0.0f) {
                    b.x0 = std::min(b.x0, x), b.y0 = std::min(b.y0, y);
                    b.x1 = std::max(b.x1, x + 1), b.y1 = std::max(b.y1, y + 1);
                }
    return b;
}

// For each unit: the support of d unit / d input over `batch` random positive
// inputs (each sample its own; the union covers every tap a max pool may pick)
// equals the computed box clipped to the image — it lies within the box and
// touches its four edges.
void check_fields(nn::Model& model, const std::string& layer, const std::vector<viz::Unit>& units, int64_t batch) {
    const auto& input = model.options().input;
    const viz::ReceptiveField field = viz::receptive_field(model, layer);
    auto program = model.program({.batch = batch, .gradient = nn::GradientOptions{.of = layer}});
    program->set_input(uniform(static_cast<size_t>(batch * input[0] * input[1] * input[2]), 5, 0.1f, 1.0f));
    const Shape out = program->shape(layer); // (batch, C, H, W)
    for (const viz::Unit& u : units) {
        CAPTURE(layer);
        CAPTURE(u.channel);
        CAPTURE(u.y);
        CAPTURE(u.x);
        std::vector<float> seed(static_cast<size_t>(out.elements()), 0.0f);
        for (int64_t n = 0; n < batch; ++n)
            seed[static_cast<size_t>(((n * out[1] + u.channel) * out[2] + u.y) * out[3] + u.x)] = 1.0f;
        program->seed(seed);
        program->run();
        const viz::Box got = support(program->gradient("input"), batch, input[1], input[2]);
        const viz::Box want = viz::input_box(field, input, u);
        CAPTURE(want.x0);
        CAPTURE(want.y0);
        CAPTURE(want.x1);
        CAPTURE(want.y1);
        CHECK(got == want);
    }
}

// LeNet-5's layers 0..10 in double from its weights, per image (1, 28, 28):
// the reference for the features. Returns layer "10" (84 values).
std::vector<double> lenet5_penultimate(const nn::StateDict& w, std::span<const float> image) {
    const auto conv = [&](const std::vector<double>& x, int64_t cin, int64_t h, const std::string& name, int64_t cout,
                          int64_t pad) {
        const std::vector<float>& k = w.at(name + ".weight");
        const std::vector<float>& b = w.at(name + ".bias");
        const int64_t oh = h + 2 * pad - 4;
        std::vector<double> y(static_cast<size_t>(cout * oh * oh));
        for (int64_t o = 0; o < cout; ++o)
            for (int64_t i = 0; i < oh; ++i)
                for (int64_t j = 0; j < oh; ++j) {
                    double s = b[static_cast<size_t>(o)];
                    for (int64_t c = 0; c < cin; ++c)
                        for (int64_t di = 0; di < 5; ++di)
                            for (int64_t dj = 0; dj < 5; ++dj) {
                                const int64_t yi = i + di - pad, xj = j + dj - pad;
                                if (yi < 0 || yi >= h || xj < 0 || xj >= h) continue;
                                s += static_cast<double>(k[static_cast<size_t>(((o * cin + c) * 5 + di) * 5 + dj)]) *
                                     x[static_cast<size_t>((c * h + yi) * h + xj)];
                            }
                    y[static_cast<size_t>((o * oh + i) * oh + j)] = std::max(s, 0.0); // with its ReLU
                }
        return y;
    };
    const auto pool = [](const std::vector<double>& x, int64_t c, int64_t h) {
        const int64_t oh = h / 2;
        std::vector<double> y(static_cast<size_t>(c * oh * oh));
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t i = 0; i < oh; ++i)
                for (int64_t j = 0; j < oh; ++j) {
                    double m = -1e300;
                    for (int64_t d = 0; d < 4; ++d)
                        m = std::max(m, x[static_cast<size_t>((ch * h + 2 * i + d / 2) * h + 2 * j + d % 2)]);
                    y[static_cast<size_t>((ch * oh + i) * oh + j)] = m;
                }
        return y;
    };
    const auto linear = [&](const std::vector<double>& x, const std::string& name, size_t out) {
        const std::vector<float>& k = w.at(name + ".weight");
        const std::vector<float>& b = w.at(name + ".bias");
        std::vector<double> y(out);
        for (size_t o = 0; o < out; ++o) {
            double s = b[o];
            for (size_t i = 0; i < x.size(); ++i) s += static_cast<double>(k[o * x.size() + i]) * x[i];
            y[o] = std::max(s, 0.0);
        }
        return y;
    };
    std::vector<double> x(image.begin(), image.end());
    x = pool(conv(x, 1, 28, "0", 6, 2), 6, 28);
    x = pool(conv(x, 6, 14, "3", 16, 0), 16, 10);
    return linear(linear(x, "7", 120), "9", 84);
}

data::Dataset first_test_digits(int64_t n) {
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    return mnist_test().subset(idx);
}

} // namespace

TEST_CASE("viz/receptive_field: LeNet-5's fields by the formula, boxes clipped, bad units refused") {
    cpu::ThreadPool pool(1);
    nn::Model model(nn::lenet5(), {}, nullptr, &pool);
    const std::vector<viz::ReceptiveField> fields = viz::receptive_fields(model);
    REQUIRE(fields.size() == model.layers().size() + 1);
    CHECK(fields[0].path == "input");
    // size' = size + (k - 1) jump, start' = start - pad jump, jump' = jump stride:
    // conv 5 pad 2 -> (5, 1, -2); ReLU; pool 2 -> (6, 2, -2); conv 5 -> (14, 2, -2); ReLU; pool 2 -> (16, 4, -2).
    const auto field = [&](const char* path) { return viz::receptive_field(model, path); };
    const std::pair<const char *, viz::FieldAxis> want[] = {{"0", {5, 1, -2}},  {"1", {5, 1, -2}},  {"2", {6, 2, -2}},
                                                            {"3", {14, 2, -2}}, {"4", {14, 2, -2}}, {"5", {16, 4, -2}}};
    for (const auto& [path, axis] : want) {
        CAPTURE(path);
        const viz::ReceptiveField f = field(path);
        CHECK(!f.whole);
        CHECK((f.y.size == axis.size && f.y.jump == axis.jump && f.y.start == axis.start));
        CHECK((f.x.size == axis.size && f.x.jump == axis.jump && f.x.start == axis.start));
    }
    for (const char* path : {"6", "7", "10", "11"}) CHECK(field(path).whole); // after Flatten
    const std::array<int64_t, 3> in{1, 28, 28};
    CHECK(viz::field_box(field("5"), in, {3, 4, 1}) == viz::Box{2, 14, 18, 30});
    CHECK(viz::input_box(field("5"), in, {3, 4, 1}) == viz::Box{2, 14, 18, 28});
    CHECK(viz::input_box(field("10"), in, {83, 0, 0}) == viz::Box{0, 0, 28, 28});
    CHECK_THROWS_WITH(viz::input_box(field("5"), in, {16, 0, 0}),
                      doctest::Contains("layer '5': unit (channel 16, y 0, x 0) is outside its output (1, 16, 5, 5)"));
    CHECK_THROWS_WITH(viz::receptive_field(model, "12"),
                      doctest::Contains("'12' is not a layer of the model (input, 0, 1"));
}

TEST_CASE("viz/receptive_field: LeNet-5's conv and pool fields are the support of d unit / d input") {
    cpu::ThreadPool pool(2);
    nn::Model model(nn::lenet5(), {.seed = 3}, nullptr, &pool);
    make_weights_positive(model);
    // Interior units (the whole field inside the image) and border ones (clipped by the padding).
    check_fields(model, "0", {{0, 10, 13}, {5, 0, 0}, {2, 27, 3}}, 1);
    check_fields(model, "1", {{1, 12, 12}}, 1);
    // Max pooling passes one tap per window: 64 random inputs reach every edge
    // row and column of two pooling levels (a miss per edge has chance (3/4)^64).
    check_fields(model, "2", {{3, 6, 7}, {0, 0, 13}}, 64);
    check_fields(model, "3", {{4, 5, 5}, {15, 9, 0}}, 64);
    check_fields(model, "5", {{7, 2, 2}, {1, 0, 4}}, 64);
}

TEST_CASE("viz/receptive_field: a residual block's field is the union of its branches (resnet_small)") {
    cpu::ThreadPool pool(2);
    nn::Model model(nn::resnet_small(), {.seed = 4}, nullptr, &pool);
    make_weights_positive(model); // batch norm's running statistics (0, 1) keep the signs
    // Block "4": body conv 3 s2 + conv 3 on the stem's and block 3's (7, 1, -3)
    // gives (13, 2, -6); the 1x1 s2 shortcut (7, 2, -3) lies inside it.
    const viz::ReceptiveField body = viz::receptive_field(model, "4.body"),
                              shortcut = viz::receptive_field(model, "4.shortcut");
    const viz::ReceptiveField block = viz::receptive_field(model, "4");
    CHECK(shortcut.x.size < body.x.size);
    CHECK((block.x.size == body.x.size && block.x.start == body.x.start && block.x.jump == 2));
    check_fields(model, "4", {{5, 7, 6}, {0, 0, 13}}, 2);
    check_fields(model, "4.shortcut", {{2, 7, 6}}, 1);
    CHECK(viz::receptive_field(model, "6").whole == false); // global pooling over 7x7: one 7x7 window
    CHECK(viz::input_box(viz::receptive_field(model, "6"), {1, 28, 28}, {0, 0, 0}) == viz::Box{0, 0, 28, 28});
}

TEST_CASE_FIXTURE(GpuTest,
                  "viz/features: penultimate features equal a double-precision LeNet-5, on Vulkan and the CPU") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    const data::Dataset digits = first_test_digits(300);
    nn::Model cpu_model(nn::lenet5(), {}, nullptr, &pool);
    nn::Model gpu_model(nn::lenet5(), {}, dev);
    cpu_model.load_weights(trained_lenet5());
    gpu_model.load_weights(trained_lenet5());
    CHECK(viz::penultimate_layer(cpu_model) == "10");
    // Batches of 128: two full, and the last 44 on a program of their own.
    const viz::Features c = viz::features(cpu_model, digits, {.batch = 128});
    const viz::Features g = viz::features(gpu_model, digits, {.batch = 128});
    REQUIRE((c.layer == "10" && c.n == 300 && c.dims == 84 && c.values.size() == 300 * 84));
    REQUIRE((g.n == 300 && g.dims == 84));
    // Float32 through five layers whose sums have at most 400 terms: each sum is
    // within ~sqrt(400) * 2^-24 of its terms' magnitudes, far below 1e-4 of
    // the features' scale. Vulkan and the CPU sum in other orders: the same bound.
    const double scale = *std::max_element(c.values.begin(), c.values.end());
    REQUIRE(scale > 1);
    double worst_ref = 0, worst_backends = 0;
    for (int64_t i : {0, 1, 127, 128, 255, 256, 280, 299}) { // every batch, both programs
        const std::vector<double> ref = lenet5_penultimate(trained_lenet5(), digits.image(i));
        for (int64_t j = 0; j < 84; ++j)
            worst_ref = std::max(worst_ref, std::abs(ref[static_cast<size_t>(j)] - c.row(i)[static_cast<size_t>(j)]));
    }
    for (size_t e = 0; e < c.values.size(); ++e)
        worst_backends = std::max(worst_backends, std::abs(static_cast<double>(c.values[e]) - g.values[e]));
    MESSAGE("features max " << scale << "; CPU vs double reference " << worst_ref << ", Vulkan vs CPU "
                            << worst_backends);
    CHECK(worst_ref <= 1e-4 * scale);
    CHECK(worst_backends <= 1e-4 * scale);

    // Another layer by path; a model without a Linear has no penultimate layer.
    const viz::Features pooled = viz::features(cpu_model, first_test_digits(5), {.layer = "5", .batch = 2});
    CHECK((pooled.dims == 400 && pooled.n == 5));
    nn::Model no_linear(nn::Sequential(nn::Conv2d(1, 10, 28), nn::Flatten()), {}, nullptr, &pool);
    CHECK_THROWS_WITH(viz::penultimate_layer(no_linear), doctest::Contains("no Linear layer"));
    CHECK_THROWS_WITH(viz::features(cpu_model, digits, {.layer = "12"}), doctest::Contains("not a layer of the model"));
    CHECK(viz::penultimate_layer(nn::Model(nn::resnet_small(), {}, nullptr, &pool)) == "7"); // its Flatten
}

TEST_CASE("viz/features: nearest neighbours and leave-one-out k-NN accuracy against brute force") {
    // Points on a small integer grid, so that many distances tie exactly.
    const int64_t n = 200, dims = 3;
    std::vector<float> pts = uniform(static_cast<size_t>(n * dims), 17, 0.0f, 4.0f);
    for (float& v : pts) v = std::floor(v);
    std::vector<int32_t> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = pts[static_cast<size_t>(i * dims)] >= 2 ? 1 : 0;
    const auto distance = [&](int64_t i, std::span<const float> q) {
        double s = 0;
        for (int64_t c = 0; c < dims; ++c)
            s += std::pow(pts[static_cast<size_t>(i * dims + c)] - q[static_cast<size_t>(c)], 2);
        return std::sqrt(s);
    };
    for (int64_t qi : {0, 7, 199}) {
        const std::span<const float> q(pts.data() + qi * dims, static_cast<size_t>(dims));
        std::vector<int64_t> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), int64_t{0});
        order.erase(order.begin() + qi);
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t a, int64_t b) { return distance(a, q) < distance(b, q); });
        const std::vector<viz::Neighbour> got = viz::nearest(pts, dims, q, 12, qi);
        REQUIRE(got.size() == 12);
        for (size_t m = 0; m < got.size(); ++m) {
            CHECK(got[m].index == order[m]);
            CHECK(got[m].distance == doctest::Approx(distance(order[m], q)));
        }
    }
    CHECK(viz::nearest(pts, dims, std::span<const float>(pts.data(), 3), 500).size() == 200); // k capped
    // The accuracy by hand: majority of the 5 nearest, a tie to the nearest's label.
    int64_t right = 0;
    for (int64_t i = 0; i < n; ++i) {
        const auto nbs = viz::nearest(pts, dims, std::span<const float>(pts.data() + i * dims, 3), 5, i);
        int votes[2] = {0, 0};
        for (const auto& nb : nbs) ++votes[labels[static_cast<size_t>(nb.index)]];
        right += (votes[1] > votes[0] ? 1 : 0) == labels[static_cast<size_t>(i)];
    }
    cpu::ThreadPool pool(2);
    const double acc = viz::knn_accuracy(pts, dims, labels, 5);
    CHECK(acc == doctest::Approx(static_cast<double>(right) / n));
    CHECK(viz::knn_accuracy(pts, dims, labels, 5, &pool) == acc);
    CHECK(acc > 0.8); // the label is a function of the first coordinate
    // On a line 0, 1, 3, 10 labelled 0, 0, 1, 1, 2-NN: 0 and 1 see one vote
    // each and take their nearest's label 0 (right), 3 sees 1 and 0 (wrong),
    // 10 sees 3 and 1, a tie its nearest, 3, decides (right).
    const std::vector<float> line{0, 1, 3, 10};
    const std::vector<int32_t> two{0, 0, 1, 1};
    CHECK(viz::knn_accuracy(line, 1, two, 2) == doctest::Approx(0.75));
    CHECK_THROWS_WITH(viz::knn_accuracy(pts, dims, labels, 200), doctest::Contains("k must be in [1, 199]"));
    CHECK_THROWS_WITH(viz::nearest(pts, 7, std::span<const float>(pts.data(), 7), 1),
                      doctest::Contains("not a whole number of points"));
}

TEST_CASE("viz/features: neighbours of test digits share their class more often in feature space than in pixel space") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    nn::Model model(nn::lenet5(), {}, nullptr, &pool);
    model.load_weights(trained_lenet5());
    const data::Dataset digits = first_test_digits(1000);
    const viz::Features f = viz::features(model, digits);
    const auto same_class = [&](std::span<const float> points, int64_t dims) {
        int64_t same = 0, total = 0;
        for (int64_t q = 0; q < 100; ++q) {
            const auto nbs = viz::nearest(
                points, dims, points.subspan(static_cast<size_t>(q * dims), static_cast<size_t>(dims)), 5, q);
            for (const viz::Neighbour& nb : nbs) same += digits.label(nb.index) == digits.label(q), ++total;
        }
        return static_cast<double>(same) / static_cast<double>(total);
    };
    const double in_features = same_class(f.values, f.dims);
    const double in_pixels = same_class(digits.images(), digits.image_elements());
    MESSAGE("5 nearest of 100 test digits among 1000 of the same class: " << in_features * 100
                                                                           << "% in feature space, " << in_pixels * 100
                                                                           << "% in pixel space");
    CHECK(in_features > in_pixels);
    CHECK(in_features >= 0.95);
}

TEST_CASE("viz/features: maximally activating patches are the top of a full sort, cropped to the field") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    nn::Model model(nn::lenet5(), {}, nullptr, &pool);
    model.load_weights(trained_lenet5());
    const data::Dataset digits = first_test_digits(150);
    const std::vector<viz::ChannelPatches> top =
        viz::top_patches(model, digits, {.layer = "4", .channels = {0, 9}, .k = 6, .batch = 64});
    REQUIRE(top.size() == 2);
    // The reference: the whole layer in one batch, every (image, y, x) sorted.
    auto program = model.program({.batch = 150, .keep = {"4"}});
    program->set_input(digits.images());
    program->run();
    const std::vector<float> act = program->activation("4"); // (150, 16, 10, 10)
    const viz::ReceptiveField field = viz::receptive_field(model, "4");
    const float black = viz::PixelSpace{digits.normalization()}.lo();
    for (const viz::ChannelPatches& cp : top) {
        CAPTURE(cp.channel);
        struct Candidate {
            float v;
            int64_t i, y, x;
        };
        std::vector<Candidate> all;
        for (int64_t i = 0; i < 150; ++i)
            for (int64_t y = 0; y < 10; ++y)
                for (int64_t x = 0; x < 10; ++x)
                    all.push_back({act[static_cast<size_t>(((i * 16 + cp.channel) * 10 + y) * 10 + x)], i, y, x});
        std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) { return a.v > b.v; });
        REQUIRE(cp.patches.size() == 6);
        for (size_t m = 0; m < 6; ++m) {
            const viz::Patch& p = cp.patches[m];
            CHECK((p.image == all[m].i && p.y == all[m].y && p.x == all[m].x && p.value == all[m].v));
            // The crop is the field (14 x 14 at jump 2, from -2): the image's pixels inside, black outside.
            REQUIRE(p.crop.size() == 14 * 14);
            const int64_t y0 = 2 * p.y - 2, x0 = 2 * p.x - 2;
            CHECK(p.box == viz::Box{std::max<int64_t>(x0, 0), std::max<int64_t>(y0, 0), std::min<int64_t>(x0 + 14, 28),
                                    std::min<int64_t>(y0 + 14, 28)});
            const auto image = digits.image(p.image);
            for (int64_t dy = 0; dy < 14; ++dy)
                for (int64_t dx = 0; dx < 14; ++dx) {
                    const int64_t y = y0 + dy, x = x0 + dx;
                    const bool inside = y >= 0 && y < 28 && x >= 0 && x < 28;
                    CHECK(p.crop[static_cast<size_t>(dy * 14 + dx)] ==
                          (inside ? image[static_cast<size_t>(y * 28 + x)] : black));
                }
        }
        CHECK(field.y.size == 14);
    }
    CHECK_THROWS_WITH(viz::top_patches(model, digits, {.layer = "7"}),
                      doctest::Contains("patches need a (C, H, W) output"));
    CHECK_THROWS_WITH(viz::top_patches(model, digits, {.layer = "4", .channels = {16}}),
                      doctest::Contains("channel 16 is not in layer '4', which has 16 channels"));
}
