// Device::adopt as a host application (a game, a renderer) uses it: the test
// makes its own instance and device with the system loader, lends them to
// vkcnn, computes, destroys the vkcnn Device and keeps using its own device.
// Validation (with synchronization validation) must stay silent throughout.
#include "vkcnn/ops/relu.h"
#include "vkcnn/vulkan/device.h"

#include "support/compare.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdio>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

std::atomic<int> host_messages{0};

VKAPI_ATTR VkBool32 VKAPI_CALL host_callback(VkDebugUtilsMessageSeverityFlagBitsEXT,
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
    VkQueue queue = VK_NULL_HANDLE;

    HostApp() {
        const char* layer = "VK_LAYER_KHRONOS_validation";
        const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
        VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
        features.enabledValidationFeatureCount = 1;
        features.pEnabledValidationFeatures = &sync;
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        app.apiVersion = VK_API_VERSION_1_1;
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
        const float priority = 1.0f;
        VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
        qci.queueFamilyIndex = family;
        qci.queueCount = 1;
        qci.pQueuePriorities = &priority;
        VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
        dci.queueCreateInfoCount = 1;
        dci.pQueueCreateInfos = &qci;
        REQUIRE(vkCreateDevice(physical, &dci, nullptr, &device) == VK_SUCCESS);
        vkGetDeviceQueue(device, family, 0, &queue);
    }
    ~HostApp() {
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
    // The host's own work after vkcnn is gone: record, submit, wait.
    void render_a_frame() {
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pci.queueFamilyIndex = family;
        VkCommandPool pool;
        REQUIRE(vkCreateCommandPool(device, &pci, nullptr, &pool) == VK_SUCCESS);
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = pool;
        ai.commandBufferCount = 1;
        VkCommandBuffer cmd;
        REQUIRE(vkAllocateCommandBuffers(device, &ai, &cmd) == VK_SUCCESS);
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        REQUIRE(vkBeginCommandBuffer(cmd, &bi) == VK_SUCCESS);
        REQUIRE(vkEndCommandBuffer(cmd) == VK_SUCCESS);
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VkFence fence;
        REQUIRE(vkCreateFence(device, &fci, nullptr, &fence) == VK_SUCCESS);
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd;
        REQUIRE(vkQueueSubmit(queue, 1, &si, fence) == VK_SUCCESS);
        REQUIRE(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX) == VK_SUCCESS);
        REQUIRE(vkDeviceWaitIdle(device) == VK_SUCCESS);
        vkDestroyFence(device, fence, nullptr);
        vkDestroyCommandPool(device, pool, nullptr);
    }
};

} // namespace

TEST_CASE("vulkan/adopt: compute on a host application's device, then hand it back intact") {
    host_messages = 0;
    HostApp host;
    std::mutex queue_mutex; // the host shares its queue between threads
    {
        AdoptInfo info = host.adopt_info();
        info.queue_mutex = &queue_mutex;
        DeviceOptions o;
        o.validation = true;
        o.cache_dir = std::filesystem::path(); // no persistence
        auto dev = Device::adopt(info, o);
        CHECK(dev->adopted());
        const auto x = uniform(5000, 11);
        std::vector<float> want(x.size());
        ops::relu_forward_reference(x, want);
        const auto out = run_kernel(*dev, ops::relu_forward_launch(x.size()), {x, std::vector<float>(x.size())});
        check_bitwise_equal(out[1], want, "relu on the adopted device");
        CHECK(dev->validation_log().take().empty());
    } // vkcnn's Device is gone; the host's instance, device and queue must still work
    host.render_a_frame();
    CHECK(host_messages == 0);
}

TEST_CASE("vulkan/adopt: bad handles are errors, not crashes") {
    HostApp host;
    AdoptInfo a = host.adopt_info();
    a.device = VK_NULL_HANDLE;
    CHECK_THROWS_WITH(Device::adopt(a), doctest::Contains("AdoptInfo::device is VK_NULL_HANDLE"));
    a = host.adopt_info();
    a.instance = VK_NULL_HANDLE;
    CHECK_THROWS_WITH(Device::adopt(a), doctest::Contains("AdoptInfo::instance is VK_NULL_HANDLE"));
    a = host.adopt_info();
    a.queue_family = 99;
    CHECK_THROWS_WITH(Device::adopt(a), doctest::Contains("queue_family 99 does not exist"));

    HostApp other; // a physical device handle from another instance
    a = host.adopt_info();
    a.physical_device = other.physical;
    CHECK_THROWS_WITH(Device::adopt(a), doctest::Contains("not one of the"));
    CHECK(host_messages == 0);
}
