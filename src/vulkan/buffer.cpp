// Buffer lifetime: the VkBuffer goes first, then its memory range returns to the allocator.
#include "vkcnn/vulkan/buffer.h"

#include "vkcnn/vulkan/memory.h"

namespace vkcnn::vulkan {

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        release();
        allocator_ = std::exchange(o.allocator_, nullptr);
        buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
        allocation_ = std::exchange(o.allocation_, {});
        size_ = std::exchange(o.size_, 0);
        name_ = std::move(o.name_);
    }
    return *this;
}

void Buffer::release() {
    if (allocator_) {
        if (buffer_ != VK_NULL_HANDLE) allocator_->fns().vkDestroyBuffer(allocator_->device(), buffer_, nullptr);
        allocator_->free(allocation_); // a no-op for an empty allocation
    }
    allocator_ = nullptr;
    buffer_ = VK_NULL_HANDLE;
    allocation_ = {};
}

} // namespace vkcnn::vulkan
