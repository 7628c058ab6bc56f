// MNIST's own preprocessing of a hand-drawn digit (LeCun et al.: fitted into a
// 20x20 box keeping its aspect ratio, anti-aliased, centred by its centre of
// mass in 28x28), so a digit drawn small or off-centre reaches the network as
// the training set's digits did. Plain C++: the CLI, the ImGui demo and the
// browser (WebAssembly) share it.
#pragma once

#include <array>
#include <span>

namespace vkcnn::data {

// Which way round the drawing's values are.
enum class DigitBackground {
    Dark,  // ink is high (white on black, as MNIST): used as is
    Light, // ink is low (dark ink on paper, a photo): inverted, v -> 1 - v
    Detect // Light when the mean of the border pixels (outermost rows and columns) is > 0.5, else Dark
};

struct DigitOptions {
    DigitBackground background = DigitBackground::Dark;
    // After any inversion a pixel is ink when its value is > ink_threshold;
    // pixels at or below it are background: they do not extend the bounding
    // box and count as 0. Ink keeps its grey level (no binarisation).
    float ink_threshold = 0.02f;
};

// The 28x28 image the network sees, and what the demo draws over the input.
// Coordinates put pixel (x, y)'s centre at (x, y).
struct DigitImage {
    std::array<float, 28 * 28> pixels{}; // (28, 28) row-major, in [0, 1], white digit on black
    bool empty = true;                   // no ink: pixels are all 0, and so are the box, sizes, centre and offsets
    bool inverted = false;               // the input was inverted (Light, or Detect found a light background)
    int box_x = 0, box_y = 0;            // the ink's bounding box in the input: first column and row,
    int box_width = 0, box_height = 0;   //   and its size in input pixels
    int fitted_width = 0, fitted_height = 0; // the box scaled into 20x20: the larger side is 20
    float scale = 0;                     // fitted pixels per input pixel (20 / the box's larger side)
    float centre_x = 0, centre_y = 0;    // centre of mass of the fitted image's intensities, in the input's coordinates
    int offset_x = 0, offset_y = 0;      // where the fitted image's top-left pixel lands in the 28x28; below 0,
                                         //   or offset + fitted size above 28, part of it was clipped
};

// MNIST's preprocessing of a grayscale drawing `gray` (height, width),
// row-major, values in [0, 1] (others are clamped; NaN is background):
//   1. invert if options.background says so;
//   2. crop to the bounding box of the ink (values > options.ink_threshold);
//   3. scale the box by 20 / its larger side, the smaller side rounded to
//      whole pixels (at least 1), each axis filtered on its own: area
//      averaging (an exact box filter, as OpenCV's INTER_AREA) where it
//      shrinks, bilinear with pixel centres aligned (INTER_LINEAR) where it
//      grows;
//   4. compute the centre of mass (cx, cy) of the fitted image's intensities
//      and place the fitted image at the whole-pixel offset
//      (round(14 - cx), round(14 - cy)), rounding halves away from zero, so
//      the centre of mass lands within half a pixel of (14, 14) (MNIST's
//      test digits: mean (14.0, 14.0), spread 0.29 px, as rounding gives);
//      what falls outside 28x28 is clipped. An integer shift as in the classic recipe
//      (scipy.ndimage.center_of_mass, then a shift by the rounded
//      difference): no resampling blur, and MNIST's own digits, whose box is
//      20 on its larger side, come back nearly unchanged (pixels at or below
//      the threshold dropped, now and then a shift of one pixel where the
//      centre was close to a half).
// An empty drawing (no ink) is not an error: `empty` is set, pixels are 0.
// Throws vkcnn::Error naming the sizes for width or height <= 0, or a `gray`
// that does not hold width * height values (and for an ink_threshold outside [0, 1)).
DigitImage mnist_preprocess(std::span<const float> gray, int width, int height, const DigitOptions& options = {});

// Whether a drawing has a light background: the mean of its border pixels
// (the outermost rows and columns) is > 0.5. What DigitBackground::Detect
// uses; same errors as mnist_preprocess.
bool has_light_background(std::span<const float> gray, int width, int height);

} // namespace vkcnn::data
