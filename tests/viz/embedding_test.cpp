// PCA against a covariance computed here on data with known axes; t-SNE on
// synthetic clusters (separated, deterministic, independent of the thread
// count, exact and Barnes-Hut) and on the trained LeNet-5's penultimate
// features of MNIST test digits (the k-NN bar).
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/viz/embedding.h"
#include "vkcnn/viz/features.h"

#include "support/trained.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using Vec = std::vector<double>;

double dot(const Vec& a, const Vec& b) { return std::inner_product(a.begin(), a.end(), b.begin(), 0.0); }

// `count` points around each of `centres` centres (8 apart per axis) in `dims` dimensions, unit spread.
std::vector<float> clusters(int64_t centres, int64_t count, int64_t dims, std::vector<int32_t>& labels) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    std::vector<float> pts;
    labels.clear();
    for (int64_t i = 0; i < count; ++i)
        for (int64_t c = 0; c < centres; ++c) { // interleaved, so no order hides a cluster
            for (int64_t d = 0; d < dims; ++d) pts.push_back(normal(rng) + (d % centres == c ? 8.0f : 0.0f));
            labels.push_back(static_cast<int32_t>(c));
        }
    return pts;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

TEST_CASE("viz/embedding: PCA finds the known principal axes of synthetic data") {
    // x = mean + sum_k s_k z_k r_k, z_k ~ N(0, 1), r_k orthonormal (Gram-Schmidt of fixed vectors).
    const int64_t n = 2000, d = 5;
    const double spread[d] = {4, 2, 1, 0.5, 0.25};
    std::vector<Vec> r;
    for (int64_t k = 0; k < d; ++k) {
        Vec v(d);
        for (int64_t c = 0; c < d; ++c)
            v[static_cast<size_t>(c)] = std::sin(1.0 + 3.0 * static_cast<double>(k) + 1.7 * static_cast<double>(c));
        for (const Vec& u : r) {
            const double p = dot(u, v);
            for (int64_t c = 0; c < d; ++c) v[static_cast<size_t>(c)] -= p * u[static_cast<size_t>(c)];
        }
        const double norm = std::sqrt(dot(v, v));
        for (double& x : v) x /= norm;
        r.push_back(v);
    }
    std::mt19937 rng(3);
    std::normal_distribution<double> normal;
    std::vector<float> pts(static_cast<size_t>(n * d));
    for (int64_t i = 0; i < n; ++i) {
        Vec x{1, -2, 3, 0.5, 10}; // the mean
        for (int64_t k = 0; k < d; ++k) {
            const double z = spread[k] * normal(rng);
            for (int64_t c = 0; c < d; ++c)
                x[static_cast<size_t>(c)] += z * r[static_cast<size_t>(k)][static_cast<size_t>(c)];
        }
        for (int64_t c = 0; c < d; ++c)
            pts[static_cast<size_t>(i * d + c)] = static_cast<float>(x[static_cast<size_t>(c)]);
    }
    // The sample mean and covariance by hand.
    Vec mean(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < d; ++c)
            mean[static_cast<size_t>(c)] += pts[static_cast<size_t>(i * d + c)] / static_cast<double>(n);
    std::vector<Vec> cov(d, Vec(d, 0.0));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t a = 0; a < d; ++a)
            for (int64_t b = 0; b < d; ++b)
                cov[static_cast<size_t>(a)][static_cast<size_t>(b)] +=
                    (pts[static_cast<size_t>(i * d + a)] - mean[static_cast<size_t>(a)]) *
                    (pts[static_cast<size_t>(i * d + b)] - mean[static_cast<size_t>(b)]) / static_cast<double>(n - 1);
    const auto times = [&](const Vec& v) {
        Vec y(d, 0.0);
        for (size_t a = 0; a < static_cast<size_t>(d); ++a) y[a] = dot(cov[a], v);
        return y;
    };

    const viz::Pca p = viz::pca_2d(pts, d);
    for (int64_t c = 0; c < d; ++c)
        CHECK(p.mean[static_cast<size_t>(c)] == doctest::Approx(mean[static_cast<size_t>(c)]).epsilon(1e-12));
    for (size_t k = 0; k < 2; ++k) {
        CAPTURE(k);
        const Vec& a = p.axes[k];
        const Vec ca = times(a);
        double residual = 0;
        for (int64_t c = 0; c < d; ++c)
            residual =
                std::max(residual, std::abs(ca[static_cast<size_t>(c)] - p.variance[k] * a[static_cast<size_t>(c)]));
        CHECK(residual <= 1e-9 * p.variance[0]); // an eigenvector of the covariance
        CHECK(dot(a, a) == doctest::Approx(1.0).epsilon(1e-12));
        CHECK(std::abs(dot(a, r[k])) > 0.99); // the generating axis, up to sampling
        CHECK(p.variance[k] == doctest::Approx(spread[k] * spread[k]).epsilon(0.1));
        // The sign convention: the largest-magnitude component is positive.
        size_t big = 0;
        for (size_t c = 1; c < a.size(); ++c)
            if (std::abs(a[c]) > std::abs(a[big])) big = c;
        CHECK(a[big] > 0);
    }
    CHECK(std::abs(dot(p.axes[0], p.axes[1])) < 1e-12);
    CHECK(p.variance[0] > p.variance[1]);
    // No direction outside the plane has more variance than the second axis.
    for (int64_t k = 2; k < d; ++k) {
        Vec v = r[static_cast<size_t>(k)];
        for (const Vec& a : p.axes) {
            const double pr = dot(a, v);
            for (int64_t c = 0; c < d; ++c) v[static_cast<size_t>(c)] -= pr * a[static_cast<size_t>(c)];
        }
        const double norm = std::sqrt(dot(v, v));
        for (double& x : v) x /= norm;
        CHECK(dot(v, times(v)) < p.variance[1]);
    }
    // The points are the centred data projected on the axes.
    for (int64_t i : {0, 1, 999, 1999})
        for (size_t k = 0; k < 2; ++k) {
            double s = 0;
            for (int64_t c = 0; c < d; ++c)
                s += (pts[static_cast<size_t>(i * d + c)] - mean[static_cast<size_t>(c)]) *
                     p.axes[k][static_cast<size_t>(c)];
            CHECK(p.points[static_cast<size_t>(i) * 2 + k] == doctest::Approx(s).epsilon(1e-5));
        }
    CHECK(viz::pca_2d(pts, d).points == p.points); // deterministic

    // Points on a line: one axis along it, no variance on the second.
    std::vector<float> line;
    for (int i = 0; i < 50; ++i) line.insert(line.end(), {static_cast<float>(i), 2.0f * static_cast<float>(i), -1.0f});
    const viz::Pca l = viz::pca_2d(line, 3);
    CHECK(l.axes[0][1] == doctest::Approx(2 / std::sqrt(5.0)));
    CHECK(l.variance[1] == doctest::Approx(0.0).epsilon(1e-9).scale(l.variance[0]));
    CHECK(std::abs(dot(l.axes[0], l.axes[1])) < 1e-12);
    CHECK_THROWS_WITH(viz::pca_2d(std::vector<float>{1, 2, 3}, 3), doctest::Contains("needs at least 2 points, got 1"));
}

TEST_CASE("viz/embedding: t-SNE separates clusters, exactly and by Barnes-Hut, the same bits for a seed and any pool") {
    cpu::ThreadPool one(1), two(2);
    std::vector<int32_t> labels;
    // 200 points: exact t-SNE (exact_below 500).
    const std::vector<float> small = clusters(4, 50, 10, labels);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> exact = viz::tsne_2d(small, 10, {.perplexity = 20}, &two);
    const double exact_s = seconds_since(t0);
    REQUIRE(exact.size() == 400);
    CHECK(viz::knn_accuracy(exact, 2, labels, 5) == 1.0);
    CHECK(viz::tsne_2d(small, 10, {.perplexity = 20}) == exact);       // no pool
    CHECK(viz::tsne_2d(small, 10, {.perplexity = 20}, &one) == exact); // one thread
    CHECK(viz::tsne_2d(small, 10, {.perplexity = 20, .seed = 1}, &two) != exact);
    // The same points by Barnes-Hut.
    const std::vector<float> bh_small = viz::tsne_2d(small, 10, {.perplexity = 20, .exact_below = 0}, &two);
    CHECK(viz::knn_accuracy(bh_small, 2, labels, 5) == 1.0);

    // 600 points: Barnes-Hut with sparse P.
    std::vector<int32_t> big_labels;
    const std::vector<float> big = clusters(3, 200, 20, big_labels);
    const auto t1 = std::chrono::steady_clock::now();
    const std::vector<float> bh = viz::tsne_2d(big, 20, {}, &two);
    const double bh_s = seconds_since(t1);
    CHECK(viz::knn_accuracy(bh, 2, big_labels, 5, &two) == 1.0);
    CHECK(viz::tsne_2d(big, 20, {}, &one) == bh);
    MESSAGE("t-SNE: 200 points exact " << exact_s << " s, 600 points Barnes-Hut " << bh_s << " s (2 threads)");

    CHECK_THROWS_WITH(viz::tsne_2d(small, 10, {.perplexity = 200}),
                      doctest::Contains("perplexity must be in (0, 200)"));
    CHECK_THROWS_WITH(viz::tsne_2d(small, 10, {.theta = 1}), doctest::Contains("theta must be in [0, 0.7)"));
    std::vector<float> broken = small;
    broken[10 * 7 + 3] = std::nanf("");
    CHECK_THROWS_WITH(viz::tsne_2d(broken, 10), doctest::Contains("point 7 has a non-finite coordinate"));
    CHECK_THROWS_WITH(viz::pca_2d(broken, 10), doctest::Contains("point 7 has a non-finite coordinate"));
}

TEST_CASE("viz/embedding: t-SNE of the trained LeNet-5's penultimate features keeps digits apart, PCA less") {
    VKCNN_REQUIRE_MNIST();
    // 1000 digits in CI; VKCNN_VIZ_DIGITS=5000 measures the figure.
    int64_t count = 1000;
    if (const char* env = std::getenv("VKCNN_VIZ_DIGITS")) count = std::max<int64_t>(std::atoll(env), 100);
    count = std::min<int64_t>(count, mnist_test().size());
    cpu::ThreadPool pool(2);
    nn::Model model(nn::lenet5(), {}, nullptr, &pool);
    model.load_weights(trained_lenet5());
    std::vector<int64_t> idx(static_cast<size_t>(count));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    const data::Dataset digits = mnist_test().subset(idx);
    const auto t0 = std::chrono::steady_clock::now();
    const viz::Features f = viz::features(model, digits);
    const double features_s = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    const std::vector<float> tsne = viz::tsne_2d(f.values, f.dims, {}, &pool);
    const double tsne_s = seconds_since(t1);
    const viz::Pca pca = viz::pca_2d(f.values, f.dims);
    const std::span<const int32_t> labels = digits.labels();
    const double tsne_acc = viz::knn_accuracy(tsne, 2, labels, 5, &pool);
    const double pca_acc = viz::knn_accuracy(pca.points, 2, labels, 5, &pool);
    const double feature_acc = viz::knn_accuracy(f.values, f.dims, labels, 5, &pool);
    MESSAGE(count << " test digits, layer " << f.layer << " (" << f.dims << " features, " << features_s
                  << " s): 5-NN accuracy " << feature_acc * 100 << "% in feature space, t-SNE " << tsne_acc * 100
                  << "% (" << tsne_s << " s), PCA " << pca_acc * 100 << "%");
    CHECK(tsne_acc >= 0.9);
    CHECK(pca_acc < tsne_acc);
}
