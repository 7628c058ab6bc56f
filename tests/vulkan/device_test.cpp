// Device creation, device choice, quirks, the pipeline cache and device loss.
#include "vkcnn/ops/relu.h"
#include "vkcnn/vulkan/device_choice.h"
#include "vkcnn/vulkan/device_internal.h"
#include "vkcnn/vulkan/device_testing.h"
#include "vkcnn/vulkan/recorder.h"
#include "vkcnn/vulkan/tuning_file.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

using namespace vkcnn;
using namespace vkcnn::test;
namespace fs = std::filesystem;

namespace {

vulkan::DeviceInfo fake(uint32_t index, const char* name, VkPhysicalDeviceType type) {
    vulkan::DeviceInfo d;
    d.index = index;
    d.name = name;
    d.type = type;
    return d;
}

// relu on the GPU, compared with the reference: proof a device works.
void relu_works(Device& dev) {
    const auto x = uniform(1000, 3);
    std::vector<float> want(x.size());
    ops::relu_forward_reference(x, want);
    const auto out = run_kernel(dev, ops::relu_forward_launch(x.size()), {x, std::vector<float>(x.size())});
    check_bitwise_equal(out[1], want, "relu on the device");
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "vulkan/device: reports what it is") {
    const auto& i = dev.info();
    MESSAGE("device: " << i.name << " (" << std::string(vulkan::device_type_name(i.type)) << "), driver " << i.driver_name
                       << ", subgroup " << i.subgroup_size);
    CHECK(!i.name.empty());
    CHECK(i.api_version >= VK_API_VERSION_1_1);
    CHECK(i.subgroup_size >= 1);
    CHECK(i.max_workgroup_invocations >= 128); // Vulkan's guaranteed minimum
    CHECK(i.max_shared_memory >= 16384);
    CHECK(!i.heaps.empty());
    CHECK(dev.validation_enabled());
    CHECK(!dev.adopted());
    CHECK(dev.queue_family() == i.compute_family);
}

TEST_CASE("vulkan/device: choice by type, index and name, and no match lists the devices") {
    const std::vector<vulkan::DeviceInfo> ds = {fake(0, "llvmpipe (LLVM 15)", VK_PHYSICAL_DEVICE_TYPE_CPU),
                                                fake(1, "Intel(R) UHD 770", VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU),
                                                fake(2, "NVIDIA RTX 4090", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)};
    CHECK(vulkan::choose_device(ds, "").index == 2);
    CHECK(vulkan::choose_device(ds, "").why == "the highest-ranked type present, discrete GPU (discrete GPU > integrated > virtual > CPU)");
    CHECK(vulkan::choose_device(ds, "0").index == 0);
    CHECK(vulkan::choose_device(ds, "0").why == "VKCNN_DEVICE='0' is its index");
    CHECK(vulkan::choose_device(ds, "intel").index == 1);
    CHECK(vulkan::choose_device(ds, "LLVMPIPE").index == 0);
    CHECK_THROWS_WITH(vulkan::choose_device(ds, "radeon"),
                      doctest::Contains("VKCNN_DEVICE='radeon' matches no device"));
    CHECK_THROWS_WITH(vulkan::choose_device(ds, "7"), doctest::Contains("[2] NVIDIA RTX 4090 (discrete GPU)"));
    auto broken = ds;
    broken[2].usable = false;
    broken[2].unusable_reason = "has no compute queue";
    CHECK(vulkan::choose_device(broken, "").index == 1);
    CHECK_THROWS_WITH(vulkan::choose_device(broken, "nvidia"), doctest::Contains("has no compute queue"));
    CHECK_THROWS_AS(vulkan::choose_device({}, ""), VulkanUnavailableError);
    CHECK_THROWS_WITH(vulkan::choose_device({}, ""), doctest::Contains("mesa-vulkan-drivers"));
}

TEST_CASE("vulkan/device: among CPU devices lavapipe is chosen before SwiftShader, in either order, and says why") {
    vulkan::DeviceInfo swiftshader = fake(0, "SwiftShader Device (Subzero)", VK_PHYSICAL_DEVICE_TYPE_CPU);
    swiftshader.driver_id = VK_DRIVER_ID_GOOGLE_SWIFTSHADER;
    vulkan::DeviceInfo lavapipe = fake(1, "llvmpipe (LLVM 15.0.6, 256 bits)", VK_PHYSICAL_DEVICE_TYPE_CPU);
    lavapipe.driver_id = VK_DRIVER_ID_MESA_LLVMPIPE;
    const auto first = vulkan::choose_device({swiftshader, lavapipe}, "");
    CHECK(first.index == 1);
    CHECK(first.why == "the highest-ranked type present, CPU (discrete GPU > integrated > virtual > CPU); before "
                       "SwiftShader Device (Subzero): SwiftShader is ranked last (a LeNet-5 step ~6x slower than "
                       "lavapipe's; quirk table)");
    CHECK(vulkan::choose_device({lavapipe, swiftshader}, "").index == 0);
    CHECK(vulkan::choose_device({swiftshader}, "").index == 0);
    CHECK(vulkan::choose_device({swiftshader, lavapipe}, "swiftshader").index == 0);
    // Equal preference: the first listed, said so.
    const auto twins = vulkan::choose_device({lavapipe, fake(1, "llvmpipe (second)", VK_PHYSICAL_DEVICE_TYPE_CPU)}, "");
    CHECK(twins.index == 0);
    CHECK(twins.why.ends_with("; before llvmpipe (second): listed first"));
}

TEST_CASE("vulkan/device: VKCNN_GEMM_TILES forces a tiling, and a malformed one names the expected form") {
    const GemmTuning shared = vulkan::parse_gemm_tiles("shared:32x64");
    CHECK(shared.shared_memory_tiles);
    CHECK(shared.tile_m == 32);
    CHECK(shared.tile_n == 64);
    const GemmTuning registers = vulkan::parse_gemm_tiles("registers:64x64");
    CHECK(!registers.shared_memory_tiles);
    CHECK(registers.tile_m == 64);
    for (const char* bad : {"shared", "shared:64", "tiled:64x64", "shared:63x64", "shared:64x2048", "shared:x64",
                            "shared:64x", "shared:6a4x64", "registers:64x64x4"})
        CHECK_THROWS_WITH(vulkan::parse_gemm_tiles(bad), doctest::Contains("expected registers:MxN or shared:MxN"));
}

TEST_CASE("vulkan/device: quirks table and VKCNN_DISABLE_FEATURES") {
    vulkan::DeviceInfo d = fake(0, "llvmpipe", VK_PHYSICAL_DEVICE_TYPE_CPU);
    d.driver_id = VK_DRIVER_ID_MESA_LLVMPIPE;
    d.subgroup_operations = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    d.subgroup_stages = VK_SHADER_STAGE_COMPUTE_BIT;
    d.storage_buffer_16bit = true;
    auto q = vulkan::quirks_for(d, nullptr);
    CHECK(q.subgroup_arithmetic);
    CHECK(q.storage_buffer_16bit);
    CHECK(!q.gemm.shared_memory_tiles); // the lavapipe row
    q = vulkan::quirks_for(d, "subgroup,16bit");
    CHECK(!q.subgroup_arithmetic);
    CHECK(!q.storage_buffer_16bit);
    CHECK_THROWS_WITH(vulkan::quirks_for(d, "subgroups"), doctest::Contains("unknown feature 'subgroups'"));
    d.driver_id = VK_DRIVER_ID_NVIDIA_PROPRIETARY;
    CHECK(vulkan::quirks_for(d, nullptr).gemm.shared_memory_tiles);
}

TEST_CASE("vulkan/device: VKCNN_DEVICE matching nothing is an error listing the devices") {
    DeviceOptions o = validated_options();
    o.select = "no-such-gpu-anywhere";
    CHECK_THROWS_WITH(Device::create(o), doctest::Contains("matches no device"));
}

TEST_CASE("vulkan/device: the pipeline cache persists, and a foreign one is ignored") {
    const fs::path dir = fs::temp_directory_path() / ("vkcnn-cache-test-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    DeviceOptions o = validated_options();
    o.cache_dir = dir;
    fs::path file;
    {
        auto dev = Device::create(o);
        CHECK(!vulkan::DeviceInternals::pipeline_cache(*dev).loaded_from_disk());
        relu_works(*dev);
        file = vulkan::DeviceInternals::pipeline_cache(*dev).file();
        expect_no_validation_messages(*dev);
    }
    REQUIRE(fs::exists(file));
    CHECK(file.filename().string().find("pipelines-") == 0);
    {
        auto dev = Device::create(o);
        CHECK(vulkan::DeviceInternals::pipeline_cache(*dev).loaded_from_disk());
        relu_works(*dev);
        expect_no_validation_messages(*dev);
    }
    {   // Another driver's cache under our name (say, copied between machines): never fed to the driver.
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(8);
        const uint32_t other_vendor = 0xdeadbeef;
        f.write(reinterpret_cast<const char*>(&other_vendor), 4);
    }
    {
        auto dev = Device::create(o);
        CHECK(!vulkan::DeviceInternals::pipeline_cache(*dev).loaded_from_disk());
        relu_works(*dev);
        expect_no_validation_messages(*dev);
    }
    fs::remove_all(dir);
}

TEST_CASE("vulkan/device: device loss is an error, later calls fail fast, a new Device works") {
    auto dev = Device::create(validated_options());
    relu_works(*dev);
    vulkan::DeviceTesting::simulate_device_lost(*dev);
    {
        auto b = dev->create_buffer(16, "b");
        vulkan::Recorder rec(*dev);
        rec.fill(b, 0);
        CHECK_THROWS_AS(rec.submit_and_wait("doomed"), DeviceLostError);
        CHECK(dev->lost());
        CHECK_THROWS_WITH(dev->create_buffer(16, "after"), doctest::Contains("was lost earlier"));
        vulkan::Recorder rec2(*dev);
        rec2.fill(b, 0);
        CHECK_THROWS_AS(rec2.submit_and_wait("after loss"), DeviceLostError);
    }
    expect_no_validation_messages(*dev);
    dev.reset();
    auto fresh = Device::create(validated_options());
    relu_works(*fresh);
    expect_no_validation_messages(*fresh);
}
