// Object names and command labels through VK_EXT_debug_utils (see debug_utils.h).
#include "vkcnn/vulkan/debug_utils.h"

namespace vkcnn::vulkan {

void DebugUtils::set_name(VkObjectType type, uint64_t handle, std::string_view name) const {
    const std::string text(name);
    VkDebugUtilsObjectNameInfoEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT};
    info.objectType = type;
    info.objectHandle = handle;
    info.pObjectName = text.c_str();
    fns_->vkSetDebugUtilsObjectNameEXT(device_, &info); // a failed name is not worth an error
}

void DebugUtils::begin_label(VkCommandBuffer cmd, std::string_view label) const {
    if (!fns_) return;
    const std::string text(label);
    VkDebugUtilsLabelEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_LABEL_EXT};
    info.pLabelName = text.c_str();
    fns_->vkCmdBeginDebugUtilsLabelEXT(cmd, &info);
}

void DebugUtils::end_label(VkCommandBuffer cmd) const {
    if (fns_) fns_->vkCmdEndDebugUtilsLabelEXT(cmd);
}

} // namespace vkcnn::vulkan
