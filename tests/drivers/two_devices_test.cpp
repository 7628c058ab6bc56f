// Two Vulkan implementations in one process, as the design promises (no
// global dispatch state: each Device has its own instance and function
// tables). ctest runs this with lavapipe and SwiftShader both visible
// (tests/CMakeLists.txt); with a GPU installed it takes that too. Each device
// trains the same seeded LeNet-5 steps, interleaved, beside the CPU backend:
// every device bitwise equal to its own debug schedule, and all of them within
// the rounding bound the trainer tests use (1e-3 relative on the loss).
#include "vkcnn/nn/models.h"
#include "vkcnn/vulkan/device_info.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/training.h"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <memory>

using namespace vkcnn;
using namespace vkcnn::test;

TEST_CASE("drivers/two devices: every visible driver trains the same LeNet-5 steps at once, as the CPU backend does") {
    std::vector<vulkan::DeviceInfo> infos;
    {
        const auto instance = vulkan::Instance::create({});
        for (const vulkan::DeviceInfo& d : vulkan::describe_devices(*instance))
            if (d.usable) infos.push_back(d);
    }
    REQUIRE_MESSAGE(infos.size() >= 2, "needs two Vulkan devices: VK_ICD_FILENAMES=<lavapipe's icd.json>:"
                                       "/usr/lib/chromium/vk_swiftshader_icd.json");
    std::vector<std::unique_ptr<Device>> devices;
    for (const vulkan::DeviceInfo& d : infos) {
        DeviceOptions options = validated_options();
        options.select = std::to_string(d.index);
        devices.push_back(Device::create(options));
        devices.back()->validation_log().echo_to_stderr = false;
        MESSAGE("device " << d.index << ": " << d.name << ", driver " << d.driver_name << ", subgroup "
                          << d.subgroup_size << ", GEMM " << (devices.back()->quirks().gemm.shared_memory_tiles
                                                                  ? "shared-memory tiles" : "register blocks"));
    }

    cpu::ThreadPool pool(2);
    const nn::Sequential net = nn::lenet5();
    nn::TrainerOptions options{.batch = 16, .optimizer = ops::SgdAttrs{.lr = 0.01, .momentum = 0.9}};
    nn::TrainerOptions debug_options = options;
    debug_options.debug_schedule = true;
    Training on_cpu(net, {.seed = 6}, options, nullptr, pool);
    std::vector<std::unique_ptr<Training>> fast, debug;
    for (auto& d : devices) {
        fast.push_back(std::make_unique<Training>(net, nn::ModelOptions{.seed = 6}, options, d.get(), pool));
        debug.push_back(std::make_unique<Training>(net, nn::ModelOptions{.seed = 6}, debug_options, d.get(), pool));
    }

    std::vector<float> images(16 * 784);
    std::vector<int32_t> labels(16);
    for (int step = 0; step < 4; ++step) {
        for (size_t i = 0; i < images.size(); ++i) images[i] = std::sin(0.37f * static_cast<float>(i + 97 * step));
        for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>((i * 7 + step) % 10);
        const float want = on_cpu.step(images, labels).loss;
        for (size_t d = 0; d < devices.size(); ++d) { // one step on each device in turn
            const float a = fast[d]->step(images, labels).loss, b = debug[d]->step(images, labels).loss;
            INFO(devices[d]->info().name << ", step " << step << ": " << a << ", debug schedule " << b << ", cpu "
                                         << want);
            CHECK(std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b));
            CHECK(std::abs(a - want) <= 1e-3 * std::abs(want));
        }
    }
    const nn::StateDict reference = on_cpu.state();
    for (size_t d = 0; d < devices.size(); ++d) {
        const nn::StateDict state = fast[d]->state(), debug_state = debug[d]->state();
        for (const auto& [key, values] : state) {
            const std::string what = cat(devices[d]->info().name, " ", key, " after 4 steps");
            check_bitwise_equal(values, debug_state.at(key), what + " vs its debug schedule");
            // Weights of order 0.1 moved by 4 steps of lr 0.01: rounding leaves them far closer than this.
            check_allclose(values, reference.at(key), 1e-5, 1e-3, what + " vs the CPU backend");
        }
        expect_no_validation_messages(*devices[d]);
    }
}
