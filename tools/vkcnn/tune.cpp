// `vkcnn tune`: times every candidate GEMM tiling on the chosen device
// (exec/autotune.h) and saves the fastest beside the pipeline cache, where
// every later Device on this GPU and driver picks it up.
#include "commands.h"
#include "common.h"

#include "vkcnn/exec/autotune.h"
#include "vkcnn/vulkan/pipeline.h"
#include "vkcnn/vulkan/tuning_file.h"

#include <cstdio>

namespace vkcnn::cli {

int tune(const TuneArgs& a) {
    const std::unique_ptr<Device> dev = open_device("vulkan");
    std::printf("timing a (%lld, 64, 14, 14) x 64x64x3x3 convolution, forward + both backward directions, "
                "best of %d runs per tiling\n",
                static_cast<long long>(a.batch), a.runs);
    const std::vector<exec::TunedTiling> results = exec::measure_gemm_tilings(*dev, {.batch = a.batch, .runs = a.runs});
    for (const exec::TunedTiling& r : results)
        std::printf("  %-16s %3u x %-3u %10.3f ms  %5.2fx\n", r.tuning.shared_memory_tiles ? "shared memory" : "registers",
                    r.tuning.tile_m, r.tuning.tile_n, r.milliseconds, r.milliseconds / results.front().milliseconds);
    const GemmTuning& best = results.front().tuning;
    std::printf("fastest: %s, %u x %u tiles\n", best.shared_memory_tiles ? "shared memory" : "registers", best.tile_m,
                best.tile_n);
    if (a.dry_run) return 0;
    const auto file = vulkan::tuning_file(vulkan::default_cache_dir(), dev->info());
    vulkan::write_tuning(file, best);
    std::printf("saved to %s: used from now on by every vkcnn Device on %s with this driver\n", file.string().c_str(),
                dev->info().name.c_str());
    return 0;
}

} // namespace vkcnn::cli
