// Run-time loading of the Vulkan loader and the function tables (see loader.h).
#include "vkcnn/vulkan/loader.h"

#include "vkcnn/core/error.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

namespace vkcnn::vulkan {

GlobalFunctions load_global_functions(PFN_vkGetInstanceProcAddr get_instance_proc) {
    check(get_instance_proc != nullptr, "vkGetInstanceProcAddr is null");
    GlobalFunctions f;
    f.vkGetInstanceProcAddr = get_instance_proc;
#define VKCNN_GLOBAL_FN(name) \
    f.name = reinterpret_cast<PFN_##name>(get_instance_proc(VK_NULL_HANDLE, #name));
#include "vkcnn/vulkan/functions.inc"
    if (!f.vkCreateInstance || !f.vkEnumerateInstanceExtensionProperties)
        throw VulkanUnavailableError("the Vulkan loader does not export vkCreateInstance");
    return f;
}

const GlobalFunctions& global_functions() {
    static std::once_flag once;
    static GlobalFunctions table;
    static std::string failure;
    std::call_once(once, [] {
        // $VKCNN_VULKAN_LIBRARY picks a specific loader (a test build, an SDK's).
        const char* chosen = std::getenv("VKCNN_VULKAN_LIBRARY");
        void* lib = dlopen(chosen && *chosen ? chosen : "libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib && !(chosen && *chosen)) lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            failure = cat("no Vulkan loader found (dlopen ", chosen && *chosen ? chosen : "libvulkan.so.1", ": ", dlerror(),
                          "). Install the loader and a driver: on Debian `apt-get install "
                          "libvulkan1 mesa-vulkan-drivers` (mesa-vulkan-drivers provides "
                          "lavapipe, a CPU implementation). The CPU backend works without it.");
            return;
        }
        auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
        if (!gipa) {
            failure = "the Vulkan loader libvulkan.so.1 has no vkGetInstanceProcAddr";
            return;
        }
        try {
            table = load_global_functions(gipa);
        } catch (const Error& e) {
            failure = e.what();
        }
    });
    if (!failure.empty()) throw VulkanUnavailableError(failure);
    return table;
}

InstanceFunctions load_instance_functions(PFN_vkGetInstanceProcAddr get_instance_proc,
                                          VkInstance instance) {
    InstanceFunctions f;
#define VKCNN_INSTANCE_FN(name) \
    f.name = reinterpret_cast<PFN_##name>(get_instance_proc(instance, #name));
#include "vkcnn/vulkan/functions.inc"
    check(f.vkEnumeratePhysicalDevices && f.vkCreateDevice && f.vkGetDeviceProcAddr &&
              f.vkGetPhysicalDeviceProperties2,
          "the Vulkan instance lacks core 1.1 entry points (is it a Vulkan 1.1 instance?)");
    return f;
}

DeviceFunctions load_device_functions(const InstanceFunctions& instance_fns, VkDevice device) {
    DeviceFunctions f;
    const char* missing = nullptr;
#define VKCNN_DEVICE_FN(name)                                                         \
    f.name = reinterpret_cast<PFN_##name>(instance_fns.vkGetDeviceProcAddr(device, #name)); \
    if (!f.name && !missing) missing = #name;
#include "vkcnn/vulkan/functions.inc"
    if (missing) throw Error(cat("the Vulkan device does not provide ", missing));
    return f;
}

} // namespace vkcnn::vulkan
