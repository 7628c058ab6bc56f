// Decimated line plots (see plot.h).
#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace demo {

std::vector<double> debiased_ema(std::span<const double> y, double w) {
    std::vector<double> out(y.size());
    double s = 0, weight = 1;
    for (size_t i = 0; i < y.size(); ++i) {
        s = w * s + (1 - w) * y[i];
        weight *= w;
        out[i] = w < 1 ? s / (1 - weight) : y[i];
    }
    return out;
}

ImVec4 plot(const char* id, std::span<const Series> series, ImVec2 size, double y_min, double y_max,
            const char* x_label) {
    ImGui::PushID(id);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::Dummy(size);
    const ImVec2 p1(p0.x + size.x, p0.y + size.y);
    ImDrawList* list = ImGui::GetWindowDrawList();
    list->AddRectFilled(p0, p1, IM_COL32(24, 26, 32, 255));
    list->AddRect(p0, p1, IM_COL32(80, 84, 96, 255));

    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, lo = x0, hi = -x0;
    for (const Series& s : series)
        for (size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.y[i])) continue;
            x0 = std::min(x0, s.x[i]);
            x1 = std::max(x1, s.x[i]);
            lo = std::min(lo, s.y[i]);
            hi = std::max(hi, s.y[i]);
        }
    if (y_min < y_max) {
        lo = y_min;
        hi = y_max;
    }
    const float left = p0.x + 4, right = p1.x - 4, top = p0.y + 18, bottom = p1.y - 14;
    if (x0 <= x1 && lo <= hi) {
        if (x1 == x0) x1 = x0 + 1;
        if (hi == lo) { // a constant: in the middle
            const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
            lo -= pad;
            hi += pad;
        }
        const auto sx = [&](double x) { return float(left + (x - x0) / (x1 - x0) * (right - left)); };
        const auto sy = [&](double y) { return float(bottom - (std::clamp(y, lo, hi) - lo) / (hi - lo) * (bottom - top)); };
        const int columns = std::max(1, int(right - left));
        for (const Series& s : series) {
            if (s.x.empty()) continue;
            const std::vector<double> line = s.smoothing > 0 ? debiased_ema(s.y, s.smoothing) : s.y;
            // One vertex per pixel column: the band of raw values, and the line's last value in it.
            std::vector<ImVec2> points;
            std::vector<float> band_lo(size_t(columns), 1e30f), band_hi(size_t(columns), -1e30f);
            int column = -1;
            for (size_t i = 0; i < s.x.size(); ++i) {
                if (!std::isfinite(line[i])) continue;
                const int c = std::clamp(int(sx(s.x[i]) - left), 0, columns - 1);
                band_lo[size_t(c)] = std::min(band_lo[size_t(c)], sy(s.y[i]));
                band_hi[size_t(c)] = std::max(band_hi[size_t(c)], sy(s.y[i]));
                if (c != column) points.push_back(ImVec2(sx(s.x[i]), sy(line[i])));
                else points.back() = ImVec2(sx(s.x[i]), sy(line[i]));
                column = c;
            }
            if (s.smoothing > 0) {
                const ImU32 faint = (s.colour & 0x00FFFFFFu) | 0x50000000u;
                // One-pixel rectangles: no anti-aliasing fringe to rasterise.
                for (int c = 0; c < columns; ++c)
                    if (band_lo[size_t(c)] <= band_hi[size_t(c)])
                        list->AddRectFilled(ImVec2(left + float(c), band_lo[size_t(c)]),
                                            ImVec2(left + float(c) + 1, band_hi[size_t(c)] + 1), faint);
            }
            if (points.size() == 1) list->AddCircleFilled(points[0], 2.5f, s.colour);
            else list->AddPolyline(points.data(), int(points.size()), s.colour, 0, 1.5f);
        }
        char text[64];
        std::snprintf(text, sizeof text, "%.3g", hi);
        list->AddText(ImVec2(right - ImGui::CalcTextSize(text).x, top - 2), IM_COL32(150, 150, 160, 255), text);
        std::snprintf(text, sizeof text, "%.3g", lo);
        list->AddText(ImVec2(left, bottom - 14), IM_COL32(150, 150, 160, 255), text);
        std::snprintf(text, sizeof text, "%s %.4g", x_label, x1);
        list->AddText(ImVec2(right - ImGui::CalcTextSize(text).x, bottom), IM_COL32(150, 150, 160, 255), text);
    }
    // Legend: each series' name in its colour, with its last value.
    float x = left;
    for (const Series& s : series) {
        char text[96];
        if (s.y.empty()) std::snprintf(text, sizeof text, "%s", s.name.c_str());
        else std::snprintf(text, sizeof text, "%s %.4g", s.name.c_str(), s.y.back());
        list->AddText(ImVec2(x, p0.y + 2), s.colour, text);
        x += ImGui::CalcTextSize(text).x + 14;
    }
    ImGui::PopID();
    return ImVec4(p0.x, p0.y, size.x, size.y);
}

} // namespace demo
