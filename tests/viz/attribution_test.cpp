// The attribution methods against independent references: a small
// conv-ReLU-pool network written out as plain double-precision loops (its
// forward for finite differences; its backward with each ReLU rule applied
// by hand), Grad-CAM's formula computed from that reference, occlusion of a
// linear model in closed form; and on the trained LeNet-5 the completeness
// of Integrated Gradients and the sanity check of Adebayo et al. (2018).
// Every method runs on the Vulkan backend and the CPU backend.
#include "vkcnn/nn/models.h"
#include "vkcnn/viz/attribution.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/trained.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// Conv2d(1, 4, 3, pad 1), ReLU, MaxPool2d(2), Conv2d(4, 6, 3), ReLU, Flatten, Linear(24, 5) on 8x8.
nn::Sequential small_net() {
    return nn::Sequential(nn::Conv2d(1, 4, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(4, 6, 3),
                          nn::ReLU(), nn::Flatten(), nn::Linear(24, 5));
}
const nn::ModelOptions kSmall{.input = {1, 8, 8}, .classes = 5, .seed = 3};

using Vec = std::vector<double>;

Vec to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// The same network in double, plain loops, with its backward pass.
struct Reference {
    Vec w0, b0, w3, b3, w6, b6;
    explicit Reference(const nn::StateDict& s)
        : w0(to_double(s.at("0.weight"))), b0(to_double(s.at("0.bias"))), w3(to_double(s.at("3.weight"))),
          b3(to_double(s.at("3.bias"))), w6(to_double(s.at("6.weight"))), b6(to_double(s.at("6.bias"))) {}

    static Vec conv(const Vec& x, int c, int h, int w, const Vec& k, const Vec& b, int o, int pad, int& oh, int& ow) {
        oh = h + 2 * pad - 2, ow = w + 2 * pad - 2;
        Vec y(size_t(o * oh * ow));
        for (int f = 0; f < o; ++f)
            for (int i = 0; i < oh; ++i)
                for (int j = 0; j < ow; ++j) {
                    double s = b[size_t(f)];
                    for (int ch = 0; ch < c; ++ch)
                        for (int u = 0; u < 3; ++u)
                            for (int v = 0; v < 3; ++v) {
                                const int yy = i + u - pad, xx = j + v - pad;
                                if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                                    s += k[size_t(((f * c + ch) * 3 + u) * 3 + v)] * x[size_t((ch * h + yy) * w + xx)];
                            }
                    y[size_t((f * oh + i) * ow + j)] = s;
                }
        return y;
    }
    // dx of conv from dy (the transposed correlation).
    static Vec conv_back(const Vec& dy, int c, int h, int w, const Vec& k, int o, int pad, int oh, int ow) {
        Vec dx(size_t(c * h * w), 0.0);
        for (int f = 0; f < o; ++f)
            for (int i = 0; i < oh; ++i)
                for (int j = 0; j < ow; ++j)
                    for (int ch = 0; ch < c; ++ch)
                        for (int u = 0; u < 3; ++u)
                            for (int v = 0; v < 3; ++v) {
                                const int yy = i + u - pad, xx = j + v - pad;
                                if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                                    dx[size_t((ch * h + yy) * w + xx)] +=
                                        k[size_t(((f * c + ch) * 3 + u) * 3 + v)] * dy[size_t((f * oh + i) * ow + j)];
                            }
        return dx;
    }
    static Vec relu(Vec v) {
        for (double& x : v) x = std::max(x, 0.0);
        return v;
    }
    // The three ReLU rules, applied by hand: y the forward output.
    static Vec relu_back(const Vec& y, Vec dy, nn::ReluGradient rule) {
        for (size_t i = 0; i < dy.size(); ++i) {
            const bool open = y[i] > 0, up = dy[i] > 0;
            if (rule == nn::ReluGradient::ChainRule) dy[i] = open ? dy[i] : 0;
            if (rule == nn::ReluGradient::Guided) dy[i] = open && up ? dy[i] : 0;
            if (rule == nn::ReluGradient::Deconvnet) dy[i] = up ? dy[i] : 0;
        }
        return dy;
    }

    struct Pass {
        Vec a1, pooled, a4, logits;
        std::vector<size_t> argmax; // pooled element -> index into a1
    };
    Pass forward(const Vec& x) const {
        Pass p;
        int oh, ow;
        p.a1 = relu(conv(x, 1, 8, 8, w0, b0, 4, 1, oh, ow)); // (4, 8, 8)
        p.pooled.assign(4 * 4 * 4, 0.0);
        for (int c = 0; c < 4; ++c)
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) {
                    size_t best = size_t((c * 8 + 2 * i) * 8 + 2 * j);
                    for (int u = 0; u < 2; ++u)
                        for (int v = 0; v < 2; ++v) {
                            const size_t at = size_t((c * 8 + 2 * i + u) * 8 + 2 * j + v);
                            if (p.a1[at] > p.a1[best]) best = at;
                        }
                    p.argmax.push_back(best);
                    p.pooled[size_t((c * 4 + i) * 4 + j)] = p.a1[best];
                }
        p.a4 = relu(conv(p.pooled, 4, 4, 4, w3, b3, 6, 0, oh, ow)); // (6, 2, 2)
        p.logits.assign(5, 0.0);
        for (size_t k = 0; k < 5; ++k) {
            p.logits[k] = b6[k];
            for (size_t i = 0; i < 24; ++i) p.logits[k] += w6[k * 24 + i] * p.a4[i];
        }
        return p;
    }
    // d logit_cls / d x and d logit_cls / d a1 (layer "1"), with `rule` at every ReLU.
    std::pair<Vec, Vec> backward(const Vec& x, size_t cls, nn::ReluGradient rule) const {
        const Pass p = forward(x);
        Vec d4(24);
        for (size_t i = 0; i < 24; ++i) d4[i] = w6[cls * 24 + i];
        const Vec dconv3 = relu_back(p.a4, d4, rule);
        const Vec dpooled = conv_back(dconv3, 4, 4, 4, w3, 6, 0, 2, 2);
        Vec da1(p.a1.size(), 0.0);
        for (size_t i = 0; i < p.argmax.size(); ++i) da1[p.argmax[i]] += dpooled[i];
        const Vec dconv0 = relu_back(p.a1, da1, rule);
        return {conv_back(dconv0, 1, 8, 8, w0, 4, 1, 8, 8), da1};
    }
};

struct Backends {
    cpu::ThreadPool pool{2};
    nn::Model cpu, gpu;
    Backends(Device& dev, const nn::Sequential& net, const nn::ModelOptions& options)
        : cpu(net, options, pool), gpu(net, options, dev) {}
};

void check_close(std::span<const float> got, std::span<const double> want, double atol, double rtol,
                 const std::string& what) {
    REQUIRE(got.size() == want.size());
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double excess = std::abs(double(got[i]) - want[i]) - (atol + rtol * std::abs(want[i]));
        if (excess > worst) worst = excess, at = i;
    }
    CHECK_MESSAGE(worst <= 0, what << ": element " << at << " is " << got[at] << ", expected " << want[at]);
}

// Spearman's rank correlation of two maps (ties broken by index).
double rank_correlation(std::span<const float> a, std::span<const float> b) {
    const auto ranks = [](std::span<const float> v) {
        std::vector<size_t> order(v.size());
        std::iota(order.begin(), order.end(), size_t{0});
        std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return v[x] < v[y]; });
        std::vector<double> r(v.size());
        for (size_t i = 0; i < order.size(); ++i) r[order[i]] = double(i);
        return r;
    };
    const std::vector<double> ra = ranks(a), rb = ranks(b);
    const double n = double(a.size()), mean = (n - 1) / 2;
    double num = 0, da = 0, db = 0;
    for (size_t i = 0; i < ra.size(); ++i) {
        num += (ra[i] - mean) * (rb[i] - mean);
        da += (ra[i] - mean) * (ra[i] - mean);
        db += (rb[i] - mean) * (rb[i] - mean);
    }
    return num / std::sqrt(da * db);
}

const viz::PixelSpace kMnist{data::kMnistNormalization};

} // namespace

TEST_CASE_FIXTURE(GpuTest, "viz/attribution: saliency and gradient x input equal finite differences of a double reference") {
    Backends b(dev, small_net(), kSmall);
    const Reference ref(b.cpu.weights());
    const std::vector<float> image = uniform(64, 11, -0.5f, 2.0f);
    const Vec x = to_double(image);
    for (int32_t cls : {0, 3}) {
        const Vec fd = numerical_gradient([&](const Vec& v) { return ref.forward(v).logits[size_t(cls)]; }, x);
        // The reference's own backward agrees with its finite differences: it is a sound oracle.
        check_gradient(ref.backward(x, size_t(cls), nn::ReluGradient::ChainRule).first, fd, "reference backward", 1e-7, 1e-5);
        Vec saliency(64), times_input(64);
        for (size_t i = 0; i < 64; ++i) saliency[i] = std::abs(fd[i]), times_input[i] = fd[i] * x[i];
        for (nn::Model* m : {&b.cpu, &b.gpu}) {
            viz::Explainer e(*m, kMnist);
            CAPTURE(cls);
            CAPTURE((m == &b.cpu ? "cpu" : "vulkan"));
            // Float sums of at most ~40 terms of size ~1: 1e-5 absolute is far above their rounding.
            check_close(e.gradient(image, cls), fd, 1e-5, 1e-4, "d score / d x");
            check_close(e.saliency(image, cls), saliency, 1e-5, 1e-4, "saliency");
            check_close(e.gradient_x_input(image, cls), times_input, 1e-5, 1e-4, "gradient x input");
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "viz/attribution: guided backprop and deconvnet equal their ReLU rules applied by hand") {
    Backends b(dev, small_net(), kSmall);
    const Reference ref(b.cpu.weights());
    const std::vector<float> image = uniform(64, 12, -0.5f, 2.0f);
    const Vec x = to_double(image);
    for (nn::Model* m : {&b.cpu, &b.gpu}) {
        viz::Explainer e(*m, kMnist);
        for (int32_t cls = 0; cls < 5; ++cls) {
            CAPTURE(cls);
            const Vec guided = ref.backward(x, size_t(cls), nn::ReluGradient::Guided).first;
            const Vec deconv = ref.backward(x, size_t(cls), nn::ReluGradient::Deconvnet).first;
            const Vec chain = ref.backward(x, size_t(cls), nn::ReluGradient::ChainRule).first;
            check_close(e.guided_backprop(image, cls), guided, 1e-5, 1e-4, "guided backprop");
            check_close(e.deconvnet(image, cls), deconv, 1e-5, 1e-4, "deconvnet");
            // The rules matter on this input: each differs from the chain rule somewhere.
            double guided_diff = 0, deconv_diff = 0;
            for (size_t i = 0; i < 64; ++i)
                guided_diff += std::abs(guided[i] - chain[i]), deconv_diff += std::abs(deconv[i] - chain[i]);
            CHECK(guided_diff > 1e-3);
            CHECK(deconv_diff > 1e-3);
        }
    }
    // The override reaches ReLUs only: a net without one has the same gradient under every rule.
    const nn::Sequential linear(nn::Flatten(), nn::Linear(64, 5));
    nn::Model plain(linear, kSmall, b.pool);
    viz::Explainer e(plain, kMnist);
    check_bitwise_equal(e.guided_backprop(image, 2), e.gradient(image, 2), "guided = chain rule without ReLU");
}

TEST_CASE_FIXTURE(GpuTest, "viz/attribution: Grad-CAM equals its formula computed from the reference activation and gradient") {
    Backends b(dev, small_net(), kSmall);
    const Reference ref(b.cpu.weights());
    const std::vector<float> image = uniform(64, 13, 0.0f, 2.0f);
    const Vec x = to_double(image);
    const int32_t cls = 1;
    const Vec a1 = ref.forward(x).a1, da1 = ref.backward(x, size_t(cls), nn::ReluGradient::ChainRule).second;
    // By hand: w_k = mean(dA_k), cam = ReLU(sum_k w_k A_k) on the 8x8 map, which is the input's size.
    Vec cam(64, 0.0);
    for (size_t k = 0; k < 4; ++k) {
        double w = 0;
        for (size_t p = 0; p < 64; ++p) w += da1[k * 64 + p] / 64;
        for (size_t p = 0; p < 64; ++p) cam[p] += w * a1[k * 64 + p];
    }
    for (double& v : cam) v = std::max(v, 0.0);
    const double peak = *std::max_element(cam.begin(), cam.end()), low = *std::min_element(cam.begin(), cam.end());
    REQUIRE(peak > 0);
    Vec scaled(64);
    for (size_t p = 0; p < 64; ++p) scaled[p] = (cam[p] - low) / (peak - low);
    for (nn::Model* m : {&b.cpu, &b.gpu}) {
        viz::Explainer e(*m, kMnist);
        const viz::GradCam g = e.grad_cam(image, cls, "1");
        check_close(g.coarse, cam, 1e-5, 1e-4, "Grad-CAM at layer 1");
        check_close(g.map, scaled, 1e-4, 1e-4, "Grad-CAM scaled (same size: no resampling)");
        CHECK(g.peak == doctest::Approx(peak).epsilon(1e-4));
        // Guided Grad-CAM: guided backprop times the map.
        const Vec guided = ref.backward(x, size_t(cls), nn::ReluGradient::Guided).first;
        Vec want(64);
        for (size_t p = 0; p < 64; ++p) want[p] = guided[p] * scaled[p];
        check_close(e.guided_grad_cam(image, cls, "1"), want, 1e-5, 1e-3, "guided Grad-CAM");
    }
    // The default layer: the last spatial map, layer "4" (6x2x2), upsampled to 8x8.
    CHECK(viz::default_cam_layer(b.cpu) == "4");
    viz::Explainer e(b.cpu, kMnist);
    CHECK(e.grad_cam(image, cls).map.size() == 64);
    CHECK_THROWS_WITH(e.grad_cam(image, cls, "5"), doctest::Contains("layer '5' has output (1, 24)"));
    CHECK_THROWS_WITH(e.grad_cam(image, cls, "9"), doctest::Contains("'9', which is not a layer of the model"));
    CHECK_THROWS_WITH(e.saliency(image, 5), doctest::Contains("class 5 is not one of the model's 5 classes"));
    CHECK_THROWS_WITH(e.saliency(std::vector<float>(63), 0), doctest::Contains("an image of 63 values"));
}

TEST_CASE_FIXTURE(GpuTest, "viz/attribution: occlusion of a linear model in closed form, SmoothGrad of a linear model is |w|") {
    // score_c = sum_i w_ci x_i + b_c: covering a patch drops it by sum over the patch of w_ci (x_i - fill).
    const nn::Sequential linear(nn::Flatten(), nn::Linear(64, 5));
    Backends b(dev, linear, kSmall);
    const std::vector<float> image = uniform(64, 14, -0.4f, 2.8f);
    const Vec w = to_double(b.cpu.weights().at("1.weight"));
    const viz::OcclusionOptions o{.patch = 3, .stride = 2, .fill_pixel = 0.0f};
    const double fill = double(kMnist.to_model(0.0f));
    const int32_t cls = 4;
    Vec sum(64, 0.0), count(64, 0.0);
    for (int y0 = 0; y0 + 3 <= 8; y0 += 2)
        for (int x0 = 0; x0 + 3 <= 8; x0 += 2) {
            double drop = 0;
            for (int y = y0; y < y0 + 3; ++y)
                for (int x = x0; x < x0 + 3; ++x) drop += w[size_t(cls * 64 + y * 8 + x)] * (image[size_t(y * 8 + x)] - fill);
            for (int y = y0; y < y0 + 3; ++y)
                for (int x = x0; x < x0 + 3; ++x) sum[size_t(y * 8 + x)] += drop, count[size_t(y * 8 + x)] += 1;
        }
    Vec want(64);
    for (size_t i = 0; i < 64; ++i) want[i] = count[i] ? sum[i] / count[i] : 0.0; // row and column 7: no window
    Vec abs_w(64);
    for (size_t i = 0; i < 64; ++i) abs_w[i] = std::abs(w[size_t(cls * 64) + i]);
    for (nn::Model* m : {&b.cpu, &b.gpu}) {
        viz::Explainer e(*m, kMnist);
        check_close(e.occlusion(image, cls, o), want, 1e-5, 1e-4, "occlusion");
        check_close(e.smoothgrad(image, cls, {.sigma = 0.3f, .samples = 10, .seed = 1}), abs_w, 1e-6, 1e-5,
                    "SmoothGrad of a linear model");
    }
    viz::Explainer e(b.cpu, kMnist);
    CHECK_THROWS_WITH(e.occlusion(image, cls, {.patch = 9}), doctest::Contains("at most the image (8x8)"));
    CHECK_THROWS_WITH(e.smoothgrad(image, cls, {.samples = 0}), doctest::Contains("samples must be positive"));
}

TEST_CASE_FIXTURE(GpuTest, "viz/attribution: on the trained LeNet-5, Integrated Gradients is complete within 1% on average at 64 steps") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    nn::Model cpu(nn::lenet5(), {}, pool), gpu(nn::lenet5(), {}, dev);
    cpu.load_weights(trained_lenet5());
    gpu.load_weights(trained_lenet5());
    viz::Explainer on_cpu(cpu, kMnist), on_gpu(gpu, kMnist);
    const data::Dataset& test = mnist_test();
    // ReLU kinks on the path make the integrand piecewise constant: the
    // midpoint rule's error is uneven across digits (over the first 100:
    // median 0.25%, 90th percentile 0.8%, largest 1.9% at 64 steps). The bar
    // is the mean; no digit may be far off it.
    double worst = 0, mean = 0;
    for (int64_t i = 0; i < 8; ++i) {
        const auto image = test.image(i);
        const int32_t label = test.label(i);
        const viz::IntegratedGradients ig = on_cpu.integrated_gradients(image, label);
        CAPTURE(i);
        CHECK(ig.relative_error <= 0.05);
        worst = std::max(worst, ig.relative_error);
        mean += ig.relative_error / 8;
        if (i == 0) {
            // SmoothGrad is the same for its seed, another for another seed, on either backend.
            const std::vector<float> smooth = on_cpu.smoothgrad(image, label, {.samples = 16, .seed = 4});
            check_bitwise_equal(on_cpu.smoothgrad(image, label, {.samples = 16, .seed = 4}), smooth, "SmoothGrad, same seed");
            CHECK(on_cpu.smoothgrad(image, label, {.samples = 16, .seed = 5}) != smooth);
            const float top = *std::max_element(smooth.begin(), smooth.end());
            check_allclose(on_gpu.smoothgrad(image, label, {.samples = 16, .seed = 4}), smooth, 1e-4 * double(top), 1e-3,
                           "SmoothGrad, Vulkan vs CPU");
            const viz::IntegratedGradients ig_gpu = on_gpu.integrated_gradients(image, label);
            CHECK(ig_gpu.relative_error <= 0.05);
            // The two backends sum in different orders: attributions agree to float rounding of the score (~1e-5 of it).
            const double scale = std::abs(ig.score - ig.baseline_score);
            check_allclose(ig_gpu.attribution, ig.attribution, 1e-4 * scale, 1e-3, "IG, Vulkan vs CPU");
            CHECK(ig_gpu.score == doctest::Approx(ig.score).epsilon(1e-4));
        }
    }
    CHECK(mean <= 0.01);
    MESSAGE("Integrated Gradients, 64 steps: relative completeness error over 8 digits, mean " << mean << ", worst " << worst);
}

TEST_CASE_FIXTURE(GpuTest, "viz/attribution: saliency of the trained LeNet-5 differs from the randomised network's (Adebayo et al.)") {
    VKCNN_REQUIRE_MNIST();
    cpu::ThreadPool pool(2);
    nn::Model trained(nn::lenet5(), {}, pool), random(nn::lenet5(), {.seed = 99}, pool), gpu(nn::lenet5(), {}, dev);
    trained.load_weights(trained_lenet5());
    gpu.load_weights(trained_lenet5());
    viz::Explainer e(trained, kMnist), r(random, kMnist), g(gpu, kMnist);
    const data::Dataset& test = mnist_test();
    double correlation = 0, self = 0;
    const int n = 10;
    for (int64_t i = 0; i < n; ++i) {
        const auto image = test.image(i);
        const int32_t label = test.label(i);
        const std::vector<float> s = e.saliency(image, label);
        correlation += rank_correlation(s, r.saliency(image, label)) / n;
        const std::vector<float> s_gpu = g.saliency(image, label);
        self += rank_correlation(s, s_gpu) / n;
        const float top = *std::max_element(s.begin(), s.end());
        check_allclose(s_gpu, s, 1e-4 * double(top), 1e-3, "saliency, Vulkan vs CPU"); // float sums in another order
    }
    MESSAGE("Spearman correlation of saliency, trained vs randomised weights: " << correlation << "; Vulkan vs CPU: " << self);
    CHECK(correlation < 0.5);
    CHECK(self > 0.99);
}
