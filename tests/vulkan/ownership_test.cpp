// Handing a buffer to a host's renderer and taking it back (ownership.h):
// the barrier contents for a host on another queue family, checked field by
// field, and the whole protocol run end to end on a host application's
// device with one queue family (lavapipe has no other): our write and
// release, the host's acquire, use and release in a second command buffer
// after a semaphore, our acquire and next write. Validation stays silent. A
// true cross-family run needs a GPU with two queue families.
#include "vkcnn/ops/relu.h"
#include "vkcnn/vulkan/ownership.h"
#include "vkcnn/vulkan/recorded_step.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "vulkan/host_app.h"

#include <doctest/doctest.h>
#include <vulkan/vulkan.h>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

constexpr VkPipelineStageFlags kOurStages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
constexpr VkAccessFlags kOurWrites = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
constexpr VkAccessFlags kOurAccess =
    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;

std::vector<float> read(Device& dev, const vulkan::Buffer& b) {
    std::vector<float> v(b.size() / 4);
    dev.download<float>(b, v);
    return v;
}

void check_range(const vulkan::BufferBarrier& b, const vulkan::Buffer& buffer, VkDeviceSize offset, VkDeviceSize size) {
    CHECK(b.barrier.sType == VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER);
    CHECK(b.barrier.pNext == nullptr);
    CHECK(b.barrier.buffer == buffer.handle());
    CHECK(b.barrier.offset == offset);
    CHECK(b.barrier.size == size);
}

// One half of a transfer, field by field: queue families, then stages and access on each side.
struct Half {
    uint32_t src_family, dst_family;
    VkPipelineStageFlags src_stages;
    VkAccessFlags src_access;
    VkPipelineStageFlags dst_stages;
    VkAccessFlags dst_access;
};
void check_half(const vulkan::BufferBarrier& b, const Half& want) {
    CHECK(b.barrier.srcQueueFamilyIndex == want.src_family);
    CHECK(b.barrier.dstQueueFamilyIndex == want.dst_family);
    CHECK(b.src_stages == want.src_stages);
    CHECK(b.barrier.srcAccessMask == want.src_access);
    CHECK(b.dst_stages == want.dst_stages);
    CHECK(b.barrier.dstAccessMask == want.dst_access);
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "vulkan/ownership: barriers for a host on another queue family") {
    auto buffer = dev.create_buffer(1024, "embeddings");
    const vulkan::BufferRange range(buffer, 256, 512);
    const uint32_t ours = 0, theirs = 2;
    const vulkan::HostUse use{theirs, VK_PIPELINE_STAGE_VERTEX_INPUT_BIT, VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT};

    // Ours to the host: released after our writes, acquired before its vertex input.
    const auto release = vulkan::release_to_host(ours, range, use);
    check_range(release, buffer, 256, 512);
    check_half(release, {ours, theirs, kOurStages, kOurWrites, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0});
    const auto acquire = vulkan::acquire_from_vkcnn(ours, range, use);
    check_range(acquire, buffer, 256, 512);
    // Its source stage chains after a semaphore wait there.
    check_half(acquire, {ours, theirs, VK_PIPELINE_STAGE_VERTEX_INPUT_BIT, 0, VK_PIPELINE_STAGE_VERTEX_INPUT_BIT,
                         VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT});

    // The host's back to us: released after its use, acquired before our reads and writes.
    const auto give_back = vulkan::release_to_vkcnn(ours, range, use);
    check_range(give_back, buffer, 256, 512);
    check_half(give_back, {theirs, ours, VK_PIPELINE_STAGE_VERTEX_INPUT_BIT, VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT,
                           VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0});
    const auto take_back = vulkan::acquire_from_host(ours, range, use);
    check_range(take_back, buffer, 256, 512);
    check_half(take_back, {theirs, ours, kOurStages, 0, kOurStages, kOurAccess});

    // A fragment shader's storage read, the whole buffer.
    const vulkan::HostUse frag{theirs, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT};
    const auto whole = vulkan::acquire_from_vkcnn(ours, vulkan::BufferRange(buffer), frag);
    check_range(whole, buffer, 0, VK_WHOLE_SIZE);
    CHECK(whole.dst_stages == VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT);
    CHECK(whole.barrier.dstAccessMask == VK_ACCESS_SHADER_READ_BIT);
}

TEST_CASE_FIXTURE(GpuTest, "vulkan/ownership: on one queue family each half is a plain memory barrier") {
    auto buffer = dev.create_buffer(64, "points");
    const vulkan::BufferRange range(buffer);
    const vulkan::HostUse use{dev.queue_family(), VK_PIPELINE_STAGE_VERTEX_INPUT_BIT,
                              VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT};
    for (const auto& b : {vulkan::release_to_host(dev.queue_family(), range, use),
                          vulkan::acquire_from_vkcnn(dev.queue_family(), range, use)}) {
        check_range(b, buffer, 0, VK_WHOLE_SIZE);
        CHECK(b.barrier.srcQueueFamilyIndex == VK_QUEUE_FAMILY_IGNORED);
        CHECK(b.barrier.dstQueueFamilyIndex == VK_QUEUE_FAMILY_IGNORED);
        CHECK(b.src_stages == kOurStages);
        CHECK(b.barrier.srcAccessMask == kOurWrites);
        CHECK(b.dst_stages == VK_PIPELINE_STAGE_VERTEX_INPUT_BIT);
        CHECK(b.barrier.dstAccessMask == VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT);
    }
    for (const auto& b : {vulkan::release_to_vkcnn(dev.queue_family(), range, use),
                          vulkan::acquire_from_host(dev.queue_family(), range, use)}) {
        CHECK(b.barrier.srcQueueFamilyIndex == VK_QUEUE_FAMILY_IGNORED);
        CHECK(b.barrier.dstQueueFamilyIndex == VK_QUEUE_FAMILY_IGNORED);
        CHECK(b.src_stages == VK_PIPELINE_STAGE_VERTEX_INPUT_BIT);
        CHECK(b.barrier.srcAccessMask == VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT);
        CHECK(b.dst_stages == kOurStages);
        CHECK(b.barrier.dstAccessMask == kOurAccess);
    }
    CHECK_THROWS_WITH(vulkan::release_to_host(0, range, {1, 0, VK_ACCESS_SHADER_READ_BIT}),
                      doctest::Contains("HostUse::stages is 0"));
    CHECK_THROWS_WITH(vulkan::acquire_from_host(0, vulkan::BufferRange(), use), doctest::Contains("has no buffer"));
}

TEST_CASE("vulkan/ownership: our write, the host's use and our next write, with the ownership protocol") {
    host_messages = 0;
    HostApp host;
    {
        auto dev = host.adopt_validated();
        REQUIRE(dev->queue_family() == host.family); // one family: the same-family path
        constexpr size_t n = 1024;
        auto x = dev->create_buffer(n * 4, "x"), y = dev->create_buffer(n * 4, "y (lent to the host)"),
             z = dev->create_buffer(n * 4, "z (the host's copy)");
        std::vector<vulkan::StepDispatch> dispatches(1);
        dispatches[0].launch = ops::relu_forward_launch(n);
        dispatches[0].args = {x, y};
        vulkan::RecordedStep step(*dev, std::move(dispatches));
        // The host copies y (its first and last use); a renderer would bind
        // it as a vertex buffer, which its usage allows.
        const vulkan::HostUse use{host.family, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT};
        const vulkan::BufferRange lent(y);
        const auto relu = [](const std::vector<float>& v) {
            std::vector<float> r(v.size());
            ops::relu_forward_reference(v, r);
            return r;
        };
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VkFence fence;
        REQUIRE(vkCreateFence(host.device, &fci, nullptr, &fence) == VK_SUCCESS);
        VkSemaphore computed = host.create_semaphore(), used = host.create_semaphore();

        // 1. Ours: y = relu(x1), then the release; submitted on our queue, signalling `computed`.
        const auto x1 = uniform(n, 21);
        dev->upload<float>(x, x1);
        VkCommandBuffer ours = host.begin_commands();
        step.record(ours, 0);
        vulkan::record_release_to_host(*dev, ours, lent, use);
        REQUIRE(vkEndCommandBuffer(ours) == VK_SUCCESS);
        dev->submit({&ours, 1}, VK_NULL_HANDLE, "write and release", {.signal = {&computed, 1}});

        // 2. The host's: waits for `computed`, acquires, uses y, gives it back; signals `used`.
        VkCommandBuffer theirs = host.begin_commands();
        vulkan::record_acquire_from_vkcnn(*dev, theirs, lent, use);
        if (host.family_flags & VK_QUEUE_GRAPHICS_BIT) {
            const VkBuffer vertices = y.handle();
            const VkDeviceSize offset = 0;
            vkCmdBindVertexBuffers(theirs, 0, 1, &vertices, &offset); // validation checks the usage
        }
        const VkBufferCopy region{0, 0, n * 4};
        vkCmdCopyBuffer(theirs, y.handle(), z.handle(), 1, &region);
        vulkan::record_release_to_vkcnn(*dev, theirs, lent, use);
        VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER}; // the host reads z once its fence is done
        to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(theirs, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0,
                             nullptr, 0, nullptr);
        host.submit_and_wait(theirs, computed, VK_PIPELINE_STAGE_TRANSFER_BIT, used);
        check_bitwise_equal(read(*dev, z), relu(x1), "the host's copy of y");

        // 3. Ours again: waits for `used`, acquires y back, writes it from new input.
        const auto x2 = uniform(n, 22);
        dev->upload<float>(x, x2);
        VkCommandBuffer again = host.begin_commands();
        vulkan::record_acquire_from_host(*dev, again, lent, use);
        step.record(again, 0);
        REQUIRE(vkEndCommandBuffer(again) == VK_SUCCESS);
        dev->submit({&again, 1}, fence, "acquire and write", {.wait = {&used, 1}});
        dev->wait(fence, "acquire and write");
        check_bitwise_equal(read(*dev, y), relu(x2), "y written again");
        check_bitwise_equal(read(*dev, z), relu(x1), "the host's copy, untouched");

        CHECK(dev->validation_log().take().empty());
        vkFreeCommandBuffers(host.device, host.pool, 1, &ours);
        vkFreeCommandBuffers(host.device, host.pool, 1, &again);
        vkDestroySemaphore(host.device, computed, nullptr);
        vkDestroySemaphore(host.device, used, nullptr);
        vkDestroyFence(host.device, fence, nullptr);
    }
    CHECK(host_messages == 0);
}

// Same family, same queue, no semaphore: submission order and the two
// barriers alone order the host's copy after our write. (This validation
// layer reports no hazards between submissions, so a run without the
// barriers would not fail here: there is no such control run.)
TEST_CASE("vulkan/ownership: on one queue with no semaphore the two halves order the host's use") {
    host_messages = 0;
    HostApp host;
    {
        auto dev = host.adopt_validated();
        REQUIRE(dev->queue_family() == host.family);
        constexpr size_t n = 1024;
        auto x = dev->create_buffer(n * 4, "x"), y = dev->create_buffer(n * 4, "y"), z = dev->create_buffer(n * 4, "z");
        std::vector<vulkan::StepDispatch> dispatches(1);
        dispatches[0].launch = ops::relu_forward_launch(n);
        dispatches[0].args = {x, y};
        vulkan::RecordedStep step(*dev, std::move(dispatches));
        const vulkan::HostUse use{host.family, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT};
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VkFence fence;
        REQUIRE(vkCreateFence(host.device, &fci, nullptr, &fence) == VK_SUCCESS);

        const auto xv = uniform(n, 31);
        dev->upload<float>(x, xv);
        VkCommandBuffer ours = host.begin_commands();
        step.record(ours, 0);
        vulkan::record_release_to_host(*dev, ours, y, use);
        REQUIRE(vkEndCommandBuffer(ours) == VK_SUCCESS);
        dev->submit({&ours, 1}, fence, "write and release");
        VkCommandBuffer theirs = host.begin_commands();
        vulkan::record_acquire_from_vkcnn(*dev, theirs, y, use);
        const VkBufferCopy region{0, 0, n * 4};
        vkCmdCopyBuffer(theirs, y.handle(), z.handle(), 1, &region);
        VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(theirs, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0,
                             nullptr, 0, nullptr);
        host.submit_and_wait(theirs); // after ours on the same queue
        dev->wait(fence, "write and release");
        std::vector<float> want(n);
        ops::relu_forward_reference(xv, want);
        check_bitwise_equal(read(*dev, z), want, "the host's copy");
        CHECK(dev->validation_log().take().empty());
        vkFreeCommandBuffers(host.device, host.pool, 1, &ours);
        vkDestroyFence(host.device, fence, nullptr);
    }
    CHECK(host_messages == 0);
}
