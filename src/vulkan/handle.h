// Move-only owners for device-level Vulkan handles: each handle has exactly
// one owner, destroyed once, in the owner's destructor. Handles a host
// application lends us are never wrapped in these.
#pragma once

#include "vkcnn/vulkan/loader.h"

#include <utility>

namespace vkcnn::vulkan {

template <typename H> struct HandleTraits;
#define VKCNN_HANDLE_TRAITS(Type, destroy_fn)                                   \
    template <> struct HandleTraits<Type> {                                     \
        static void destroy(const DeviceFunctions& f, VkDevice d, Type h) {     \
            f.destroy_fn(d, h, nullptr);                                        \
        }                                                                       \
    };
VKCNN_HANDLE_TRAITS(VkBuffer, vkDestroyBuffer)
VKCNN_HANDLE_TRAITS(VkDeviceMemory, vkFreeMemory)
VKCNN_HANDLE_TRAITS(VkShaderModule, vkDestroyShaderModule)
VKCNN_HANDLE_TRAITS(VkPipeline, vkDestroyPipeline)
VKCNN_HANDLE_TRAITS(VkPipelineLayout, vkDestroyPipelineLayout)
VKCNN_HANDLE_TRAITS(VkPipelineCache, vkDestroyPipelineCache)
VKCNN_HANDLE_TRAITS(VkDescriptorSetLayout, vkDestroyDescriptorSetLayout)
VKCNN_HANDLE_TRAITS(VkDescriptorPool, vkDestroyDescriptorPool)
VKCNN_HANDLE_TRAITS(VkCommandPool, vkDestroyCommandPool)
VKCNN_HANDLE_TRAITS(VkFence, vkDestroyFence)
VKCNN_HANDLE_TRAITS(VkQueryPool, vkDestroyQueryPool)
#undef VKCNN_HANDLE_TRAITS

template <typename H>
class Owned {
public:
    Owned() = default;
    Owned(const DeviceFunctions& fns, VkDevice device, H handle)
        : fns_(&fns), device_(device), handle_(handle) {}
    Owned(Owned&& o) noexcept
        : fns_(o.fns_), device_(o.device_), handle_(std::exchange(o.handle_, VK_NULL_HANDLE)) {}
    Owned& operator=(Owned&& o) noexcept {
        if (this != &o) {
            reset();
            fns_ = o.fns_;
            device_ = o.device_;
            handle_ = std::exchange(o.handle_, VK_NULL_HANDLE);
        }
        return *this;
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    ~Owned() { reset(); }

    H get() const { return handle_; }
    explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }

    void reset() {
        if (handle_ != VK_NULL_HANDLE) HandleTraits<H>::destroy(*fns_, device_, handle_);
        handle_ = VK_NULL_HANDLE;
    }

private:
    const DeviceFunctions* fns_ = nullptr;
    VkDevice device_ = VK_NULL_HANDLE;
    H handle_ = VK_NULL_HANDLE;
};

} // namespace vkcnn::vulkan
