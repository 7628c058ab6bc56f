// The few Vulkan chores the demo's own objects (window.cpp, textures.cpp)
// share: a failed call as an exception, a memory type for an allocation.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace demo {

inline void check_vk(VkResult r, const char* what) {
    if (r != VK_SUCCESS) throw std::runtime_error(std::string(what) + " failed: VkResult " + std::to_string(int(r)));
}

// The first memory type allowed by `type_bits` that has all of `want`.
inline std::optional<uint32_t> memory_type(VkPhysicalDevice physical, uint32_t type_bits, VkMemoryPropertyFlags want) {
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(physical, &mem);
    for (uint32_t type = 0; type < mem.memoryTypeCount; ++type)
        if ((type_bits >> type & 1) && (mem.memoryTypes[type].propertyFlags & want) == want) return type;
    return std::nullopt;
}

} // namespace demo
