// The demo's frame loop (see app.h): each frame steers a slice of the
// training step, looks inside the network between steps, draws the panels
// and presents; the scripted mode's screenshot and report.
#include "app.h"

#include "digit_pad.h"
#include "frame_budget.h"
#include "inspector.h"
#include "panels.h"
#include "session.h"
#include "textures.h"

#include <vkcnn/core/error.h>
#include <vkcnn/exec/vulkan_program.h>

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
#include <optional>
#include <thread>

namespace demo {

namespace {

using Clock = std::chrono::steady_clock;

// Median and 95th percentile of frame times.
nlohmann::json frame_stats(std::vector<double> ms) {
    if (ms.empty()) return {{"count", 0}};
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * double(ms.size())))]; };
    return {{"count", ms.size()}, {"median_ms", at(0.5)}, {"p95_ms", at(0.95)}, {"max_ms", ms.back()}};
}

double mean_loss(const std::vector<StepPoint>& steps, bool first, size_t n) {
    n = std::min(n, steps.size());
    if (n == 0) return 0;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += steps[first ? i : steps.size() - 1 - i].loss;
    return sum / double(n);
}

// A "7" drawn in the scripted mode, small and off-centre: the pad's preprocessing centres it.
void scripted_drawing(DigitPad& pad) {
    pad.add_stroke({{70, 60}, {120, 58}, {170, 60}, {200, 62}});
    pad.add_stroke({{200, 62}, {185, 100}, {165, 145}, {150, 190}, {140, 230}});
}

// Dear ImGui with its GLFW and Vulkan backends, shut down however run_app() ends.
struct ImGuiBackends {
    explicit ImGuiBackends(Window& window) {
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
    Window* window_ = nullptr;
};


} // namespace

// vkcnn on the demo's device, training only, as fast as it goes: the UI-off figure.
int train_without_ui(vkcnn::Device& device, const AppOptions& a) {
    Session session(device, a.session);
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

int run_app(Window& window, vkcnn::Device& device, const AppOptions& a) {
    const ImGuiBackends imgui(window);
    int status = 0;
    {
        TextureRenderer renderer(window.render_target(), device);
        auto session = std::make_unique<Session>(device, a.session);
        auto inspector = std::make_unique<Inspector>(session->model(), renderer);
        Panels panels(renderer);
        DigitPad pad;
        UiState ui;
        ui.pending = a.session;
        session->stop_at = a.train_steps;
        if (a.frames) scripted_drawing(pad);
        auto budget = std::make_unique<FrameBudget>(1000.0 / a.target_fps, session->step_flops());
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
                    auto next = std::make_unique<Session>(device, ui.pending);
                    window.wait_idle(); // the frames that drew the old run's textures
                    inspector.reset();
                    session = std::move(next);
                    inspector = std::make_unique<Inspector>(session->model(), renderer);
                    budget = std::make_unique<FrameBudget>(1000.0 / a.target_fps, session->step_flops());
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
            // Training: a step will start, one is still in flight, or its evaluation is (results not yet shown).
            const bool training = (session->running && !(session->stop_at && session->step_count() >= *session->stop_at)) ||
                                  session->step_in_flight() || session->evaluating();
            if (training && train_start == Clock::time_point{}) {
                train_start = Clock::now();
                train_start_step = session->step_count();
            }
            ui.budget_flops = budget->flops();
            irregular |= session->evaluating();
            session->advance(ui.budget_flops);
            irregular |= session->evaluating();
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

        const int messages = validation_messages.load() + int(device.validation_log().count());
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

} // namespace demo
