// MNIST's preprocessing of a drawing (digit.h): crop to the ink, fit into
// 20x20 with a separable filter (area averaging down, bilinear up), place by
// the centre of mass. Plain loops; a drawing is at most a few megapixels and
// only its box's rows are read once.
#include "vkcnn/data/digit.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace vkcnn::data {
namespace {

constexpr int kSide = 28; // the output image
constexpr int kBox = 20;  // the fitted digit's larger side
constexpr float kCentre = 14.0f;

void check_drawing(std::span<const float> gray, int width, int height) {
    check(width > 0 && height > 0, "mnist_preprocess: the drawing is ", width, "x", height,
          "; width and height must be positive");
    const int64_t n = int64_t{width} * height;
    check(gray.size() == uint64_t(n), "mnist_preprocess: a ", width, "x", height, " drawing needs ", n,
          " values, got ", gray.size());
}

// A value in [0, 1]; NaN is 0.
float clamped(float v) { return v > 0.0f ? std::min(v, 1.0f) : 0.0f; }

// One output sample of a 1-D resampling: sum of weight * input[index].
struct Tap {
    int index;
    float weight;
};

// The taps mapping n input samples onto m outputs (pixel i covers [i, i+1)).
// Shrinking: each output averages the inputs it covers, weighted by the
// length of overlap (an exact box filter). Growing or equal: bilinear between
// the two nearest input centres, pixel centres aligned, clamped at the edges
// (n == m is the identity).
std::vector<std::vector<Tap>> resample_taps(int n, int m) {
    std::vector<std::vector<Tap>> taps(static_cast<size_t>(m));
    const double r = double(n) / double(m); // input pixels per output pixel
    for (int o = 0; o < m; ++o) {
        auto& t = taps[size_t(o)];
        if (n > m) {
            const double lo = o * r, hi = (o + 1) * r;
            for (int i = int(std::floor(lo)); i < n && i < hi; ++i) {
                const double overlap = std::min(hi, double(i + 1)) - std::max(lo, double(i));
                if (overlap > 0) t.push_back({i, float(overlap / r)});
            }
        } else {
            const double src = std::clamp((o + 0.5) * r - 0.5, 0.0, double(n - 1));
            const int i0 = int(std::floor(src));
            const int i1 = std::min(i0 + 1, n - 1);
            const float f = float(src - i0);
            t.push_back({i0, 1.0f - f});
            if (f > 0) t.push_back({i1, f});
        }
    }
    return taps;
}

} // namespace

bool has_light_background(std::span<const float> gray, int width, int height) {
    check_drawing(gray, width, height);
    const auto at = [&](int x, int y) { return double(clamped(gray[size_t(y) * size_t(width) + size_t(x)])); };
    double sum = 0;
    int64_t count = 0;
    for (int x = 0; x < width; ++x) { // top and bottom rows (one row when height is 1)
        sum += at(x, 0);
        ++count;
        if (height > 1) {
            sum += at(x, height - 1);
            ++count;
        }
    }
    for (int y = 1; y + 1 < height; ++y) { // left and right columns between them
        sum += at(0, y);
        ++count;
        if (width > 1) {
            sum += at(width - 1, y);
            ++count;
        }
    }
    return sum / double(count) > 0.5;
}

DigitImage mnist_preprocess(std::span<const float> gray, int width, int height, const DigitOptions& options) {
    check_drawing(gray, width, height);
    const float threshold = options.ink_threshold;
    check(threshold >= 0.0f && threshold < 1.0f, "mnist_preprocess: ink_threshold is ", threshold,
          "; it must be in [0, 1)");
    DigitImage out;
    out.inverted = options.background == DigitBackground::Light ||
                   (options.background == DigitBackground::Detect && has_light_background(gray, width, height));
    // The drawing as ink: inverted if asked, clamped, background (<= threshold) 0.
    const auto ink = [&](int x, int y) {
        float v = clamped(gray[size_t(y) * size_t(width) + size_t(x)]);
        if (out.inverted) v = 1.0f - v;
        return v > threshold ? v : 0.0f;
    };

    // 2. The ink's bounding box.
    int x0 = width, y0 = height, x1 = -1, y1 = -1; // inclusive
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            if (ink(x, y) > 0.0f) {
                x0 = std::min(x0, x);
                x1 = std::max(x1, x);
                y0 = std::min(y0, y);
                y1 = std::max(y1, y);
            }
    if (x1 < 0) return out; // empty: all zeros
    const int bw = x1 - x0 + 1, bh = y1 - y0 + 1;

    // 3. Fit into 20x20: the larger side 20, the other rounded, at least 1.
    const int larger = std::max(bw, bh);
    const auto fitted = [&](int side) {
        return side == larger ? kBox : std::max(1, int(std::lround(double(kBox) * side / larger)));
    };
    const int fw = fitted(bw), fh = fitted(bh);
    const auto taps_x = resample_taps(bw, fw), taps_y = resample_taps(bh, fh);
    std::vector<float> rows(size_t(bh) * size_t(fw)); // (bh, fw): horizontal pass
    for (int y = 0; y < bh; ++y)
        for (int o = 0; o < fw; ++o) {
            float s = 0;
            for (const Tap& t : taps_x[size_t(o)]) s += t.weight * ink(x0 + t.index, y0 + y);
            rows[size_t(y) * size_t(fw) + size_t(o)] = s;
        }
    std::vector<float> fit(size_t(fh) * size_t(fw)); // (fh, fw): vertical pass
    for (int o = 0; o < fh; ++o)
        for (int x = 0; x < fw; ++x) {
            float s = 0;
            for (const Tap& t : taps_y[size_t(o)]) s += t.weight * rows[size_t(t.index) * size_t(fw) + size_t(x)];
            fit[size_t(o) * size_t(fw) + size_t(x)] = std::clamp(s, 0.0f, 1.0f);
        }

    // 4. Centre of mass of the fitted image, moved to (14, 14) by a whole-pixel shift.
    double mass = 0, mx = 0, my = 0;
    for (int y = 0; y < fh; ++y)
        for (int x = 0; x < fw; ++x) {
            const double v = fit[size_t(y) * size_t(fw) + size_t(x)];
            mass += v;
            mx += v * x;
            my += v * y;
        }
    // Ink above the threshold always leaves mass; the geometric centre guards the impossible.
    const double cx = mass > 0 ? mx / mass : (fw - 1) / 2.0, cy = mass > 0 ? my / mass : (fh - 1) / 2.0;
    const int ox = int(std::lround(kCentre - cx)), oy = int(std::lround(kCentre - cy));
    for (int y = 0; y < fh; ++y)
        for (int x = 0; x < fw; ++x) {
            const int tx = ox + x, ty = oy + y;
            if (tx >= 0 && tx < kSide && ty >= 0 && ty < kSide)
                out.pixels[size_t(ty) * kSide + size_t(tx)] = fit[size_t(y) * size_t(fw) + size_t(x)];
        }

    out.empty = false;
    out.box_x = x0;
    out.box_y = y0;
    out.box_width = bw;
    out.box_height = bh;
    out.fitted_width = fw;
    out.fitted_height = fh;
    out.scale = float(kBox) / float(larger);
    // Fitted pixel o's centre is input coordinate (o + 0.5) * (box / fitted) - 0.5 within the box.
    out.centre_x = float(x0 + (cx + 0.5) * double(bw) / fw - 0.5);
    out.centre_y = float(y0 + (cy + 0.5) * double(bh) / fh - 0.5);
    out.offset_x = ox;
    out.offset_y = oy;
    return out;
}

} // namespace vkcnn::data
