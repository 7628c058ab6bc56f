// In-memory image classification data: float images (N, C, H, W) normalised
// with a mean/std, int32 labels, the MNIST and Fashion-MNIST loaders, a
// seeded train/validation split and a batch loader that shuffles per epoch.
// Every random choice comes from SplitMix64 below, not from <random>, whose
// distributions differ between standard libraries: the browser (wasm) and
// native builds see the same split and the same batches for the same seed.
#pragma once

#include "vkcnn/data/idx.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::data {

// SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA'14; the seeding generator of xoshiro): 64-bit state,
// passes BigCrush, a few lines, bit-identical everywhere.
class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n), n > 0, without modulo bias: draws below 2^64 mod n
    // are rejected so every residue is equally likely.
    uint64_t below(uint64_t n) {
        const uint64_t threshold = (0 - n) % n;
        for (;;) {
            const uint64_t r = next();
            if (r >= threshold) return r % n;
        }
    }

private:
    uint64_t state_;
};

// Fisher-Yates shuffle of `v` in place, driven by `rng`.
void shuffle(std::span<int64_t> v, SplitMix64& rng);

// The order of epoch `epoch` for `n` samples under `seed`: a permutation of
// 0..n-1 that depends only on (n, seed, epoch), so training resumed at epoch k
// sees the batches it would have seen. Writes into `order` (size n).
void epoch_order(std::span<int64_t> order, uint64_t seed, uint64_t epoch);

enum class Split { Train, Test };
const char* split_name(Split s); // "train" / "test"

// x = (pixel / 255 - mean) / std, as torchvision's ToTensor + Normalize.
struct Normalization {
    float mean = 0.0f;
    float std = 1.0f;
};
// The statistics of the training sets, the values in PyTorch's examples.
inline constexpr Normalization kMnistNormalization{0.1307f, 0.3081f};
inline constexpr Normalization kFashionMnistNormalization{0.2860f, 0.3530f};

class Dataset {
public:
    Dataset() = default;
    // Takes ownership of already-normalised images; checks sizes and labels.
    Dataset(int64_t channels, int64_t height, int64_t width, int num_classes, std::vector<float> images,
            std::vector<int32_t> labels, Normalization normalization = {});
    // One-channel images from IDX u8 pixels, normalised with `norm`.
    static Dataset from_idx(const IdxPair& idx, int num_classes, Normalization norm);

    int64_t size() const { return int64_t(labels_.size()); }
    int64_t channels() const { return channels_; }
    int64_t height() const { return height_; }
    int64_t width() const { return width_; }
    int64_t image_elements() const { return channels_ * height_ * width_; } // C * H * W
    int num_classes() const { return num_classes_; }
    // How the images were normalised: what a caller applies to new inputs
    // (a digit drawn in the browser) before running the network on them.
    Normalization normalization() const { return normalization_; }

    std::span<const float> images() const { return images_; }   // (N, C, H, W)
    std::span<const int32_t> labels() const { return labels_; } // (N,)
    std::span<const float> image(int64_t i) const;              // (C, H, W)
    int32_t label(int64_t i) const;

    // The samples at `indices`, in that order (copies).
    Dataset subset(std::span<const int64_t> indices) const;

private:
    int64_t channels_ = 0, height_ = 0, width_ = 0;
    int num_classes_ = 0;
    Normalization normalization_{};
    std::vector<float> images_;   // (N, C, H, W)
    std::vector<int32_t> labels_; // (N,)
};

// The image size a loader insists on (what the model takes), so a file of
// other images is an error naming it rather than trained on: 56 x 14 images
// have as many pixels as 28 x 28 ones. {0, 0} takes what the file says.
struct ImageSize {
    int64_t rows = 0, cols = 0;
};
inline constexpr ImageSize kMnistImageSize{28, 28};

// `dir` holds the four IDX files under their original names
// (train-images-idx3-ubyte, t10k-labels-idx1-ubyte, ...), each plain or with
// ".gz" appended. scripts/fetch_data.sh puts them in data/mnist and
// data/fashion-mnist. MNIST and Fashion-MNIST are 28 x 28.
Dataset load_mnist(const std::string& dir, Split split, ImageSize expect = kMnistImageSize);
Dataset load_fashion_mnist(const std::string& dir, Split split, ImageSize expect = kMnistImageSize);
// Any 10-class-or-fewer IDX set under those names (e.g. KMNIST).
Dataset load_idx_dataset(const std::string& dir, Split split, int num_classes, Normalization norm,
                         ImageSize expect = {});
// A read pair of IDX files as a Dataset, the image size checked against
// `expect` (errors name `images_source`): what the loaders above end with,
// and the browser's path for files it fetched (decode_idx_pair).
Dataset idx_dataset(const IdxPair& idx, const std::string& images_source, int num_classes, Normalization norm,
                    ImageSize expect = {});

// A random `validation_count` samples become the validation set, the rest
// the training set; which ones depends only on `seed`. Both keep the
// original relative order of their samples.
struct TrainValidation {
    Dataset train;
    Dataset validation;
};
TrainValidation split_train_validation(const Dataset& all, int64_t validation_count, uint64_t seed);

struct LoaderOptions {
    int64_t batch_size = 64;
    bool shuffle = true;     // a new order each epoch (epoch_order); else 0..N-1
    uint64_t seed = 0;       // with the epoch number, fixes the order
    bool drop_last = false;  // skip the last batch when it is smaller than batch_size
};

// Hands out the batches of one epoch after another into the caller's
// buffers. Allocates only in the constructor (the order, N int64s); next()
// is a copy. The dataset must outlive the loader.
class BatchLoader {
public:
    BatchLoader(const Dataset& dataset, LoaderOptions options);

    // Restarts at the first batch of `epoch` (the constructor starts epoch 0).
    void start_epoch(uint64_t epoch);
    // Copies the next batch: images (>= batch_size * C * H * W floats, filled
    // as (n, C, H, W)) and labels (>= batch_size). Returns n, the samples
    // written: batch_size, fewer for a last partial batch, 0 at the end of
    // the epoch. Entries past n are left as they were.
    int64_t next(std::span<float> images, std::span<int32_t> labels);

    int64_t batch_size() const { return options_.batch_size; }
    int64_t batches_per_epoch() const;
    uint64_t epoch() const { return epoch_; }
    std::span<const int64_t> order() const { return order_; } // this epoch's sample order

private:
    const Dataset* dataset_;
    LoaderOptions options_;
    uint64_t epoch_ = 0;
    int64_t position_ = 0; // next index into order_
    std::vector<int64_t> order_;
};

} // namespace vkcnn::data
