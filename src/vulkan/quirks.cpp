// The quirk and tuning table (see quirks.h). Add a row with the evidence in
// its comment: the driver version and what was measured or went wrong.
#include "vkcnn/vulkan/quirks.h"

#include "vkcnn/core/error.h"

#include <functional>
#include <sstream>

namespace vkcnn::vulkan {

namespace {

struct QuirkRow {
    const char* name;
    uint32_t vendor_id;     // 0 matches any
    VkDriverId driver_id;   // 0 matches any
    std::function<void(Quirks&)> apply;
};

const QuirkRow kRows[] = {
    // Mesa lavapipe (llvmpipe): shared memory is ordinary host memory and
    // barriers are costly, so register-blocked tiles win (measured 11.7 vs
    // 2.4 GFLOP/s on a 512^3 product, Mesa 22.3). `vkcnn tune` on Mesa 22.3.6,
    // 2 threads, 2026-11-30: registers 64x64 330.8 ms, 32x32 383.7 ms, shared
    // 64x64 917 ms for a (64, 64, 14, 14) 3x3 convolution in all three
    // directions; LeNet-5 steps 66.0 vs 69.9 ms, the ResNet's 812 vs 862 ms.
    {"lavapipe: register-blocked 64x64 GEMM tiles", 0, VK_DRIVER_ID_MESA_LLVMPIPE,
     [](Quirks& q) {
         q.gemm.shared_memory_tiles = false;
         q.gemm.tile_m = 64;
         q.gemm.tile_n = 64;
     }},
    // Google SwiftShader (Subzero JIT; Chromium 156's, Vulkan 1.3), a CPU
    // implementation like lavapipe: shared memory is host memory there too.
    // `vkcnn tune` on it, 2 cores, 2026-12-03: registers 64x64 8106 ms,
    // shared 64x64 9104 ms (1.12x), the other six 1.13-1.32x; LeNet-5 steps
    // at batch 64 1071 ms with registers vs 1429 ms with shared tiles, against
    // lavapipe's 185 ms in the same run: with both visible, lavapipe is the
    // better default.
    {"SwiftShader: register-blocked 64x64 GEMM tiles, chosen after other CPU devices", 0,
     VK_DRIVER_ID_GOOGLE_SWIFTSHADER,
     [](Quirks& q) {
         q.gemm.shared_memory_tiles = false;
         q.gemm.tile_m = 64;
         q.gemm.tile_n = 64;
         q.preference = -1;
         q.preference_reason = "SwiftShader is ranked last (a LeNet-5 step ~6x slower than lavapipe's; quirk table)";
     }},
};

} // namespace

Quirks quirks_for(const DeviceInfo& d, const char* disable_features_env) {
    Quirks q;
    q.subgroup_arithmetic = (d.subgroup_operations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                            (d.subgroup_stages & VK_SHADER_STAGE_COMPUTE_BIT);
    q.storage_buffer_16bit = d.storage_buffer_16bit;
    for (const QuirkRow& row : kRows) {
        if (row.vendor_id && row.vendor_id != d.vendor_id) continue;
        if (row.driver_id && row.driver_id != d.driver_id) continue;
        row.apply(q);
        q.applied.emplace_back(row.name);
    }
    if (disable_features_env && *disable_features_env) {
        std::stringstream list(disable_features_env);
        for (std::string item; std::getline(list, item, ',');) {
            if (item == "subgroup") q.subgroup_arithmetic = false;
            else if (item == "16bit") q.storage_buffer_16bit = false;
            else if (!item.empty())
                throw Error(cat("VKCNN_DISABLE_FEATURES: unknown feature '", item,
                                "' (known: subgroup, 16bit)"));
            q.applied.push_back("disabled by VKCNN_DISABLE_FEATURES: " + item);
        }
    }
    // Lowerings see only the tuning: the subgroup reductions follow the
    // feature after the mask.
    q.gemm.subgroup_reductions = q.subgroup_arithmetic;
    return q;
}

} // namespace vkcnn::vulkan
