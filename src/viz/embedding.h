// Points (n, dims) — a layer's features, images — laid out in 2-D for a
// scatter plot: PCA (the plane of largest variance) and t-SNE (neighbours
// kept together). Deterministic: the same points and options give the same
// bits on any machine and any thread count.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace vkcnn::cpu {
class ThreadPool;
}

namespace vkcnn::viz {

struct Pca {
    std::vector<float> points;            // (n, 2): the centred points projected on the axes
    std::vector<double> mean;             // (dims)
    std::array<std::vector<double>, 2> axes; // unit vectors (dims), by decreasing variance
    std::array<double, 2> variance{};     // along each axis (the covariance's eigenvalues, divided by n - 1)
};

// The first two principal components: the sample covariance in double, its
// top two eigenvectors by orthogonal (subspace) iteration. Each axis's sign
// makes its largest-magnitude component positive (the first such on a tie).
// Needs n >= 2 points.
Pca pca_2d(std::span<const float> points, int64_t dims);

// t-SNE (van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR 2008)
// with the Barnes-Hut approximation and sparse input similarities of
// van der Maaten, "Accelerating t-SNE using Tree-Based Algorithms", JMLR 2014
// (BH-SNE): P from each point's 3 * perplexity nearest neighbours, the
// repulsion from a quadtree. Small inputs are embedded exactly (P over all
// pairs, every repulsion summed).
struct TsneOptions {
    double perplexity = 30;
    int iterations = 1000;
    double learning_rate = 0; // 0: max(n / early_exaggeration / 4, 50)
    double early_exaggeration = 12;
    int exaggeration_iterations = 250; // P multiplied by early_exaggeration, momentum 0.5; then 0.8
    double theta = 0.5;                // Barnes-Hut: a cell of width w at distance d is one point when w / d < theta
    // n below this: exact t-SNE. Around 500 points the n^2 exact sums cost
    // about what the tree does, and exact P's perplexity sees every point.
    int64_t exact_below = 500;
    uint64_t seed = 0;                 // the initial layout, N(0, 1e-4^2) per coordinate
};

// (n, 2). Needs n >= 2 points and 0 < perplexity < n. learning_rate 0
// picks max(n / early_exaggeration / 4, 50) (Belkina et al., Nature
// Communications 2019, as scikit-learn's "auto"). The per-point loops run on
// `pool` when one is given, each point's work on its own and every sum over
// points taken in point order, so the result does not depend on its size.
std::vector<float> tsne_2d(std::span<const float> points, int64_t dims, const TsneOptions& options = {},
                           cpu::ThreadPool* pool = nullptr);

} // namespace vkcnn::viz
