// Buffer lifetime: the VkBuffer goes first, then its memory range returns to the allocator.
#include "vkcnn/vulkan/buffer.h"

namespace vkcnn::vulkan {

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        release();
        allocator_ = std::exchange(o.allocator_, nullptr);
        buffer_ = std::move(o.buffer_);
        allocation_ = std::exchange(o.allocation_, {});
        size_ = std::exchange(o.size_, 0);
        name_ = std::move(o.name_);
    }
    return *this;
}

void Buffer::release() {
    buffer_.reset();
    if (allocator_) allocator_->free(allocation_);
    allocator_ = nullptr;
    allocation_ = {};
}

} // namespace vkcnn::vulkan
