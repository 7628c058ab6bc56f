// Datasets in memory, the MNIST-family loaders, the seeded split and the
// batch loader (see dataset.h for why the randomness is hand-rolled).
#include "vkcnn/data/dataset.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

namespace vkcnn::data {
namespace {

bool file_exists(const std::string& path) {
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        std::fclose(f);
        return true;
    }
    return false;
}

// `dir/name`, else `dir/name.gz`; the error names both when neither is there.
std::string find_idx_file(const std::string& dir, const std::string& name) {
    const std::string base = dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
    if (file_exists(base)) return base;
    if (file_exists(base + ".gz")) return base + ".gz";
    throw Error(cat(base, ": no such file (nor ", base, ".gz); scripts/fetch_data.sh fetches MNIST and Fashion-MNIST"));
}

} // namespace

void shuffle(std::span<int64_t> v, SplitMix64& rng) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

void epoch_order(std::span<int64_t> order, uint64_t seed, uint64_t epoch) {
    std::iota(order.begin(), order.end(), int64_t{0});
    // Mix seed and epoch through SplitMix64's finaliser so that nearby seeds
    // and epochs give unrelated streams.
    SplitMix64 rng(SplitMix64(seed).next() ^ SplitMix64(~epoch).next());
    shuffle(order, rng);
}

const char* split_name(Split s) { return s == Split::Train ? "train" : "test"; }

Dataset::Dataset(int64_t channels, int64_t height, int64_t width, int num_classes, std::vector<float> images,
                 std::vector<int32_t> labels, Normalization normalization)
    : channels_(channels), height_(height), width_(width), num_classes_(num_classes), normalization_(normalization),
      images_(std::move(images)), labels_(std::move(labels)) {
    check(channels > 0 && height > 0 && width > 0, "Dataset: image shape (", channels, ", ", height, ", ", width,
          ") must be positive");
    // image_elements() and every offset below are then products that cannot overflow.
    constexpr int64_t kMaxImage = int64_t{1} << 40;
    check(channels <= kMaxImage / height && channels * height <= kMaxImage / width, "Dataset: image shape (", channels,
          ", ", height, ", ", width, ") has more than 2^40 elements");
    // In 64 bits: where size_t has 32 (WebAssembly), size_t(2^40) would be 0.
    check(uint64_t{labels_.size()} <= uint64_t{images_.max_size()} / static_cast<uint64_t>(image_elements()),
          "Dataset: ", labels_.size(),
          " labels of (", channels, ", ", height, ", ", width, ") images need more floats than memory can hold");
    check(num_classes > 0, "Dataset: num_classes must be positive, got ", num_classes);
    check(images_.size() == labels_.size() * size_t(image_elements()), "Dataset: ", labels_.size(), " labels of (",
          channels, ", ", height, ", ", width, ") images need ", labels_.size() * size_t(image_elements()),
          " floats, got ", images_.size());
    for (size_t i = 0; i < labels_.size(); ++i)
        check(labels_[i] >= 0 && labels_[i] < num_classes, "Dataset: label ", labels_[i], " at index ", i,
              " is out of range for ", num_classes, " classes");
}

Dataset Dataset::from_idx(const IdxPair& idx, int num_classes, Normalization norm) {
    check(norm.std > 0.0f, "Dataset: normalisation std must be positive, got ", norm.std);
    // One multiply-add per pixel; the table keeps it exactly (p/255 - mean)/std
    // as torchvision computes it, in float.
    float table[256];
    for (int p = 0; p < 256; ++p) table[p] = (float(p) / 255.0f - norm.mean) / norm.std;
    std::vector<float> images(idx.images.pixels.size());
    for (size_t i = 0; i < images.size(); ++i) images[i] = table[idx.images.pixels[i]];
    std::vector<int32_t> labels(idx.labels.labels.begin(), idx.labels.labels.end());
    return Dataset(1, idx.images.rows, idx.images.cols, num_classes, std::move(images), std::move(labels), norm);
}

std::span<const float> Dataset::image(int64_t i) const {
    check(i >= 0 && i < size(), "Dataset::image: index ", i, " out of range for ", size(), " samples");
    return std::span<const float>(images_).subspan(size_t(i * image_elements()), size_t(image_elements()));
}

int32_t Dataset::label(int64_t i) const {
    check(i >= 0 && i < size(), "Dataset::label: index ", i, " out of range for ", size(), " samples");
    return labels_[size_t(i)];
}

Dataset Dataset::subset(std::span<const int64_t> indices) const {
    // Indices first: a bad one is an error about it, not an allocation of indices.size() images.
    for (const int64_t i : indices)
        check(i >= 0 && i < size(), "Dataset::subset: index ", i, " out of range for ", size(), " samples");
    const size_t e = size_t(image_elements());
    std::vector<float> images(indices.size() * e); // at most as many images as the dataset holds, per index
    std::vector<int32_t> labels(indices.size());
    for (size_t k = 0; k < indices.size(); ++k) {
        const int64_t i = indices[k];
        std::memcpy(images.data() + k * e, images_.data() + size_t(i) * e, e * sizeof(float));
        labels[k] = labels_[size_t(i)];
    }
    return Dataset(channels_, height_, width_, num_classes_, std::move(images), std::move(labels), normalization_);
}

Dataset load_idx_dataset(const std::string& dir, Split split, int num_classes, Normalization norm, ImageSize expect) {
    const std::string prefix = split == Split::Train ? "train" : "t10k";
    const std::string images = find_idx_file(dir, prefix + "-images-idx3-ubyte");
    const std::string labels = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
    return idx_dataset(read_idx_pair(images, labels, num_classes), images, num_classes, norm, expect);
}

Dataset idx_dataset(const IdxPair& idx, const std::string& images_source, int num_classes, Normalization norm,
                    ImageSize expect) {
    const bool any = expect.rows == 0 && expect.cols == 0;
    check(any || (idx.images.rows == expect.rows && idx.images.cols == expect.cols), images_source,
          ": the images are ", idx.images.rows, " x ", idx.images.cols, ", expected ", expect.rows, " x ", expect.cols);
    return Dataset::from_idx(idx, num_classes, norm);
}

Dataset load_mnist(const std::string& dir, Split split, ImageSize expect) {
    return load_idx_dataset(dir, split, 10, kMnistNormalization, expect);
}

Dataset load_fashion_mnist(const std::string& dir, Split split, ImageSize expect) {
    return load_idx_dataset(dir, split, 10, kFashionMnistNormalization, expect);
}

TrainValidation split_train_validation(const Dataset& all, int64_t validation_count, uint64_t seed) {
    check(validation_count >= 0 && validation_count <= all.size(), "split_train_validation: validation_count ",
          validation_count, " must be in 0..", all.size());
    std::vector<int64_t> order(size_t(all.size()));
    std::iota(order.begin(), order.end(), int64_t{0});
    SplitMix64 rng(seed);
    shuffle(order, rng);
    std::sort(order.begin(), order.begin() + validation_count);
    std::sort(order.begin() + validation_count, order.end());
    const std::span<const int64_t> both(order);
    return {all.subset(both.subspan(size_t(validation_count))), all.subset(both.first(size_t(validation_count)))};
}

BatchLoader::BatchLoader(const Dataset& dataset, LoaderOptions options)
    : dataset_(&dataset), options_(options), order_(size_t(dataset.size())) {
    check(options.batch_size > 0, "BatchLoader: batch_size must be positive, got ", options.batch_size);
    start_epoch(0);
}

void BatchLoader::start_epoch(uint64_t epoch) {
    epoch_ = epoch;
    position_ = 0;
    if (options_.shuffle)
        epoch_order(order_, options_.seed, epoch);
    else
        std::iota(order_.begin(), order_.end(), int64_t{0});
}

int64_t BatchLoader::batches_per_epoch() const {
    const int64_t n = dataset_->size(), b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t BatchLoader::next(std::span<float> images, std::span<int32_t> labels) {
    const int64_t b = options_.batch_size, e = dataset_->image_elements();
    // b * e may overflow for a huge batch_size (and wrap below the buffers' size): divide instead,
    // in 64 bits (a 32-bit size_t(b) would wrap too, and a batch of 2^62 pass as one of 0).
    const auto ub = static_cast<uint64_t>(b);
    const bool fits = uint64_t{labels.size()} >= ub && (e == 0 || uint64_t{images.size()} / static_cast<uint64_t>(e) >= ub);
    if (!fits) {
        const bool overflows = e != 0 && b > std::numeric_limits<int64_t>::max() / e;
        throw Error(cat("BatchLoader::next: buffers hold ", images.size(), " floats and ", labels.size(),
                        " labels, a batch of ", b, " needs ", overflows ? cat(b, " x ", e) : cat(b * e), " and ", b));
    }
    const int64_t n = std::min(b, dataset_->size() - position_);
    if (n <= 0 || (n < b && options_.drop_last)) return 0;
    const float* src = dataset_->images().data();
    const int32_t* lab = dataset_->labels().data();
    for (int64_t k = 0; k < n; ++k) {
        const int64_t i = order_[size_t(position_ + k)];
        std::memcpy(images.data() + k * e, src + i * e, size_t(e) * sizeof(float));
        labels[size_t(k)] = lab[i];
    }
    position_ += n;
    return n;
}

} // namespace vkcnn::data
