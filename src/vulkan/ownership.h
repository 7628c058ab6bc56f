// Handing a buffer to a host application's renderer on another queue family
// and taking it back: the two halves of a queue-family ownership transfer
// (VkBufferMemoryBarrier with srcQueueFamilyIndex / dstQueueFamilyIndex),
// the release recorded on the side that owned the buffer, the acquire on the
// side that gets it. Where the host uses our queue family, each half is a
// plain buffer memory barrier (VK_QUEUE_FAMILY_IGNORED) covering the same
// dependency, so the same calls work on either kind of device.
//
// The protocol, for a buffer of ours (a Buffer from Device::create_buffer,
// exclusive to Device::queue_family()) that the host reads, say as a vertex
// buffer, on its graphics family:
//
//   1. Our submission, after the last command that writes the buffer (in the
//      same command buffer, e.g. after RecordedStep::record, or in one
//      submitted after it on our queue), records release_to_host. It signals
//      a semaphore (SubmitSync::signal, or the host's own vkQueueSubmit).
//   2. The host's submission waits for that semaphore, with a wait stage
//      that includes HostUse::stages, and records acquire_from_vkcnn before
//      its first use. Both halves name the same range, families and use.
//   3. Before we write the buffer again, the host gives it back: its
//      submission records release_to_vkcnn after its last use and signals a
//      semaphore; ours waits for it (SubmitSync::wait, whose stages are
//      compute and transfer) and records acquire_from_host before our first
//      write. Until then nothing of ours may touch the buffer.
//
//     vulkan::HostUse use{graphics_family, VK_PIPELINE_STAGE_VERTEX_INPUT_BIT,
//                         VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT};
//     vulkan::BufferRange points(embeddings);
//     // ours, on Device::queue_family():
//     step.record(compute_cmd, slot);
//     vulkan::record_release_to_host(dev, compute_cmd, points, use);
//     //   ... submitted signalling `computed`
//     // the host's, on graphics_family, waiting for `computed` at VERTEX_INPUT:
//     vulkan::record_acquire_from_vkcnn(dev, draw_cmd, points, use);
//     vkCmdBindVertexBuffers(draw_cmd, 0, 1, &buffer, &offset); // ... draw
//     vulkan::record_release_to_vkcnn(dev, draw_cmd, points, use);
//     //   ... submitted signalling `drawn`
//     // ours again, waiting for `drawn`, before the next step writes it:
//     vulkan::record_acquire_from_host(dev, compute_cmd, points, use);
//
// The host's command buffers must belong to our VkDevice (Device::adopt);
// the functions record with our function table. A true cross-family run
// needs a GPU with two such families (lavapipe has one); the barrier
// contents for that case are built by the functions that return them.
#pragma once

#include "vkcnn/vulkan/buffer.h"
#include "vkcnn/vulkan/device.h"

#include <cstdint>

namespace vkcnn::vulkan {

// How the host uses a buffer: its queue family, and the stages and accesses
// of its first use (taking the buffer) or of its last (giving it back), e.g.
// {graphics, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT}.
struct HostUse {
    uint32_t queue_family = 0;
    VkPipelineStageFlags stages = 0;
    VkAccessFlags access = 0;
};

// One half of a transfer: the barrier and vkCmdPipelineBarrier's stage masks.
struct BufferBarrier {
    VkPipelineStageFlags src_stages = 0, dst_stages = 0;
    VkBufferMemoryBarrier barrier{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER, nullptr, 0, 0, VK_QUEUE_FAMILY_IGNORED,
                                  VK_QUEUE_FAMILY_IGNORED, VK_NULL_HANDLE, 0, 0};
};

// The four halves; `our_family` is Device::queue_family(). Ours to the host:
// the release after our compute-shader and transfer writes, the acquire
// before the host's use. The host's back to us: the release after the host's
// use, the acquire before our compute and transfer reads and writes.
BufferBarrier release_to_host(uint32_t our_family, const BufferRange& range, const HostUse& host);
BufferBarrier acquire_from_vkcnn(uint32_t our_family, const BufferRange& range, const HostUse& host);
BufferBarrier release_to_vkcnn(uint32_t our_family, const BufferRange& range, const HostUse& host);
BufferBarrier acquire_from_host(uint32_t our_family, const BufferRange& range, const HostUse& host);

// vkCmdPipelineBarrier of `b` into `cmd` (ours or the host's, on our VkDevice).
void record_barrier(const Device& device, VkCommandBuffer cmd, const BufferBarrier& b);

// The halves recorded: into our command buffer (release_to_host,
// acquire_from_host) or the host's (acquire_from_vkcnn, release_to_vkcnn).
void record_release_to_host(const Device& device, VkCommandBuffer our_cmd, const BufferRange& range, const HostUse& host);
void record_acquire_from_vkcnn(const Device& device, VkCommandBuffer host_cmd, const BufferRange& range,
                               const HostUse& host);
void record_release_to_vkcnn(const Device& device, VkCommandBuffer host_cmd, const BufferRange& range,
                             const HostUse& host);
void record_acquire_from_host(const Device& device, VkCommandBuffer our_cmd, const BufferRange& range,
                              const HostUse& host);

} // namespace vkcnn::vulkan
