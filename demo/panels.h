// The demo's ImGui panels: controls, curves, speed and the per-node GPU
// profile, inside the network, the draw-a-digit pad, the confusion matrix,
// misclassified digits and weight / gradient histograms. Laid out in three
// fixed columns so the scripted screenshots are comparable; each panel's
// screen rectangle is recorded for the scripted mode's report.
#pragma once

#include "digit_pad.h"
#include "inspector.h"
#include "session.h"
#include "textures.h"

#include <deque>
#include <map>
#include <memory>
#include <string>

namespace demo {

struct UiState {
    SessionOptions pending;        // the controls' choices; applied by Restart
    bool restart = false;          // the user asked for a new session
    int inspect_index = 0;         // test image shown inside the network
    bool inspect_drawing = false;  // or the user's drawing
    int explain = -1;              // class explained by saliency / Grad-CAM; -1: the predicted one
    bool inspector_stale = true;   // the image or the class changed
    float smoothing = 0.6f;
    bool wall_clock = false;       // x axis: seconds instead of steps
    int histogram = 0;             // which tensor
    std::string checkpoint = "demo.safetensors";
    std::deque<float> frame_ms;    // the last frames, for the speed panel
    double budget_flops = 0;       // training work per frame now
    std::map<std::string, ImVec4> regions; // panel and plot rectangles (x, y, w, h)
};

class Panels {
public:
    explicit Panels(TextureRenderer& renderer);
    void draw(Session& session, Inspector& inspector, DigitPad& pad, UiState& ui);
    // Before the render pass: the gallery and the drawing's 28x28.
    void record_uploads(VkCommandBuffer cmd, uint32_t frame_slot);

private:
    void controls(Session& session, UiState& ui);
    void curves(Session& session, UiState& ui);
    void speed(Session& session, UiState& ui);
    void inside(Session& session, Inspector& inspector, UiState& ui);
    void drawing(Session& session, Inspector& inspector, DigitPad& pad, UiState& ui);
    void confusion(Session& session, UiState& ui);
    void gallery(Session& session, UiState& ui);
    void histograms(Session& session, UiState& ui);
    // Begins a window at a fixed place: (x, y, w, h) as fractions of the display.
    bool begin(const char* name, float x, float y, float w, float h, UiState& ui);
    void end(const char* name, UiState& ui);

    TextureRenderer& renderer_;
    std::unique_ptr<Texture> gallery_, digit_;
    std::vector<uint32_t> gallery_pixels_, digit_pixels_;
    size_t gallery_evals_ = size_t(-1); // the evaluation the gallery shows
    bool gallery_stale_ = false, digit_stale_ = false;
    std::vector<float> digit_probabilities_;
    uint64_t digit_refresh_ = 0; // the inspector refresh the bars were predicted at
};

} // namespace demo
