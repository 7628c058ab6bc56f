// A canvas to draw a digit on with the mouse (or a pen through GLFW's
// pointer): thick round anti-aliased strokes, interpolated between events,
// undo and clear. What it hands the network is MNIST's own preprocessing of
// the drawing (data::mnist_preprocess: fitted into 20x20, centred by its
// centre of mass in 28x28), the same path as `vkcnn predict --image`.
#pragma once

#include <vkcnn/data/digit.h>

#include <imgui.h>

#include <vector>

namespace demo {

class DigitPad {
public:
    static constexpr int kSide = 280; // canvas pixels, 10x MNIST's

    // The canvas widget, `size` screen pixels square; returns whether the
    // drawing changed this frame.
    bool draw(float size);
    void clear();
    void undo();
    bool empty() const { return strokes_.empty(); }
    // Adds a stroke in canvas pixels (the scripted mode draws with it).
    void add_stroke(std::vector<ImVec2> points);

    // The drawing, preprocessed (recomputed when it changed).
    const vkcnn::data::DigitImage& digit();

private:
    void rasterise();

    std::vector<std::vector<ImVec2>> strokes_; // canvas pixels
    std::vector<float> canvas_ = std::vector<float>(size_t(kSide) * kSide, 0.0f);
    vkcnn::data::DigitImage digit_;
    bool stale_ = true;
    bool drawing_ = false;
};

} // namespace demo
