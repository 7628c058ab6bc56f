// Immediate-mode recording with hazard-derived barriers (see recorder.h).
#include "vkcnn/vulkan/recorder.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/commands.h"
#include "vkcnn/vulkan/result.h"

namespace vkcnn::vulkan {

namespace {
constexpr uint32_t kSetsPerPool = 64;
constexpr uint32_t kBuffersPerPool = kSetsPerPool * 8;
uint64_t key(const Buffer& b) { return reinterpret_cast<uint64_t>(b.handle()); }
} // namespace

struct Recorder::Objects {
    const DeviceFunctions& fns;
    Owned<VkCommandPool> pool;
    Owned<VkFence> fence;
    std::vector<Owned<VkDescriptorPool>> descriptor_pools;
};

Recorder::Recorder(Device& device)
    : device_(device),
      objects_(new Objects{DeviceInternals::fns(device), create_command_pool(device, VK_COMMAND_POOL_CREATE_TRANSIENT_BIT),
                           create_fence(device), {}}),
      cmd_(allocate_command_buffer(device, objects_->pool.get())) {}

// The command buffer is freed with its pool. Anything recorded but never
// submitted is simply dropped.
Recorder::~Recorder() = default;

void Recorder::begin_if_needed() {
    if (recording_) return;
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VKCNN_VK(objects_->fns.vkBeginCommandBuffer(cmd_, &bi));
    recording_ = true;
}

void Recorder::barrier() {
    begin_if_needed();
    record_global_barrier(objects_->fns, cmd_);
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
    if (!objects_->descriptor_pools.empty()) {
        ai.descriptorPool = objects_->descriptor_pools.back().get();
        VkResult r = objects_->fns.vkAllocateDescriptorSets(device_.handle(), &ai, &set);
        if (r == VK_SUCCESS) return set;
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) VKCNN_VK(r);
    }
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kBuffersPerPool};
    VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pci.maxSets = kSetsPerPool;
    pci.poolSizeCount = 1;
    pci.pPoolSizes = &size;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    VKCNN_VK(objects_->fns.vkCreateDescriptorPool(device_.handle(), &pci, nullptr, &pool));
    objects_->descriptor_pools.emplace_back(objects_->fns, device_.handle(), pool);
    ai.descriptorPool = pool;
    VKCNN_VK(objects_->fns.vkAllocateDescriptorSets(device_.handle(), &ai, &set));
    return set;
}

void Recorder::dispatch(const KernelLaunch& launch, std::span<const BufferRange> args, std::string_view label) {
    const Pipeline& p = checked_pipeline(device_, launch, args);
    if (launch.groups[0] == 0 || launch.groups[1] == 0 || launch.groups[2] == 0) return; // nothing to do
    begin_if_needed();
    guard(access_of(launch, args));
    const VkDescriptorSet set = allocate_set(p.set_layout.get());
    write_descriptor_set(device_, set, args);
    record_dispatch(device_, cmd_, p, set, launch, label);
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
    objects_->fns.vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), 1, &region);
}

void Recorder::fill(const Buffer& dst, uint32_t word, VkDeviceSize offset, VkDeviceSize bytes) {
    const VkDeviceSize end = bytes == VK_WHOLE_SIZE ? dst.size() : offset + bytes;
    check(offset % 4 == 0 && end % 4 == 0 && end <= dst.size(), "fill of '", dst.name(), "' [", offset, ", ",
          end, ") must be 4-byte aligned and inside its ", dst.size(), " bytes");
    begin_if_needed();
    guard({{}, {{key(dst), offset, end}}});
    objects_->fns.vkCmdFillBuffer(cmd_, dst.handle(), offset, end - offset, word);
}

void Recorder::submit_and_wait(std::string_view what) {
    begin_if_needed();
    record_host_read_barrier(objects_->fns, cmd_);
    VKCNN_VK(objects_->fns.vkEndCommandBuffer(cmd_));
    recording_ = false;
    since_barrier_ = {};
    VkFence fence = objects_->fence.get();
    device_.submit_and_wait(cmd_, fence, what);
    VKCNN_VK(objects_->fns.vkResetCommandPool(device_.handle(), objects_->pool.get(), 0));
    for (auto& p : objects_->descriptor_pools) VKCNN_VK(objects_->fns.vkResetDescriptorPool(device_.handle(), p.get(), 0));
}

} // namespace vkcnn::vulkan
