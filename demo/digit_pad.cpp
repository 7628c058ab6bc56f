// The draw-a-digit canvas (see digit_pad.h).
#include "digit_pad.h"

#include <algorithm>
#include <cmath>

namespace demo {

namespace {

constexpr float kRadius = 11.0f; // stroke half-width in canvas pixels: MNIST's pen at 28x28 is ~2 px wide

float distance_to_segment(ImVec2 p, ImVec2 a, ImVec2 b) {
    const float dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
    const float t = len2 > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0.0f, 1.0f) : 0.0f;
    const float x = a.x + t * dx - p.x, y = a.y + t * dy - p.y;
    return std::sqrt(x * x + y * y);
}

} // namespace

bool DigitPad::draw(float size) {
    const ImVec2 p0 = ImGui::GetCursorScreenPos(), p1(p0.x + size, p0.y + size);
    ImGui::InvisibleButton("##pad", ImVec2(size, size));
    const float to_canvas = float(kSide) / size;
    bool changed = false;
    if (ImGui::IsItemActive()) {
        const ImVec2 m = ImGui::GetIO().MousePos;
        const ImVec2 c((m.x - p0.x) * to_canvas, (m.y - p0.y) * to_canvas);
        if (!drawing_) {
            strokes_.push_back({c});
            drawing_ = true;
            changed = true;
        } else if (const ImVec2 last = strokes_.back().back(); std::hypot(c.x - last.x, c.y - last.y) > 1.0f) {
            strokes_.back().push_back(c); // the segment between events is drawn as a line
            changed = true;
        }
    } else {
        drawing_ = false;
    }
    ImDrawList* list = ImGui::GetWindowDrawList();
    list->AddRectFilled(p0, p1, IM_COL32(0, 0, 0, 255));
    list->PushClipRect(p0, p1, true);
    const float r = kRadius / to_canvas;
    for (const auto& stroke : strokes_) {
        for (size_t i = 0; i < stroke.size(); ++i) {
            const ImVec2 a(p0.x + stroke[i].x / to_canvas, p0.y + stroke[i].y / to_canvas);
            list->AddCircleFilled(a, r, IM_COL32_WHITE, 16);
            if (i + 1 < stroke.size())
                list->AddLine(a, ImVec2(p0.x + stroke[i + 1].x / to_canvas, p0.y + stroke[i + 1].y / to_canvas),
                              IM_COL32_WHITE, 2 * r);
        }
    }
    list->PopClipRect();
    list->AddRect(p0, p1, IM_COL32(120, 120, 140, 255));
    if (changed) stale_ = true;
    return changed;
}

void DigitPad::clear() {
    strokes_.clear();
    stale_ = true;
}

void DigitPad::undo() {
    if (!strokes_.empty()) strokes_.pop_back();
    stale_ = true;
}

void DigitPad::add_stroke(std::vector<ImVec2> points) {
    strokes_.push_back(std::move(points));
    stale_ = true;
}

void DigitPad::rasterise() {
    // Coverage of a round brush, anti-aliased over one pixel at its edge.
    std::fill(canvas_.begin(), canvas_.end(), 0.0f);
    for (const auto& stroke : strokes_)
        for (size_t i = 0; i < stroke.size(); ++i) {
            const ImVec2 a = stroke[i], b = stroke[std::min(i + 1, stroke.size() - 1)];
            const int x0 = std::max(0, int(std::floor(std::min(a.x, b.x) - kRadius - 1)));
            const int x1 = std::min(kSide - 1, int(std::ceil(std::max(a.x, b.x) + kRadius + 1)));
            const int y0 = std::max(0, int(std::floor(std::min(a.y, b.y) - kRadius - 1)));
            const int y1 = std::min(kSide - 1, int(std::ceil(std::max(a.y, b.y) + kRadius + 1)));
            for (int y = y0; y <= y1; ++y)
                for (int x = x0; x <= x1; ++x) {
                    const float d = distance_to_segment(ImVec2(float(x) + 0.5f, float(y) + 0.5f), a, b);
                    float& v = canvas_[size_t(y) * kSide + size_t(x)];
                    v = std::max(v, std::clamp(kRadius + 0.5f - d, 0.0f, 1.0f));
                }
        }
}

const vkcnn::data::DigitImage& DigitPad::digit() {
    if (stale_) {
        rasterise();
        digit_ = vkcnn::data::mnist_preprocess(canvas_, kSide, kSide);
        stale_ = false;
    }
    return digit_;
}

} // namespace demo
