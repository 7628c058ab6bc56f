// vkcnn-demo: a desktop program that renders with Vulkan and Dear ImGui and
// trains a CNN on the same VkDevice — what a game that links vkcnn does. The
// window, instance, device and queue are the demo's (window.h); vkcnn adopts
// them. Each frame submits a slice of the training step within a budget the
// frame time steers, then records its own work: the texture copies of what
// vkcnn drew on the device, and the UI.
//
// Scripted mode (tests, screenshots): --frames N --train-steps M
// --screenshot out.png --report report.json [--resize-at F] [--minimise-at F].
#include "digit_pad.h"
#include "frame_budget.h"
#include "inspector.h"
#include "panels.h"
#include "session.h"
#include "textures.h"
#include "window.h"

#include <vkcnn/core/error.h>
#include <vkcnn/exec/vulkan_program.h>
#include <vkcnn/vulkan/device.h>

#include <CLI/CLI.hpp>
#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_vulkan.h>
#include <imgui.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
    demo::WindowOptions window;
    demo::SessionOptions session;
    uint64_t frames = 0;      // scripted: at least this many frames, then exit (0: run until closed)
    std::optional<uint64_t> train_steps; // scripted: pause training after this many steps (0: do not train)
    std::string screenshot, report;
    uint64_t resize_at = 0, minimise_at = 0;
    double target_fps = 30;
    bool no_ui = false; // train only (the throughput without the UI), for --train-steps steps
};

// Median and 95th percentile of frame times.
nlohmann::json frame_stats(std::vector<double> ms) {
    if (ms.empty()) return {{"count", 0}};
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * double(ms.size())))]; };
    return {{"count", ms.size()}, {"median_ms", at(0.5)}, {"p95_ms", at(0.95)}, {"max_ms", ms.back()}};
}

double mean_loss(const std::vector<demo::StepPoint>& steps, bool first, size_t n) {
    n = std::min(n, steps.size());
    if (n == 0) return 0;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += steps[first ? i : steps.size() - 1 - i].loss;
    return sum / double(n);
}

// A "7" drawn in the scripted mode, small and off-centre: the pad's preprocessing centres it.
void scripted_drawing(demo::DigitPad& pad) {
    pad.add_stroke({{70, 60}, {120, 58}, {170, 60}, {200, 62}});
    pad.add_stroke({{200, 62}, {185, 100}, {165, 145}, {150, 190}, {140, 230}});
}

// Dear ImGui with its GLFW and Vulkan backends, shut down however run() ends.
struct ImGuiBackends {
    explicit ImGuiBackends(demo::Window& window) {
        IMGUI_CHECKVERSION();
        ImGui::CreateContext();
        ImGui::GetIO().IniFilename = nullptr; // the layout is fixed; nothing to remember
        ImGui::StyleColorsDark();
        ImGuiStyle& style = ImGui::GetStyle();
        style.WindowRounding = 0;
        // The panels tile the window: their background is the render pass's
        // clear colour, not a second full-screen blended quad per frame.
        style.Colors[ImGuiCol_WindowBg].w = 0.0f;
        ImGui_ImplGlfw_InitForVulkan(window.glfw(), true);
        ImGui_ImplVulkan_InitInfo info{};
        info.Instance = window.instance();
        info.PhysicalDevice = window.physical_device();
        info.Device = window.device();
        info.QueueFamily = window.queue_family();
        info.Queue = window.queue();
        info.DescriptorPool = window.descriptor_pool();
        info.MinImageCount = 2;
        info.ImageCount = std::max(2u, window.image_count());
        info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
        ImGui_ImplVulkan_Init(&info, window.render_pass());
        window_ = &window;
        // The font atlas, uploaded once before the first frame.
        window.submit_once([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
        ImGui_ImplVulkan_DestroyFontUploadObjects();
    }
    ~ImGuiBackends() {
        window_->wait_idle();
        ImGui_ImplVulkan_Shutdown();
        ImGui_ImplGlfw_Shutdown();
        ImGui::DestroyContext();
    }
    ImGuiBackends(const ImGuiBackends&) = delete;
    ImGuiBackends& operator=(const ImGuiBackends&) = delete;
    demo::Window* window_ = nullptr;
};

// vkcnn on the demo's device, training only, as fast as it goes: the UI-off figure.
int train_without_ui(vkcnn::Device& device, const Args& a) {
    demo::Session session(device, a.session);
    const uint64_t steps = std::max<uint64_t>(a.train_steps.value_or(100), 20), warmup = 5;
    while (session.step_count() < warmup) session.advance(1e30);
    const Clock::time_point start = Clock::now();
    while (session.step_count() < steps) session.advance(1e30);
    session.drain();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double images_per_second = double((steps - warmup) * uint64_t(a.session.batch)) / seconds;
    std::printf("vkcnn-demo: no UI: %llu steps, %.0f images/s, %.1f ms/step\n", (unsigned long long)steps,
                images_per_second, 1000 * seconds / double(steps - warmup));
    if (!a.report.empty()) {
        nlohmann::json r = {{"steps", steps}, {"images_per_second", images_per_second},
                            {"first_loss", mean_loss(session.steps(), true, 10)},
                            {"last_loss", mean_loss(session.steps(), false, 10)}};
        std::ofstream(a.report) << r.dump(2) << "\n";
    }
    return 0;
}

int run(const Args& a) {
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
    if (a.no_ui) return train_without_ui(*device, a);

    const ImGuiBackends imgui(window);
    int status = 0;
    {
        demo::TextureRenderer renderer(window.render_target(), *device);
        auto session = std::make_unique<demo::Session>(*device, a.session);
        auto inspector = std::make_unique<demo::Inspector>(session->model(), renderer);
        demo::Panels panels(renderer);
        demo::DigitPad pad;
        demo::UiState ui;
        ui.pending = a.session;
        session->stop_at = a.train_steps;
        if (a.frames) scripted_drawing(pad);
        auto budget = std::make_unique<demo::FrameBudget>(1000.0 / a.target_fps, session->step_flops());
        std::vector<double> training_ms, idle_ms;
        uint64_t frame = 0;
        bool screenshot_requested = false;
        Clock::time_point last = Clock::now(), inspected_time = last, train_start{};
        uint64_t train_start_step = 0, train_end_step = 0;
        double train_seconds = 0;
        while (!glfwWindowShouldClose(window.glfw())) {
            glfwPollEvents();
            if (a.resize_at && frame == a.resize_at) glfwSetWindowSize(window.glfw(), 1100, 760);
            if (a.resize_at && frame == a.resize_at + 20) glfwSetWindowSize(window.glfw(), a.window.width, a.window.height);
            if (a.minimise_at && frame == a.minimise_at) glfwIconifyWindow(window.glfw());
            if (a.minimise_at && frame == a.minimise_at + 15) glfwRestoreWindow(window.glfw());

            if (ui.restart) {
                ui.restart = false;
                session->drain();
                try { // the new run first: if it cannot start (no such dataset, too little memory) the old one stays
                    auto next = std::make_unique<demo::Session>(*device, ui.pending);
                    window.wait_idle(); // the frames that drew the old run's textures
                    inspector.reset();
                    session = std::move(next);
                    inspector = std::make_unique<demo::Inspector>(session->model(), renderer);
                    budget = std::make_unique<demo::FrameBudget>(1000.0 / a.target_fps, session->step_flops());
                    ui.inspector_stale = true;
                } catch (const vkcnn::Error& e) {
                    session->status = std::string("could not start the new run: ") + e.what();
                }
            }
            // Looking inside between steps: when the last step's segments are all out, finish it first.
            // Once a second (or when the image or the class changed): each look costs a forward and
            // backward pass, a snapshot and a colormap launch per layer.
            const bool due = ui.inspector_stale || Clock::now() - inspected_time > std::chrono::seconds(1);
            bool irregular = false; // a frame that also looked inside or evaluated: not one to steer by
            if (due && session->all_submitted()) {
                irregular = true;
                session->drain();
                if (!ui.inspect_drawing) inspector->set_image(session->test_set().image(ui.inspect_index));
                inspector->explain = ui.explain >= 0 ? std::optional<int32_t>(ui.explain) : std::nullopt;
                inspector->refresh();
                inspected_time = Clock::now();
                ui.inspector_stale = false;
            }
            // Training: a step will start, or one is still in flight (its results not yet shown).
            const bool training = (session->running && !(session->stop_at && session->step_count() >= *session->stop_at)) ||
                                  session->step_in_flight();
            if (training && train_start == Clock::time_point{}) {
                train_start = Clock::now();
                train_start_step = session->step_count();
            }
            const size_t evaluations = session->evals().size();
            ui.budget_flops = budget->flops();
            session->advance(ui.budget_flops);
            irregular |= session->evals().size() != evaluations;
            if (!training && train_start != Clock::time_point{} && train_seconds == 0) {
                train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();
                train_end_step = session->step_count();
            }

            const std::optional<VkCommandBuffer> cmd = window.begin_frame();
            if (!cmd) { // minimised (or the swapchain was just recreated): train on, draw nothing
                if (window.minimised()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
                ++frame;
                continue;
            }
            ImGui_ImplVulkan_NewFrame();
            ImGui_ImplGlfw_NewFrame();
            ImGui::NewFrame();
            panels.draw(*session, *inspector, pad, ui);
            ImGui::Render();

            renderer.barrier_before_copies(*cmd);
            inspector->record_uploads(*cmd, window.frame_slot());
            panels.record_uploads(*cmd, window.frame_slot());
            window.begin_render_pass(*cmd);
            renderer.begin(*cmd);
            ImGui_ImplVulkan_RenderDrawData(ImGui::GetDrawData(), *cmd);
            renderer.end();
            if (a.frames && frame + 1 >= a.frames && !training && !screenshot_requested && !a.screenshot.empty()) {
                window.request_screenshot(a.screenshot);
                screenshot_requested = true;
            }
            window.end_frame(*cmd);

            // The frame time steers the training work per frame (frame_budget.h).
            const Clock::time_point now = Clock::now();
            const double ms = std::chrono::duration<double, std::milli>(now - last).count();
            last = now;
            if (frame > 10) (training ? training_ms : idle_ms).push_back(ms);
            ui.frame_ms.push_back(float(ms));
            if (ui.frame_ms.size() > 120) ui.frame_ms.pop_front();
            if (training && !irregular) budget->update(ms);
            ++frame;

            if (screenshot_requested) {
                window.write_pending_screenshot();
                break;
            }
            if (a.frames && frame >= a.frames && !training && a.screenshot.empty()) break;
        }
        session->drain();
        window.wait_idle();

        const int messages = demo::validation_messages.load() + int(device->validation_log().count());
        if (!a.report.empty()) {
            const double seconds = train_seconds > 0 ? train_seconds
                                                     : std::chrono::duration<double>(Clock::now() - train_start).count();
            const uint64_t trained = (train_seconds > 0 ? train_end_step : session->step_count()) - train_start_step;
            nlohmann::json regions;
            for (const auto& [name, r] : ui.regions) regions[name] = {r.x, r.y, r.z, r.w};
            nlohmann::json r = {
                {"device", window.device_name()},
                {"frames", frame},
                {"steps", session->step_count()},
                {"first_loss", mean_loss(session->steps(), true, 20)},
                {"last_loss", mean_loss(session->steps(), false, 20)},
                {"validation_accuracy", session->evals().empty() ? 0.0 : session->evals().back().accuracy},
                {"images_per_second", seconds > 0 ? double(trained * uint64_t(a.session.batch)) / seconds : 0.0},
                {"frame_ms_training", frame_stats(training_ms)},
                {"frame_ms_idle", frame_stats(idle_ms)},
                {"inspector_refreshes", inspector->refreshes()},
                {"validation_messages", messages},
                {"window", {window.extent().width, window.extent().height}},
                {"swapchains", window.swapchains_created()},
                {"regions", regions},
            };
            std::ofstream(a.report) << r.dump(2) << "\n";
        }
        std::printf("vkcnn-demo: %llu frames, %llu steps, loss %.3f -> %.3f, frame %s ms (median) while training\n",
                    (unsigned long long)frame, (unsigned long long)session->step_count(),
                    mean_loss(session->steps(), true, 20), mean_loss(session->steps(), false, 20),
                    frame_stats(training_ms).value("median_ms", nlohmann::json(0)).dump().c_str());
        if (a.window.validation && messages > 0) {
            std::printf("vkcnn-demo: FAILED: %d validation messages\n", messages);
            status = 1;
        }
        inspector.reset();
        session.reset();
    }
    return status;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"vkcnn-demo: watch a CNN learn, on the application's own Vulkan device"};
    Args a;
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
    app.add_flag("--no-ui", a.no_ui, "Train --train-steps steps without drawing: the throughput without the UI");
    CLI11_PARSE(app, argc, argv);
    try {
        return run(a);
    } catch (const std::exception& e) { // vkcnn::Error, and the demo's own Vulkan and GLFW failures
        std::fprintf(stderr, "vkcnn-demo: error: %s\n", e.what());
        return 1;
    }
}
