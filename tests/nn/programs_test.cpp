// The scheduler's figures on real models: the training steps of LeNet-5, the
// small ResNet (batch norm, residual connections) and the depthwise-separable
// net at batch 64, each compiled into one recorded command buffer. Printed:
// dispatches, barriers and arena against the naive sum; checked: fewer
// barriers than dispatches, the arena at most half the naive sum, one submit
// per step and no re-recording, synchronization validation clean over the
// replays, one dispatch for all optimizer steps, and the optimised schedule
// bitwise equal to the debug schedule (one optimizer dispatch per parameter).
#include "vkcnn/exec/vulkan_program.h"
#include "vkcnn/nn/models.h"
#include "vkcnn/nn/trainer.h"

#include "support/compare.h"
#include "support/training.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

void check_model(Device& dev, const char* name, int steps) {
    cpu::ThreadPool pool(1);
    const nn::Sequential net = nn::model_by_name(name);
    const nn::TrainerOptions options{.batch = 64, .optimizer = ops::SgdAttrs{.lr = 0.05, .momentum = 0.9}};
    Training fast(net, {.seed = 2}, options, &dev, pool);
    nn::TrainerOptions debug_options = options;
    debug_options.debug_schedule = true;
    Training debug(net, {.seed = 2}, debug_options, &dev, pool);

    const auto& program = dynamic_cast<exec::VulkanProgram&>(fast.training_program());
    const exec::ProgramStats& s = program.stats();
    MESSAGE(std::string(name) << " at batch 64: " << s.dispatches << " dispatches, " << s.barriers << " barriers per step; arena "
                 << s.arena_bytes / 1024 << " KiB vs " << s.naive_bytes / 1024 << " KiB naive ("
                 << 100 * s.arena_bytes / s.naive_bytes << "%), " << s.persistent_bytes / 1024 << " KiB persistent");
    CHECK(s.barriers < s.dispatches);
    CHECK(s.arena_bytes * 2 <= s.naive_bytes);
    // One dispatch steps every parameter; the debug schedule keeps one per
    // parameter, so the bitwise comparison below covers the fused step too.
    const auto parameters = static_cast<size_t>(std::count_if(fast.parameters().begin(), fast.parameters().end(),
        [](const nn::StateSpec& spec) { return spec.role == graph::Role::Parameter; }));
    CHECK(dynamic_cast<exec::VulkanProgram&>(debug.training_program()).stats().dispatches ==
          s.dispatches + parameters - 1);

    std::vector<float> images(64 * 784);
    std::vector<int32_t> labels(64);
    for (int step = 0; step < steps; ++step) {
        for (size_t i = 0; i < images.size(); ++i) images[i] = std::sin(0.01f * static_cast<float>(i * (step + 3)));
        for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>((i + static_cast<size_t>(step)) % 10);
        const float a = fast.step(images, labels).loss, b = debug.step(images, labels).loss;
        CHECK(std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b));
    }
    CHECK(program.submit_count() == static_cast<size_t>(steps)); // recorded once, one submit per step
    const nn::StateDict x = fast.state(), y = debug.state();
    for (const auto& [key, values] : x) check_bitwise_equal(values, y.at(key), cat(name, " ", key, " after ", steps, " steps"));
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "nn/programs: LeNet-5 training step at batch 64, 20 steps bitwise equal to the debug schedule") {
    check_model(dev, "lenet5", 20);
}

TEST_CASE_FIXTURE(GpuTest, "nn/programs: ResNet training step at batch 64 bitwise equal to the debug schedule") {
    check_model(dev, "resnet", 4);
}

TEST_CASE_FIXTURE(GpuTest, "nn/programs: depthwise-separable training step at batch 64 bitwise equal to the debug schedule") {
    check_model(dev, "mobilenet", 4);
}
