// What a physical device can do, as vkcnn cares about it (the facts `vkcnn
// info` prints). device_choice.h picks one.
#pragma once

#include "vkcnn/vulkan/instance.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vkcnn::vulkan {

struct MemoryHeapInfo {
    uint64_t size = 0;
    bool device_local = false;
};

struct DeviceInfo {
    uint32_t index = 0; // position in vkEnumeratePhysicalDevices
    VkPhysicalDevice physical_device = VK_NULL_HANDLE;
    std::string name;
    VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
    uint32_t vendor_id = 0, device_id = 0;
    VkDriverId driver_id = static_cast<VkDriverId>(0); // 0 where VK_KHR_driver_properties is absent
    std::string driver_name, driver_info;
    uint32_t api_version = 0, driver_version = 0;
    std::array<uint8_t, VK_UUID_SIZE> pipeline_cache_uuid{};

    uint32_t subgroup_size = 1;
    VkSubgroupFeatureFlags subgroup_operations = 0;
    VkShaderStageFlags subgroup_stages = 0;
    bool storage_buffer_16bit = false; // storageBuffer16BitAccess
    bool shader_float16 = false;       // shaderFloat16 arithmetic

    std::array<uint32_t, 3> max_workgroup_size{};
    std::array<uint32_t, 3> max_workgroup_count{};
    uint32_t max_workgroup_invocations = 0;
    uint32_t max_shared_memory = 0;
    uint32_t max_push_constants = 0;
    uint64_t max_storage_buffer_range = 0;
    uint64_t min_storage_buffer_offset_alignment = 0;
    uint64_t non_coherent_atom_size = 0;
    float timestamp_period_ns = 0; // 0: the compute queue has no timestamps

    std::vector<MemoryHeapInfo> heaps;
    // One memory type is device-local, host-visible and coherent in the main
    // heap (lavapipe, integrated GPUs, resizable BAR): buffers are mapped directly.
    bool unified_memory = false;

    uint32_t compute_family = 0;
    int transfer_family = -1; // a dedicated transfer-only family, or -1

    bool usable = true;
    std::string unusable_reason; // why not, when !usable
};

std::vector<DeviceInfo> describe_devices(const Instance& instance);
DeviceInfo describe_device(const Instance& instance, VkPhysicalDevice device, uint32_t index);

const char* device_type_name(VkPhysicalDeviceType type);
std::string version_string(uint32_t api_version);
std::string subgroup_operations_string(VkSubgroupFeatureFlags ops);
// Vendor, device, driver version and pipeline-cache UUID, in hex: the name
// under which files measured or built for this GPU and driver are kept (the
// pipeline cache, the measured GEMM tiling), so that several GPUs or driver
// versions keep theirs side by side.
std::string cache_key(const DeviceInfo& d);

} // namespace vkcnn::vulkan
