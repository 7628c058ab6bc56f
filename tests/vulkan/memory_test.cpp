// Buffers, the sub-allocator and host transfers, on both paths: mapped
// memory (unified-memory devices such as lavapipe) and staging copies
// (discrete GPUs; forced here with DeviceOptions::debug_force_staging).
#include "support/compare.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

#include <numeric>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

void roundtrip(Device& dev) {
    std::vector<vulkan::Buffer> buffers;
    // Odd sizes and many of them: ranges must not overlap, all must be aligned.
    for (size_t i = 0; i < 40; ++i) buffers.push_back(dev.create_buffer(4 * (1 + i * 37), cat("b", i)));
    for (size_t i = 0; i < buffers.size(); ++i) {
        std::vector<float> v(1 + i * 37);
        std::iota(v.begin(), v.end(), static_cast<float>(i * 1000));
        dev.upload<float>(buffers[i], v);
    }
    for (size_t i = 0; i < buffers.size(); ++i) {
        std::vector<float> got(1 + i * 37), want(got.size());
        std::iota(want.begin(), want.end(), static_cast<float>(i * 1000));
        dev.download<float>(buffers[i], got);
        check_bitwise_equal(got, want, cat("buffer ", i));
    }
    // Partial transfers at an offset.
    std::vector<float> part = {1.5f, 2.5f, 3.5f};
    dev.upload<float>(buffers[5], part, 8);
    std::vector<float> back(3);
    dev.download<float>(buffers[5], back, 8);
    check_bitwise_equal(back, part, "partial");
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "vulkan/memory: upload and download round-trip") { roundtrip(dev); }

TEST_CASE("vulkan/memory: staging path round-trips (as on discrete GPUs)") {
    DeviceOptions o = validated_options();
    o.debug_force_staging = true;
    auto dev = Device::create(o);
    auto b = dev->create_buffer(16, "probe");
    CHECK(b.mapped() == nullptr); // really the staging path
    roundtrip(*dev);
    expect_no_validation_messages(*dev);
}

TEST_CASE_FIXTURE(GpuTest, "vulkan/memory: freed ranges are reused and empty blocks returned") {
    const size_t before = dev.allocator().block_count();
    {
        std::vector<vulkan::Buffer> bs;
        for (int i = 0; i < 100; ++i) bs.push_back(dev.create_buffer(100000, "churn"));
        CHECK(dev.allocator().block_count() <= before + 1); // 10 MB fits in one 64 MiB block
    }
    CHECK(dev.allocator().block_count() == before);
    // Moving a buffer moves ownership: one free, not two.
    vulkan::Buffer a = dev.create_buffer(64, "a");
    vulkan::Buffer b = std::move(a);
    CHECK(!a);
    CHECK(b);
}

TEST_CASE_FIXTURE(GpuTest, "vulkan/memory: an impossible request is an error naming the buffer and sizes") {
    CHECK_THROWS_AS(dev.create_buffer(size_t{1} << 50, "huge activations"), OutOfMemoryError);
    CHECK_THROWS_WITH(dev.create_buffer(size_t{1} << 50, "huge activations"),
                      doctest::Contains("'huge activations' asks for 1125899906842624 bytes"));
    auto small = dev.create_buffer(16, "small");
    std::vector<float> five(5);
    CHECK_THROWS_WITH(dev.upload<float>(small, five), doctest::Contains("do not fit its 16 bytes"));
}
