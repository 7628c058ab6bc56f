// Adversarial examples on the trained LeNet-5 (tests/support/trained.h):
// FGSM against a plain double-precision reference of the whole attack
// (LeNet-5's forward and backward written as loops below, from the same
// weights), the bars on the accuracy-vs-epsilon curve, PGD and
// targeted attacks, Vulkan against the CPU backend, and the errors.
#include "vkcnn/viz/adversarial.h"

#include "vkcnn/core/error.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/trainer.h"

#include "support/data_dir.h"
#include "support/gpu.h"
#include "support/trained.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// ---- LeNet-5 in double precision: the test's oracle -------------------------
// nn::lenet5(): conv 1->6 5x5 pad 2, ReLU, max-pool 2, conv 6->16 5x5, ReLU,
// max-pool 2, flatten, linear 400->120, ReLU, 120->84, ReLU, 84->10.

using Tensor = std::vector<double>;

Tensor to_double(const std::vector<float>& v) { return Tensor(v.begin(), v.end()); }

// (C, H, W) -> (O, H + 2p - k + 1, W + 2p - k + 1), stride 1.
Tensor conv(const Tensor& x, int c, int h, int w, const Tensor& weight, const Tensor& bias, int o, int k, int pad) {
    const int oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1;
    Tensor y(static_cast<size_t>(o * oh * ow));
    for (int f = 0; f < o; ++f)
        for (int i = 0; i < oh; ++i)
            for (int j = 0; j < ow; ++j) {
                double s = bias[static_cast<size_t>(f)];
                for (int ch = 0; ch < c; ++ch)
                    for (int u = 0; u < k; ++u)
                        for (int v = 0; v < k; ++v) {
                            const int r = i + u - pad, q = j + v - pad;
                            if (r < 0 || r >= h || q < 0 || q >= w) continue;
                            s += weight[static_cast<size_t>(((f * c + ch) * k + u) * k + v)] *
                                 x[static_cast<size_t>((ch * h + r) * w + q)];
                        }
                y[static_cast<size_t>((f * oh + i) * ow + j)] = s;
            }
    return y;
}

// The gradient w.r.t. conv's input from the gradient of its output.
Tensor conv_backward(const Tensor& gy, int c, int h, int w, const Tensor& weight, int o, int k, int pad) {
    const int oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1;
    Tensor gx(static_cast<size_t>(c * h * w), 0.0);
    for (int f = 0; f < o; ++f)
        for (int i = 0; i < oh; ++i)
            for (int j = 0; j < ow; ++j) {
                const double g = gy[static_cast<size_t>((f * oh + i) * ow + j)];
                for (int ch = 0; ch < c; ++ch)
                    for (int u = 0; u < k; ++u)
                        for (int v = 0; v < k; ++v) {
                            const int r = i + u - pad, q = j + v - pad;
                            if (r < 0 || r >= h || q < 0 || q >= w) continue;
                            gx[static_cast<size_t>((ch * h + r) * w + q)] +=
                                weight[static_cast<size_t>(((f * c + ch) * k + u) * k + v)] * g;
                        }
            }
    return gx;
}

void relu(Tensor& x) {
    for (double& v : x) v = std::max(v, 0.0);
}
// torch's ReLU backward: the gradient passes where the output is > 0.
void relu_backward(Tensor& g, const Tensor& y) {
    for (size_t i = 0; i < g.size(); ++i)
        if (!(y[i] > 0)) g[i] = 0;
}

// 2x2 max-pool of (C, H, W); `from` gets each output's input index (the first maximum).
Tensor max_pool(const Tensor& x, int c, int h, int w, std::vector<size_t>& from) {
    Tensor y(static_cast<size_t>(c * (h / 2) * (w / 2)));
    from.resize(y.size());
    for (int ch = 0; ch < c; ++ch)
        for (int i = 0; i < h / 2; ++i)
            for (int j = 0; j < w / 2; ++j) {
                size_t best = static_cast<size_t>((ch * h + 2 * i) * w + 2 * j);
                for (int u = 0; u < 2; ++u)
                    for (int v = 0; v < 2; ++v) {
                        const auto at = static_cast<size_t>((ch * h + 2 * i + u) * w + 2 * j + v);
                        if (x[at] > x[best]) best = at;
                    }
                const auto out = static_cast<size_t>((ch * (h / 2) + i) * (w / 2) + j);
                y[out] = x[best];
                from[out] = best;
            }
    return y;
}

Tensor max_pool_backward(const Tensor& gy, size_t inputs, const std::vector<size_t>& from) {
    Tensor gx(inputs, 0.0);
    for (size_t i = 0; i < gy.size(); ++i) gx[from[i]] += gy[i];
    return gx;
}

// (out, in) weight.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const size_t in = x.size(), out = bias.size();
    Tensor y(bias);
    for (size_t o = 0; o < out; ++o)
        for (size_t i = 0; i < in; ++i) y[o] += weight[o * in + i] * x[i];
    return y;
}
Tensor linear_backward(const Tensor& gy, const Tensor& weight, size_t in) {
    Tensor gx(in, 0.0);
    for (size_t o = 0; o < gy.size(); ++o)
        for (size_t i = 0; i < in; ++i) gx[i] += weight[o * in + i] * gy[o];
    return gx;
}

struct ReferenceLenet5 {
    std::array<Tensor, 10> p; // 0.weight, 0.bias, 3.weight, 3.bias, 7.*, 9.*, 11.*

    explicit ReferenceLenet5(const nn::StateDict& w) {
        const char* names[] = {"0.weight", "0.bias",   "3.weight", "3.bias",    "7.weight",
                               "7.bias",   "9.weight", "9.bias",   "11.weight", "11.bias"};
        for (size_t i = 0; i < p.size(); ++i) p[i] = to_double(w.at(names[i]));
    }

    // The gradient of CE(f(x), label) w.r.t. the 28 x 28 image x.
    Tensor loss_gradient(std::span<const float> image, int32_t label) const {
        const Tensor x(image.begin(), image.end());
        std::vector<size_t> from1, from2;
        Tensor a1 = conv(x, 1, 28, 28, p[0], p[1], 6, 5, 2); // (6, 28, 28)
        relu(a1);
        const Tensor m1 = max_pool(a1, 6, 28, 28, from1);      // (6, 14, 14)
        Tensor a2 = conv(m1, 6, 14, 14, p[2], p[3], 16, 5, 0); // (16, 10, 10)
        relu(a2);
        const Tensor m2 = max_pool(a2, 16, 10, 10, from2); // (16, 5, 5) = 400
        Tensor f1 = linear(m2, p[4], p[5]);
        relu(f1);
        Tensor f2 = linear(f1, p[6], p[7]);
        relu(f2);
        const Tensor z = linear(f2, p[8], p[9]);
        // d CE / d z = softmax(z) - onehot(label).
        const double top = *std::max_element(z.begin(), z.end());
        double sum = 0;
        for (double v : z) sum += std::exp(v - top);
        Tensor g(z.size());
        for (size_t j = 0; j < z.size(); ++j)
            g[j] = std::exp(z[j] - top) / sum - (static_cast<int32_t>(j) == label ? 1 : 0);
        g = linear_backward(g, p[8], 84);
        relu_backward(g, f2);
        g = linear_backward(g, p[6], 120);
        relu_backward(g, f1);
        g = linear_backward(g, p[4], 400);
        g = max_pool_backward(g, a2.size(), from2);
        relu_backward(g, a2);
        g = conv_backward(g, 6, 14, 14, p[2], 16, 5, 0);
        g = max_pool_backward(g, a1.size(), from1);
        relu_backward(g, a1);
        return conv_backward(g, 1, 28, 28, p[0], 6, 5, 2);
    }
};

// ---- helpers ------------------------------------------------------------------

constexpr size_t kPixels = 28 * 28;

struct Digits {
    std::vector<float> images; // (n, 1, 28, 28), model space
    std::vector<int32_t> labels;
    size_t n() const { return labels.size(); }
};

// The first n test digits.
Digits first_digits(size_t n) {
    const data::Dataset& test = mnist_test();
    return {{test.images().begin(), test.images().begin() + static_cast<std::ptrdiff_t>(n * kPixels)},
            {test.labels().begin(), test.labels().begin() + static_cast<std::ptrdiff_t>(n)}};
}

viz::PixelSpace mnist_pixels() { return {data::kMnistNormalization}; }

double accuracy(const std::vector<int32_t>& predicted, const std::vector<int32_t>& labels) {
    int64_t correct = 0;
    for (size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
    return static_cast<double>(correct) / static_cast<double>(labels.size());
}

// Every adversarial pixel within `epsilon` (pixel units) of the original and in the valid range.
void check_in_ball(const std::vector<float>& adversarial, const std::vector<float>& original, float epsilon,
                   const char* what) {
    const viz::PixelSpace px = mnist_pixels();
    // One float rounding of a model-space value (|x| < 3) beyond the exact bound.
    const float slack = 1e-6f;
    size_t outside = 0;
    for (size_t i = 0; i < original.size(); ++i)
        outside += std::abs(adversarial[i] - original[i]) > px.length(epsilon) + slack || adversarial[i] < px.lo() ||
                   adversarial[i] > px.hi();
    CHECK_MESSAGE(outside == 0, what << ": " << outside << " pixels outside the ball of " << epsilon << " or [0, 1]");
}

} // namespace

TEST_CASE_FIXTURE(GpuTest,
                  "viz/adversarial: FGSM images equal a double-precision reference of the attack on both backends") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    const Digits d = first_digits(32);
    const ReferenceLenet5 reference(trained_lenet5());
    const viz::PixelSpace px = mnist_pixels();
    std::vector<Tensor> want(d.n());
    for (size_t i = 0; i < d.n(); ++i)
        want[i] = reference.loss_gradient(std::span(d.images).subspan(i * kPixels, kPixels), d.labels[i]);

    for (Device* device : {static_cast<Device*>(nullptr), &dev}) {
        CAPTURE(device != nullptr);
        auto model = trained_model(device, pool);
        viz::Attack attack(*model, px, 16); // two batches of 16
        const std::vector<float> gradient = attack.loss_gradient(d.images, d.labels);
        const float epsilon = 0.1f;
        const std::vector<float> adversarial = attack.fgsm(d.images, d.labels, epsilon);
        size_t flips = 0, zero = 0, worst_flip_pixel = 0;
        double worst_gradient_error = 0, worst_flip = 0;
        for (size_t i = 0; i < d.n(); ++i) {
            double scale = 0; // the largest |gradient| of this digit: what float rounding is relative to
            for (double g : want[i]) scale = std::max(scale, std::abs(g));
            for (size_t j = 0; j < kPixels; ++j) {
                const size_t at = i * kPixels + j;
                const double g = want[i][j];
                worst_gradient_error = std::max(worst_gradient_error, std::abs(gradient[at] - g) / scale);
                const double s = (g > 0) - (g < 0);
                // The attack in double: x + eps * sign(g), clipped to the model-space images of pixels 0 and 1.
                const double x =
                    std::clamp(double{d.images[at]} + double{px.length(epsilon)} * s, double{px.lo()}, double{px.hi()});
                zero += g == 0;
                // A float pixel of |x| < 3 is within 3e-7 of its double; a sign flip moves it by eps / std = 0.32.
                if (std::abs(adversarial[at] - x) > 1e-5) {
                    ++flips;
                    if (std::abs(g) / scale > worst_flip) worst_flip = std::abs(g) / scale, worst_flip_pixel = at;
                }
            }
        }
        MESSAGE(std::string(device ? "Vulkan" : "CPU")
                << ": " << flips << " of " << d.n() * kPixels
                << " pixels differ from the reference; worst |g| / max |g| there " << worst_flip << " (pixel "
                << worst_flip_pixel << "); " << zero << " reference gradients are exactly 0; worst gradient error "
                << worst_gradient_error << " of the digit's largest");
        // float gradients: a few thousand products per pixel summed in float,
        // so an error of ~1e-6 of the digit's largest gradient; 1e-4 leaves margin.
        CHECK(worst_gradient_error < 1e-4);
        // A pixel may only differ where the reference gradient is within that rounding of 0.
        CHECK(worst_flip < 1e-4);
        CHECK(flips <= d.n() * kPixels / 1000);
        // The attack changes the network's mind on most digits: the test is not vacuous.
        CHECK(accuracy(attack.classify(adversarial), d.labels) < accuracy(attack.classify(d.images), d.labels) - 0.1);
    }
}

TEST_CASE("viz/adversarial: the FGSM accuracy-vs-epsilon curve falls monotonically below the issue's bars, for any "
          "batch size") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    auto model = trained_model(nullptr, pool);
    const data::Dataset& test = mnist_test();
    // 1000 digits in batches of 192: five full batches and a partial one of 40.
    const viz::CurveOptions options{
        .epsilons = {0.0f, 0.05f, 0.1f, 0.15f, 0.2f, 0.25f, 0.3f}, .batch = 192, .limit = 1000};
    const viz::AccuracyCurve curve = viz::accuracy_vs_epsilon(*model, test, options);
    MESSAGE(viz::format_curve(curve));
    REQUIRE(curve.points.size() == options.epsilons.size());
    for (size_t i = 0; i < curve.points.size(); ++i) {
        CHECK(curve.points[i].epsilon == options.epsilons[i]);
        CHECK(curve.points[i].total == 1000);
        if (i > 0) CHECK(curve.points[i].correct < curve.points[i - 1].correct);
    }
    // At epsilon 0 the curve is the plain accuracy on those digits.
    std::vector<int64_t> first(1000);
    std::iota(first.begin(), first.end(), 0);
    const nn::EvalResult clean = model->evaluate(test.subset(first), 100);
    CHECK(curve.points[0].correct == clean.correct);
    CHECK(curve.points[4].accuracy() <= 0.45); // epsilon 0.2
    CHECK(curve.points[6].accuracy() <= 0.10); // epsilon 0.3

    // Each digit's attack is its own: another batch size (a partial batch
    // of 1 at the end) gives the same counts.
    const viz::AccuracyCurve other =
        viz::accuracy_vs_epsilon(*model, test, {.epsilons = {0.1f, 0.2f}, .batch = 111, .limit = 1000});
    CHECK(other.points[0].correct == curve.points[2].correct);
    CHECK(other.points[1].correct == curve.points[4].correct);
}

TEST_CASE("viz/adversarial: the PGD curve is each epsilon's PGD over the whole subset, whatever the batch size") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    auto model = trained_model(nullptr, pool);
    // 60 digits in batches of 25 (the last one partial), random starts:
    // each point must be what one pgd() call over all 60 gives.
    const viz::PgdOptions pgd{.steps = 5, .random_start = true, .seed = 5};
    const viz::CurveOptions options{
        .epsilons = {0.0f, 0.1f, 0.2f}, .method = viz::AttackMethod::Pgd, .pgd = pgd, .batch = 25, .limit = 60};
    const viz::AccuracyCurve curve = viz::accuracy_vs_epsilon(*model, mnist_test(), options);
    const std::string table = viz::format_curve(curve);
    MESSAGE(table);
    CHECK(curve.method == viz::AttackMethod::Pgd);
    CHECK(curve.steps == 5);
    CHECK(table.starts_with("PGD-5\nepsilon  accuracy  correct/total\n"));
    viz::Attack attack(*model, mnist_pixels(), 60);
    const Digits d = first_digits(60);
    REQUIRE(curve.points.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
        viz::PgdOptions one = pgd;
        one.epsilon = options.epsilons[i];
        const double by_hand = accuracy(attack.classify(attack.pgd(d.images, d.labels, one)), d.labels);
        CAPTURE(one.epsilon);
        CHECK(curve.points[i].total == 60);
        CHECK(curve.points[i].correct == static_cast<int64_t>(std::lround(by_hand * 60)));
        CHECK(table.find(cat(curve.points[i].correct, "/60\n")) != std::string::npos);
        if (i > 0) CHECK(curve.points[i].correct < curve.points[i - 1].correct);
    }
}

TEST_CASE("viz/adversarial: PGD-40 stays in the epsilon ball and drives the accuracy to <= 1% at epsilon 0.3") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    auto model = trained_model(nullptr, pool);
    viz::Attack attack(*model, mnist_pixels(), 100);
    const Digits d = first_digits(200);
    const std::vector<float> fgsm = attack.fgsm(d.images, d.labels, 0.3f);
    const std::vector<float> pgd = attack.pgd(d.images, d.labels, {.epsilon = 0.3f, .steps = 40});
    check_in_ball(pgd, d.images, 0.3f, "PGD-40");
    const double clean = accuracy(attack.classify(d.images), d.labels);
    const double after_fgsm = accuracy(attack.classify(fgsm), d.labels);
    const double after_pgd = accuracy(attack.classify(pgd), d.labels);
    MESSAGE("200 digits at epsilon 0.3: clean " << clean << ", FGSM " << after_fgsm << ", PGD-40 " << after_pgd);
    CHECK(clean > 0.95);
    CHECK(after_pgd <= after_fgsm);
    CHECK(after_pgd <= 0.01);

    // A random start is the seed's alone: the same seed the same images for
    // another batch size, another seed other images, all inside the ball.
    const viz::PgdOptions random{.epsilon = 0.1f, .steps = 3, .random_start = true, .seed = 7};
    const std::vector<float> a =
        attack.pgd(std::span(d.images).first(30 * kPixels), std::span(d.labels).first(30), random);
    viz::Attack by_seven(*model, mnist_pixels(), 7);
    CHECK(by_seven.pgd(std::span(d.images).first(30 * kPixels), std::span(d.labels).first(30), random) == a);
    viz::PgdOptions reseeded = random;
    reseeded.seed = 8;
    const std::vector<float> b =
        attack.pgd(std::span(d.images).first(30 * kPixels), std::span(d.labels).first(30), reseeded);
    CHECK(b != a);
    const std::vector<float> original(d.images.begin(), d.images.begin() + 30 * kPixels);
    check_in_ball(a, original, 0.1f, "PGD from a random start");
    // A single step of size epsilon without a random start is FGSM.
    CHECK(attack.pgd(d.images, d.labels, {.epsilon = 0.3f, .steps = 1, .step = 0.3f}) == fgsm);
}

TEST_CASE("viz/adversarial: a targeted attack makes >= 95% of 100 digits read as a chosen other class") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    auto model = trained_model(nullptr, pool);
    viz::Attack attack(*model, mnist_pixels(), 50);
    const Digits d = first_digits(100);
    std::vector<int32_t> targets(d.n());
    for (size_t i = 0; i < d.n(); ++i)
        targets[i] = static_cast<int32_t>((d.labels[i] + 1 + i % 9) % 10); // never the label
    const viz::TargetedOptions options{.epsilon = 1.0f, .step = 0.01f, .max_steps = 200};
    const viz::TargetedResult result = attack.targeted(d.images, targets, options);
    int32_t most = 0;
    for (int32_t s : result.steps) most = std::max(most, s);
    MESSAGE(result.reached() << " of 100 digits read as their target; the slowest took " << most << " steps");
    CHECK(result.reached() >= 95);
    check_in_ball(result.images, d.images, options.epsilon, "targeted");
    // What the attack reports is what the network reads in the images it returns.
    const std::vector<int32_t> read = attack.classify(result.images);
    CHECK(read == result.predicted);
    for (size_t i = 0; i < d.n(); ++i) {
        CAPTURE(i);
        CHECK((result.steps[i] >= 0) == (read[i] == targets[i]));
        // An image stops once it reads as its target: each step moves a pixel by at most 0.01.
        if (result.steps[i] >= 0) {
            float moved = 0;
            for (size_t j = i * kPixels; j < (i + 1) * kPixels; ++j)
                moved = std::max(moved, std::abs(result.images[j] - d.images[j]));
            CHECK(moved <= mnist_pixels().length(0.01f * static_cast<float>(result.steps[i])) + 1e-4f);
        }
    }
    // A digit aimed at the class it already reads as stays as it is, after 0 steps.
    const viz::TargetedResult same =
        attack.targeted(std::span(d.images).first(kPixels), std::span(d.labels).first(1), options);
    CHECK(same.steps == std::vector<int32_t>{0});
    CHECK(same.images == std::vector<float>(d.images.begin(), d.images.begin() + kPixels));
}

TEST_CASE_FIXTURE(GpuTest, "viz/adversarial: Vulkan and the CPU backend give the same PGD and targeted images") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    auto on_cpu = trained_model(nullptr, pool), on_gpu = trained_model(&dev, pool);
    viz::Attack cpu_attack(*on_cpu, mnist_pixels(), 16), gpu_attack(*on_gpu, mnist_pixels(), 16);
    const Digits d = first_digits(16);
    // FGSM: a pixel may differ only where the gradient is within the
    // backends' rounding (~1e-6 of the digit's largest, see the FGSM test) of 0.
    {
        const std::vector<float> g = cpu_attack.loss_gradient(d.images, d.labels);
        const std::vector<float> a = cpu_attack.fgsm(d.images, d.labels, 0.2f),
                                 b = gpu_attack.fgsm(d.images, d.labels, 0.2f);
        size_t differ = 0, unexplained = 0;
        for (size_t i = 0; i < d.n(); ++i) {
            float scale = 0;
            for (size_t j = i * kPixels; j < (i + 1) * kPixels; ++j) scale = std::max(scale, std::abs(g[j]));
            for (size_t j = i * kPixels; j < (i + 1) * kPixels; ++j)
                if (std::abs(a[j] - b[j]) > 1e-5f) ++differ, unexplained += std::abs(g[j]) > 1e-4f * scale;
        }
        MESSAGE("FGSM at 0.2, 16 digits: " << differ << " pixels differ between Vulkan and CPU");
        CHECK(unexplained == 0);
        CHECK(differ <= a.size() / 1000);
    }
    const viz::PgdOptions pgd{.epsilon = 0.2f, .steps = 10, .random_start = true, .seed = 3};
    const std::vector<float> a = cpu_attack.pgd(d.images, d.labels, pgd), b = gpu_attack.pgd(d.images, d.labels, pgd);
    // The backends' gradients agree to ~1e-6 of each digit's largest (the
    // FGSM test's bound against double), so a step's sign differs only at
    // pixels whose gradient is within that of 0; such a pixel then sits one
    // step (0.02 here) apart and can nudge later gradients, so a few pixels
    // may differ by up to the ball's width, and the rest are equal to rounding.
    size_t differ = 0;
    for (size_t i = 0; i < a.size(); ++i) differ += std::abs(a[i] - b[i]) > 1e-5f;
    MESSAGE("PGD-10, 16 digits: " << differ << " of " << a.size() << " pixels differ between Vulkan and CPU");
    CHECK(differ <= a.size() / 500);
    CHECK(cpu_attack.classify(a) == gpu_attack.classify(b));

    std::vector<int32_t> targets(d.n());
    for (size_t i = 0; i < d.n(); ++i) targets[i] = static_cast<int32_t>((d.labels[i] + 3) % 10);
    const viz::TargetedOptions options{.step = 0.02f, .max_steps = 100};
    const viz::TargetedResult c = cpu_attack.targeted(d.images, targets, options),
                              g = gpu_attack.targeted(d.images, targets, options);
    differ = 0;
    for (size_t i = 0; i < c.images.size(); ++i) differ += std::abs(c.images[i] - g.images[i]) > 1e-5f;
    MESSAGE("targeted, 16 digits: " << c.reached() << " (CPU) and " << g.reached() << " (Vulkan) reached; " << differ
                                    << " pixels differ");
    CHECK(c.predicted == g.predicted);
    CHECK(c.steps == g.steps);
    CHECK(differ <= c.images.size() / 500);
}

TEST_CASE("viz/adversarial: adversarial training steps on the attacked batch and makes the network more robust") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    const nn::TrainerOptions sgd{.batch = 16, .optimizer = ops::SgdAttrs{.lr = 0.02, .momentum = 0.9}};
    // The step is the Trainer's on the batch with its first share replaced
    // by the attack's images, made on the weights before the step: a twin
    // doing that by hand ends bitwise where transform_batch's does.
    {
        auto model = trained_model(nullptr, pool), twin_model = trained_model(nullptr, pool);
        viz::Attack attack(*model, mnist_pixels(), 16), twin_attack(*twin_model, mnist_pixels(), 16);
        const viz::AdversarialTraining none{.share = 0.0},
            fgsm{.method = viz::AttackMethod::Fgsm, .pgd = {.epsilon = 0.1f}, .share = 1.0},
            pgd{.pgd = {.epsilon = 0.2f, .steps = 3, .random_start = true, .seed = 4}, .share = 0.5};
        const viz::AdversarialTraining* current = &none; // each step its own option
        nn::TrainerOptions options = sgd;
        options.transform_batch = [&](std::span<float> images, std::span<const int32_t> labels, uint64_t step) {
            viz::adversarial_batches(attack, *current)(images, labels, step);
        };
        nn::Trainer trainer(*model, options), twin(*twin_model, sgd);
        const Digits d = first_digits(48);
        const auto batch = [&](size_t b) {
            return std::pair(std::span(d.images).subspan(b * 16 * kPixels, 16 * kPixels),
                             std::span(d.labels).subspan(b * 16, 16));
        };
        const auto [x0, y0] = batch(0);
        const nn::StepResult r0 = trainer.step(x0, y0);
        CHECK(twin.step(x0, y0).loss == r0.loss);
        const auto [x1, y1] = batch(1);
        current = &fgsm;
        const nn::StepResult r1 = trainer.step(x1, y1);
        CHECK(twin.step(twin_attack.fgsm(x1, y1, 0.1f), y1).loss == r1.loss);
        const auto [x2, y2] = batch(2);
        viz::PgdOptions by_hand = pgd.pgd;
        by_hand.seed += twin.steps(); // 2: new random starts every step
        std::vector<float> mixed = twin_attack.pgd(x2.first(8 * kPixels), y2.first(8), by_hand);
        mixed.insert(mixed.end(), x2.begin() + 8 * kPixels, x2.end());
        current = &pgd;
        const nn::StepResult r2 = trainer.step(x2, y2);
        CHECK(twin.step(mixed, y2).loss == r2.loss);
        CHECK(model->weights() == twin_model->weights());
        CHECK(r1.loss > r0.loss); // the attacked batch is harder: the attack did something
    }

    // A short fine-tune on PGD examples (the full figure, PGD-40 at
    // 0.3 after epochs of PGD training, is in the report): PGD-10 at 0.1 on
    // 200 test digits must rise well above the undefended network's.
    const data::Dataset train = data::load_mnist((data_dir() / "mnist").string(), data::Split::Train);
    auto model = trained_model(nullptr, pool);
    viz::Attack attack(*model, mnist_pixels(), 32); // the attacked half of each batch of 64
    const Digits d = first_digits(200);
    const viz::PgdOptions probe{.epsilon = 0.1f, .steps = 10};
    const double before = accuracy(attack.classify(attack.pgd(d.images, d.labels, probe)), d.labels);
    nn::TrainerOptions options{.batch = 64, .optimizer = ops::SgdAttrs{.lr = 0.02, .momentum = 0.9}};
    options.transform_batch =
        viz::adversarial_batches(attack, {.pgd = {.epsilon = 0.1f, .steps = 3, .random_start = true}, .share = 0.5});
    nn::Trainer trainer(*model, options);
    data::BatchLoader loader(train, {.batch_size = 64, .seed = 3, .drop_last = true});
    std::vector<float> images(64 * kPixels);
    std::vector<int32_t> labels(64);
    for (int step = 0; step < 100; ++step) {
        loader.next(images, labels);
        trainer.step(images, labels);
    }
    const double clean = accuracy(attack.classify(d.images), d.labels);
    const double after = accuracy(attack.classify(attack.pgd(d.images, d.labels, probe)), d.labels);
    MESSAGE("PGD-10 at 0.1 on 200 digits: " << before << " before, " << after
                                            << " after 100 steps of PGD-3 training; clean " << clean);
    CHECK(after >= before + 0.2);
    CHECK(clean >= 0.95);
}

TEST_CASE("viz/adversarial: bad epsilons, steps, labels and sizes are errors naming the problem") {
    cpu::ThreadPool pool(2);
    nn::Model model(nn::lenet5(), {.seed = 1}, pool);
    viz::Attack attack(model, mnist_pixels(), 4);
    const std::vector<float> two(2 * kPixels, 0.0f);
    const std::vector<int32_t> labels{3, 9};
    CHECK_THROWS_WITH(attack.fgsm(two, labels, -0.1f),
                      doctest::Contains("fgsm: epsilon must be a finite length >= 0 in pixel units, got -0.1"));
    CHECK_THROWS_WITH(attack.fgsm(two, labels, NAN), doctest::Contains("fgsm: epsilon must be a finite length >= 0"));
    CHECK_THROWS_WITH(attack.pgd(two, labels, {.epsilon = -1.0f}),
                      doctest::Contains("pgd: epsilon must be a finite length >= 0"));
    CHECK_THROWS_WITH(attack.pgd(two, labels, {.steps = 0}), doctest::Contains("pgd: steps must be positive, got 0"));
    CHECK_THROWS_WITH(attack.pgd(two, labels, {.step = -0.01f}),
                      doctest::Contains("pgd: step must be a finite length >= 0"));
    CHECK_THROWS_WITH(attack.targeted(two, labels, {.max_steps = 0}),
                      doctest::Contains("targeted: max_steps must be positive, got 0"));
    CHECK_THROWS_WITH(attack.fgsm(two, std::vector<int32_t>{3, 10}, 0.1f),
                      doctest::Contains("fgsm: class 10 of image 1 is not a class of the model [0, 10)"));
    CHECK_THROWS_WITH(attack.targeted(two, std::vector<int32_t>{-1, 2}, {}),
                      doctest::Contains("targeted: class -1 of image 0 is not a class of the model"));
    CHECK_THROWS_WITH(attack.fgsm(std::span(two).first(kPixels), labels, 0.1f),
                      doctest::Contains("fgsm: 2 labels need 1568 image values (2 x 1 x 28 x 28), got 784"));
    CHECK_THROWS_WITH(attack.classify(std::span(two).first(100)),
                      doctest::Contains("classify: 100 values are not whole images of 784 values"));
    CHECK_THROWS_WITH(viz::Attack(model, mnist_pixels(), 0),
                      doctest::Contains("Attack: the batch size must be positive, got 0"));
    CHECK_THROWS_WITH(viz::adversarial_batches(attack, {.share = 1.5}),
                      doctest::Contains("adversarial_batches: share must be in [0, 1], got 1.5"));
    // Regression targets have no labels to attack: the trainer's step says so.
    nn::TrainerOptions mse{.batch = 2, .loss = nn::Loss::MeanSquaredError};
    mse.transform_batch = viz::adversarial_batches(attack, {});
    nn::Trainer regression(model, mse);
    CHECK_THROWS_WITH(regression.step(two, std::vector<float>(20, 0.0f)),
                      doctest::Contains("adversarial_batches: adversarial training needs class labels"));
    // An attack of another model than the trainer's: its images are not the batch's.
    nn::Model small_model(nn::Sequential(nn::Flatten(), nn::Linear(196, 10)), {.input = {1, 14, 14}}, pool);
    viz::Attack elsewhere(small_model, mnist_pixels(), 2);
    nn::TrainerOptions other{.batch = 2};
    other.transform_batch = viz::adversarial_batches(elsewhere, {});
    nn::Trainer mismatched(model, other);
    CHECK_THROWS_WITH(mismatched.step(two, labels), doctest::Contains("the batch's images are not the attacked model's"));

    const data::Dataset small(1, 14, 14, 10, std::vector<float>(2 * 196, 0.0f), labels);
    CHECK_THROWS_WITH(
        viz::accuracy_vs_epsilon(model, small, {}),
        doctest::Contains("accuracy_vs_epsilon: the dataset's images are 1 x 14 x 14, the model takes 1 x 28 x 28"));
    const data::Dataset fits(1, 28, 28, 10, two, labels);
    CHECK_THROWS_WITH(viz::accuracy_vs_epsilon(model, fits, {.epsilons = {}}),
                      doctest::Contains("accuracy_vs_epsilon: no epsilon given"));
    CHECK_THROWS_WITH(
        viz::accuracy_vs_epsilon(model, fits, {.epsilons = {0.1f, -0.2f}}),
        doctest::Contains("accuracy_vs_epsilon: epsilon must be a finite length >= 0 in pixel units, got -0.2"));
    CHECK_THROWS_WITH(viz::accuracy_vs_epsilon(model, fits, {.method = viz::AttackMethod::Pgd, .pgd = {.steps = 0}}),
                      doctest::Contains("accuracy_vs_epsilon: PGD steps must be positive, got 0"));
}
