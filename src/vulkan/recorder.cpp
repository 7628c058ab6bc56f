// Immediate-mode recording with hazard-derived barriers (see recorder.h).
#include "vkcnn/vulkan/recorder.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/result.h"

namespace vkcnn::vulkan {

namespace {
constexpr uint32_t kSetsPerPool = 64;
uint64_t key(const Buffer& b) { return reinterpret_cast<uint64_t>(b.handle()); }
constexpr uint32_t kBuffersPerPool = kSetsPerPool * 8;
} // namespace

Recorder::Recorder(Device& device) : device_(device), fns_(device.fns()) {
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
    pci.queueFamilyIndex = device.info().compute_family;
    VkCommandPool pool = VK_NULL_HANDLE;
    VKCNN_VK(fns_.vkCreateCommandPool(device.handle(), &pci, nullptr, &pool));
    pool_ = Owned<VkCommandPool>(fns_, device.handle(), pool);

    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VKCNN_VK(fns_.vkAllocateCommandBuffers(device.handle(), &ai, &cmd_));

    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence = VK_NULL_HANDLE;
    VKCNN_VK(fns_.vkCreateFence(device.handle(), &fci, nullptr, &fence));
    fence_ = Owned<VkFence>(fns_, device.handle(), fence);
}

// The command buffer is freed with its pool. Anything recorded but never
// submitted is simply dropped.
Recorder::~Recorder() = default;

void Recorder::begin_if_needed() {
    if (recording_) return;
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VKCNN_VK(fns_.vkBeginCommandBuffer(cmd_, &bi));
    recording_ = true;
}

void Recorder::barrier() {
    begin_if_needed();
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    fns_.vkCmdPipelineBarrier(cmd_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
    since_barrier_ = {};
    ++barriers_;
}

void Recorder::guard(const DispatchAccess& access) {
    if (must_wait(access, since_barrier_)) {
        if (!skip_next_barrier_) barrier();
        skip_next_barrier_ = false;
    }
    auto append = [](std::vector<ByteRange>& to, const std::vector<ByteRange>& from) {
        to.insert(to.end(), from.begin(), from.end());
    };
    append(since_barrier_.reads, access.reads);
    append(since_barrier_.writes, access.writes);
}

VkDescriptorSet Recorder::allocate_set(VkDescriptorSetLayout layout) {
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (!descriptor_pools_.empty()) {
        ai.descriptorPool = descriptor_pools_.back().get();
        VkResult r = fns_.vkAllocateDescriptorSets(device_.handle(), &ai, &set);
        if (r == VK_SUCCESS) return set;
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) VKCNN_VK(r);
    }
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kBuffersPerPool};
    VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pci.maxSets = kSetsPerPool;
    pci.poolSizeCount = 1;
    pci.pPoolSizes = &size;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    VKCNN_VK(fns_.vkCreateDescriptorPool(device_.handle(), &pci, nullptr, &pool));
    descriptor_pools_.emplace_back(fns_, device_.handle(), pool);
    ai.descriptorPool = pool;
    VKCNN_VK(fns_.vkAllocateDescriptorSets(device_.handle(), &ai, &set));
    return set;
}

void Recorder::dispatch(const KernelLaunch& launch, std::span<const BufferRange> args, std::string_view label) {
    const std::vector<uint32_t> spec = launch.specialization();
    const Pipeline& p = device_.pipeline(launch.shader, spec);
    const DeviceInfo& info = device_.info();
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
    if (launch.groups[0] == 0 || launch.groups[1] == 0 || launch.groups[2] == 0) return; // nothing to do

    std::vector<VkDescriptorBufferInfo> buffers(args.size());
    DispatchAccess access;
    for (size_t i = 0; i < args.size(); ++i) {
        const BufferRange& a = args[i];
        check(a.buffer && *a.buffer, "dispatch of ", p.name, ": argument ", i, " has no buffer");
        check(a.offset % info.min_storage_buffer_offset_alignment == 0, "dispatch of ", p.name, ": argument ", i,
              " ('", a.buffer->name(), "') offset ", a.offset, " is not a multiple of the device's storage buffer "
              "alignment ", info.min_storage_buffer_offset_alignment);
        check(a.offset < a.end() && a.end() <= a.buffer->size(), "dispatch of ", p.name, ": argument ", i, " ('",
              a.buffer->name(), "') range [", a.offset, ", ", a.end(), ") is outside its ", a.buffer->size(),
              " bytes");
        buffers[i] = {a.buffer->handle(), a.offset, a.end() - a.offset};
        const ByteRange r{key(*a.buffer), a.offset, a.end()};
        if (reads(launch.args[i])) access.reads.push_back(r);
        if (writes(launch.args[i])) access.writes.push_back(r);
    }
    begin_if_needed();
    guard(access);

    VkDescriptorSet set = allocate_set(p.set_layout.get());
    std::vector<VkWriteDescriptorSet> ws(args.size());
    for (uint32_t i = 0; i < args.size(); ++i) {
        ws[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        ws[i].dstSet = set;
        ws[i].dstBinding = i;
        ws[i].descriptorCount = 1;
        ws[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        ws[i].pBufferInfo = &buffers[i];
    }
    fns_.vkUpdateDescriptorSets(device_.handle(), static_cast<uint32_t>(ws.size()), ws.data(), 0, nullptr);

    const std::string_view name = label.empty() ? std::string_view(p.name) : label;
    device_.debug().begin_label(cmd_, name);
    fns_.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline.get());
    fns_.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout.get(), 0, 1, &set, 0, nullptr);
    if (launch.push_size)
        fns_.vkCmdPushConstants(cmd_, p.layout.get(), VK_SHADER_STAGE_COMPUTE_BIT, 0, launch.push_size,
                                launch.push.data());
    fns_.vkCmdDispatch(cmd_, launch.groups[0], launch.groups[1], launch.groups[2]);
    device_.debug().end_label(cmd_);
    ++dispatches_;
}

void Recorder::copy(const Buffer& src, VkDeviceSize src_offset, const Buffer& dst, VkDeviceSize dst_offset,
                    VkDeviceSize bytes) {
    check(src_offset + bytes <= src.size() && dst_offset + bytes <= dst.size(), "copy of ", bytes,
          " bytes from '", src.name(), "'+", src_offset, " (", src.size(), " bytes) to '", dst.name(), "'+",
          dst_offset, " (", dst.size(), " bytes) is out of range");
    if (bytes == 0) return;
    begin_if_needed();
    guard({{{key(src), src_offset, src_offset + bytes}}, {{key(dst), dst_offset, dst_offset + bytes}}});
    VkBufferCopy region{src_offset, dst_offset, bytes};
    fns_.vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), 1, &region);
}

void Recorder::fill(const Buffer& dst, uint32_t word, VkDeviceSize offset, VkDeviceSize bytes) {
    const VkDeviceSize end = bytes == VK_WHOLE_SIZE ? dst.size() : offset + bytes;
    check(offset % 4 == 0 && end % 4 == 0 && end <= dst.size(), "fill of '", dst.name(), "' [", offset, ", ",
          end, ") must be 4-byte aligned and inside its ", dst.size(), " bytes");
    begin_if_needed();
    guard({{}, {{key(dst), offset, end}}});
    fns_.vkCmdFillBuffer(cmd_, dst.handle(), offset, end - offset, word);
}

void Recorder::submit_and_wait(std::string_view what) {
    begin_if_needed();
    // Make device writes visible to host reads of mapped memory after the fence.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    fns_.vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                              VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    VKCNN_VK(fns_.vkEndCommandBuffer(cmd_));
    recording_ = false;
    since_barrier_ = {};
    VkFence fence = fence_.get();
    device_.submit_and_wait(cmd_, fence, what);
    VKCNN_VK(fns_.vkResetFences(device_.handle(), 1, &fence));
    VKCNN_VK(fns_.vkResetCommandPool(device_.handle(), pool_.get(), 0));
    for (auto& p : descriptor_pools_) VKCNN_VK(fns_.vkResetDescriptorPool(device_.handle(), p.get(), 0));
}

} // namespace vkcnn::vulkan
