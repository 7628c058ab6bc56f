// Compute pipelines, created on first use from an embedded shader and a list
// of specialization constants, and the VkPipelineCache persisted between runs
// in the user's cache directory, keyed by device and driver so that a cache
// from another driver is never fed to this one.
#pragma once

#include "vkcnn/vulkan/debug_utils.h"
#include "vkcnn/vulkan/device_info.h"
#include "vkcnn/vulkan/handle.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::vulkan {

// Every pipeline reserves this much push-constant space: the minimum that
// Vulkan guarantees, so one layout rule fits every device.
inline constexpr uint32_t kPushConstantBytes = 128;

struct Pipeline {
    std::string name; // shader name plus specialization, for labels and errors
    uint32_t bindings = 0; // storage buffers at set 0, bindings 0..bindings-1
    Owned<VkDescriptorSetLayout> set_layout;
    Owned<VkPipelineLayout> layout;
    Owned<VkPipeline> pipeline;
};

class PipelineCache {
public:
    // cache_dir empty: no persistence.
    PipelineCache(const DeviceFunctions& fns, VkDevice device, const DeviceInfo& info,
                  std::filesystem::path cache_dir, DebugUtils debug);
    ~PipelineCache(); // saves the cache
    PipelineCache(const PipelineCache&) = delete;
    PipelineCache& operator=(const PipelineCache&) = delete;

    // Specialization constant i gets constant_id i. By convention ids 0, 1, 2
    // are the workgroup size (local_size_x_id = 0, ...), op-specific ones follow.
    const Pipeline& get(std::string_view shader, std::span<const uint32_t> specialization);

    size_t size() const;
    // Pipelines compiled so far and the wall time spent in vkCreateComputePipelines:
    // on a driver without a persistent cache (lavapipe in Mesa 22) every
    // process pays this on its first steps.
    struct Stats {
        size_t created = 0;
        double seconds = 0;
    };
    Stats stats() const;
    bool loaded_from_disk() const { return loaded_from_disk_; }
    const std::filesystem::path& file() const { return file_; }
    void save() const; // atomic: temp file then rename

private:
    const DeviceFunctions& fns_;
    VkDevice device_;
    DeviceInfo info_;
    DebugUtils debug_;
    std::filesystem::path file_;
    bool loaded_from_disk_ = false;
    Owned<VkPipelineCache> cache_;
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, std::vector<uint32_t>>, std::unique_ptr<Pipeline>> pipelines_;
    Stats stats_;
};

// $VKCNN_CACHE_DIR, else $XDG_CACHE_HOME/vkcnn, else $HOME/.cache/vkcnn; empty if none is set.
std::filesystem::path default_cache_dir();

// Does `data` start with a pipeline-cache header written by this device and driver?
bool pipeline_cache_matches(std::span<const std::byte> data, const DeviceInfo& info);

} // namespace vkcnn::vulkan
