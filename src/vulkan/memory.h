// Device-memory sub-allocator: a few large VkDeviceMemory blocks per memory
// type, carved into alignment-correct ranges by first fit with coalescing on
// free. Drivers limit the number of allocations (maxMemoryAllocationCount is
// 4096 on many) and each one is slow, so buffers never get their own.
#pragma once

#include "vkcnn/vulkan/buffer.h"
#include "vkcnn/vulkan/handle.h"

#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace vkcnn::vulkan {

// MemoryUsage and Allocation are in buffer.h (a Buffer holds its Allocation).

class MemoryAllocator {
public:
    MemoryAllocator(const DeviceFunctions& fns, VkDevice device,
                    const VkPhysicalDeviceMemoryProperties& props, bool unified_memory,
                    VkDeviceSize block_size = 64ull << 20);
    MemoryAllocator(const MemoryAllocator&) = delete;
    MemoryAllocator& operator=(const MemoryAllocator&) = delete;
    ~MemoryAllocator();

    // `what` names the buffer in the out-of-memory message.
    Allocation allocate(const VkMemoryRequirements& req, MemoryUsage usage, std::string_view what);
    void free(const Allocation& a);

    // Does `usage` memory come host-mapped?
    bool host_visible(MemoryUsage usage) const;
    VkDeviceSize heap_used(uint32_t heap) const;
    size_t block_count() const;
    // What buffers on this memory are destroyed with.
    const DeviceFunctions& fns() const { return fns_; }
    VkDevice device() const { return device_; }

private:
    struct Block {
        Owned<VkDeviceMemory> memory;
        uint32_t type = 0;
        VkDeviceSize size = 0, used = 0;
        std::byte* mapped = nullptr;
        std::map<VkDeviceSize, VkDeviceSize> free_ranges; // offset -> size
    };
    uint32_t choose_type(uint32_t type_bits, MemoryUsage usage) const;
    bool carve(Block& b, const VkMemoryRequirements& req, VkDeviceSize& offset);

    const DeviceFunctions& fns_;
    VkDevice device_;
    VkPhysicalDeviceMemoryProperties props_;
    bool unified_;
    VkDeviceSize block_size_;
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Block>> blocks_; // null slots are released blocks
};

} // namespace vkcnn::vulkan
