// Choosing the GEMM tiling by measurement: every candidate the device can run
// is timed, fastest first; the saved winner is what a later Device on that
// GPU uses, and a damaged file is ignored (noted in the quirks) rather than
// keeping the device from working.
#include "vkcnn/exec/autotune.h"
#include "vkcnn/vulkan/tuning_file.h"

#include "support/files.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

bool mentions(const std::vector<std::string>& applied, std::string_view text) {
    return std::any_of(applied.begin(), applied.end(), [&](const std::string& a) { return a.find(text) != std::string::npos; });
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "exec/autotune: every candidate tiling is timed, fastest first, and a new Device uses the saved one") {
    const std::vector<exec::TunedTiling> results = exec::measure_gemm_tilings(dev, {.batch = 1, .runs = 1});
    REQUIRE(results.size() >= 2);
    CHECK(std::any_of(results.begin(), results.end(), [](const auto& r) { return r.tuning.shared_memory_tiles; }));
    CHECK(std::any_of(results.begin(), results.end(), [](const auto& r) { return !r.tuning.shared_memory_tiles; }));
    for (size_t i = 0; i < results.size(); ++i) {
        CHECK(results[i].milliseconds > 0);
        if (i > 0) CHECK(results[i - 1].milliseconds <= results[i].milliseconds);
        // Only the tiling varies: the optional features stay the device's.
        CHECK(results[i].tuning.subgroup_reductions == dev.quirks().gemm.subgroup_reductions);
    }
    MESSAGE("fastest on " << dev.info().name << ": " << std::string(results[0].tuning.shared_memory_tiles ? "shared" : "registers")
                          << " " << results[0].tuning.tile_m << "x" << results[0].tuning.tile_n << ", "
                          << results[0].milliseconds << " ms");

    const TempDir dir;
    const auto file = vulkan::tuning_file(dir.path, dev.info());
    CHECK_FALSE(vulkan::read_tuning(file).has_value());
    GemmTuning saved{.shared_memory_tiles = true, .tile_m = 32, .tile_n = 64};
    vulkan::write_tuning(file, saved);
    const auto back = vulkan::read_tuning(file);
    REQUIRE(back.has_value());
    CHECK((back->shared_memory_tiles && back->tile_m == 32 && back->tile_n == 64));
    DeviceOptions options = validated_options();
    options.cache_dir = dir.path;
    {
        // VKCNN_GEMM_TILES (set where the suite runs on SwiftShader) wins over the file.
        const char* forced = std::getenv("VKCNN_GEMM_TILES");
        const GemmTuning want = forced && *forced ? vulkan::parse_gemm_tiles(forced) : saved;
        auto tuned = Device::create(options);
        CHECK(tuned->quirks().gemm.shared_memory_tiles == want.shared_memory_tiles);
        CHECK(tuned->quirks().gemm.tile_m == want.tile_m);
        CHECK(tuned->quirks().gemm.tile_n == want.tile_n);
        CHECK(mentions(tuned->quirks().applied, "measured by vkcnn tune"));
        if (forced && *forced) CHECK(mentions(tuned->quirks().applied, "forced by VKCNN_GEMM_TILES"));
        expect_no_validation_messages(*tuned);
    }
    std::ofstream(file) << "shared_memory_tiles 2 tile_m 30\n";
    CHECK_THROWS_WITH(vulkan::read_tuning(file), doctest::Contains("not a GEMM tuning file"));
    auto untuned = Device::create(options);
    CHECK(untuned->quirks().gemm.tile_m == dev.quirks().gemm.tile_m);
    CHECK(mentions(untuned->quirks().applied, "ignored:"));
    CHECK_THROWS_WITH(exec::measure_gemm_tilings(dev, {.batch = 0}), doctest::Contains("must be positive"));
}
