// Test hooks of a Device, for the tests and the soak run: the staging path on
// any device, a simulated device loss, the allocator's block count. Private
// (not installed): nothing an application calls.
#pragma once

#include "vkcnn/vulkan/device.h"

#include <cstddef>
#include <memory>

namespace vkcnn::vulkan {

struct DeviceTesting {
    // Device::create, but host transfers use staging copies even on
    // unified-memory devices, so the path discrete GPUs take runs on lavapipe too.
    static std::unique_ptr<Device> create_with_staging(const DeviceOptions& options = {});
    // The next submission completes, then reports VK_ERROR_DEVICE_LOST.
    static void simulate_device_lost(Device& device) { device.simulate_lost_ = true; }
    // VkDeviceMemory blocks the sub-allocator holds now (memory.h).
    static size_t memory_blocks(const Device& device);
};

} // namespace vkcnn::vulkan
