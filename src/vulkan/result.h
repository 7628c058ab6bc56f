// VkResult checking: a failed call throws with the call's text, file and line,
// the result's name, and a hint where one helps.
#pragma once

#include <vulkan/vulkan.h>

namespace vkcnn::vulkan {

const char* result_name(VkResult r);

// Throws DeviceLostError, OutOfMemoryError or Error for r < 0; returns r otherwise
// (VK_TIMEOUT, VK_INCOMPLETE and friends are for the caller to look at).
VkResult check_result(VkResult r, const char* call, const char* file, int line);

} // namespace vkcnn::vulkan

#define VKCNN_VK(call) ::vkcnn::vulkan::check_result((call), #call, __FILE__, __LINE__)
