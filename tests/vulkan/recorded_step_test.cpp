// Record once, replay many times: two interleaved chains of relu kernels with
// their intermediates packed into one arena by the memory planner. Replays
// with fresh inputs must match the CPU, use one submit each, need fewer
// barriers than dispatches, and agree bit for bit with the debug schedule
// (a barrier after every dispatch, no arena reuse). Validation stays silent.
// A step with timestamps recorded into a host's command buffer times its
// dispatches too, read after the host's own fence or timeline semaphore.
#include "vkcnn/graph/memory_plan.h"
#include "vkcnn/ops/relu.h"
#include "vkcnn/vulkan/recorded_step.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "vulkan/host_app.h"

#include <doctest/doctest.h>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

constexpr size_t kChains = 2, kSteps = 8, kN = 3000;

// Step k of a chain: v[k+1] = relu(v[k]) for even k, relu_backward(x, dy = v[k]) for odd k.
std::vector<float> cpu_chain(const std::vector<float>& x, size_t chain) {
    std::vector<float> v = x, next(kN);
    for (size_t k = 0; k < kSteps; ++k) {
        if ((k + chain) % 2 == 0) ops::relu_forward_reference(v, next);
        else ops::relu_backward_reference(x, v, next);
        std::swap(v, next);
    }
    return v;
}

struct Run {
    std::vector<std::vector<float>> outputs; // per replay, chains concatenated
    size_t dispatches = 0, barriers = 0, submits = 0;
    graph::MemoryPlan plan;
};

Run replay(Device& dev, bool debug_schedule, int replays) {
    // Values: v[c][1..kSteps-1] live in the arena; dispatch (k, c) sits at position k*kChains + c.
    std::vector<graph::Lifetime> lifetimes;
    for (size_t c = 0; c < kChains; ++c)
        for (uint32_t k = 1; k < kSteps; ++k)
            lifetimes.push_back({kN * 4, static_cast<uint32_t>((k - 1) * kChains + c), static_cast<uint32_t>(k * kChains + c)});
    const uint64_t alignment = std::max<uint64_t>(dev.info().min_storage_buffer_offset_alignment, 16);
    Run run;
    run.plan = debug_schedule ? graph::plan_memory_without_reuse(lifetimes, alignment) : graph::plan_memory(lifetimes, alignment);

    auto x = dev.create_buffer(kN * 4, "x");
    auto arena = dev.create_buffer(run.plan.arena_bytes, "arena");
    // Each chain's result at an offset the device can bind (SwiftShader's
    // alignment is 256 bytes, more than one result of 12000 bytes ends on).
    const uint64_t out_stride = (kN * 4 + alignment - 1) / alignment * alignment;
    auto out = dev.create_buffer(kChains * out_stride, "out");
    auto value = [&](size_t c, size_t k) -> vulkan::BufferRange {
        if (k == 0) return {x, 0, kN * 4};
        if (k == kSteps) return {out, c * out_stride, kN * 4};
        return {arena, run.plan.offsets[c * (kSteps - 1) + (k - 1)], kN * 4};
    };
    std::vector<vulkan::StepDispatch> dispatches;
    for (size_t k = 0; k < kSteps; ++k)
        for (size_t c = 0; c < kChains; ++c) {
            vulkan::StepDispatch d;
            if ((k + c) % 2 == 0) {
                d.launch = ops::relu_forward_launch(kN);
                d.args = {value(c, k), value(c, k + 1)};
            } else {
                d.launch = ops::relu_backward_launch(kN);
                d.args = {value(c, 0), value(c, k), value(c, k + 1)};
            }
            d.label = cat("chain ", c, " step ", k);
            dispatches.push_back(std::move(d));
        }
    vulkan::RecordOptions options;
    options.full_barriers = debug_schedule;
    vulkan::RecordedStep step(dev, std::move(dispatches), options);
    for (int r = 0; r < replays; ++r) {
        dev.upload<float>(x, small_integers(kN, static_cast<uint32_t>(100 + r))); // a new batch
        step.run();
        std::vector<float> got(kChains * out_stride / 4), chains;
        dev.download<float>(out, got);
        for (size_t c = 0; c < kChains; ++c)
            chains.insert(chains.end(), got.begin() + static_cast<ptrdiff_t>(c * out_stride / 4),
                          got.begin() + static_cast<ptrdiff_t>(c * out_stride / 4 + kN));
        run.outputs.push_back(std::move(chains));
    }
    run.dispatches = step.dispatch_count();
    run.barriers = step.barrier_count();
    run.submits = step.submit_count();
    return run;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "vulkan/recorded_step: replays match the CPU with one submit each and few barriers") {
    const int replays = 20;
    const Run fast = replay(dev, false, replays);
    MESSAGE("dispatches " << fast.dispatches << ", barriers per step " << fast.barriers << ", arena "
                          << fast.plan.arena_bytes << " bytes vs naive " << fast.plan.naive_bytes);
    CHECK(fast.submits == replays);
    CHECK(fast.barriers < fast.dispatches);
    CHECK(fast.plan.arena_bytes * 2 <= fast.plan.naive_bytes);
    for (int r = 0; r < replays; ++r) {
        const auto x = small_integers(kN, static_cast<uint32_t>(100 + r));
        for (size_t c = 0; c < kChains; ++c) {
            const auto want = cpu_chain(x, c);
            check_bitwise_equal(std::span(fast.outputs[r]).subspan(c * kN, kN), want, cat("replay ", r, " chain ", c));
        }
    }

    const Run debug = replay(dev, true, replays);
    CHECK(debug.barriers == debug.dispatches); // entry barrier + one after each dispatch but the last
    for (int r = 0; r < replays; ++r) check_bitwise_equal(fast.outputs[r], debug.outputs[r], cat("debug schedule, replay ", r));
}

TEST_CASE("vulkan/recorded_step: timestamps in a host's command buffer, read after the host's fence or timeline") {
    host_messages = 0;
    HostApp host;
    {
        auto dev = host.adopt_validated();
        if (dev->info().timestamp_period_ns == 0) {
            MESSAGE("the compute queue has no timestamps: skipped");
            return;
        }
        // z = relu(relu(x)): two dispatches in two hazard levels, two slots.
        constexpr size_t n = 2048;
        auto x = dev->create_buffer(n * 4, "x"), y = dev->create_buffer(n * 4, "y"), z = dev->create_buffer(n * 4, "z");
        std::vector<vulkan::StepDispatch> dispatches(2);
        dispatches[0].launch = dispatches[1].launch = ops::relu_forward_launch(n);
        dispatches[0].args = {x, y};
        dispatches[1].args = {y, z};
        vulkan::RecordOptions options;
        options.timestamps = true;
        options.slots = {vulkan::StepSlot{}, vulkan::StepSlot{}};
        vulkan::RecordedStep step(*dev, std::move(dispatches), options);
        CHECK_THROWS_WITH(step.dispatch_microseconds(1), doctest::Contains("never submitted or recorded"));
        CHECK_THROWS_WITH(step.dispatch_microseconds(), doctest::Contains("after the first run"));

        const auto expect_run = [&](uint32_t slot, const std::vector<float>& xv, const char* what) {
            const std::vector<double> us = step.dispatch_microseconds(slot);
            REQUIRE(us.size() == 2);
            for (double t : us) CHECK(t >= 0.0);
            MESSAGE(std::string(what) << ": " << us[0] << " us, " << us[1] << " us");
            std::vector<float> want(n), got(n);
            ops::relu_forward_reference(xv, want);
            dev->download<float>(z, got);
            check_bitwise_equal(got, want, what);
        };

        // The host's command buffer and fence; twice, so the reset inside the recording is exercised.
        for (uint32_t round = 0; round < 2; ++round) {
            const auto xv = uniform(n, 30 + round);
            dev->upload<float>(x, xv);
            VkCommandBuffer cmd = host.begin_commands();
            step.record(cmd, 1);
            host.submit_and_wait(cmd);
            expect_run(1, xv, "recorded, the host's fence");
        }
        CHECK(step.submit_count() == 0); // the host submitted, not we

        // The host's timeline semaphore, signalled by its submission.
        if (host.timeline) {
            const auto xv = uniform(n, 40);
            dev->upload<float>(x, xv);
            VkSemaphore timeline = host.create_timeline();
            VkCommandBuffer cmd = host.begin_commands();
            step.record(cmd, 0);
            host.submit_and_wait_timeline(cmd, timeline, 1);
            expect_run(0, xv, "recorded, the host's timeline");
            vkDestroySemaphore(host.device, timeline, nullptr);
        } else {
            MESSAGE("the device has no timeline semaphores: that part skipped");
        }

        // submit() and wait() as before: the last run waited for, and the same numbers by slot.
        const auto xv = uniform(n, 50);
        dev->upload<float>(x, xv);
        step.run();
        CHECK(step.dispatch_microseconds() == step.dispatch_microseconds(0));
        expect_run(0, xv, "submitted by us");
        CHECK(dev->validation_log().take().empty());
    }
    CHECK(host_messages == 0);
}
