// The VkInstance: ours (created with optional validation and synchronization
// validation) or a host application's (borrowed, never destroyed), plus the
// log where validation messages land.
#pragma once

#include <vulkan/vulkan.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vkcnn::vulkan {

struct InstanceFunctions; // loader.h (private)

// Validation-layer messages of warning severity or worse. Thread-safe: the
// layer may call back from any thread that calls into Vulkan.
class ValidationLog {
public:
    void add(std::string message);
    size_t count() const;
    std::vector<std::string> take(); // returns and clears
    bool echo_to_stderr = true;

private:
    mutable std::mutex mutex_;
    std::vector<std::string> messages_;
};

struct InstanceOptions {
    bool validation = false;      // VK_LAYER_KHRONOS_validation; throws if it is not installed
    bool sync_validation = true;  // with validation: synchronization validation too
};

class Instance {
public:
    static std::unique_ptr<Instance> create(const InstanceOptions& options);
    // A host application's instance. debug_utils: the host enabled VK_EXT_debug_utils
    // on it (we then name objects; with capture_messages we also install a messenger).
    static std::unique_ptr<Instance> borrow(VkInstance instance, PFN_vkGetInstanceProcAddr gipa,
                                            bool debug_utils, bool capture_messages);
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    VkInstance handle() const { return instance_; }
    const InstanceFunctions& fns() const; // for vkcnn's backend code, with loader.h
    bool has_debug_utils() const { return debug_utils_; }
    bool validation_enabled() const { return validation_; }
    ValidationLog& log() { return log_; }
    std::vector<VkPhysicalDevice> physical_devices() const;

private:
    Instance();
    void install_messenger();

    VkInstance instance_ = VK_NULL_HANDLE;
    bool owned_ = false;
    bool debug_utils_ = false;
    bool validation_ = false;
    std::unique_ptr<InstanceFunctions> fns_; // never null
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    ValidationLog log_;
};

} // namespace vkcnn::vulkan
