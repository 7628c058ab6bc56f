// Buffers, the sub-allocator and host transfers, on both paths: mapped
// memory (unified-memory devices such as lavapipe) and staging copies
// (discrete GPUs; forced here with DeviceTesting::create_with_staging), and
// the count of bytes they move.
#include "vkcnn/vulkan/device_testing.h"

#include "support/compare.h"
#include "support/gpu.h"

#include <doctest/doctest.h>

#include <numeric>
#include <thread>

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

// Exact byte and call counts: whole and partial transfers, an empty one
// (not counted), through the typed and the byte-span overloads.
void count_transfers(Device& dev) {
    auto b = dev.create_buffer(64 * 4, "counted");
    dev.reset_transfer_stats();
    const TransferStats zero = dev.transfer_stats();
    CHECK(zero.uploaded == 0);
    CHECK(zero.downloaded == 0);
    CHECK(zero.uploads == 0);
    CHECK(zero.downloads == 0);

    std::vector<float> v(64);
    std::iota(v.begin(), v.end(), 1.0f);
    dev.upload<float>(b, v);                               // 256 bytes
    dev.upload<float>(b, std::span(v).first(3), 8);        // 12 bytes at an offset
    dev.upload(b, std::as_bytes(std::span(v)).first(5), 0); // 5 bytes
    dev.upload<float>(b, std::span<const float>());        // nothing: not counted
    std::vector<float> back(64);
    dev.download<float>(b, back);                     // 256 bytes
    dev.download<float>(b, std::span(back).first(7), 4); // 28 bytes
    TransferStats s = dev.transfer_stats();
    CHECK(s.uploaded == 256 + 12 + 5);
    CHECK(s.uploads == 3);
    CHECK(s.downloaded == 256 + 28);
    CHECK(s.downloads == 2);

    // A failed transfer moves nothing and counts nothing.
    CHECK_THROWS(dev.upload<float>(b, std::vector<float>(65)));
    CHECK(dev.transfer_stats().uploads == 3);

    dev.reset_transfer_stats();
    s = dev.transfer_stats();
    CHECK(s.uploaded + s.downloaded + s.uploads + s.downloads == 0);
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "vulkan/memory: upload and download round-trip") { roundtrip(dev); }

TEST_CASE("vulkan/memory: staging path round-trips (as on discrete GPUs)") {
    auto dev = vulkan::DeviceTesting::create_with_staging(validated_options());
    auto b = dev->create_buffer(16, "probe");
    CHECK(b.mapped() == nullptr); // really the staging path
    roundtrip(*dev);
    expect_no_validation_messages(*dev);
}

TEST_CASE_FIXTURE(GpuTest, "vulkan/memory: freed ranges are reused and empty blocks returned") {
    const size_t before = vulkan::DeviceTesting::memory_blocks(dev);
    {
        std::vector<vulkan::Buffer> bs;
        for (int i = 0; i < 100; ++i) bs.push_back(dev.create_buffer(100000, "churn"));
        CHECK(vulkan::DeviceTesting::memory_blocks(dev) <= before + 1); // 10 MB fits in one 64 MiB block
    }
    CHECK(vulkan::DeviceTesting::memory_blocks(dev) == before);
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

TEST_CASE_FIXTURE(GpuTest, "vulkan/memory: transfer stats count every byte on the mapped path") {
    REQUIRE(dev.create_buffer(4, "probe").mapped() != nullptr); // lavapipe and other unified-memory devices
    count_transfers(dev);
}

TEST_CASE("vulkan/memory: transfer stats count every byte on the staging path") {
    auto dev = vulkan::DeviceTesting::create_with_staging(validated_options());
    REQUIRE(dev->create_buffer(4, "probe").mapped() == nullptr);
    count_transfers(*dev);
    expect_no_validation_messages(*dev);
}

TEST_CASE_FIXTURE(GpuTest, "vulkan/memory: transfer stats are exact with several threads transferring") {
    constexpr int kThreads = 4, kEach = 50;
    std::vector<vulkan::Buffer> buffers;
    for (int t = 0; t < kThreads; ++t) buffers.push_back(dev.create_buffer(64, cat("thread ", t)));
    dev.reset_transfer_stats();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            std::vector<float> v(16, static_cast<float>(t)), back(4);
            for (int i = 0; i < kEach; ++i) {
                dev.upload<float>(buffers[t], v);
                dev.download<float>(buffers[t], back, 16);
            }
        });
    for (auto& th : threads) th.join();
    const TransferStats s = dev.transfer_stats();
    CHECK(s.uploads == kThreads * kEach);
    CHECK(s.uploaded == kThreads * kEach * 64);
    CHECK(s.downloads == kThreads * kEach);
    CHECK(s.downloaded == kThreads * kEach * 16);
}
