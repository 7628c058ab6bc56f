// Device::adopt as a host application (a game, a renderer) uses it: the test
// makes its own instance and device with the system loader, lends them to
// vkcnn, computes, destroys the vkcnn Device and keeps using its own device;
// and it schedules a compiled step with its own timeline semaphore and
// command buffer. Validation (with synchronization validation) must stay
// silent throughout.
#include "vkcnn/exec/vulkan_program.h"
#include "vkcnn/ops/relu.h"
#include "vkcnn/vulkan/device.h"

#include "support/compare.h"
#include "support/run_kernel.h"
#include "vulkan/host_app.h"

#include <doctest/doctest.h>
#include <vulkan/vulkan.h>

using namespace vkcnn;
using namespace vkcnn::test;

TEST_CASE("vulkan/adopt: compute on a host application's device, then hand it back intact") {
    host_messages = 0;
    HostApp host;
    std::mutex queue_mutex; // the host shares its queue between threads
    {
        AdoptInfo info = host.adopt_info();
        info.queue_mutex = &queue_mutex;
        DeviceOptions o;
        o.validation = true;
        o.cache_dir = std::filesystem::path(); // no persistence
        auto dev = Device::adopt(info, o);
        CHECK(dev->adopted());
        CHECK(dev->queue_family() == host.family);
        const auto x = uniform(5000, 11);
        std::vector<float> want(x.size());
        ops::relu_forward_reference(x, want);
        const auto out = run_kernel(*dev, ops::relu_forward_launch(x.size()), {x, std::vector<float>(x.size())});
        check_bitwise_equal(out[1], want, "relu on the adopted device");
        CHECK(dev->validation_log().take().empty());
    } // vkcnn's Device is gone; the host's instance, device and queue must still work
    host.render_a_frame();
    CHECK(host_messages == 0);
}

TEST_CASE("vulkan/adopt: bad handles are errors, not crashes") {
    HostApp host;
    AdoptInfo a = host.adopt_info();
    a.device = VK_NULL_HANDLE;
    CHECK_THROWS_WITH(Device::adopt(a), doctest::Contains("AdoptInfo::device is VK_NULL_HANDLE"));
    a = host.adopt_info();
    a.instance = VK_NULL_HANDLE;
    CHECK_THROWS_WITH(Device::adopt(a), doctest::Contains("AdoptInfo::instance is VK_NULL_HANDLE"));
    a = host.adopt_info();
    a.queue_family = 99;
    CHECK_THROWS_WITH(Device::adopt(a), doctest::Contains("queue_family 99 does not exist"));

    HostApp other; // a physical device handle from another instance
    a = host.adopt_info();
    a.physical_device = other.physical;
    CHECK_THROWS_WITH(Device::adopt(a), doctest::Contains("not one of the"));
    CHECK(host_messages == 0);
}

TEST_CASE("vulkan/adopt: the host orders a compiled step with its timeline semaphore, in parts, or in its own command buffer") {
    host_messages = 0;
    HostApp host;
    if (!host.timeline) {
        MESSAGE("the device has no timeline semaphores: skipped");
        return;
    }
    {
        auto dev = host.adopt_validated();
        // y = relu(x + p): two hazard levels; a work budget of 1 FLOP puts each in its own segment.
        graph::Graph g;
        const Shape shape{4, 64};
        const auto x = g.input("x", shape), p = g.parameter("p", shape);
        g.relu(g.add(x, p, "a"), "y");
        exec::VulkanProgram prog(*dev, graph::compile(g, {.results = {"y"}}), {.max_segment_flops = 1});
        REQUIRE(prog.segment_count() == 2);
        CHECK(prog.segments_within(0, 0) == 1); // always progress
        CHECK(prog.segments_within(0, prog.step_flops()) == 2);
        CHECK(prog.segments_within(1, prog.step_flops()) == 1);
        const auto pv = uniform(256, 3);
        prog.write("p", pv);
        const auto expected = [&](const std::vector<float>& xv) {
            std::vector<float> sum(xv.size()), y(xv.size());
            for (size_t i = 0; i < xv.size(); ++i) sum[i] = xv[i] + pv[i];
            ops::relu_forward_reference(sum, y);
            return y;
        };

        // On our queue, ordered by the host's timeline: wait for 1, signal 2.
        VkSemaphore timeline = host.create_timeline();
        const auto x1 = uniform(256, 4);
        prog.write("x", x1);
        prog.stage(0);
        const uint64_t wait_value = 1, signal_value = 2;
        prog.submit(0, {{&timeline, 1}, {&wait_value, 1}, {&timeline, 1}, {&signal_value, 1}});
        host.signal_timeline(timeline, wait_value); // the host's frame is done
        host.wait_timeline(timeline, signal_value);
        prog.wait(0);
        check_bitwise_equal(prog.read("y"), expected(x1), "after the timeline-ordered submit");

        // A frame budget of one segment's FLOPs: the step over two frames.
        const auto x2 = uniform(256, 5);
        prog.write("x", x2);
        prog.stage(1);
        const double budget = std::max(prog.segment_flops(0), prog.segment_flops(1));
        size_t next = 0, frames = 0;
        while (next < prog.segment_count()) {
            const size_t n = prog.segments_within(next, budget);
            prog.submit_segments(1, next, n);
            if (next == 0) CHECK_THROWS_WITH(prog.submit_segments(1, 0, 1), doctest::Contains("out of order"));
            next += n;
            ++frames;
        }
        CHECK(frames == 2);
        prog.wait(1);
        check_bitwise_equal(prog.read("y"), expected(x2), "after a step in two parts");

        // In the host's command buffer, submitted by the host.
        const auto x3 = uniform(256, 6);
        prog.write("x", x3);
        prog.stage(0);
        VkCommandBuffer cmd = host.begin_commands();
        prog.record(cmd, 0);
        host.submit_and_wait(cmd);
        check_bitwise_equal(prog.read("y"), expected(x3), "recorded into the host's command buffer");
        CHECK(dev->validation_log().take().empty());
        vkDestroySemaphore(host.device, timeline, nullptr);
    }
    CHECK(host_messages == 0);
}
