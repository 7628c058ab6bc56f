// GEMM tiling by measurement (see autotune.h).
#include "vkcnn/exec/autotune.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/conv2d.h"
#include "vkcnn/vulkan/recorded_step.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace vkcnn::exec {

namespace {

std::vector<GemmTuning> candidates(const GemmTuning& device_default) {
    std::vector<GemmTuning> out;
    for (bool shared : {false, true})
        for (uint32_t m : {32u, 64u})
            for (uint32_t n : {32u, 64u}) {
                GemmTuning t = device_default; // keeps the optional-feature flags
                t.shared_memory_tiles = shared;
                t.tile_m = m;
                t.tile_n = n;
                out.push_back(t);
            }
    return out;
}

uint64_t invocations(const KernelLaunch& l) { return uint64_t{l.workgroup[0]} * l.workgroup[1] * l.workgroup[2]; }

} // namespace

std::vector<TunedTiling> measure_gemm_tilings(Device& device, const TuneOptions& options) {
    check(options.batch > 0 && options.batch <= 4096 && options.runs > 0, "measure_gemm_tilings: batch ",
          options.batch, " and runs ", options.runs, " must be positive (batch at most 4096)");
    const ops::Conv2dShape s = ops::conv2d_shape({static_cast<uint32_t>(options.batch), 64, 14, 14}, {64, 64, 3, 3},
                                                 ops::Conv2dAttrs{}.pad(1, 1), false);
    // Zeros: no denormals or NaNs to slow any candidate down.
    const auto zeros = [&](size_t floats, const char* name) {
        vulkan::Buffer b = device.create_buffer(floats * sizeof(float), name);
        device.upload(b, std::span<const float>(std::vector<float>(floats, 0.0f)));
        return b;
    };
    const vulkan::Buffer x = zeros(s.x_size(), "tune x"), w = zeros(s.w_size(), "tune weight"),
                         y = zeros(s.y_size(), "tune y"), dx = zeros(s.x_size(), "tune dx"),
                         dw = zeros(s.w_size(), "tune dweight");

    std::vector<TunedTiling> results;
    for (const GemmTuning& t : candidates(device.quirks().gemm)) {
        std::vector<vulkan::StepDispatch> d;
        d.push_back({ops::conv2d_forward_launch(s, t), {{x, 0, x.size()}, {w, 0, w.size()}, {y, 0, y.size()}}, "forward"});
        d.push_back({ops::conv2d_backward_data_launch(s, t), {{w, 0, w.size()}, {y, 0, y.size()}, {dx, 0, dx.size()}},
                     "backward data"});
        d.push_back({ops::conv2d_backward_weight_launch(s, t), {{x, 0, x.size()}, {y, 0, y.size()}, {dw, 0, dw.size()}},
                     "backward weight"});
        const bool fits = std::all_of(d.begin(), d.end(), [&](const vulkan::StepDispatch& k) {
            return invocations(k.launch) <= device.info().max_workgroup_invocations;
        });
        if (!fits) continue;
        vulkan::RecordedStep step(device, std::move(d));
        step.run(); // warm-up: pipeline creation, first-touch costs
        double best = std::numeric_limits<double>::infinity();
        for (int r = 0; r < options.runs; ++r) {
            const auto start = std::chrono::steady_clock::now();
            step.run();
            best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        }
        results.push_back({t, best});
    }
    check(!results.empty(), "measure_gemm_tilings: no candidate tiling fits ", device.info().name,
          "'s workgroup limit of ", device.info().max_workgroup_invocations, " invocations");
    std::stable_sort(results.begin(), results.end(),
                     [](const TunedTiling& a, const TunedTiling& b) { return a.milliseconds < b.milliseconds; });
    return results;
}

} // namespace vkcnn::exec
