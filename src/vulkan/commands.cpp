// Shared command-recording pieces (see commands.h).
#include "vkcnn/vulkan/commands.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/result.h"

#include <vector>

namespace vkcnn::vulkan {

Owned<VkCommandPool> create_command_pool(Device& device, VkCommandPoolCreateFlags flags) {
    VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    ci.flags = flags;
    ci.queueFamilyIndex = device.info().compute_family;
    VkCommandPool pool = VK_NULL_HANDLE;
    VKCNN_VK(DeviceInternals::fns(device).vkCreateCommandPool(device.handle(), &ci, nullptr, &pool));
    return {DeviceInternals::fns(device), device.handle(), pool};
}

VkCommandBuffer allocate_command_buffer(Device& device, VkCommandPool pool) {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VKCNN_VK(DeviceInternals::fns(device).vkAllocateCommandBuffers(device.handle(), &ai, &cmd));
    return cmd;
}

Owned<VkFence> create_fence(Device& device) {
    VkFenceCreateInfo ci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence = VK_NULL_HANDLE;
    VKCNN_VK(DeviceInternals::fns(device).vkCreateFence(device.handle(), &ci, nullptr, &fence));
    return {DeviceInternals::fns(device), device.handle(), fence};
}

void record_global_barrier(const DeviceFunctions& fns, VkCommandBuffer cmd) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    fns.vkCmdPipelineBarrier(cmd, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void record_host_read_barrier(const DeviceFunctions& fns, VkCommandBuffer cmd) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    fns.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

const Pipeline& checked_pipeline(Device& device, const KernelLaunch& launch, std::span<const BufferRange> args) {
    const std::vector<uint32_t> spec = launch.specialization();
    const Pipeline& p = DeviceInternals::pipeline(device, launch.shader, spec);
    const DeviceInfo& info = device.info();
    check(launch.args.size() == p.bindings && args.size() == p.bindings, "dispatch of ", p.name, ": the shader has ",
          p.bindings, " buffer bindings, the launch declares ", launch.args.size(), " and ", args.size(),
          " buffers were given");
    check(launch.push_size <= kPushConstantBytes, "dispatch of ", p.name, ": ", launch.push_size,
          " bytes of push constants exceed ", kPushConstantBytes);
    const uint64_t invocations = uint64_t{launch.workgroup[0]} * launch.workgroup[1] * launch.workgroup[2];
    check(invocations <= info.max_workgroup_invocations, "dispatch of ", p.name, ": workgroup of ", invocations,
          " invocations exceeds the device's ", info.max_workgroup_invocations);
    for (int d = 0; d < 3; ++d)
        check(launch.groups[d] <= info.max_workgroup_count[d], "dispatch of ", p.name, ": ", launch.groups[d],
              " workgroups in dimension ", d, " exceed the device's ", info.max_workgroup_count[d]);
    for (size_t i = 0; i < args.size(); ++i) {
        const BufferRange& a = args[i];
        check(a.buffer && *a.buffer, "dispatch of ", p.name, ": argument ", i, " has no buffer");
        check(a.offset % info.min_storage_buffer_offset_alignment == 0, "dispatch of ", p.name, ": argument ", i,
              " ('", a.buffer->name(), "') offset ", a.offset,
              " is not a multiple of the device's storage buffer alignment ", info.min_storage_buffer_offset_alignment);
        check(a.offset < a.end() && a.end() <= a.buffer->size(), "dispatch of ", p.name, ": argument ", i, " ('",
              a.buffer->name(), "') range [", a.offset, ", ", a.end(), ") is outside its ", a.buffer->size(), " bytes");
    }
    return p;
}

DispatchAccess access_of(const KernelLaunch& launch, std::span<const BufferRange> args) {
    DispatchAccess access;
    for (size_t i = 0; i < args.size() && i < launch.args.size(); ++i) {
        const ByteRange r{reinterpret_cast<uint64_t>(args[i].buffer->handle()), args[i].offset, args[i].end()};
        if (reads(launch.args[i])) access.reads.push_back(r);
        if (writes(launch.args[i])) access.writes.push_back(r);
    }
    return access;
}

void write_descriptor_set(Device& device, VkDescriptorSet set, std::span<const BufferRange> args) {
    std::vector<VkDescriptorBufferInfo> buffers(args.size());
    std::vector<VkWriteDescriptorSet> writes(args.size());
    for (uint32_t i = 0; i < args.size(); ++i) {
        buffers[i] = {args[i].buffer->handle(), args[i].offset, args[i].end() - args[i].offset};
        writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[i].dstSet = set;
        writes[i].dstBinding = i;
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &buffers[i];
    }
    DeviceInternals::fns(device).vkUpdateDescriptorSets(device.handle(), static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
}

void record_dispatch(Device& device, VkCommandBuffer cmd, const Pipeline& p, VkDescriptorSet set,
                     const KernelLaunch& launch, std::string_view label) {
    const DeviceFunctions& fns = DeviceInternals::fns(device);
    const DebugUtils& debug = DeviceInternals::debug(device);
    debug.begin_label(cmd, label.empty() ? std::string_view(p.name) : label);
    fns.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline.get());
    fns.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout.get(), 0, 1, &set, 0, nullptr);
    if (launch.push_size)
        fns.vkCmdPushConstants(cmd, p.layout.get(), VK_SHADER_STAGE_COMPUTE_BIT, 0, launch.push_size, launch.push.data());
    fns.vkCmdDispatch(cmd, launch.groups[0], launch.groups[1], launch.groups[2]);
    debug.end_label(cmd);
}

} // namespace vkcnn::vulkan
