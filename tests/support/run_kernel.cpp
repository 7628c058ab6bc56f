// Guarded single-kernel runs for tests (see run_kernel.h).
#include "support/run_kernel.h"

#include "support/compare.h"
#include "vkcnn/vulkan/recorder.h"

#include <doctest/doctest.h>

#include <limits>
#include <string>

namespace vkcnn::test {

std::vector<std::vector<float>> run_kernel(Device& device, const KernelLaunch& launch,
                                           std::vector<std::vector<float>> args) {
    REQUIRE(args.size() == launch.args.size());
    // Guard bands at least as large as the device's offset alignment, so the body can start after one.
    const size_t guard_floats =
        std::max<size_t>(Guarded::kGuard, device.info().min_storage_buffer_offset_alignment / sizeof(float));
    REQUIRE(guard_floats == Guarded::kGuard); // Guarded's layout assumes this; raise kGuard if it trips

    std::vector<Guarded> host;
    std::vector<vulkan::Buffer> buffers;
    std::vector<vulkan::BufferRange> ranges;
    host.reserve(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
        host.emplace_back(args[i].size());
        auto body = host.back().body();
        if (launch.args[i] == Access::Write) std::fill(body.begin(), body.end(), std::numeric_limits<float>::quiet_NaN());
        else std::copy(args[i].begin(), args[i].end(), body.begin());
        buffers.push_back(device.create_buffer(host.back().all().size_bytes(), "test arg " + std::to_string(i)));
        device.upload<float>(buffers.back(), host.back().all());
    }
    for (size_t i = 0; i < args.size(); ++i)
        ranges.emplace_back(buffers[i], Guarded::kGuard * sizeof(float), std::max<size_t>(args[i].size(), 1) * sizeof(float));

    vulkan::Recorder rec(device);
    rec.dispatch(launch, ranges);
    rec.submit_and_wait(launch.shader);

    for (size_t i = 0; i < args.size(); ++i) {
        device.download<float>(buffers[i], host[i].all());
        CHECK_MESSAGE(host[i].guards_intact(), launch.shader << ": argument " << i << " was written out of bounds");
        auto body = host[i].body();
        args[i].assign(body.begin(), body.end());
    }
    return args;
}

} // namespace vkcnn::test
