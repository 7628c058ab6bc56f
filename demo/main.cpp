// vkcnn-demo: a desktop program that renders with Vulkan and Dear ImGui and
// trains a CNN on the same VkDevice — what a game that links vkcnn does. The
// window, instance, device and queue are the demo's (window.h); vkcnn adopts
// them here, and app.h runs the frames. This file is the command line.
#include "app.h"
#include "window.h"

#include <vkcnn/core/error.h>
#include <vkcnn/vulkan/device.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

namespace {

struct Args {
    demo::AppOptions app;
    bool no_ui = false; // train only (the throughput without the UI), for --train-steps steps
};

int run(const Args& args) {
    const demo::AppOptions& a = args.app;
    demo::Window window(a.window);
    std::printf("vkcnn-demo: %s, queue family %u\n", window.device_name().c_str(), window.queue_family());
    // vkcnn borrows the demo's device and queue; it submits only inside our calls, on this thread.
    auto device = vkcnn::Device::adopt({.instance = window.instance(),
                                        .physical_device = window.physical_device(),
                                        .device = window.device(),
                                        .queue_family = window.queue_family(),
                                        .queue = window.queue(),
                                        .debug_utils = window.debug_utils()},
                                       {.validation = a.window.validation});
    if (args.no_ui) return demo::train_without_ui(*device, a);
    return demo::run_app(window, *device, a);
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"vkcnn-demo: watch a CNN learn, on the application's own Vulkan device"};
    Args args;
    demo::AppOptions& a = args.app;
    app.add_option("--model", a.session.model, "lenet5, resnet or mobilenet")->capture_default_str();
    app.add_option("--dataset", a.session.dataset, "mnist or fashion-mnist")->capture_default_str();
    app.add_option("--data", a.session.data_dir, "Folder holding mnist/ and fashion-mnist/")->capture_default_str();
    app.add_option("--optimizer", a.session.optimizer, "sgd (momentum 0.9) or adam")->capture_default_str();
    app.add_option("--lr", a.session.lr, "Learning rate")->capture_default_str();
    app.add_option("--batch", a.session.batch, "Batch size")->capture_default_str();
    app.add_flag("--augment", a.session.augment, "Random rotation, scale and shift of each batch");
    app.add_option("--seed", a.session.seed, "Initial weights and batch order")->capture_default_str();
    app.add_option("--device", a.window.device, "Vulkan device: index or name substring");
    app.add_flag("--validation", a.window.validation,
                 "Khronos validation with synchronization validation; any message fails the run (exit 1)");
    app.add_flag("--vsync,!--no-vsync", a.window.vsync, "Wait for the display (FIFO, the default) or not (mailbox or immediate presentation)");
    app.add_option("--width", a.window.width, "Window width")->capture_default_str();
    app.add_option("--height", a.window.height, "Window height")->capture_default_str();
    app.add_option("--target-fps", a.target_fps, "Frame rate the training work per frame is steered to")
        ->capture_default_str();
    app.add_option("--frames", a.frames, "Scripted: exit after this many frames (and the training steps)");
    app.add_option("--train-steps", a.train_steps, "Pause training after this many steps (0: draw only; with --no-ui the steps timed, default 100)");
    app.add_option("--screenshot", a.screenshot, "Scripted: write the last frame to this PNG");
    app.add_option("--report", a.report, "Scripted: write losses, frame times and panel rectangles as JSON");
    app.add_option("--resize-at", a.resize_at, "Scripted: resize the window at this frame and back 20 frames later");
    app.add_option("--minimise-at", a.minimise_at, "Scripted: minimise at this frame, restore 15 frames later");
    app.add_flag("--no-ui", args.no_ui, "Train --train-steps steps without drawing: the throughput without the UI");
    CLI11_PARSE(app, argc, argv);
    try {
        return run(args);
    } catch (const std::exception& e) { // vkcnn::Error, and the demo's own Vulkan and GLFW failures
        std::fprintf(stderr, "vkcnn-demo: error: %s\n", e.what());
        return 1;
    }
}
