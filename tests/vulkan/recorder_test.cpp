// The recorder's hazard-derived barriers, and proof that the validation
// fixture catches a missing one.
#include "vkcnn/ops/relu.h"
#include "vkcnn/vulkan/recorder.h"

#include "support/compare.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

struct Chain {
    static constexpr size_t n = 4096;
    vulkan::Buffer x, y, z;
    explicit Chain(Device& dev)
        : x(dev.create_buffer(n * 4, "x")), y(dev.create_buffer(n * 4, "y")), z(dev.create_buffer(n * 4, "z")) {
        const auto data = uniform(n, 7);
        dev.upload<float>(x, data);
    }
};

bool mentions(const std::vector<std::string>& messages, const char* what) {
    for (auto& m : messages)
        if (m.find(what) != std::string::npos) return true;
    return false;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "vulkan/recorder: a dependent dispatch gets a barrier, independent ones share none") {
    Chain c(dev);
    vulkan::Buffer w = dev.create_buffer(Chain::n * 4, "w");
    const auto launch = ops::relu_forward_launch(Chain::n);
    vulkan::Recorder rec(dev);
    const vulkan::BufferRange xy[] = {c.x, c.y}, xw[] = {c.x, w}, yz[] = {c.y, c.z};
    rec.dispatch(launch, xy);
    rec.dispatch(launch, xw); // reads x like the first: no hazard
    CHECK(rec.barrier_count() == 0);
    rec.dispatch(launch, yz); // reads y, written by the first: read-after-write
    CHECK(rec.barrier_count() == 1);
    rec.submit_and_wait("chain");
    CHECK(rec.dispatch_count() == 3);

    std::vector<float> x(Chain::n), z(Chain::n), want(Chain::n);
    dev.download<float>(c.x, x);
    dev.download<float>(c.z, z);
    ops::relu_forward_reference(x, want);
    check_bitwise_equal(z, want, "relu(relu(x))");
}

TEST_CASE_FIXTURE(GpuTest, "vulkan/recorder: write-after-read is guarded") {
    Chain c(dev);
    const auto launch = ops::relu_forward_launch(Chain::n);
    vulkan::Recorder rec(dev);
    const vulkan::BufferRange xy[] = {c.x, c.y}, zx[] = {c.z, c.x};
    rec.dispatch(launch, xy);
    rec.dispatch(launch, zx); // overwrites x, which the first dispatch reads
    CHECK(rec.barrier_count() == 1);
    rec.submit_and_wait("war");
}

TEST_CASE_FIXTURE(GpuTest, "vulkan/recorder: synchronization validation catches a missing barrier") {
    Chain c(dev);
    const auto launch = ops::relu_forward_launch(Chain::n);
    vulkan::Recorder rec(dev);
    const vulkan::BufferRange xy[] = {c.x, c.y}, yz[] = {c.y, c.z};
    rec.dispatch(launch, xy);
    rec.debug_skip_next_barrier();
    rec.dispatch(launch, yz); // reads y with no barrier after the write: a hazard
    CHECK(rec.barrier_count() == 0);
    rec.submit_and_wait("deliberate hazard");
    const auto messages = dev.validation_log().take();
    CHECK_MESSAGE(mentions(messages, "SYNC-HAZARD-READ"), "the missing barrier went unreported; got "
                                                             << messages.size() << " messages");
}

TEST_CASE_FIXTURE(GpuTest, "vulkan/recorder: bad dispatches are errors that name the problem") {
    Chain c(dev);
    vulkan::Recorder rec(dev);
    const vulkan::BufferRange one[] = {c.x};
    CHECK_THROWS_WITH(rec.dispatch(ops::relu_forward_launch(Chain::n), one),
                      doctest::Contains("the shader has 2 buffer bindings"));
    const vulkan::BufferRange outside[] = {c.x, vulkan::BufferRange(c.y, 0, Chain::n * 8)};
    CHECK_THROWS_WITH(rec.dispatch(ops::relu_forward_launch(Chain::n), outside),
                      doctest::Contains("is outside its"));
    KernelLaunch unknown = ops::relu_forward_launch(4);
    unknown.shader = "no_such_shader";
    const vulkan::BufferRange two[] = {c.x, c.y};
    CHECK_THROWS_WITH(rec.dispatch(unknown, two), doctest::Contains("no embedded shader named 'no_such_shader'"));
    CHECK_THROWS_WITH(rec.copy(c.x, 0, c.y, 8, Chain::n * 4), doctest::Contains("out of range"));
}
