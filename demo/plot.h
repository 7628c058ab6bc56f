// Line plots for the training curves, drawn with ImGui's draw list: every
// point is kept by the caller and only the display is decimated (each pixel
// column shows the min-max band of the raw points that fall in it), with an
// optional debiased exponential moving average on top — TensorBoard's
// smoothing: s_t = w s_(t-1) + (1 - w) v_t, shown as s_t / (1 - w^t), so the
// first points are not pulled towards 0.
#pragma once

#include <imgui.h>

#include <span>
#include <string>
#include <vector>

namespace demo {

struct Series {
    std::string name;
    std::vector<double> x, y;
    ImU32 colour;
    float smoothing = 0; // 0: the raw line; (0, 1): the band plus the moving average
};

// The debiased moving average of `y` with weight `w` (TensorBoard's smoothing).
std::vector<double> debiased_ema(std::span<const double> y, double w);

// A plot `size` pixels, y from the data's range (or [y_min, y_max] when
// y_min < y_max), legend on top. Returns the plot's screen rectangle.
ImVec4 plot(const char* id, std::span<const Series> series, ImVec2 size, double y_min = 0, double y_max = 0,
            const char* x_label = "step");

} // namespace demo
