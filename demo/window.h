// The demo's side of the GPU, as a game would have it: a GLFW window, its own
// Vulkan instance (validation optional), device, one graphics + compute
// queue, swapchain, render pass and frames in flight. vkcnn borrows the
// device and queue (Device::adopt) and never owns any of this.
//
// One thread records and submits everything, vkcnn's submissions included,
// so the shared queue needs no mutex; submission order plus barriers order
// vkcnn's compute writes before the frame's copies and draws (textures.h).
#pragma once

#include "textures.h"

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

struct GLFWwindow;

namespace demo {

struct WindowOptions {
    int width = 1600, height = 1000;
    bool validation = false;        // Khronos validation with synchronization validation
    std::optional<std::string> device; // index or name substring; default: the first that presents
    bool vsync = true;              // FIFO; false prefers MAILBOX, then IMMEDIATE
    bool visible = true;
};

// Validation messages the demo's messenger received (vkcnn keeps its own log too).
extern std::atomic<int> validation_messages;

class Window {
public:
    explicit Window(const WindowOptions& options);
    ~Window();
    Window(const Window&) = delete;
    Window& operator=(const Window&) = delete;

    GLFWwindow* glfw() const { return window_; }
    VkInstance instance() const { return instance_; }
    VkPhysicalDevice physical_device() const { return physical_; }
    VkDevice device() const { return device_; }
    uint32_t queue_family() const { return family_; }
    VkQueue queue() const { return queue_; }
    VkRenderPass render_pass() const { return render_pass_; }
    VkDescriptorPool descriptor_pool() const { return descriptor_pool_; }
    RenderTarget render_target() const { return {physical_, device_, render_pass_, descriptor_pool_}; }
    uint32_t image_count() const { return uint32_t(images_.size()); }
    std::string device_name() const;
    bool debug_utils() const { return messenger_ != VK_NULL_HANDLE; }

    // Framebuffer size 0 x 0 while minimised: no frame can be drawn.
    bool minimised() const;
    // A command buffer for this frame, recording (waits for the frame that
    // used it last); nullopt when the swapchain could not give an image
    // (minimised, or recreated: try again next frame).
    std::optional<VkCommandBuffer> begin_frame();
    // Begins the render pass on the frame's image (cleared).
    void begin_render_pass(VkCommandBuffer cmd);
    // Ends the render pass, copies the image out when a screenshot was
    // requested, submits and presents.
    void end_frame(VkCommandBuffer cmd);
    VkExtent2D extent() const { return extent_; }
    uint32_t swapchains_created() const { return swapchains_created_; } // 1 + recreations (resizes)
    // The frame slot being recorded (0 .. frames in flight - 1): what a
    // per-frame staging buffer is indexed by.
    uint32_t frame_slot() const { return frame_; }

    // The next end_frame() also writes its image to `path` (PNG) once it is
    // done; returns whether a screenshot was written by then (call after the
    // frame: waits for it).
    void request_screenshot(std::string path) { screenshot_path_ = std::move(path); }
    bool write_pending_screenshot();

    // Records `record` into a command buffer, submits it and waits (setup uploads).
    void submit_once(const std::function<void(VkCommandBuffer)>& record);
    // Waits for every frame in flight (before destroying what they use).
    void wait_idle();

private:
    void create_instance(const WindowOptions& options);
    void pick_device(const WindowOptions& options);
    void create_swapchain();
    void destroy_swapchain();

    struct Frame {
        VkCommandPool pool = VK_NULL_HANDLE;
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        VkFence done = VK_NULL_HANDLE;
        VkSemaphore acquired = VK_NULL_HANDLE;
    };

    GLFWwindow* window_ = nullptr;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    VkSurfaceKHR surface_ = VK_NULL_HANDLE;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    uint32_t family_ = 0;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkPresentModeKHR present_mode_ = VK_PRESENT_MODE_FIFO_KHR;
    VkSurfaceFormatKHR format_{};
    VkRenderPass render_pass_ = VK_NULL_HANDLE;
    VkDescriptorPool descriptor_pool_ = VK_NULL_HANDLE;

    VkSwapchainKHR swapchain_ = VK_NULL_HANDLE;
    VkExtent2D extent_{};
    std::vector<VkImage> images_;
    std::vector<VkImageView> views_;
    std::vector<VkFramebuffer> framebuffers_;
    std::vector<VkSemaphore> rendered_; // per swapchain image: a present waits on it
    bool swapchain_stale_ = false;
    uint32_t swapchains_created_ = 0;

    std::vector<Frame> frames_;
    uint32_t frame_ = 0, image_ = 0;

    // Screenshot: the image copied into a host-visible buffer by the frame.
    std::string screenshot_path_;
    VkBuffer readback_ = VK_NULL_HANDLE;
    VkDeviceMemory readback_memory_ = VK_NULL_HANDLE;
    VkDeviceSize readback_size_ = 0;
    int readback_frame_ = -1; // the frame slot whose fence guards the copy
    VkExtent2D readback_extent_{};
};

} // namespace demo
