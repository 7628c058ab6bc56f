// Instance creation: layers, extensions (debug utils, portability
// enumeration), validation features and the debug messenger.
#include "vkcnn/vulkan/instance.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/loader.h"
#include "vkcnn/vulkan/result.h"

#include <cstdio>
#include <cstring>

namespace vkcnn::vulkan {

void ValidationLog::add(std::string message) {
    if (echo_to_stderr) std::fprintf(stderr, "vkcnn: validation: %s\n", message.c_str());
    std::lock_guard lock(mutex_);
    messages_.push_back(std::move(message));
}

size_t ValidationLog::count() const {
    std::lock_guard lock(mutex_);
    return messages_.size();
}

std::vector<std::string> ValidationLog::take() {
    std::lock_guard lock(mutex_);
    return std::exchange(messages_, {});
}

namespace {

VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                          VkDebugUtilsMessageTypeFlagsEXT types,
                                          const VkDebugUtilsMessengerCallbackDataEXT* data,
                                          void* user) {
    auto* log = static_cast<ValidationLog*>(user);
    const char* text = data && data->pMessage ? data->pMessage : "(no message)";
    // Loader chatter (GENERAL) is not a finding about our use of the API.
    if (types & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                 VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT)) {
        log->add(text);
    } else if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        std::fprintf(stderr, "vkcnn: vulkan: %s\n", text);
    }
    return VK_FALSE; // never abort the call
}

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
    for (auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

} // namespace

std::unique_ptr<Instance> Instance::create(const InstanceOptions& options) {
    const GlobalFunctions& g = global_functions();
    uint32_t loader_version = VK_API_VERSION_1_0;
    if (g.vkEnumerateInstanceVersion) g.vkEnumerateInstanceVersion(&loader_version);
    if (loader_version < VK_API_VERSION_1_1)
        throw VulkanUnavailableError(cat("the Vulkan loader supports only version ",
                                         VK_API_VERSION_MAJOR(loader_version), ".",
                                         VK_API_VERSION_MINOR(loader_version),
                                         "; vkcnn needs 1.1 (update libvulkan1)"));

    uint32_t n = 0;
    VKCNN_VK(g.vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr));
    std::vector<VkExtensionProperties> available(n);
    VKCNN_VK(g.vkEnumerateInstanceExtensionProperties(nullptr, &n, available.data()));

    std::vector<const char*> layers;
    if (options.validation) {
        VKCNN_VK(g.vkEnumerateInstanceLayerProperties(&n, nullptr));
        std::vector<VkLayerProperties> props(n);
        VKCNN_VK(g.vkEnumerateInstanceLayerProperties(&n, props.data()));
        bool found = false;
        for (auto& p : props) found |= std::strcmp(p.layerName, "VK_LAYER_KHRONOS_validation") == 0;
        check(found, "validation was requested but VK_LAYER_KHRONOS_validation is not installed "
                     "(on Debian: apt-get install vulkan-validationlayers)");
        layers.push_back("VK_LAYER_KHRONOS_validation");
    }

    auto instance = std::unique_ptr<Instance>(new Instance());
    std::vector<const char*> extensions;
    VkInstanceCreateFlags flags = 0;
    // The validation layer provides debug utils itself, even where the loader does not.
    if (has_extension(available, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) || options.validation) {
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        instance->debug_utils_ = true;
    }
    // MoltenVK and other non-conformant implementations are only listed with this.
    if (has_extension(available, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "vkcnn";
    app.pEngineName = "vkcnn";
    app.apiVersion = VK_API_VERSION_1_2; // highest we use; 1.1 devices still work

    VkValidationFeatureEnableEXT enables[] = {
        VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    features.enabledValidationFeatureCount = 1;
    features.pEnabledValidationFeatures = enables;

    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.flags = flags;
    info.pApplicationInfo = &app;
    info.enabledLayerCount = static_cast<uint32_t>(layers.size());
    info.ppEnabledLayerNames = layers.data();
    info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    info.ppEnabledExtensionNames = extensions.data();
    if (options.validation && options.sync_validation) info.pNext = &features;

    VKCNN_VK(g.vkCreateInstance(&info, nullptr, &instance->instance_));
    instance->owned_ = true;
    instance->validation_ = options.validation;
    *instance->fns_ = load_instance_functions(g.vkGetInstanceProcAddr, instance->instance_);
    if (options.validation) instance->install_messenger();
    return instance;
}

std::unique_ptr<Instance> Instance::borrow(VkInstance handle, PFN_vkGetInstanceProcAddr gipa,
                                           bool debug_utils, bool capture_messages) {
    check(handle != VK_NULL_HANDLE, "Device::adopt: AdoptInfo::instance is VK_NULL_HANDLE");
    if (!gipa) gipa = global_functions().vkGetInstanceProcAddr;
    auto instance = std::unique_ptr<Instance>(new Instance());
    instance->instance_ = handle;
    *instance->fns_ = load_instance_functions(gipa, handle);
    instance->debug_utils_ = debug_utils && instance->fns_->vkSetDebugUtilsObjectNameEXT;
    if (capture_messages && instance->debug_utils_) instance->install_messenger();
    instance->validation_ = capture_messages && instance->debug_utils_;
    return instance;
}

void Instance::install_messenger() {
    if (!fns_->vkCreateDebugUtilsMessengerEXT) return;
    VkDebugUtilsMessengerCreateInfoEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    info.pfnUserCallback = on_message;
    info.pUserData = &log_;
    VKCNN_VK(fns_->vkCreateDebugUtilsMessengerEXT(instance_, &info, nullptr, &messenger_));
}

Instance::Instance() : fns_(std::make_unique<InstanceFunctions>()) {}

const InstanceFunctions& Instance::fns() const { return *fns_; }

Instance::~Instance() {
    if (messenger_) fns_->vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
    if (owned_ && instance_) fns_->vkDestroyInstance(instance_, nullptr);
}

std::vector<VkPhysicalDevice> Instance::physical_devices() const {
    uint32_t n = 0;
    VKCNN_VK(fns_->vkEnumeratePhysicalDevices(instance_, &n, nullptr));
    std::vector<VkPhysicalDevice> devices(n);
    VKCNN_VK(fns_->vkEnumeratePhysicalDevices(instance_, &n, devices.data()));
    devices.resize(n);
    return devices;
}

} // namespace vkcnn::vulkan
