// The demo's panels (see panels.h).
#include "panels.h"

#include "plot.h"

#include <vkcnn/exec/vulkan_program.h>
#include <vkcnn/ops/colormap.h>
#include <vkcnn/viz/attribution.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace demo {

using namespace vkcnn;

namespace {

constexpr int kGalleryColumns = 8, kGalleryRows = 2, kSide = 28;
constexpr ImU32 kLoss = IM_COL32(255, 160, 70, 255), kTrain = IM_COL32(90, 170, 255, 255),
                kValidation = IM_COL32(120, 230, 120, 255), kRate = IM_COL32(220, 120, 220, 255);
const char* const kModels[] = {"lenet5", "resnet", "mobilenet"};
const char* const kDatasets[] = {"mnist", "fashion-mnist"};
const char* const kOptimizers[] = {"sgd", "adam"};
const int kBatches[] = {32, 64, 128, 256};

template <size_t N>
bool combo(const char* label, std::string& value, const char* const (&items)[N]) {
    int current = 0;
    for (size_t i = 0; i < N; ++i)
        if (value == items[i]) current = int(i);
    if (!ImGui::Combo(label, &current, items, int(N))) return false;
    value = items[current];
    return true;
}

// A histogram of `values` into `bins` between their min and max.
std::vector<float> histogram(const std::vector<float>& values, int bins, float& lo, float& hi) {
    std::vector<float> counts(size_t(bins), 0.0f);
    if (values.empty()) return counts;
    const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    lo = *mn;
    hi = std::max(*mx, lo + 1e-12f);
    for (float v : values) counts[size_t(std::clamp(int((v - lo) / (hi - lo) * float(bins)), 0, bins - 1))] += 1;
    return counts;
}

} // namespace

Panels::Panels(TextureRenderer& renderer) : renderer_(renderer) {
    gallery_ = std::make_unique<Texture>(renderer, kGalleryColumns * kSide, kGalleryRows * kSide);
    digit_ = std::make_unique<Texture>(renderer, kSide, kSide);
    gallery_pixels_.assign(size_t(kGalleryColumns * kGalleryRows * kSide * kSide), grey_pixel(0));
    digit_pixels_.assign(size_t(kSide * kSide), grey_pixel(0));
    gallery_stale_ = digit_stale_ = true;
}

bool Panels::begin(const char* name, float x, float y, float w, float h, UiState&) {
    const ImVec2 display = ImGui::GetIO().DisplaySize;
    ImGui::SetNextWindowPos(ImVec2(x * display.x, y * display.y), ImGuiCond_Always);
    ImGui::SetNextWindowSize(ImVec2(w * display.x, h * display.y), ImGuiCond_Always);
    return ImGui::Begin(name, nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse);
}

void Panels::end(const char* name, UiState& ui) {
    const ImVec2 p = ImGui::GetWindowPos(), s = ImGui::GetWindowSize();
    ui.regions[name] = ImVec4(p.x, p.y, s.x, s.y);
    ImGui::End();
}

void Panels::draw(Session& session, Inspector& inspector, DigitPad& pad, UiState& ui) {
    controls(session, ui);
    curves(session, ui);
    speed(session, ui);
    inside(session, inspector, ui);
    drawing(session, inspector, pad, ui);
    confusion(session, ui);
    gallery(session, ui);
    histograms(session, ui);
}

void Panels::controls(Session& session, UiState& ui) {
    if (begin("Training", 0.0f, 0.0f, 0.34f, 0.26f, ui)) {
        ImGui::Text("%s on %s, %s, batch %lld, step %llu", session.options().model.c_str(),
                    session.options().dataset.c_str(), session.options().optimizer.c_str(),
                    (long long)session.options().batch, (unsigned long long)session.step_count());
        if (ImGui::Button(session.running ? "Pause" : "Resume")) session.running = !session.running;
        ImGui::SameLine();
        if (ImGui::Button("Step")) session.single_step();
        ImGui::SameLine();
        if (ImGui::Button("Reset")) {
            ui.pending.seed = session.options().seed + 1; // fresh weights
            ui.restart = true;
        }
        float lr = float(session.learning_rate());
        if (ImGui::SliderFloat("learning rate", &lr, 1e-4f, 0.5f, "%.4g", ImGuiSliderFlags_Logarithmic))
            session.set_learning_rate(lr);
        ImGui::Separator();
        ImGui::TextDisabled("a new run with:");
        ImGui::PushItemWidth(130);
        combo("model", ui.pending.model, kModels);
        ImGui::SameLine();
        combo("dataset", ui.pending.dataset, kDatasets);
        combo("optimizer", ui.pending.optimizer, kOptimizers);
        ImGui::SameLine();
        int batch = 0;
        for (int i = 0; i < 4; ++i)
            if (kBatches[i] == ui.pending.batch) batch = i;
        const char* batch_names[] = {"32", "64", "128", "256"};
        if (ImGui::Combo("batch", &batch, batch_names, 4)) ui.pending.batch = kBatches[batch];
        ImGui::PopItemWidth();
        ImGui::Checkbox("augment (rotate, scale, shift)", &ui.pending.augment);
        ImGui::SameLine();
        if (ImGui::Button("Restart")) ui.restart = true;
        ImGui::Separator();
        char path[256];
        std::snprintf(path, sizeof path, "%s", ui.checkpoint.c_str());
        ImGui::PushItemWidth(220);
        if (ImGui::InputText("##checkpoint", path, sizeof path)) ui.checkpoint = path;
        ImGui::PopItemWidth();
        ImGui::SameLine();
        try {
            if (ImGui::Button("Save")) session.save(ui.checkpoint);
            ImGui::SameLine();
            if (ImGui::Button("Load")) {
                session.load(ui.checkpoint);
                ui.inspector_stale = true;
            }
        } catch (const Error& e) {
            session.status = e.what();
        }
        if (!session.status.empty()) ImGui::TextWrapped("%s", session.status.c_str());
    }
    end("Training", ui);
}

void Panels::curves(Session& session, UiState& ui) {
    if (begin("Curves", 0.0f, 0.26f, 0.34f, 0.44f, ui)) {
        ImGui::PushItemWidth(120);
        ImGui::SliderFloat("smoothing", &ui.smoothing, 0.0f, 0.99f, "%.2f");
        ImGui::PopItemWidth();
        ImGui::SameLine();
        ImGui::Checkbox("wall clock", &ui.wall_clock);
        const auto x_of = [&](uint64_t step, double seconds) { return ui.wall_clock ? seconds : double(step); };
        Series loss{"loss", {}, {}, kLoss, ui.smoothing}, train{"train acc", {}, {}, kTrain, ui.smoothing};
        Series rate{"learning rate", {}, {}, kRate, 0};
        for (const StepPoint& p : session.steps()) {
            const double x = x_of(p.step, p.seconds);
            loss.x.push_back(x);
            loss.y.push_back(p.loss);
            train.x.push_back(x);
            train.y.push_back(p.accuracy);
            rate.x.push_back(x);
            rate.y.push_back(p.lr);
        }
        Series validation{"validation acc", {}, {}, kValidation, 0};
        for (const EvalPoint& p : session.evals()) {
            validation.x.push_back(x_of(p.step, p.seconds));
            validation.y.push_back(p.accuracy);
        }
        const float w = ImGui::GetContentRegionAvail().x, h = ImGui::GetContentRegionAvail().y;
        const char* x_label = ui.wall_clock ? "s" : "step";
        const Series losses[] = {loss};
        ui.regions["plot:loss"] = plot("loss", losses, ImVec2(w, h * 0.42f), 0, 0, x_label);
        const Series accuracies[] = {train, validation};
        ui.regions["plot:accuracy"] = plot("accuracy", accuracies, ImVec2(w, h * 0.36f), 0, 1, x_label);
        const Series rates[] = {rate};
        plot("lr", rates, ImVec2(w, h * 0.18f), 0, 0, x_label);
    }
    end("Curves", ui);
}

void Panels::speed(Session& session, UiState& ui) {
    if (begin("Speed", 0.0f, 0.70f, 0.34f, 0.30f, ui)) {
        std::vector<float> frames(ui.frame_ms.begin(), ui.frame_ms.end());
        float median = 0;
        if (!frames.empty()) {
            std::nth_element(frames.begin(), frames.begin() + long(frames.size() / 2), frames.end());
            median = frames[frames.size() / 2];
        }
        ImGui::Text("%.0f images/s   %.1f ms/step   frame %.1f ms (%.0f fps)", session.images_per_second(),
                    session.ms_per_step(), median, median > 0 ? 1000.0f / median : 0.0f);
        const exec::VulkanProgram& gpu = session.trainer().vulkan_program();
        ImGui::Text("step: %zu segments, %.1f MFLOP; this frame's budget %.2f MFLOP", gpu.segment_count(),
                    gpu.step_flops() / 1e6, ui.budget_flops / 1e6);
        ImGui::TextDisabled("GPU time per node of the last profiled step (timestamps):");
        const auto& rows = session.profile();
        const float w = ImGui::GetContentRegionAvail().x;
        ImDrawList* list = ImGui::GetWindowDrawList();
        const size_t shown = std::min<size_t>(rows.size(), size_t(std::max(1.0f, ImGui::GetContentRegionAvail().y / 16)));
        const double top = rows.empty() ? 1 : rows[0].microseconds;
        for (size_t i = 0; i < shown; ++i) {
            const exec::NodeTime& r = rows[i];
            const ImVec2 p = ImGui::GetCursorScreenPos();
            const float bar = float(r.microseconds / std::max(top, 1e-9) * (w * 0.45f));
            list->AddRectFilled(ImVec2(p.x, p.y + 2), ImVec2(p.x + bar, p.y + 14), IM_COL32(70, 130, 200, 255));
            ImGui::Dummy(ImVec2(w * 0.46f, 15));
            ImGui::SameLine();
            ImGui::Text("%6.0f us %4.1f%%  %s (%s)", r.microseconds, 100 * r.share, r.node.c_str(), r.op.c_str());
        }
    }
    end("Speed", ui);
}

void Panels::inside(Session& session, Inspector& inspector, UiState& ui) {
    if (begin("Inside the network", 0.34f, 0.0f, 0.36f, 1.0f, ui)) {
        const std::vector<std::string> names = session.class_names();
        ImGui::PushItemWidth(140);
        if (ImGui::Checkbox("my drawing", &ui.inspect_drawing)) ui.inspector_stale = true;
        if (!ui.inspect_drawing) {
            ImGui::SameLine();
            if (ImGui::SliderInt("test image", &ui.inspect_index, 0, int(session.test_set().size() - 1)))
                ui.inspector_stale = true;
        }
        std::vector<const char*> explain{"predicted class"};
        for (const std::string& n : names) explain.push_back(n.c_str());
        int choice = ui.explain + 1;
        if (ImGui::Combo("explain", &choice, explain.data(), int(explain.size()))) {
            ui.explain = choice - 1;
            ui.inspector_stale = true;
        }
        ImGui::PopItemWidth();
        const auto& p = inspector.probabilities();
        ImGui::Text("predicted %s (%.1f%%)%s; explaining %s", names[size_t(inspector.predicted())].c_str(),
                    p.empty() ? 0.0 : 100.0 * p[size_t(inspector.predicted())],
                    ui.inspect_drawing ? "" :
                    (" , label " + names[size_t(session.test_set().label(ui.inspect_index))]).c_str(),
                    names[size_t(inspector.explained())].c_str());

        const float side = 112;
        const ImVec2 origin = ImGui::GetCursorScreenPos();
        inspector.input().image(ImVec2(side, side));
        ImGui::SameLine();
        inspector.saliency().image(ImVec2(side, side));
        ImGui::SameLine();
        inspector.grad_cam().image(ImVec2(side, side));
        ImGui::TextDisabled("input            saliency         Grad-CAM, layer %s", inspector.cam_layer().c_str());
        if (inspector.cam_peak() > 0) ImGui::TextDisabled("Grad-CAM peak %.3g (scaled to the brightest colour)", inspector.cam_peak());
        else ImGui::TextDisabled("Grad-CAM: nothing positive for this class at layer %s", inspector.cam_layer().c_str());
        ui.regions["image:attribution"] = ImVec4(origin.x, origin.y, 3 * side + 16, side);

        const float width = ImGui::GetContentRegionAvail().x;
        if (const Inspector::Layer& f = inspector.filters(); f.texture) {
            ImGui::Text("filters %s %s", f.path.c_str(), f.shape.str().c_str());
            const float scale = std::min(6.0f, width / float(f.texture->width()));
            const ImVec2 at = ImGui::GetCursorScreenPos();
            f.texture->image(ImVec2(float(f.texture->width()) * scale, float(f.texture->height()) * scale));
            ui.regions["image:filters"] = ImVec4(at.x, at.y, float(f.texture->width()) * scale,
                                                 float(f.texture->height()) * scale);
        }
        ImGui::Separator();
        ImGui::BeginChild("layers");
        bool first = true;
        for (const Inspector::Layer& l : inspector.layers()) {
            ImGui::Text("layer %s  %s", l.path.c_str(), l.shape.str().c_str());
            const float w = float(l.texture->width()), h = float(l.texture->height());
            float scale = std::min(4.0f, (width - 16) / w);
            float draw_h = h * scale;
            if (h == 1) draw_h = 14; // a vector: one stretched row
            const ImVec2 at = ImGui::GetCursorScreenPos();
            l.texture->image(ImVec2(w * scale, draw_h));
            if (first) ui.regions["image:activations"] = ImVec4(at.x, at.y, w * scale, draw_h);
            first = false;
        }
        ImGui::EndChild();
    }
    end("Inside the network", ui);
}

void Panels::drawing(Session& session, Inspector& inspector, DigitPad& pad, UiState& ui) {
    if (begin("Draw a digit", 0.70f, 0.0f, 0.30f, 0.40f, ui)) {
        const float avail = ImGui::GetContentRegionAvail().y - 30;
        const float side = std::min(ImGui::GetContentRegionAvail().x * 0.55f, avail);
        const ImVec2 at = ImGui::GetCursorScreenPos();
        bool changed = pad.draw(side);
        ui.regions["image:pad"] = ImVec4(at.x, at.y, side, side);
        ImGui::SameLine();
        ImGui::BeginGroup();
        const data::DigitImage& digit = pad.digit();
        // Predicted when the drawing changes, and again as the weights move.
        if (changed || digit_probabilities_.empty() || digit_refresh_ != inspector.refreshes()) {
            digit_refresh_ = inspector.refreshes();
            for (size_t i = 0; i < digit.pixels.size(); ++i) digit_pixels_[i] = grey_pixel(digit.pixels[i]);
            digit_stale_ = true;
            // The network's input: the training normalisation of the 28x28.
            const data::Normalization n = session.test_set().normalization();
            std::vector<float> x(digit.pixels.size());
            for (size_t i = 0; i < x.size(); ++i) x[i] = (digit.pixels[i] - n.mean) / n.std;
            const std::vector<float> logits = session.model().predict(x, 1);
            digit_probabilities_ = vkcnn::viz::probabilities(logits);
            if (ui.inspect_drawing) {
                inspector.set_image(x);
                ui.inspector_stale = true;
            }
        }
        digit_->image(ImVec2(84, 84));
        ImGui::TextDisabled("what the net sees");
        const std::vector<std::string> names = session.class_names();
        const int best = int(std::max_element(digit_probabilities_.begin(), digit_probabilities_.end()) -
                             digit_probabilities_.begin());
        for (size_t k = 0; k < digit_probabilities_.size(); ++k) {
            const bool top = int(k) == best && !pad.empty();
            if (top) ImGui::PushStyleColor(ImGuiCol_PlotHistogram, IM_COL32(250, 180, 60, 255));
            char label[32];
            std::snprintf(label, sizeof label, "%s %4.1f%%", names[k].c_str(), 100 * digit_probabilities_[k]);
            ImGui::ProgressBar(pad.empty() ? 0.0f : digit_probabilities_[k], ImVec2(110, 13), label);
            if (top) ImGui::PopStyleColor();
        }
        ImGui::EndGroup();
        if (ImGui::Button("Clear")) pad.clear();
        ImGui::SameLine();
        if (ImGui::Button("Undo")) pad.undo();
        ImGui::SameLine();
        if (pad.empty()) ImGui::TextDisabled("draw with the mouse");
        else ImGui::Text("%s, %.0f%%", names[size_t(best)].c_str(), 100 * digit_probabilities_[size_t(best)]);
    }
    end("Draw a digit", ui);
}

void Panels::confusion(Session& session, UiState& ui) {
    if (begin("Confusion matrix", 0.70f, 0.40f, 0.30f, 0.28f, ui)) {
        const std::vector<int64_t>& m = session.confusion();
        const int n = int(std::lround(std::sqrt(double(m.size()))));
        const std::vector<std::string> names = session.class_names();
        if (!session.evals().empty())
            ImGui::Text("validation accuracy %.2f%% at step %llu (rows: true, columns: predicted)",
                        100 * session.evals().back().accuracy, (unsigned long long)session.evals().back().step);
        if (n > 0) {
            // Row-normalised, coloured by the sequential map (ops::colormap's viridis).
            std::vector<float> rate(m.size());
            for (int r = 0; r < n; ++r) {
                const int64_t total = std::accumulate(m.begin() + r * n, m.begin() + (r + 1) * n, int64_t{0});
                for (int c = 0; c < n; ++c) rate[size_t(r * n + c)] = total ? float(m[size_t(r * n + c)]) / float(total) : 0;
            }
            rate.push_back(0); // fixes the range at [0, 1]
            rate.push_back(1);
            std::vector<uint32_t> colours(rate.size());
            const int64_t dims[] = {1, int64_t(rate.size())};
            ops::colormap_reference(ops::colormap_shape(dims), {.map = ops::Colormap::Sequential, .norm = ops::Normalize::MinMax},
                                    rate, colours);
            const float cell = std::min((ImGui::GetContentRegionAvail().x - 30) / float(n),
                                        (ImGui::GetContentRegionAvail().y - 4) / float(n));
            const ImVec2 p = ImGui::GetCursorScreenPos();
            ImDrawList* list = ImGui::GetWindowDrawList();
            for (int r = 0; r < n; ++r) {
                list->AddText(ImVec2(p.x, p.y + float(r) * cell + cell / 2 - 7), IM_COL32(180, 180, 190, 255),
                              names[size_t(r)].substr(0, 3).c_str());
                for (int c = 0; c < n; ++c) {
                    const ImVec2 a(p.x + 30 + float(c) * cell, p.y + float(r) * cell);
                    list->AddRectFilled(a, ImVec2(a.x + cell - 1, a.y + cell - 1), colours[size_t(r * n + c)]);
                    if (cell > 22) {
                        char text[16];
                        std::snprintf(text, sizeof text, "%lld", (long long)m[size_t(r * n + c)]);
                        const bool light = rate[size_t(r * n + c)] > 0.6f;
                        list->AddText(ImVec2(a.x + 3, a.y + cell / 2 - 7),
                                      light ? IM_COL32(0, 0, 0, 255) : IM_COL32(230, 230, 230, 255), text);
                    }
                }
            }
            ImGui::Dummy(ImVec2(30 + float(n) * cell, float(n) * cell));
        }
    }
    end("Confusion matrix", ui);
}

void Panels::gallery(Session& session, UiState& ui) {
    if (begin("Misclassified", 0.70f, 0.68f, 0.30f, 0.16f, ui)) {
        const auto& wrong = session.misclassified();
        if (gallery_evals_ != session.evals().size()) {
            // The test digits themselves, min-max scaled to grey, into the atlas.
            std::fill(gallery_pixels_.begin(), gallery_pixels_.end(), grey_pixel(0));
            for (size_t k = 0; k < wrong.size() && k < size_t(kGalleryColumns * kGalleryRows); ++k) {
                const auto image = session.test_set().image(wrong[k].index);
                const auto [mn, mx] = std::minmax_element(image.begin(), image.end());
                const int gx = int(k) % kGalleryColumns, gy = int(k) / kGalleryColumns;
                for (int y = 0; y < kSide; ++y)
                    for (int x = 0; x < kSide; ++x)
                        gallery_pixels_[size_t((gy * kSide + y) * kGalleryColumns * kSide + gx * kSide + x)] =
                            grey_pixel((image[size_t(y * kSide + x)] - *mn) / std::max(*mx - *mn, 1e-6f));
            }
            gallery_evals_ = session.evals().size();
            gallery_stale_ = true;
        }
        const std::vector<std::string> names = session.class_names();
        const float cell = std::min(ImGui::GetContentRegionAvail().x / kGalleryColumns - 2, 56.0f);
        ImDrawList* list = ImGui::GetWindowDrawList();
        const ImVec2 p = ImGui::GetCursorScreenPos();
        const size_t shown = std::min(wrong.size(), size_t(kGalleryColumns * kGalleryRows));
        for (size_t k = 0; k < shown; ++k) {
            const int gx = int(k) % kGalleryColumns, gy = int(k) / kGalleryColumns;
            const ImVec2 a(p.x + float(gx) * (cell + 2), p.y + float(gy) * (cell + 16));
            gallery_->draw(list, a, ImVec2(a.x + cell, a.y + cell), IM_COL32_WHITE,
                           ImVec2(float(gx) / kGalleryColumns, float(gy) / kGalleryRows),
                           ImVec2(float(gx + 1) / kGalleryColumns, float(gy + 1) / kGalleryRows));
            char text[32];
            std::snprintf(text, sizeof text, "%s>%s", names[size_t(wrong[k].label)].substr(0, 3).c_str(),
                          names[size_t(wrong[k].top[0])].substr(0, 3).c_str());
            list->AddText(ImVec2(a.x, a.y + cell), IM_COL32(240, 140, 120, 255), text);
            if (ImGui::IsMouseHoveringRect(a, ImVec2(a.x + cell, a.y + cell + 14))) {
                ImGui::BeginTooltip();
                ImGui::Text("test #%lld, label %s", (long long)wrong[k].index, names[size_t(wrong[k].label)].c_str());
                for (int t = 0; t < 3; ++t)
                    ImGui::Text("%d. %s %.1f%%", t + 1, names[size_t(wrong[k].top[t])].c_str(), 100 * wrong[k].probability[t]);
                ImGui::EndTooltip();
            }
        }
        ImGui::Dummy(ImVec2(kGalleryColumns * (cell + 2), kGalleryRows * (cell + 16)));
        if (shown == 0) ImGui::TextDisabled("none in the validation images");
    }
    end("Misclassified", ui);
}

void Panels::histograms(Session& session, UiState& ui) {
    if (begin("Weights and gradients", 0.70f, 0.84f, 0.30f, 0.16f, ui)) {
        const auto& tensors = session.tensors();
        if (!tensors.empty()) {
            ui.histogram = std::clamp(ui.histogram, 0, int(tensors.size()) - 1);
            std::vector<const char*> names;
            for (const auto& t : tensors) names.push_back(t.name.c_str());
            ImGui::PushItemWidth(150);
            ImGui::Combo("tensor", &ui.histogram, names.data(), int(names.size()));
            ImGui::PopItemWidth();
            const Session::Tensor& t = tensors[size_t(ui.histogram)];
            const float w = ImGui::GetContentRegionAvail().x / 2 - 4, h = ImGui::GetContentRegionAvail().y - 4;
            float lo = 0, hi = 0;
            const std::vector<float> weights = histogram(t.weights, 40, lo, hi);
            char label[64];
            std::snprintf(label, sizeof label, "weights [%.3g, %.3g]", lo, hi);
            ImGui::PlotHistogram("##w", weights.data(), int(weights.size()), 0, label, 0, FLT_MAX, ImVec2(w, h));
            ImGui::SameLine();
            const std::vector<float> grads = histogram(t.gradients, 40, lo, hi);
            std::snprintf(label, sizeof label, "gradients [%.3g, %.3g]", lo, hi);
            ImGui::PlotHistogram("##g", grads.data(), int(grads.size()), 0, label, 0, FLT_MAX, ImVec2(w, h));
        }
    }
    end("Weights and gradients", ui);
}

void Panels::record_uploads(VkCommandBuffer cmd, uint32_t frame_slot) {
    if (gallery_stale_) gallery_->upload(cmd, frame_slot, gallery_pixels_);
    if (digit_stale_) digit_->upload(cmd, frame_slot, digit_pixels_);
    gallery_stale_ = digit_stale_ = false;
}

} // namespace demo
