// What the visualisation toolkit means by an image. The functions of
// src/viz take and return images as the model takes them — normalised,
// (C, H, W) per sample, as data::Dataset holds them — and speak of sizes
// that people think of in pixels (an adversarial epsilon, the valid range a
// picture must stay in, SmoothGrad's noise) in pixel units, where a pixel is
// in [0, 1]: x = (pixel - mean) / std.
#pragma once

#include "vkcnn/data/dataset.h"

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace vkcnn::viz {

struct PixelSpace {
    data::Normalization norm{};

    float to_model(float pixel) const { return (pixel - norm.mean) / norm.std; }
    float to_pixel(float x) const { return x * norm.std + norm.mean; }
    // A length in pixel units (epsilon, a step, a noise sigma) in the model's units.
    float length(float pixels) const { return pixels / norm.std; }
    // The model-space values of pixels 0 and 1: what a valid image stays within.
    float lo() const { return to_model(0.0f); }
    float hi() const { return to_model(1.0f); }
    float clamp(float x) const { return std::clamp(x, lo(), hi()); }

    std::vector<float> to_pixels(std::span<const float> x) const {
        std::vector<float> p(x.size());
        for (size_t i = 0; i < x.size(); ++i) p[i] = to_pixel(x[i]);
        return p;
    }
    std::vector<float> to_model(std::span<const float> pixels) const {
        std::vector<float> x(pixels.size());
        for (size_t i = 0; i < x.size(); ++i) x[i] = to_model(pixels[i]);
        return x;
    }
};

// Bilinear resampling of `count` planes of (h, w) to (th, tw), pixel
// centres aligned, as PyTorch's interpolate(mode='bilinear',
// align_corners=False): a source position below 0 is taken as 0, one past
// the last row or column blends that row or column with itself.
inline std::vector<float> resample_bilinear(std::span<const float> planes, int64_t count, int64_t h, int64_t w,
                                            int64_t th, int64_t tw) {
    std::vector<float> out(static_cast<size_t>(count * th * tw));
    const auto source = [](int64_t i, int64_t from, int64_t to) {
        return std::max((static_cast<float>(i) + 0.5f) * static_cast<float>(from) / static_cast<float>(to) - 0.5f, 0.0f);
    };
    for (int64_t p = 0; p < count; ++p)
        for (int64_t y = 0; y < th; ++y) {
            const float sy = source(y, h, th);
            const int64_t y0 = std::min(static_cast<int64_t>(sy), h - 1), y1 = std::min(y0 + 1, h - 1);
            const float fy = sy - static_cast<float>(y0);
            for (int64_t x = 0; x < tw; ++x) {
                const float sx = source(x, w, tw);
                const int64_t x0 = std::min(static_cast<int64_t>(sx), w - 1), x1 = std::min(x0 + 1, w - 1);
                const float fx = sx - static_cast<float>(x0);
                const auto at = [&](int64_t yy, int64_t xx) { return planes[static_cast<size_t>((p * h + yy) * w + xx)]; };
                out[static_cast<size_t>((p * th + y) * tw + x)] =
                    (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
            }
        }
    return out;
}

} // namespace vkcnn::viz
