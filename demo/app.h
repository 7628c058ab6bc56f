// The demo's frame loop on the demo's window and the device vkcnn adopted
// from it: per frame, a slice of the training step sized by the frame time
// (frame_budget.h), a look inside the network between steps once a second
// (inspector.h), the panels (panels.h), the texture copies and the UI drawn
// and presented (window.h, textures.h). The scripted mode (--frames,
// --train-steps, --screenshot, --report, --resize-at, --minimise-at) drives
// the same loop for tests and screenshots.
#pragma once

#include "session.h"
#include "window.h"

#include <vkcnn/vulkan/device.h>

#include <cstdint>
#include <optional>
#include <string>

namespace demo {

struct AppOptions {
    WindowOptions window;
    SessionOptions session;
    uint64_t frames = 0;                 // scripted: at least this many frames, then exit (0: run until closed)
    std::optional<uint64_t> train_steps; // pause training after this many steps (0: do not train)
    std::string screenshot, report;      // scripted: the last frame as PNG, the run as JSON
    uint64_t resize_at = 0, minimise_at = 0;
    double target_fps = 30;              // what the training slice per frame is steered to
};

// Runs until the window closes or the script ends; returns the exit status
// (1 with validation on and any message).
int run_app(Window& window, vkcnn::Device& device, const AppOptions& options);

// Trains train_steps (default 100) steps with nothing drawn, as fast as the
// device goes: the throughput the UI's is compared with.
int train_without_ui(vkcnn::Device& device, const AppOptions& options);

} // namespace demo
