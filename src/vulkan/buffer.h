// A storage buffer on a Device: a VkBuffer bound to a range of a sub-allocated
// memory block. Move-only; it must not outlive its Device. handle() and
// offset 0 are what a renderer binds to sample network values directly.
#pragma once

#include "vkcnn/vulkan/memory.h"

#include <string>

namespace vkcnn {
class Device;
}

namespace vkcnn::vulkan {

class Buffer {
public:
    Buffer() = default;
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { release(); }

    VkBuffer handle() const { return buffer_.get(); }
    VkDeviceSize size() const { return size_; } // bytes, as requested
    std::byte* mapped() const { return allocation_.mapped; } // non-null when host-visible
    const std::string& name() const { return name_; }
    explicit operator bool() const { return static_cast<bool>(buffer_); }

private:
    friend class ::vkcnn::Device;
    void release();

    MemoryAllocator* allocator_ = nullptr;
    Owned<VkBuffer> buffer_;
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
