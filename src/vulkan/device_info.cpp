// Physical-device queries (properties, features, memory, queue families).
#include "vkcnn/vulkan/device_info.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/loader.h"
#include "vkcnn/vulkan/result.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace vkcnn::vulkan {

namespace {

bool has_device_extension(const InstanceFunctions& f, VkPhysicalDevice pd, const char* name) {
    uint32_t n = 0;
    VKCNN_VK(f.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr));
    std::vector<VkExtensionProperties> exts(n);
    VKCNN_VK(f.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data()));
    for (auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

} // namespace

const char* device_type_name(VkPhysicalDeviceType type) {
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

std::string version_string(uint32_t v) {
    return cat(VK_API_VERSION_MAJOR(v), ".", VK_API_VERSION_MINOR(v), ".", VK_API_VERSION_PATCH(v));
}

std::string cache_key(const DeviceInfo& d) {
    std::string uuid;
    for (uint8_t b : d.pipeline_cache_uuid) uuid += cat(std::hex, (b >> 4) & 0xf, b & 0xf);
    return cat(std::hex, d.vendor_id, "-", d.device_id, "-", d.driver_version, "-", uuid);
}

std::string subgroup_operations_string(VkSubgroupFeatureFlags ops) {
    static const std::pair<VkSubgroupFeatureFlagBits, const char*> names[] = {
        {VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},
        {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
        {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"},
        {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
        {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},
        {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"},
        {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"},
        {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"},
    };
    std::string s;
    for (auto& [bit, name] : names)
        if (ops & bit) s += s.empty() ? name : cat(" ", name);
    return s.empty() ? "none" : s;
}

DeviceInfo describe_device(const Instance& instance, VkPhysicalDevice pd, uint32_t index) {
    const InstanceFunctions& f = instance.fns();
    DeviceInfo d;
    d.index = index;
    d.physical_device = pd;

    VkPhysicalDeviceProperties base{};
    f.vkGetPhysicalDeviceProperties(pd, &base);
    d.api_version = base.apiVersion;
    const bool has_driver_props =
        base.apiVersion >= VK_API_VERSION_1_2 ||
        has_device_extension(f, pd, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);

    VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    props.pNext = &subgroup;
    if (has_driver_props) subgroup.pNext = &driver;
    f.vkGetPhysicalDeviceProperties2(pd, &props);

    const VkPhysicalDeviceLimits& lim = props.properties.limits;
    d.name = props.properties.deviceName;
    d.type = props.properties.deviceType;
    d.vendor_id = props.properties.vendorID;
    d.device_id = props.properties.deviceID;
    d.driver_version = props.properties.driverVersion;
    std::memcpy(d.pipeline_cache_uuid.data(), props.properties.pipelineCacheUUID, VK_UUID_SIZE);
    if (has_driver_props) {
        d.driver_id = driver.driverID;
        d.driver_name = driver.driverName;
        d.driver_info = driver.driverInfo;
    }
    d.subgroup_size = subgroup.subgroupSize;
    d.subgroup_operations = subgroup.supportedOperations;
    d.subgroup_stages = subgroup.supportedStages;
    for (int i = 0; i < 3; ++i) {
        d.max_workgroup_size[i] = lim.maxComputeWorkGroupSize[i];
        d.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
    }
    d.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
    d.max_shared_memory = lim.maxComputeSharedMemorySize;
    d.max_push_constants = lim.maxPushConstantsSize;
    d.max_storage_buffer_range = lim.maxStorageBufferRange;
    d.min_storage_buffer_offset_alignment = lim.minStorageBufferOffsetAlignment;
    d.non_coherent_atom_size = lim.nonCoherentAtomSize;

    VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features float16{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    const bool has_float16 = base.apiVersion >= VK_API_VERSION_1_2 ||
                             has_device_extension(f, pd, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.pNext = &storage16;
    if (has_float16) storage16.pNext = &float16;
    f.vkGetPhysicalDeviceFeatures2(pd, &features);
    d.storage_buffer_16bit = storage16.storageBuffer16BitAccess;
    d.shader_float16 = has_float16 && float16.shaderFloat16;

    VkPhysicalDeviceMemoryProperties mem{};
    f.vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    uint32_t largest_local = 0;
    for (uint32_t h = 0; h < mem.memoryHeapCount; ++h) {
        bool local = mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
        d.heaps.push_back({mem.memoryHeaps[h].size, local});
        if (local && mem.memoryHeaps[h].size > mem.memoryHeaps[largest_local].size) largest_local = h;
    }
    const VkMemoryPropertyFlags direct = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
                                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                         VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t t = 0; t < mem.memoryTypeCount; ++t)
        if ((mem.memoryTypes[t].propertyFlags & direct) == direct &&
            mem.memoryTypes[t].heapIndex == largest_local)
            d.unified_memory = true;

    uint32_t nq = 0;
    f.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> families(nq);
    f.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, families.data());
    // Prefer a compute family without graphics (async compute), else any compute family.
    int compute = -1, compute_only = -1;
    for (uint32_t q = 0; q < nq; ++q) {
        const VkQueueFlags fl = families[q].queueFlags;
        const int qi = static_cast<int>(q);
        if (fl & VK_QUEUE_COMPUTE_BIT) {
            if (compute < 0) compute = qi;
            if (!(fl & VK_QUEUE_GRAPHICS_BIT) && compute_only < 0) compute_only = qi;
        }
        if ((fl & VK_QUEUE_TRANSFER_BIT) && !(fl & (VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT)) &&
            d.transfer_family < 0)
            d.transfer_family = qi;
    }
    if (compute_only >= 0) compute = compute_only;
    if (compute >= 0) {
        d.compute_family = static_cast<uint32_t>(compute);
        uint32_t bits = families[d.compute_family].timestampValidBits;
        d.timestamp_period_ns = bits ? lim.timestampPeriod : 0.0f;
    }

    if (base.apiVersion < VK_API_VERSION_1_1) {
        d.usable = false;
        d.unusable_reason = cat("supports Vulkan ", version_string(base.apiVersion), ", vkcnn needs 1.1");
    } else if (compute < 0) {
        d.usable = false;
        d.unusable_reason = "has no compute queue";
    }
    return d;
}

std::vector<DeviceInfo> describe_devices(const Instance& instance) {
    std::vector<DeviceInfo> out;
    auto pds = instance.physical_devices();
    for (uint32_t i = 0; i < pds.size(); ++i) out.push_back(describe_device(instance, pds[i], i));
    return out;
}

} // namespace vkcnn::vulkan
