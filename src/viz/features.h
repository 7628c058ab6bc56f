// What a layer makes of a dataset: its activations for every image (by
// default the penultimate features, the input of the last Linear), nearest
// neighbours among them — in feature space beside pixel space — the k-NN
// accuracy of any point set, and the maximally activating patches of
// convolutional units with the crops their receptive fields see.
//
// Points are rows of a (n, dims) float array: a layer's features, the
// images themselves (pixel space), or a 2-D embedding (embedding.h).
// Distances and votes are computed in double and break ties by index, so
// results depend on neither the backend's thread count nor the order of work.
#pragma once

#include "vkcnn/core/error.h"
#include "vkcnn/data/dataset.h"
#include "vkcnn/nn/model.h"
#include "vkcnn/viz/receptive_field.h"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::cpu {
class ThreadPool;
}

namespace vkcnn::viz {

// The layer feeding the model's last Linear (LeNet-5's "10", the ReLU after
// "9"): found from the model's graph; an error when it has no Linear.
std::string penultimate_layer(const nn::Model& model);

struct FeatureOptions {
    std::string layer;   // a layer path; empty: penultimate_layer()
    int64_t batch = 256; // images per run; the last, smaller batch runs on a program of its own
};

struct Features {
    std::string layer;
    int64_t n = 0, dims = 0;   // dims: the layer's output elements per image
    std::vector<float> values; // (n, dims)
    std::span<const float> row(int64_t i) const { // image i's features
        check(i >= 0 && i < n, "Features::row: image ", i, " is not in [0, ", n, ")");
        return std::span<const float>(values).subspan(static_cast<size_t>(i * dims), static_cast<size_t>(dims));
    }
};

// The layer's output for every image of `dataset`, eval mode, on the model's
// live weights.
Features features(nn::Model& model, const data::Dataset& dataset, const FeatureOptions& options = {});

struct Neighbour {
    int64_t index = 0;
    double distance = 0; // Euclidean
    bool operator==(const Neighbour&) const = default;
};

// The k nearest rows of `points` (n, dims) to `query` (dims), nearest first,
// ties by index; `exclude` (a row index, e.g. the query's own) is skipped.
// k is capped at the number of candidate rows.
std::vector<Neighbour> nearest(std::span<const float> points, int64_t dims, std::span<const float> query, int64_t k,
                               int64_t exclude = -1);
// nearest() without its checks, the distances squared: for searches over
// every row of a point set checked once (knn_accuracy, t-SNE's neighbour lists).
std::vector<Neighbour> nearest_squared(std::span<const float> points, int64_t dims, std::span<const float> query,
                                       int64_t k, int64_t exclude = -1);
// Throws naming `what` unless `points` holds whole rows of `dims` finite
// values (NaN has no order: a neighbour search would be undefined).
void check_points(std::span<const float> points, int64_t dims, const char* what);

// Leave-one-out k-NN classification accuracy of labelled points (n, dims):
// each point takes the most common label of its k nearest others; a tie
// between labels goes to the label of the nearest neighbour among the tied.
// The per-point searches run on `pool` when one is given (the result does
// not depend on it).
double knn_accuracy(std::span<const float> points, int64_t dims, std::span<const int32_t> labels, int64_t k,
                    cpu::ThreadPool* pool = nullptr);

// Maximally activating patches (Zeiler & Fergus 2014; Girshick et al. 2014):
// for each chosen channel of a layer with a (C, H, W) output, the k highest
// activations over every image and position.
struct PatchOptions {
    std::string layer;             // a layer with a (C, H, W) output
    std::vector<int64_t> channels; // empty: every channel
    int64_t k = 9;
    int64_t batch = 256;
};

struct Patch {
    int64_t image = 0;   // index into the dataset
    int64_t y = 0, x = 0; // the unit's position in the layer's output
    float value = 0;     // its activation
    Box box;             // the input pixels it sees, clipped to the image
    // The unit's whole field (field_box), (C, field h, field w), model-space;
    // parts outside the image are the value of a black pixel, so that every
    // crop of a layer has one size and sits in a grid.
    std::vector<float> crop;
};

struct ChannelPatches {
    int64_t channel = 0;
    std::vector<Patch> patches; // highest first; equal values by (image, y, x)
};

std::vector<ChannelPatches> top_patches(nn::Model& model, const data::Dataset& dataset, const PatchOptions& options);

// The pixels of `box` (possibly reaching outside the image) of image (C, H,
// W), (C, box h, box w), `fill` where the box leaves the image.
std::vector<float> crop(std::span<const float> image, std::array<int64_t, 3> shape, Box box, float fill);

} // namespace vkcnn::viz
