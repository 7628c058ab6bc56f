// Images made by gradient ascent: each objective's gradient against finite
// differences of the objective itself, the blur against a direct 2-D
// convolution, and on the trained LeNet-5 what each method promises — every
// class's model image read as its class, DeepDream raising its layer's norm,
// a unit's image exciting that unit most, a texture matching its Gram
// matrices — on the CPU backend and the Vulkan backend.
#include "vkcnn/nn/models.h"
#include "vkcnn/viz/optimize.h"

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

const viz::PixelSpace kMnist{data::kMnistNormalization};

nn::Sequential small_net() {
    return nn::Sequential(nn::Conv2d(1, 4, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(4, 6, 3),
                          nn::Tanh(), nn::Flatten(), nn::Linear(24, 5));
}
const nn::ModelOptions kSmall{.input = {1, 8, 8}, .classes = 5, .seed = 5};

// d objective / d x[i] by central differences of ImageAscent::objective, in float (step 1e-2: see program_gradcheck.h).
void check_against_differences(viz::ImageAscent& ascent, const std::vector<float>& images, const char* what) {
    const std::vector<float> g = ascent.gradient(images);
    const size_t per = images.size() / 2;
    for (size_t i : {size_t{9}, size_t{27}, size_t{36}, per + 20, per + 45}) {
        std::vector<float> x = images;
        const float h = 1e-2f;
        x[i] = images[i] + h;
        const std::vector<double> up = ascent.objective(x);
        x[i] = images[i] - h;
        const std::vector<double> down = ascent.objective(x);
        const size_t sample = i / per;
        CAPTURE(what);
        CAPTURE(i);
        CHECK(g[i] == doctest::Approx((up[sample] - down[sample]) / (2.0 * h)).epsilon(2e-2).scale(1e-2));
    }
}

struct TrainedPair {
    cpu::ThreadPool pool{2};
    nn::Model cpu, gpu;
    explicit TrainedPair(Device& dev) : cpu(nn::lenet5(), {}, pool), gpu(nn::lenet5(), {}, dev) {
        cpu.load_weights(trained_lenet5());
        gpu.load_weights(trained_lenet5());
    }
};

int64_t argmax(std::span<const float> row) { return std::max_element(row.begin(), row.end()) - row.begin(); }

} // namespace

TEST_CASE("viz/optimize: each objective's gradient equals finite differences of the objective") {
    cpu::ThreadPool pool(2);
    nn::Model m(small_net(), kSmall, pool);
    const std::vector<float> images = uniform(2 * 64, 21, 0.0f, 2.0f);
    viz::ImageAscent score(m, kMnist, {.kind = viz::Objective::Kind::ClassScore, .index = {1, 4}}, 2);
    check_against_differences(score, images, "class score");
    viz::ImageAscent channel(m, kMnist, {.kind = viz::Objective::Kind::Channel, .layer = "1", .index = {2, 0}}, 2);
    check_against_differences(channel, images, "mean of a channel");
    viz::ImageAscent unit(m, kMnist, {.kind = viz::Objective::Kind::Channel, .layer = "6", .index = {3, 3}}, 2);
    check_against_differences(unit, images, "one output of a vector layer");
    viz::ImageAscent norm(m, kMnist, {.kind = viz::Objective::Kind::LayerNorm, .layer = "4"}, 2);
    check_against_differences(norm, images, "half the squared norm of a layer");
    CHECK_THROWS_WITH(viz::ImageAscent(m, kMnist, {.kind = viz::Objective::Kind::Channel, .layer = "1", .index = {4, 0}}, 2),
                      doctest::Contains("unit 4 of layer '1' (output (2, 4, 8, 8)) is not in [0, 4)"));
    CHECK_THROWS_WITH(viz::ImageAscent(m, kMnist, {.kind = viz::Objective::Kind::ClassScore, .index = {1}}, 2),
                      doctest::Contains("1 indices (classes or channels) for a batch of 2"));
    CHECK_THROWS_WITH(viz::class_models(m, kMnist, std::vector<int32_t>{5}), doctest::Contains("class 5 is not one of"));
}

TEST_CASE("viz/optimize: the Gaussian blur equals a direct 2-D convolution with clamped edges, Gram matrices their formula") {
    const std::vector<float> image = uniform(2 * 7 * 9, 22);
    std::vector<float> blurred = image;
    const float sigma = 0.8f;
    viz::gaussian_blur(blurred, 2, 7, 9, sigma);
    const int r = 3; // ceil(3 sigma)
    double total = 0;
    for (int i = -r; i <= r; ++i) total += std::exp(-0.5 * i * i / (sigma * sigma));
    for (int c = 0; c < 2; ++c)
        for (int y = 0; y < 7; ++y)
            for (int x = 0; x < 9; ++x) {
                double s = 0;
                for (int u = -r; u <= r; ++u)
                    for (int v = -r; v <= r; ++v) {
                        const double k = std::exp(-0.5 * (u * u + v * v) / (sigma * sigma)) / (total * total);
                        s += k * image[size_t((c * 7 + std::clamp(y + u, 0, 6)) * 9 + std::clamp(x + v, 0, 8))];
                    }
                CHECK(blurred[size_t((c * 7 + y) * 9 + x)] == doctest::Approx(s).epsilon(1e-5).scale(1));
            }
    // G = F F^T / (C H W) for F = (3, 2x2).
    const std::vector<float> f{1, 2, 3, 4, 0, -1, 1, 0, 2, 2, -2, 1};
    const std::vector<double> g = viz::gram_matrix(f, Shape{1, 3, 2, 2});
    REQUIRE(g.size() == 9);
    CHECK(g[0] == doctest::Approx(30.0 / 12));
    CHECK(g[1] == doctest::Approx(1.0 / 12));
    CHECK(g[5] == doctest::Approx(-4.0 / 12));
    CHECK(g[7] == g[5]);
    CHECK(g[8] == doctest::Approx(13.0 / 12));
}

TEST_CASE_FIXTURE(GpuTest, "viz/optimize: every class's model image reads as its class on the trained LeNet-5, both backends alike") {
    VKCNN_REQUIRE_MNIST();
    TrainedPair m(dev);
    std::vector<int32_t> classes(10);
    std::iota(classes.begin(), classes.end(), 0);
    const std::vector<float> images = viz::class_models(m.cpu, kMnist, classes);
    const std::vector<float> logits = m.cpu.predict(images, 10);
    double margin = 1e30;
    for (size_t c = 0; c < 10; ++c) {
        const auto row = std::span(logits).subspan(c * 10, 10);
        CAPTURE(c);
        CHECK(argmax(row) == int64_t(c));
        float other = -1e30f;
        for (size_t k = 0; k < 10; ++k)
            if (k != c) other = std::max(other, row[k]);
        margin = std::min(margin, double(row[c] - other));
    }
    MESSAGE("class model images, 200 steps: smallest margin of the class's logit over the next " << margin);
    // The Vulkan backend takes the same steps: after a few, the images agree
    // to the gradients' float rounding (the normalised step makes it ~1e-6 of a step each).
    const viz::AscentOptions few{.steps = 4, .jitter = 0, .clip_small = 0};
    check_allclose(viz::class_models(m.gpu, kMnist, classes, few), viz::class_models(m.cpu, kMnist, classes, few), 1e-4,
                   1e-4, "class models after 4 steps, Vulkan vs CPU");
}

TEST_CASE_FIXTURE(GpuTest, "viz/optimize: DeepDream raises its layer's norm, a unit's image excites that unit most, a texture matches its Grams") {
    VKCNN_REQUIRE_MNIST();
    TrainedPair m(dev);
    const auto digit = mnist_test().image(0);
    for (nn::Model* model : {&m.cpu, &m.gpu}) {
        const viz::Dream dream = viz::deep_dream(*model, kMnist, digit, "4");
        CAPTURE(std::string(model == &m.cpu ? "cpu" : "vulkan"));
        CHECK(dream.norm_after > 1.25 * dream.norm_before);
        MESSAGE("DeepDream at layer 4: norm " << dream.norm_before << " -> " << dream.norm_after);
    }
    // Units of the first ReLU layer and of the last hidden Linear layer
    // (before its ReLU: a unit off on the start image would give no gradient):
    // each image excites its unit more than the digits of the test set do.
    for (const char* layer : {"1", "9"}) {
        const std::vector<int32_t> units{0, 1, 2, 3, 4, 5};
        const std::vector<float> images = viz::unit_images(m.cpu, kMnist, layer, units, {.l2_decay = 0, .clip_small = 0});
        viz::ImageAscent probe(m.cpu, kMnist, {.kind = viz::Objective::Kind::Channel, .layer = layer, .index = units}, 6);
        const std::vector<double> own = probe.objective(images);
        std::vector<double> digits(6, 0.0);
        for (int64_t d = 0; d < 20; ++d) {
            std::vector<float> batch;
            for (int i = 0; i < 6; ++i) batch.insert(batch.end(), mnist_test().image(d).begin(), mnist_test().image(d).end());
            const std::vector<double> v = probe.objective(batch);
            for (size_t i = 0; i < 6; ++i) digits[i] += v[i] / 20;
        }
        for (size_t i = 0; i < 6; ++i) {
            CAPTURE(layer);
            CAPTURE(i);
            // A first-layer unit that detects the dark background is near its best
            // on the digits already (unit 5: 0.68 against 0.45): a modest bar.
            CHECK(own[i] > 1.25 * std::abs(digits[i]) + 1e-3);
        }
        for (size_t i = 0; i < 6; ++i)
            MESSAGE("layer " << std::string(layer) << " unit " << i << ": " << own[i] << " on its image, " << digits[i] << " on test digits");
    }
    const viz::Texture t = viz::synthesize_texture(m.cpu, kMnist, digit, {.steps = 150});
    MESSAGE("texture synthesis: Gram loss " << t.loss_before << " -> " << t.loss_after);
    CHECK(t.loss_after < 0.25 * t.loss_before);
}
