// Persistent values in device buffers (see vulkan_state.h).
#include "vkcnn/exec/vulkan_state.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/device.h"

#include <algorithm>

namespace vkcnn::exec {

VulkanState::VulkanState(Device& device) : device_(device) {}

std::vector<uint64_t> VulkanState::allocate_block(size_t first) {
    const uint64_t alignment = std::max<uint64_t>(device_.info().min_storage_buffer_offset_alignment, 16);
    std::vector<uint64_t> offsets;
    uint64_t bytes = 0;
    for (size_t i = first; i < values().size(); ++i) {
        offsets.push_back(bytes);
        bytes += (static_cast<uint64_t>(values()[i].shape.elements()) * 4 + alignment - 1) / alignment * alignment;
    }
    vulkan::Buffer& block = blocks_.emplace_back(device_.create_buffer(bytes, cat("state ", values()[first].name, "..")));
    device_.upload(block, std::vector<std::byte>(bytes)); // zeros, as optimizer state must start
    bytes_ += bytes;
    return offsets;
}

vulkan::BufferRange VulkanState::range(size_t entry) const {
    const Location& at = location(entry);
    return {blocks_[at.block], at.offset, static_cast<uint64_t>(values()[entry].shape.elements()) * 4};
}

void VulkanState::write_entry(size_t entry, std::span<const std::byte> data) {
    const vulkan::BufferRange r = range(entry);
    device_.upload(*r.buffer, data, r.offset);
}

void VulkanState::read_entry(size_t entry, std::span<std::byte> data) const {
    const vulkan::BufferRange r = range(entry);
    device_.download(*r.buffer, data, r.offset);
}

} // namespace vkcnn::exec
