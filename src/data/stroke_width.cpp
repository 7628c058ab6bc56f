#include "vkcnn/data/stroke_width.h"

#include "vkcnn/core/error.h"
#include "vkcnn/data/dataset.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace vkcnn::data {

void grey_dilate(std::span<const float> plane, int64_t h, int64_t w, int k, std::span<float> out) {
    check(k >= 1 && k <= 8, "grey_dilate: window ", k, " is not in 1..8");
    check(h > 0 && w > 0 && plane.size() == static_cast<size_t>(h * w) && out.size() == plane.size(),
          "grey_dilate: a ", h, "x", w, " plane needs ", h * w, " values, got ", plane.size(), " in and ", out.size(),
          " out");
    const int64_t lo = -(k - 1) / 2, hi = lo + k - 1; // window offsets [lo, hi] on both axes
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t dy = std::max(lo, -y); dy <= std::min(hi, h - 1 - y); ++dy)
                for (int64_t dx = std::max(lo, -x); dx <= std::min(hi, w - 1 - x); ++dx)
                    m = std::max(m, plane[static_cast<size_t>((y + dy) * w + x + dx)]);
            out[static_cast<size_t>(y * w + x)] = m;
        }
}

void vary_stroke_width(std::span<float> images, int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed,
                       const StrokeWidthOptions& options) {
    check(n >= 0 && c > 0 && h > 0 && w > 0 && images.size() == static_cast<size_t>(n * c * h * w),
          "vary_stroke_width: ", n, " images of (", c, ", ", h, ", ", w, ") need ", n * c * h * w, " values, got ",
          images.size());
    check(options.probability >= 0 && options.probability <= 1, "vary_stroke_width: probability ",
          options.probability, " is not in [0, 1]");
    const auto plane = static_cast<size_t>(h * w);
    std::vector<float> dilated(plane);
    for (int64_t i = 0; i < n; ++i) {
        SplitMix64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(i));
        const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53; // uniform in [0, 1)
        if (u >= options.probability) continue;
        const int k = rng.below(2) == 0 ? 2 : 3;
        for (int64_t ch = 0; ch < c; ++ch) {
            const std::span<float> p = images.subspan(static_cast<size_t>(i * c + ch) * plane, plane);
            grey_dilate(p, h, w, k, dilated);
            std::copy(dilated.begin(), dilated.end(), p.begin());
        }
    }
}

} // namespace vkcnn::data
