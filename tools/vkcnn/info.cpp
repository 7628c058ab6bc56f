// `vkcnn info`: every Vulkan device, its limits and features, and which one
// vkcnn would choose (honouring VKCNN_DEVICE).
#include "commands.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/device_choice.h"
#include "vkcnn/vulkan/pipeline.h"
#include "vkcnn/vulkan/quirks.h"
#include "vkcnn/vulkan/tuning_file.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

namespace vkcnn::cli {

namespace {

std::string gib(uint64_t bytes) { return cat(static_cast<double>(bytes) / (1ull << 30), " GiB"); }

void print_device(const vulkan::DeviceInfo& d, bool chosen) {
    std::printf("%s [%u] %s%s\n", chosen ? "*" : " ", d.index, d.name.c_str(), chosen ? "   <- chosen" : "");
    auto row = [](const char* key, const std::string& value) { std::printf("    %-15s %s\n", key, value.c_str()); };
    row("type", vulkan::device_type_name(d.type));
    row("vendor/device", cat("0x", std::hex, d.vendor_id, " / 0x", d.device_id));
    row("driver", d.driver_name.empty() ? cat("version ", d.driver_version)
                                        : cat(d.driver_name, " (", d.driver_info, "), id ", d.driver_id));
    row("Vulkan", vulkan::version_string(d.api_version));
    if (!d.usable) row("unusable", d.unusable_reason);
    row("subgroup", cat("size ", d.subgroup_size, "; operations: ", vulkan::subgroup_operations_string(d.subgroup_operations),
                        (d.subgroup_stages & VK_SHADER_STAGE_COMPUTE_BIT) ? "" : " (not in compute)"));
    row("workgroup", cat("max ", d.max_workgroup_size[0], " x ", d.max_workgroup_size[1], " x ", d.max_workgroup_size[2],
                         ", ", d.max_workgroup_invocations, " invocations; grid ", d.max_workgroup_count[0], " x ",
                         d.max_workgroup_count[1], " x ", d.max_workgroup_count[2]));
    row("shared memory", cat(d.max_shared_memory, " bytes per workgroup"));
    row("16-bit", cat("storage buffers ", d.storage_buffer_16bit ? "yes" : "no", ", float16 arithmetic ",
                      d.shader_float16 ? "yes" : "no"));
    for (size_t h = 0; h < d.heaps.size(); ++h)
        row(h == 0 ? "memory" : "", cat("heap ", h, ": ", gib(d.heaps[h].size), d.heaps[h].device_local ? " device-local" : " host"));
    row("transfers", d.unified_memory ? "unified memory: buffers are mapped directly" : "staging copies");
    row("queues", cat("compute family ", d.compute_family, "; dedicated transfer family ",
                      d.transfer_family < 0 ? std::string("none") : std::to_string(d.transfer_family)));
    row("timestamps", d.timestamp_period_ns > 0 ? cat(d.timestamp_period_ns, " ns per tick") : std::string("none"));
    const vulkan::Quirks q = vulkan::quirks_for(d, std::getenv("VKCNN_DISABLE_FEATURES"));
    std::string applied;
    for (auto& a : q.applied) applied += applied.empty() ? a : "; " + a;
    row("quirks", applied.empty() ? "none" : applied);
    const auto tiles = [](const GemmTuning& t) {
        return cat(t.tile_m, " x ", t.tile_n, t.shared_memory_tiles ? ", shared memory" : ", registers only");
    };
    // What a Device will use: a tiling `vkcnn tune` saved wins over the table's,
    // VKCNN_GEMM_TILES over both.
    GemmTuning shown = q.gemm;
    std::string source = "table; `vkcnn tune` measures this device";
    const auto file = vulkan::tuning_file(vulkan::default_cache_dir(), d);
    try {
        if (const auto measured = vulkan::read_tuning(file)) {
            shown = *measured;
            source = cat("measured by `vkcnn tune`: ", file.string());
        }
    } catch (const Error& e) {
        source = cat("ignored: ", e.what());
    }
    if (const char* forced = std::getenv("VKCNN_GEMM_TILES"); forced && *forced) {
        try {
            shown = vulkan::parse_gemm_tiles(forced);
            source = cat("forced by VKCNN_GEMM_TILES=", forced);
        } catch (const Error& e) {
            source = e.what();
        }
    }
    row("gemm tiles", cat(tiles(shown), " (", source, ")"));
    row("reductions", q.gemm.subgroup_reductions ? cat("subgroup arithmetic (subgroup size ", d.subgroup_size, ")")
                                                 : std::string("portable shared-memory trees"));
}

} // namespace

int info() {
    std::printf("vkcnn 0.1.0\n");
    std::printf("CPU backend: available, %u hardware threads\n", std::thread::hardware_concurrency());
    std::unique_ptr<vulkan::Instance> instance;
    try {
        instance = vulkan::Instance::create({});
    } catch (const VulkanUnavailableError& e) {
        std::printf("Vulkan: unavailable: %s\n", e.what());
        return 1;
    }
    const auto devices = vulkan::describe_devices(*instance);
    std::printf("Vulkan devices: %zu\n", devices.size());
    const char* env = std::getenv("VKCNN_DEVICE");
    vulkan::DeviceChoice chosen;
    try {
        chosen = vulkan::choose_device(devices, env ? env : "");
    } catch (const Error& e) {
        for (auto& d : devices) print_device(d, false);
        std::printf("no device chosen: %s\n", e.what());
        return 1;
    }
    for (size_t i = 0; i < devices.size(); ++i) print_device(devices[i], i == chosen.index);
    std::printf("chosen: [%u] %s, because %s. VKCNN_DEVICE=<index or part of a name> picks another.\n",
                devices[chosen.index].index, devices[chosen.index].name.c_str(), chosen.why.c_str());
    return 0;
}

} // namespace vkcnn::cli
