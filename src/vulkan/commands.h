// Command-recording pieces shared by the immediate-mode Recorder and the
// record-once RecordedStep: pools, fences, the two barriers vkcnn uses, and
// one checked dispatch. Private (not installed).
#pragma once

#include "vkcnn/core/hazards.h"
#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/vulkan/device.h"
#include "vkcnn/vulkan/device_internal.h"
#include "vkcnn/vulkan/handle.h"

#include <span>
#include <string_view>

namespace vkcnn::vulkan {

Owned<VkCommandPool> create_command_pool(Device& device, VkCommandPoolCreateFlags flags);
VkCommandBuffer allocate_command_buffer(Device& device, VkCommandPool pool); // freed with the pool
Owned<VkFence> create_fence(Device& device);

// All earlier compute and transfer writes made visible to all later compute
// and transfer reads and writes: the one barrier between hazard levels.
void record_global_barrier(const DeviceFunctions& fns, VkCommandBuffer cmd);
// Earlier device writes made visible to host reads of mapped memory after the fence.
void record_host_read_barrier(const DeviceFunctions& fns, VkCommandBuffer cmd);

// Checks a launch against its pipeline and the device's limits, and its
// arguments against their buffers; throws an error naming the shader and the
// offending argument. Returns the (lazily created) pipeline.
const Pipeline& checked_pipeline(Device& device, const KernelLaunch& launch, std::span<const BufferRange> args);

// The byte ranges a launch reads and writes, keyed by VkBuffer.
DispatchAccess access_of(const KernelLaunch& launch, std::span<const BufferRange> args);

// Points `set` (from a pool of storage-buffer descriptors with the pipeline's
// set_layout) at `args`. Not while a pending command buffer uses the set.
void write_descriptor_set(Device& device, VkDescriptorSet set, std::span<const BufferRange> args);
// Binds and dispatches, inside a debug-utils label (the graph node's name).
void record_dispatch(Device& device, VkCommandBuffer cmd, const Pipeline& p, VkDescriptorSet set,
                     const KernelLaunch& launch, std::string_view label);

} // namespace vkcnn::vulkan
