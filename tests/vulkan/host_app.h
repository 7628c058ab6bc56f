// A host application (a game, a renderer) as the Vulkan tests play it: its
// own validated instance (with synchronization validation and a messenger
// that counts findings), device, queue and command pool, made with the
// system loader; lent to vkcnn with Device::adopt.
#pragma once

#include "vkcnn/vulkan/device.h"

#include <doctest/doctest.h>
#include <vulkan/vulkan.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <cstdio>
#include <vector>

namespace vkcnn::test {

// Validation messages the host's own messenger received.
inline std::atomic<int> host_messages{0};

inline VKAPI_ATTR VkBool32 VKAPI_CALL host_callback(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                    VkDebugUtilsMessageTypeFlagsEXT types,
                                                    const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
    if (types & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT)) {
        std::fprintf(stderr, "host messenger: %s\n", data->pMessage);
        ++host_messages;
    }
    return VK_FALSE;
}

// What a host application would have: its instance (validated), device and queue.
struct HostApp {
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t family = 0;
    VkQueueFlags family_flags = 0; // what `family` supports
    VkQueue queue = VK_NULL_HANDLE;
    VkCommandPool pool = VK_NULL_HANDLE;
    bool timeline = false; // timeline semaphores enabled

    HostApp() {
        const char* layer = "VK_LAYER_KHRONOS_validation";
        const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
        VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
        features.enabledValidationFeatureCount = 1;
        features.pEnabledValidationFeatures = &sync;
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        app.apiVersion = VK_API_VERSION_1_2;
        VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        ici.pNext = &features;
        ici.pApplicationInfo = &app;
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = &layer;
        ici.enabledExtensionCount = 1;
        ici.ppEnabledExtensionNames = &ext;
        REQUIRE(vkCreateInstance(&ici, nullptr, &instance) == VK_SUCCESS);

        auto create_messenger = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
        VkDebugUtilsMessengerCreateInfoEXT mci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
        mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
        mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
        mci.pfnUserCallback = host_callback;
        REQUIRE(create_messenger(instance, &mci, nullptr, &messenger) == VK_SUCCESS);

        uint32_t n = 1;
        VkResult r = vkEnumeratePhysicalDevices(instance, &n, &physical);
        REQUIRE((r == VK_SUCCESS || r == VK_INCOMPLETE));
        REQUIRE(n >= 1);
        uint32_t nq = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, nullptr);
        std::vector<VkQueueFamilyProperties> qs(nq);
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, qs.data());
        while (family < nq && !(qs[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) ++family;
        REQUIRE(family < nq);
        family_flags = qs[family].queueFlags;
        const float priority = 1.0f;
        VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
        qci.queueFamilyIndex = family;
        qci.queueCount = 1;
        qci.pQueuePriorities = &priority;
        VkPhysicalDeviceTimelineSemaphoreFeatures timeline_features{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES};
        VkPhysicalDeviceFeatures2 features2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
        features2.pNext = &timeline_features;
        VkPhysicalDeviceProperties props{};
        vkGetPhysicalDeviceProperties(physical, &props);
        if (props.apiVersion >= VK_API_VERSION_1_2) vkGetPhysicalDeviceFeatures2(physical, &features2);
        timeline = timeline_features.timelineSemaphore == VK_TRUE;
        VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
        if (timeline) dci.pNext = &features2;
        dci.queueCreateInfoCount = 1;
        dci.pQueueCreateInfos = &qci;
        REQUIRE(vkCreateDevice(physical, &dci, nullptr, &device) == VK_SUCCESS);
        vkGetDeviceQueue(device, family, 0, &queue);
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pci.queueFamilyIndex = family;
        REQUIRE(vkCreateCommandPool(device, &pci, nullptr, &pool) == VK_SUCCESS);
    }
    ~HostApp() {
        vkDestroyCommandPool(device, pool, nullptr);
        vkDestroyDevice(device, nullptr);
        reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"))(instance, messenger, nullptr);
        vkDestroyInstance(instance, nullptr);
    }
    AdoptInfo adopt_info() const {
        AdoptInfo a;
        a.instance = instance;
        a.physical_device = physical;
        a.device = device;
        a.queue_family = family;
        a.queue = queue;
        a.debug_utils = true;
        return a;
    }
    VkCommandBuffer begin_commands() {
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = pool;
        ai.commandBufferCount = 1;
        VkCommandBuffer cmd;
        REQUIRE(vkAllocateCommandBuffers(device, &ai, &cmd) == VK_SUCCESS);
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        REQUIRE(vkBeginCommandBuffer(cmd, &bi) == VK_SUCCESS);
        return cmd;
    }
    void submit_and_wait(VkCommandBuffer cmd) {
        REQUIRE(vkEndCommandBuffer(cmd) == VK_SUCCESS);
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VkFence fence;
        REQUIRE(vkCreateFence(device, &fci, nullptr, &fence) == VK_SUCCESS);
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd;
        REQUIRE(vkQueueSubmit(queue, 1, &si, fence) == VK_SUCCESS);
        REQUIRE(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX) == VK_SUCCESS);
        vkDestroyFence(device, fence, nullptr);
        vkFreeCommandBuffers(device, pool, 1, &cmd);
    }
    // Ends and submits `cmd`, waiting for `wait` (binary, at `wait_stages`)
    // if given and signalling `signal` if given; then waits for its fence.
    void submit_and_wait(VkCommandBuffer cmd, VkSemaphore wait, VkPipelineStageFlags wait_stages, VkSemaphore signal) {
        REQUIRE(vkEndCommandBuffer(cmd) == VK_SUCCESS);
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VkFence fence;
        REQUIRE(vkCreateFence(device, &fci, nullptr, &fence) == VK_SUCCESS);
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.waitSemaphoreCount = wait ? 1 : 0;
        si.pWaitSemaphores = &wait;
        si.pWaitDstStageMask = &wait_stages;
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd;
        si.signalSemaphoreCount = signal ? 1 : 0;
        si.pSignalSemaphores = &signal;
        REQUIRE(vkQueueSubmit(queue, 1, &si, fence) == VK_SUCCESS);
        REQUIRE(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX) == VK_SUCCESS);
        vkDestroyFence(device, fence, nullptr);
        vkFreeCommandBuffers(device, pool, 1, &cmd);
    }
    // Ends and submits `cmd` with no fence, signalling timeline `semaphore` to `value`,
    // and waits on the host for that value.
    void submit_and_wait_timeline(VkCommandBuffer cmd, VkSemaphore semaphore, uint64_t value) {
        REQUIRE(vkEndCommandBuffer(cmd) == VK_SUCCESS);
        VkTimelineSemaphoreSubmitInfo values{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
        values.signalSemaphoreValueCount = 1;
        values.pSignalSemaphoreValues = &value;
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.pNext = &values;
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd;
        si.signalSemaphoreCount = 1;
        si.pSignalSemaphores = &semaphore;
        REQUIRE(vkQueueSubmit(queue, 1, &si, VK_NULL_HANDLE) == VK_SUCCESS);
        wait_timeline(semaphore, value);
        vkFreeCommandBuffers(device, pool, 1, &cmd);
    }
    // vkcnn on this device, as the tests adopt it: validation on, no
    // pipeline cache on disk.
    std::unique_ptr<Device> adopt_validated() const {
        DeviceOptions o;
        o.validation = true;
        o.cache_dir = std::filesystem::path();
        return Device::adopt(adopt_info(), o);
    }
    // The host's side of a timeline: signal a value from the CPU, wait for one.
    void signal_timeline(VkSemaphore semaphore, uint64_t value) const {
        VkSemaphoreSignalInfo signal{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO};
        signal.semaphore = semaphore;
        signal.value = value;
        REQUIRE(vkSignalSemaphore(device, &signal) == VK_SUCCESS);
    }
    void wait_timeline(VkSemaphore semaphore, uint64_t value) const {
        VkSemaphoreWaitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
        wait.semaphoreCount = 1;
        wait.pSemaphores = &semaphore;
        wait.pValues = &value;
        REQUIRE(vkWaitSemaphores(device, &wait, UINT64_MAX) == VK_SUCCESS);
    }
    VkSemaphore create_semaphore() {
        VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        VkSemaphore s;
        REQUIRE(vkCreateSemaphore(device, &ci, nullptr, &s) == VK_SUCCESS);
        return s;
    }
    // The host's own work after vkcnn is gone: record, submit, wait.
    void render_a_frame() {
        submit_and_wait(begin_commands());
        REQUIRE(vkDeviceWaitIdle(device) == VK_SUCCESS);
    }
    VkSemaphore create_timeline() {
        VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
        type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
        VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        ci.pNext = &type;
        VkSemaphore s;
        REQUIRE(vkCreateSemaphore(device, &ci, nullptr, &s) == VK_SUCCESS);
        return s;
    }
};

} // namespace vkcnn::test
