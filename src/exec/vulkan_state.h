// A State (state.h) in device memory: each block of values one buffer,
// every value at an offset aligned for binding. What a renderer binds to
// draw a parameter straight from the live model is range_of(name).
#pragma once

#include "vkcnn/exec/state.h"
#include "vkcnn/vulkan/buffer.h"

#include <deque>

namespace vkcnn {
class Device;
}

namespace vkcnn::exec {

class VulkanState final : public State {
public:
    explicit VulkanState(Device& device);
    Device& device() const { return device_; }
    vulkan::BufferRange range(size_t entry) const;
    vulkan::BufferRange range_of(std::string_view name) const { return range(index_of(name)); }

private:
    std::vector<uint64_t> allocate_block(size_t first) override;
    void write_entry(size_t entry, std::span<const std::byte> data) override;
    void read_entry(size_t entry, std::span<std::byte> data) const override;
    Device& device_;
    std::deque<vulkan::Buffer> blocks_; // a deque: ranges keep pointing at their buffers
};

} // namespace vkcnn::exec
