// Random stroke width, for networks that read drawn digits. A pen of fixed
// width makes a digit drawn small come out bold once MNIST's preprocessing
// fits it into 20x20 (a stroke 4 pixels wide where MNIST's are 2-3), and a
// network trained on MNIST alone misreads bold digits. Thickening a share
// of the training digits by grey-scale dilation (the maximum over a small
// window, as scipy.ndimage.grey_dilation) teaches it that width does not
// matter. Host-side, on a batch: TrainerOptions::transform_batch.
#pragma once

#include <cstdint>
#include <span>

namespace vkcnn::data {

struct StrokeWidthOptions {
    float probability = 0.5f; // share of the images thickened; the rest are left as they are
    // A thickened image is dilated by a window of 2x2 (one pixel bolder) or
    // 3x3 (two pixels), each equally likely.
};

// Thickens a random share of `n` images (n, c, h, w), in place. Values may be
// normalised (dilation commutes with any increasing map). Which images, and
// by how much, depends only on (seed, the image's index in the batch): a
// step keyed by (seed, step) gets the same batch on every run.
void vary_stroke_width(std::span<float> images, int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed,
                       const StrokeWidthOptions& options = {});

// The grey dilation of one (h, w) plane by a k x k window whose top-left is
// at offset -(k - 1) / 2 (k = 3: centred; k = 2: the pixel, its right and
// lower neighbours and their corner), the window clipped at the borders.
void grey_dilate(std::span<const float> plane, int64_t h, int64_t w, int k, std::span<float> out);

} // namespace vkcnn::data
