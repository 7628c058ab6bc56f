// Textures the demo draws in its ImGui panels: RGBA8 images filled either
// straight from a device buffer (vkcnn's colormap of an activation or a
// parameter: a copy recorded into the frame, no round trip through the CPU)
// or from host pixels (a drawn digit, a gallery), then sampled by the
// fragment shader.
//
// Debian's Dear ImGui (1.86) draws every command with its font texture: its
// Vulkan backend predates user textures. So a texture is drawn through a
// draw-list callback that binds our own pipeline (ImGui's vertex layout,
// nearest sampling, so a 5 x 5 filter stays 25 crisp squares) and the
// texture's descriptor set; the command after it resets ImGui's state.
#pragma once

#include <vkcnn/vulkan/buffer.h>
#include <vkcnn/vulkan/device.h>

#include <imgui.h>
#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <span>

namespace demo {

class TextureRenderer;

// A grey level in [0, 1] (clamped) as an opaque RGBA8 pixel, the textures' format.
uint32_t grey_pixel(float v);

// What the textures need of the application: its device, the render pass
// they are drawn in, and a pool with combined-image-sampler descriptors.
struct RenderTarget {
    VkPhysicalDevice physical_device = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkRenderPass render_pass = VK_NULL_HANDLE;
    VkDescriptorPool descriptor_pool = VK_NULL_HANDLE;
};

class Texture {
public:
    Texture(TextureRenderer& renderer, uint32_t width, uint32_t height);
    ~Texture();
    Texture(const Texture&) = delete;
    Texture& operator=(const Texture&) = delete;

    uint32_t width() const { return width_; }
    uint32_t height() const { return height_; }
    // The image takes `source`'s width x height RGBA8 pixels in `cmd`,
    // ordered after the compute work submitted before `cmd` (vkcnn's
    // colormap launch): a copy on the device.
    void copy_from(VkCommandBuffer cmd, vkcnn::vulkan::BufferRange source);
    // The image takes `pixels` (RGBA8, R in the low byte) through a staging
    // buffer of this frame slot, written now (the slot's last frame is done).
    void upload(VkCommandBuffer cmd, uint32_t frame_slot, std::span<const uint32_t> pixels);
    bool ready() const { return layout_ == VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL; }

    // ImGui::Image of this texture, `size` pixels; tinted by `tint`.
    void image(ImVec2 size, ImU32 tint = IM_COL32_WHITE) const;
    // Into a draw list at p0..p1 (overlays); uv0..uv1 the part of the image (a gallery's cell).
    void draw(ImDrawList* list, ImVec2 p0, ImVec2 p1, ImU32 tint = IM_COL32_WHITE, ImVec2 uv0 = ImVec2(0, 0),
              ImVec2 uv1 = ImVec2(1, 1)) const;

private:
    friend class TextureRenderer; // its draw callback binds set_
    void transition(VkCommandBuffer cmd, VkImageLayout from, VkImageLayout to, VkAccessFlags src_access,
                    VkAccessFlags dst_access, VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage);

    TextureRenderer& renderer_;
    uint32_t width_, height_;
    VkImage image_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    VkImageView view_ = VK_NULL_HANDLE;
    VkDescriptorSet set_ = VK_NULL_HANDLE;
    VkImageLayout layout_ = VK_IMAGE_LAYOUT_UNDEFINED;
    std::array<vkcnn::vulkan::Buffer, 2> staging_; // per frame slot, made on first upload
};

class TextureRenderer {
public:
    TextureRenderer(const RenderTarget& target, vkcnn::Device& device);
    ~TextureRenderer();
    TextureRenderer(const TextureRenderer&) = delete;
    TextureRenderer& operator=(const TextureRenderer&) = delete;

    // Around ImGui_ImplVulkan_RenderDrawData: the command buffer the callbacks record into.
    void begin(VkCommandBuffer cmd) { cmd_ = cmd; }
    void end() { cmd_ = VK_NULL_HANDLE; }
    // Orders the device and host writes submitted before `cmd` before the
    // texture copies recorded after this (one barrier per frame).
    void barrier_before_copies(VkCommandBuffer cmd) const;

    const RenderTarget& target() const { return target_; }
    vkcnn::Device& device() const { return device_; }
    // Binds the pipeline, the texture and the transform from ImGui's display
    // coordinates (pos, size) to clip space, in a render pass of the target:
    // what the ImGui callback does, for a caller with its own ImDrawVert quads.
    void bind(VkCommandBuffer cmd, const Texture& texture, ImVec2 display_pos, ImVec2 display_size,
              ImVec2 framebuffer_scale = ImVec2(1, 1)) const;

private:
    friend class Texture;
    static void bind_callback(const ImDrawList* list, const ImDrawCmd* cmd);

    RenderTarget target_;
    vkcnn::Device& device_;
    VkSampler sampler_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
};

} // namespace demo
