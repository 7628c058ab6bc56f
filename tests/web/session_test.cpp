// The browser demo's session (web/session.h) natively, where the sanitizers
// see it: the trained LeNet-5 of the viz tests loaded from checkpoint bytes,
// a drawing explained, bad input refused with the session still working,
// training in slices and on the user's digits.
#include "session.h"

#include "support/data_dir.h"
#include "support/trained.h"

#include "vkcnn/core/error.h"
#include "vkcnn/data/idx.h"
#include "vkcnn/nn/models.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace vkcnn;

namespace {

std::vector<std::byte> checkpoint_bytes(const nn::StateDict& weights) {
    std::vector<io::SafeTensor> tensors;
    for (const nn::StateSpec& spec : nn::model_state(nn::lenet5(), {1, 28, 28}))
        tensors.push_back(io::SafeTensor::make<float>(spec.name, spec.shape.dims, weights.at(spec.name)));
    return io::serialize_safetensors(tensors, {{"model", "lenet5"}});
}

// Test digit i as a drawing: scaled 2x to 56x56 by pixel repetition, ink
// high in [0, 1] as the page sends it.
std::vector<float> drawing(int64_t i) {
    const std::span<const float> x = test::mnist_test().image(i);
    const data::Normalization n = test::mnist_test().normalization();
    std::vector<float> g(56 * 56, 0.0f);
    for (int y = 0; y < 56; ++y)
        for (int c = 0; c < 56; ++c)
            g[size_t(y * 56 + c)] = std::clamp(x[size_t(y / 2 * 28 + c / 2)] * n.std + n.mean, 0.0f, 1.0f);
    return g;
}

} // namespace

TEST_CASE("web/session: a drawing explained on the shipped weights and bad input refused with the session kept") {
    VKCNN_REQUIRE_MNIST();
    web::Session s(2);
    const std::vector<std::byte> bytes = checkpoint_bytes(test::trained_lenet5());
    CHECK(s.load_weights(bytes, "lenet5.safetensors").at("model") == "lenet5");
    CHECK_THROWS_WITH_AS(s.inspect(3), doctest::Contains("nothing has been drawn yet"), Error);

    int right = 0;
    for (int64_t i = 0; i < 40; ++i) {
        const std::vector<float> g = drawing(i);
        const web::Prediction p = s.predict(g, 56, 56);
        CHECK_FALSE(p.digit.empty);
        CHECK(std::abs(std::accumulate(p.probabilities.begin(), p.probabilities.end(), 0.0) - 1.0) < 1e-5);
        right += p.top == test::mnist_test().label(i);
    }
    CHECK(right >= 38);

    const std::vector<float> seven = drawing(0); // test digit 0 is a 7
    const web::Prediction before = s.predict(seven, 56, 56);
    REQUIRE(before.top == 7);
    const web::Inspection r = s.inspect(3); // "why not 3?"
    CHECK(r.cls == 3);
    REQUIRE(r.layers.size() == 12);
    CHECK(r.layers[0].shape == std::array<int64_t, 3>{6, 28, 28});
    CHECK(r.layers[11].values.size() == 10);
    CHECK(*std::max_element(r.saliency.begin(), r.saliency.end()) == 1.0f);
    CHECK(r.grad_cam.size() == 784);
    std::array<int64_t, 4> shape{};
    CHECK(s.filters(shape).size() == 150);
    CHECK(shape == std::array<int64_t, 4>{6, 1, 5, 5});
    const web::Nudge n = s.nudge(3);
    CHECK(n.top == 3);
    CHECK(n.steps > 0);
    CHECK(std::all_of(n.image.begin(), n.image.end(), [](float v) { return v >= 0 && v <= 1; }));

    // A truncated file and another model's: errors naming them, the weights kept.
    CHECK_THROWS_WITH_AS(s.load_weights(std::span(bytes).first(1000), "cut.safetensors"),
                         doctest::Contains("cut.safetensors: tensor"), Error);
    nn::StateDict other = test::trained_lenet5();
    other["0.weight"].resize(16 * 9);
    std::vector<io::SafeTensor> wrong{io::SafeTensor::make<float>("0.weight", {16, 1, 3, 3}, other["0.weight"])};
    CHECK_THROWS_WITH_AS(s.load_weights(io::serialize_safetensors(wrong), "resnet.safetensors"),
                         doctest::Contains("resnet.safetensors"), Error);
    CHECK(s.predict(seven, 56, 56).probabilities == before.probabilities);
    CHECK_THROWS_WITH_AS(s.predict(seven, 28, 28), doctest::Contains("needs 784 values, got 3136"), Error);
    CHECK_THROWS_WITH_AS(s.nearest(4), doctest::Contains("train set is not loaded"), Error);
    CHECK_THROWS_WITH_AS(s.use(web::Slot::Trained), doctest::Contains("no model is being trained"), Error);
    CHECK_THROWS_WITH_AS(s.add_example(10), doctest::Contains("label 10 is not a digit"), Error);
    CHECK(s.predict(seven, 56, 56).top == 7);
}

TEST_CASE("web/session: training in slices and fine-tuning on the user's digits") {
    VKCNN_REQUIRE_MNIST();
    web::Session s(2);
    const std::string dir = (test::data_dir() / "mnist").string();
    s.set_mnist(data::Split::Train, data::read_maybe_gzip(dir + "/train-images-idx3-ubyte"),
                data::read_maybe_gzip(dir + "/train-labels-idx1-ubyte"), "MNIST train");
    CHECK_THROWS_WITH_AS(s.start_training({.lr = -1}), doctest::Contains("learning rate must be positive"), Error);
    s.start_training({.lr = 0.05, .batch = 64, .seed = 1});
    const std::vector<float> first = s.train_steps(3);
    const web::TrainProgress p = s.train_for(50);
    CHECK(p.step > 3);
    CHECK(p.samples == int64_t(p.step) * 64);
    CHECK(p.images_per_second > 0);
    // The same seed, the same first losses.
    web::Session again(1);
    again.set_mnist(data::Split::Train, data::read_maybe_gzip(dir + "/train-images-idx3-ubyte"),
                    data::read_maybe_gzip(dir + "/train-labels-idx1-ubyte"), "MNIST train");
    again.start_training({.lr = 0.05, .batch = 64, .seed = 1});
    CHECK(again.train_steps(3) == first);

    s.use(web::Slot::Trained);
    const std::vector<float> g = drawing(0);
    s.predict(g, 56, 56);
    CHECK(s.add_example(7) == 1);
    const std::vector<float> losses = s.fine_tune(2, 0.01);
    CHECK(losses.size() == 2);
    CHECK(std::all_of(losses.begin(), losses.end(), [](float l) { return std::isfinite(l); }));
    CHECK_FALSE(s.training()); // fine-tuning ended the run
}
