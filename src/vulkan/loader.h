// Finds the Vulkan loader at run time and fills function-pointer tables from
// it. The library does not link libvulkan: without a loader the CPU backend
// still works and Device::create() throws an error naming the package to install.
#pragma once

#include <vulkan/vulkan.h>

namespace vkcnn::vulkan {

static_assert(sizeof(void*) == 8, "the Vulkan backend assumes 64-bit handles");

struct GlobalFunctions {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define VKCNN_GLOBAL_FN(name) PFN_##name name = nullptr;
#include "vkcnn/vulkan/functions.inc"
};

struct InstanceFunctions {
#define VKCNN_INSTANCE_FN(name) PFN_##name name = nullptr;
#include "vkcnn/vulkan/functions.inc"
};

struct DeviceFunctions {
#define VKCNN_DEVICE_FN(name) PFN_##name name = nullptr;
#include "vkcnn/vulkan/functions.inc"
};

// Opens libvulkan.so.1 once per process (the handle is never closed: other
// code in the process may hold pointers into it). Throws VulkanUnavailableError
// when no loader can be found.
const GlobalFunctions& global_functions();

// Global entry points resolved through a caller's vkGetInstanceProcAddr (a
// host application that uses its own loader, e.g. volk).
GlobalFunctions load_global_functions(PFN_vkGetInstanceProcAddr get_instance_proc);

// Instance-level entry points. Extension functions the instance lacks stay null.
InstanceFunctions load_instance_functions(PFN_vkGetInstanceProcAddr get_instance_proc,
                                          VkInstance instance);

// Device-level entry points. Throws if a core one is missing.
DeviceFunctions load_device_functions(const InstanceFunctions& instance_fns, VkDevice device);

} // namespace vkcnn::vulkan
