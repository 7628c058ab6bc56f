// VK_EXT_debug_utils object names and command labels, so RenderDoc and vendor
// profilers show vkcnn's buffers, pipelines and dispatches by name. Every call
// is a no-op where the extension is absent.
#pragma once

#include "vkcnn/vulkan/loader.h"

#include <string>
#include <string_view>

namespace vkcnn::vulkan {

class DebugUtils {
public:
    DebugUtils() = default;
    DebugUtils(const InstanceFunctions* fns, VkDevice device, bool enabled)
        : fns_(enabled ? fns : nullptr), device_(device) {}

    bool enabled() const { return fns_ != nullptr; }

    template <typename Handle>
    void name(VkObjectType type, Handle handle, std::string_view name) const {
        if (fns_) set_name(type, reinterpret_cast<uint64_t>(handle), name);
    }
    void begin_label(VkCommandBuffer cmd, std::string_view label) const;
    void end_label(VkCommandBuffer cmd) const;

private:
    void set_name(VkObjectType type, uint64_t handle, std::string_view name) const;
    const InstanceFunctions* fns_ = nullptr;
    VkDevice device_ = VK_NULL_HANDLE;
};

} // namespace vkcnn::vulkan
