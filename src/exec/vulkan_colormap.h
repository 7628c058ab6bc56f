// A value drawn as an RGBA8 image in a device buffer (ops/colormap.h: tiles
// per channel in a grid, a colormap, min/max or symmetric normalisation),
// for a renderer that draws activations and filters straight from device
// memory: bind image() as a storage buffer, or copy it into a VkImage
// (vkCmdCopyBufferToImage, R8G8B8A8). The source is any range on the device
// — a snapshot's buffer_of(name), a parameter's VulkanState::range_of(name).
// Recorded once; each submit() redraws it from the source's current contents,
// ordered after the work submitted before it. The CPU backend's twin is
// ops::colormap_cpu, which gives the same bytes.
#pragma once

#include "vkcnn/ops/colormap.h"
#include "vkcnn/vulkan/recorded_step.h"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace vkcnn::exec {

class VulkanColormap {
public:
    // `dims`: the source's shape, (H, W), (C, H, W) or (N, C, H, W).
    VulkanColormap(Device& device, vulkan::BufferRange source, std::span<const int64_t> dims,
                   const ops::ColormapAttrs& attrs = {});
    ~VulkanColormap();
    VulkanColormap(const VulkanColormap&) = delete;
    VulkanColormap& operator=(const VulkanColormap&) = delete;

    const ops::ColormapGeometry& geometry() const { return geometry_; }
    // Queues a redraw (after the previous one finished); returns at once.
    void submit(const SubmitSync& sync = {});
    void wait();
    // width x height pixels, one uint32 each, bytes R, G, B, A.
    vulkan::BufferRange image() const { return {image_, 0, geometry_.pixels() * 4}; }
    // Waits for the last redraw and reads the image.
    std::vector<uint32_t> read();

private:
    Device& device_;
    ops::ColormapGeometry geometry_;
    vulkan::Buffer temp_, image_;
    std::unique_ptr<vulkan::RecordedStep> draw_;
};

} // namespace vkcnn::exec
