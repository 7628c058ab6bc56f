// First-fit sub-allocation over large VkDeviceMemory blocks (see memory.h).
#include "vkcnn/vulkan/memory.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/result.h"

namespace vkcnn::vulkan {

namespace {

VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }

std::string mib(VkDeviceSize bytes) {
    return cat(static_cast<double>(bytes) / (1024.0 * 1024.0), " MiB");
}

} // namespace

MemoryAllocator::MemoryAllocator(const DeviceFunctions& fns, VkDevice device,
                                 const VkPhysicalDeviceMemoryProperties& props, bool unified_memory,
                                 VkDeviceSize block_size)
    : fns_(fns), device_(device), props_(props), unified_(unified_memory), block_size_(block_size) {}

MemoryAllocator::~MemoryAllocator() {
    for (auto& b : blocks_)
        if (b && b->mapped) fns_.vkUnmapMemory(device_, b->memory.get());
}

uint32_t MemoryAllocator::choose_type(uint32_t type_bits, MemoryUsage usage) const {
    VkMemoryPropertyFlags required = 0, preferred = 0;
    switch (usage) {
    case MemoryUsage::Device:
        required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        if (unified_) required |= VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        break;
    case MemoryUsage::Upload:
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        break;
    case MemoryUsage::Readback:
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
        preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
        break;
    }
    int fallback = -1;
    for (uint32_t t = 0; t < props_.memoryTypeCount; ++t) {
        if (!(type_bits & (1u << t))) continue;
        VkMemoryPropertyFlags f = props_.memoryTypes[t].propertyFlags;
        if ((f & required) != required) continue;
        if ((f & preferred) == preferred) return t;
        if (fallback < 0) fallback = static_cast<int>(t);
    }
    check(fallback >= 0, "no Vulkan memory type fits (type bits 0x", std::hex, type_bits,
          ", required flags 0x", required, ")");
    return static_cast<uint32_t>(fallback);
}

bool MemoryAllocator::host_visible(MemoryUsage usage) const { return usage != MemoryUsage::Device || unified_; }

bool MemoryAllocator::carve(Block& b, const VkMemoryRequirements& req, VkDeviceSize& offset) {
    for (auto it = b.free_ranges.begin(); it != b.free_ranges.end(); ++it) {
        const VkDeviceSize start = it->first, size = it->second;
        const VkDeviceSize aligned = align_up(start, req.alignment);
        if (aligned + req.size > start + size) continue;
        b.free_ranges.erase(it);
        if (aligned > start) b.free_ranges[start] = aligned - start;
        if (aligned + req.size < start + size)
            b.free_ranges[aligned + req.size] = start + size - (aligned + req.size);
        b.used += req.size;
        offset = aligned;
        return true;
    }
    return false;
}

Allocation MemoryAllocator::allocate(const VkMemoryRequirements& req, MemoryUsage usage,
                                     std::string_view what) {
    std::lock_guard lock(mutex_);
    const uint32_t type = choose_type(req.memoryTypeBits, usage);
    const uint32_t heap = props_.memoryTypes[type].heapIndex;
    auto make = [&](uint32_t index, VkDeviceSize offset) {
        Block& b = *blocks_[index];
        Allocation a;
        a.memory = b.memory.get();
        a.offset = offset;
        a.size = req.size;
        // Device memory is handed out mapped only where that is the chosen transfer path.
        a.mapped = b.mapped && host_visible(usage) ? b.mapped + offset : nullptr;
        a.coherent = props_.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        a.block = index;
        return a;
    };
    for (uint32_t i = 0; i < blocks_.size(); ++i) {
        VkDeviceSize offset = 0;
        if (blocks_[i] && blocks_[i]->type == type && carve(*blocks_[i], req, offset)) return make(i, offset);
    }

    const VkDeviceSize heap_size = props_.memoryHeaps[heap].size;
    // Small heaps (e.g. a 256 MiB BAR window) get smaller blocks.
    VkDeviceSize size = std::max(std::min(block_size_, heap_size / 8), align_up(req.size, 1 << 16));
    auto out_of_memory = [&](const char* why) {
        return OutOfMemoryError(cat("out of device memory: '", what, "' asked for ", mib(req.size),
                                    " in heap ", heap, " (", mib(heap_size), "), of which vkcnn uses ",
                                    mib(heap_used(heap)), "; ", why));
    };
    if (req.size > heap_size) throw out_of_memory("the request is larger than the heap");

    VkMemoryAllocateInfo info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    info.allocationSize = size;
    info.memoryTypeIndex = type;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkResult r = fns_.vkAllocateMemory(device_, &info, nullptr, &memory);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
        if (size > req.size) { // retry with just what was asked
            info.allocationSize = size = req.size;
            r = fns_.vkAllocateMemory(device_, &info, nullptr, &memory);
        }
        if (r < 0) throw out_of_memory("the driver refused the allocation (other applications may hold the rest)");
    }
    VKCNN_VK(r);

    auto block = std::make_unique<Block>();
    block->memory = Owned<VkDeviceMemory>(fns_, device_, memory);
    block->type = type;
    block->size = size;
    block->free_ranges[0] = size;
    if (props_.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        void* p = nullptr;
        VKCNN_VK(fns_.vkMapMemory(device_, memory, 0, VK_WHOLE_SIZE, 0, &p));
        block->mapped = static_cast<std::byte*>(p);
    }
    uint32_t index = static_cast<uint32_t>(blocks_.size());
    for (uint32_t i = 0; i < blocks_.size(); ++i)
        if (!blocks_[i]) { index = i; break; }
    if (index == blocks_.size()) blocks_.emplace_back();
    blocks_[index] = std::move(block);
    VkDeviceSize offset = 0;
    carve(*blocks_[index], req, offset); // cannot fail: the block is empty and large enough
    return make(index, offset);
}

void MemoryAllocator::free(const Allocation& a) {
    if (a.memory == VK_NULL_HANDLE) return;
    std::lock_guard lock(mutex_);
    Block& b = *blocks_.at(a.block);
    b.used -= a.size;
    auto [it, inserted] = b.free_ranges.emplace(a.offset, a.size);
    // Merge with the following and the preceding free range.
    auto next = std::next(it);
    if (next != b.free_ranges.end() && it->first + it->second == next->first) {
        it->second += next->second;
        b.free_ranges.erase(next);
    }
    if (it != b.free_ranges.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second == it->first) {
            prev->second += it->second;
            b.free_ranges.erase(it);
        }
    }
    if (b.used == 0) { // give empty blocks back so a long-lived app doesn't hoard memory
        if (b.mapped) fns_.vkUnmapMemory(device_, b.memory.get());
        blocks_[a.block].reset();
    }
}

VkDeviceSize MemoryAllocator::heap_used(uint32_t heap) const {
    VkDeviceSize used = 0;
    for (auto& b : blocks_)
        if (b && props_.memoryTypes[b->type].heapIndex == heap) used += b->size;
    return used;
}

size_t MemoryAllocator::block_count() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (auto& b : blocks_) n += b != nullptr;
    return n;
}

} // namespace vkcnn::vulkan
