// What the visualisation toolkit means by an image. The functions of
// src/viz take and return images as the model takes them — normalised,
// (C, H, W) per sample, as data::Dataset holds them — and speak of sizes
// that people think of in pixels (an adversarial epsilon, the valid range a
// picture must stay in, SmoothGrad's noise) in pixel units, where a pixel is
// in [0, 1]: x = (pixel - mean) / std.
#pragma once

#include "vkcnn/data/dataset.h"

#include <algorithm>
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

} // namespace vkcnn::viz
