// A storage buffer on a Device: a VkBuffer bound to a range of a sub-allocated
// memory block. Move-only, the one owner of its VkBuffer and memory range; it
// must not outlive its Device.
//
// What a renderer may do with one (Device::create_buffer): its usage is
// STORAGE_BUFFER, VERTEX_BUFFER, TRANSFER_SRC and TRANSFER_DST, so a host
// application on the same VkDevice (Device::adopt) may bind handle() as a
// vertex buffer (a point cloud of embeddings, say) or as a storage buffer in
// its own descriptor sets, or copy from or into it. Not as an index or
// uniform buffer (no such usage). The buffer's sharing mode is exclusive and
// it belongs to Device::queue_family(): a renderer on another queue family
// takes it over with a queue-family ownership transfer and gives it back
// before vkcnn writes it again (vkcnn/vulkan/ownership.h); on the same family
// it orders its reads after our writes with a semaphore or a barrier, and
// never writes while a step of ours that uses the buffer runs.
#pragma once

#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace vkcnn {
class Device;
}

namespace vkcnn::vulkan {

class MemoryAllocator;

enum class MemoryUsage {
    Device,   // kernels read and write it; host-mapped too on unified-memory devices
    Upload,   // host writes, device reads (staging)
    Readback, // device writes, host reads (cached where the device offers it)
};

// Where a buffer's bytes live: a range of one of the allocator's blocks.
struct Allocation {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize offset = 0;
    VkDeviceSize size = 0;
    std::byte* mapped = nullptr; // host pointer to `offset`, or null
    bool coherent = true;
    uint32_t block = 0; // index into the allocator's blocks
};

class Buffer {
public:
    Buffer() = default;
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { release(); }

    VkBuffer handle() const { return buffer_; }
    VkDeviceSize size() const { return size_; } // bytes, as requested
    std::byte* mapped() const { return allocation_.mapped; } // non-null when host-visible
    const std::string& name() const { return name_; }
    explicit operator bool() const { return buffer_ != VK_NULL_HANDLE; }

private:
    friend class ::vkcnn::Device;
    void release(); // destroys the VkBuffer, then returns its memory range (buffer.cpp)

    MemoryAllocator* allocator_ = nullptr; // set whenever buffer_ is
    VkBuffer buffer_ = VK_NULL_HANDLE;
    Allocation allocation_;
    VkDeviceSize size_ = 0;
    std::string name_;
};

// A byte range of a buffer, as bound to one kernel argument.
struct BufferRange {
    const Buffer* buffer = nullptr;
    VkDeviceSize offset = 0;
    VkDeviceSize size = VK_WHOLE_SIZE; // to the end of the buffer

    BufferRange() = default;
    BufferRange(const Buffer& b, VkDeviceSize off = 0, VkDeviceSize bytes = VK_WHOLE_SIZE)
        : buffer(&b), offset(off), size(bytes) {}
    VkDeviceSize end() const { return size == VK_WHOLE_SIZE ? buffer->size() : offset + size; }
};

} // namespace vkcnn::vulkan
