// What vkcnn's own Vulkan code reaches inside a Device: the function table,
// debug utils, pipelines and memory allocator. Private (not installed):
// applications see only device.h.
#pragma once

#include "vkcnn/vulkan/debug_utils.h"
#include "vkcnn/vulkan/device.h"
#include "vkcnn/vulkan/loader.h"
#include "vkcnn/vulkan/memory.h"
#include "vkcnn/vulkan/pipeline.h"

#include <cstdint>
#include <span>
#include <string_view>

namespace vkcnn::vulkan {

struct DeviceInternals {
    static const DeviceFunctions& fns(const Device& d) { return *d.fns_; }
    static const DebugUtils& debug(const Device& d) { return *d.debug_; }
    // Created on first use (pipeline.h).
    static const Pipeline& pipeline(Device& d, std::string_view shader, std::span<const uint32_t> specialization) {
        return d.pipelines_->get(shader, specialization);
    }
    static PipelineCache& pipeline_cache(Device& d) { return *d.pipelines_; }
    static MemoryAllocator& allocator(Device& d) { return *d.allocator_; }
};

} // namespace vkcnn::vulkan
