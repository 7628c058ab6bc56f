// Queue-family ownership transfer of a buffer between vkcnn and a host's
// renderer (see ownership.h). Our side's accesses are those of our
// recordings: compute-shader and transfer reads and writes.
#include "vkcnn/vulkan/ownership.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/device_internal.h"

namespace vkcnn::vulkan {

namespace {

constexpr VkPipelineStageFlags kOurStages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
constexpr VkAccessFlags kOurWrites = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
constexpr VkAccessFlags kOurAccess =
    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;

// Where the two families are equal there is no transfer, only a memory
// dependency from `src` to `dst`: both halves are that barrier. Otherwise the
// release's second half and the acquire's first are empty (the semaphore
// between the submissions orders them): the release ends at BOTTOM_OF_PIPE
// with no access; the acquire starts at its own destination stages, so it
// chains after a semaphore wait at those stages, with no access.
BufferBarrier make(const char* what, const BufferRange& range, const HostUse& host, uint32_t from, uint32_t to,
                   bool release, VkPipelineStageFlags src_stages, VkAccessFlags src_access,
                   VkPipelineStageFlags dst_stages, VkAccessFlags dst_access) {
    check(range.buffer && *range.buffer, what, ": the range has no buffer");
    check(host.stages != 0, what, " of '", range.buffer->name(), "': HostUse::stages is 0 (name the host's pipeline stages)");
    BufferBarrier b;
    b.barrier.buffer = range.buffer->handle();
    b.barrier.offset = range.offset;
    b.barrier.size = range.size;
    if (from == to) {
        b.barrier.srcQueueFamilyIndex = b.barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    } else {
        b.barrier.srcQueueFamilyIndex = from;
        b.barrier.dstQueueFamilyIndex = to;
        if (release) {
            dst_stages = VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT;
            dst_access = 0;
        } else {
            src_stages = dst_stages;
            src_access = 0;
        }
    }
    b.src_stages = src_stages;
    b.dst_stages = dst_stages;
    b.barrier.srcAccessMask = src_access;
    b.barrier.dstAccessMask = dst_access;
    return b;
}

} // namespace

BufferBarrier release_to_host(uint32_t our_family, const BufferRange& range, const HostUse& host) {
    return make("release_to_host", range, host, our_family, host.queue_family, true, kOurStages, kOurWrites,
                host.stages, host.access);
}

BufferBarrier acquire_from_vkcnn(uint32_t our_family, const BufferRange& range, const HostUse& host) {
    return make("acquire_from_vkcnn", range, host, our_family, host.queue_family, false, kOurStages, kOurWrites,
                host.stages, host.access);
}

BufferBarrier release_to_vkcnn(uint32_t our_family, const BufferRange& range, const HostUse& host) {
    return make("release_to_vkcnn", range, host, host.queue_family, our_family, true, host.stages, host.access,
                kOurStages, kOurAccess);
}

BufferBarrier acquire_from_host(uint32_t our_family, const BufferRange& range, const HostUse& host) {
    return make("acquire_from_host", range, host, host.queue_family, our_family, false, host.stages, host.access,
                kOurStages, kOurAccess);
}

void record_barrier(const Device& device, VkCommandBuffer cmd, const BufferBarrier& b) {
    DeviceInternals::fns(device).vkCmdPipelineBarrier(cmd, b.src_stages, b.dst_stages, 0, 0, nullptr, 1, &b.barrier, 0,
                                                      nullptr);
}

void record_release_to_host(const Device& device, VkCommandBuffer our_cmd, const BufferRange& range, const HostUse& host) {
    record_barrier(device, our_cmd, release_to_host(device.queue_family(), range, host));
}

void record_acquire_from_vkcnn(const Device& device, VkCommandBuffer host_cmd, const BufferRange& range,
                               const HostUse& host) {
    record_barrier(device, host_cmd, acquire_from_vkcnn(device.queue_family(), range, host));
}

void record_release_to_vkcnn(const Device& device, VkCommandBuffer host_cmd, const BufferRange& range,
                             const HostUse& host) {
    record_barrier(device, host_cmd, release_to_vkcnn(device.queue_family(), range, host));
}

void record_acquire_from_host(const Device& device, VkCommandBuffer our_cmd, const BufferRange& range,
                              const HostUse& host) {
    record_barrier(device, our_cmd, acquire_from_host(device.queue_family(), range, host));
}

} // namespace vkcnn::vulkan
