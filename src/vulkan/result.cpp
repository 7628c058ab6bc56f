// VkResult names and the error thrown for a failed Vulkan call.
#include "vkcnn/vulkan/result.h"

#include "vkcnn/core/error.h"

namespace vkcnn::vulkan {

const char* result_name(VkResult r) {
    switch (r) {
#define VKCNN_RESULT(x) \
    case x: return #x;
        VKCNN_RESULT(VK_SUCCESS)
        VKCNN_RESULT(VK_NOT_READY)
        VKCNN_RESULT(VK_TIMEOUT)
        VKCNN_RESULT(VK_EVENT_SET)
        VKCNN_RESULT(VK_EVENT_RESET)
        VKCNN_RESULT(VK_INCOMPLETE)
        VKCNN_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
        VKCNN_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        VKCNN_RESULT(VK_ERROR_INITIALIZATION_FAILED)
        VKCNN_RESULT(VK_ERROR_DEVICE_LOST)
        VKCNN_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
        VKCNN_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
        VKCNN_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
        VKCNN_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
        VKCNN_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
        VKCNN_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
        VKCNN_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
        VKCNN_RESULT(VK_ERROR_FRAGMENTED_POOL)
        VKCNN_RESULT(VK_ERROR_UNKNOWN)
        VKCNN_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
        VKCNN_RESULT(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        VKCNN_RESULT(VK_ERROR_FRAGMENTATION)
        VKCNN_RESULT(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
        VKCNN_RESULT(VK_PIPELINE_COMPILE_REQUIRED)
#undef VKCNN_RESULT
    default: return "VkResult(unknown)";
    }
}

VkResult check_result(VkResult r, const char* call, const char* file, int line) {
    if (r >= 0) return r;
    std::string msg = cat(call, " failed with ", result_name(r), " (", static_cast<int>(r), ") at ",
                          file, ":", line);
    switch (r) {
    case VK_ERROR_DEVICE_LOST:
        throw DeviceLostError(msg + ": the GPU was reset or stopped responding. This Device refuses "
                                    "further work; destroy it and create a new one.");
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        throw OutOfMemoryError(msg);
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        throw VulkanUnavailableError(msg + ": no Vulkan driver is installed or none supports "
                                           "Vulkan 1.1; on Debian `apt-get install mesa-vulkan-drivers`");
    case VK_ERROR_LAYER_NOT_PRESENT:
        throw Error(msg + ": the Khronos validation layer is missing; on Debian `apt-get install "
                          "vulkan-validationlayers`");
    default: throw Error(msg);
    }
}

} // namespace vkcnn::vulkan
