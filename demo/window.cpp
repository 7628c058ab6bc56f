// The demo's window and Vulkan objects (see window.h).
#include "window.h"

#include "vulkan_util.h"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
// stb_image_write compiled here, private to this file (Debian libstb-dev is header-only for us).
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace demo {

std::atomic<int> validation_messages{0};

namespace {

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                             VkDebugUtilsMessageTypeFlagsEXT types,
                                             const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
    if (types & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT)) {
        std::fprintf(stderr, "vkcnn-demo: validation: %s\n", data->pMessage);
        ++validation_messages;
    }
    return VK_FALSE;
}

constexpr uint32_t kFramesInFlight = 2;

} // namespace

Window::Window(const WindowOptions& options) {
    glfwSetErrorCallback([](int code, const char* text) { std::fprintf(stderr, "vkcnn-demo: GLFW %d: %s\n", code, text); });
    if (!glfwInit()) throw std::runtime_error("GLFW could not start (no display? run under xvfb-run)");
    if (!glfwVulkanSupported()) throw std::runtime_error("GLFW found no Vulkan loader");
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    glfwWindowHint(GLFW_VISIBLE, options.visible ? GLFW_TRUE : GLFW_FALSE);
    window_ = glfwCreateWindow(options.width, options.height, "vkcnn — watching a CNN learn", nullptr, nullptr);
    if (!window_) throw std::runtime_error("GLFW could not open a window");
    create_instance(options);
    check_vk(glfwCreateWindowSurface(instance_, window_, nullptr, &surface_), "glfwCreateWindowSurface");
    pick_device(options);

    // Present mode: FIFO paces a real display; without vsync the fastest the surface has.
    uint32_t n = 0;
    vkGetPhysicalDeviceSurfacePresentModesKHR(physical_, surface_, &n, nullptr);
    std::vector<VkPresentModeKHR> modes(n);
    vkGetPhysicalDeviceSurfacePresentModesKHR(physical_, surface_, &n, modes.data());
    present_mode_ = VK_PRESENT_MODE_FIFO_KHR;
    if (!options.vsync)
        for (VkPresentModeKHR m : {VK_PRESENT_MODE_MAILBOX_KHR, VK_PRESENT_MODE_IMMEDIATE_KHR})
            if (std::find(modes.begin(), modes.end(), m) != modes.end()) {
                present_mode_ = m;
                break;
            }

    // An 8-bit UNORM format: ImGui's colours are authored for it.
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface_, &n, nullptr);
    std::vector<VkSurfaceFormatKHR> formats(n);
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface_, &n, formats.data());
    format_ = formats.at(0);
    for (const VkSurfaceFormatKHR& f : formats)
        if ((f.format == VK_FORMAT_B8G8R8A8_UNORM || f.format == VK_FORMAT_R8G8B8A8_UNORM) &&
            f.colorSpace == VK_COLOR_SPACE_SRGB_NONLINEAR_KHR) {
            format_ = f;
            break;
        }

    VkAttachmentDescription colour{};
    colour.format = format_.format;
    colour.samples = VK_SAMPLE_COUNT_1_BIT;
    colour.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    colour.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    colour.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    colour.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    colour.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    colour.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription subpass{};
    subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    subpass.colorAttachmentCount = 1;
    subpass.pColorAttachments = &ref;
    // The image acquired (the semaphore waits at colour output) before the clear writes it.
    VkSubpassDependency acquire{};
    acquire.srcSubpass = VK_SUBPASS_EXTERNAL;
    acquire.dstSubpass = 0;
    acquire.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    acquire.dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    acquire.dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    // The draws finished before a screenshot's copy reads the image.
    VkSubpassDependency out{};
    out.srcSubpass = 0;
    out.dstSubpass = VK_SUBPASS_EXTERNAL;
    out.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    out.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    out.dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
    out.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    const VkSubpassDependency deps[] = {acquire, out};
    VkRenderPassCreateInfo rpi{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    rpi.attachmentCount = 1;
    rpi.pAttachments = &colour;
    rpi.subpassCount = 1;
    rpi.pSubpasses = &subpass;
    rpi.dependencyCount = 2;
    rpi.pDependencies = deps;
    check_vk(vkCreateRenderPass(device_, &rpi, nullptr, &render_pass_), "vkCreateRenderPass");

    // ImGui's font plus the demo's textures (textures.h), one combined image sampler each.
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 256};
    VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpi.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    dpi.maxSets = 256;
    dpi.poolSizeCount = 1;
    dpi.pPoolSizes = &size;
    check_vk(vkCreateDescriptorPool(device_, &dpi, nullptr, &descriptor_pool_), "vkCreateDescriptorPool");

    frames_.resize(kFramesInFlight);
    for (Frame& f : frames_) {
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pci.queueFamilyIndex = family_;
        check_vk(vkCreateCommandPool(device_, &pci, nullptr, &f.pool), "vkCreateCommandPool");
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = f.pool;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        check_vk(vkAllocateCommandBuffers(device_, &ai, &f.cmd), "vkAllocateCommandBuffers");
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        fci.flags = VK_FENCE_CREATE_SIGNALED_BIT;
        check_vk(vkCreateFence(device_, &fci, nullptr, &f.done), "vkCreateFence");
        VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        check_vk(vkCreateSemaphore(device_, &sci, nullptr, &f.acquired), "vkCreateSemaphore");
    }
    create_swapchain();
}

void Window::create_instance(const WindowOptions& options) {
    uint32_t n = 0;
    const char** required = glfwGetRequiredInstanceExtensions(&n);
    std::vector<const char*> extensions(required, required + n);
    std::vector<const char*> layers;
    VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    features.enabledValidationFeatureCount = 1;
    features.pEnabledValidationFeatures = &sync;
    if (options.validation) {
        layers.push_back("VK_LAYER_KHRONOS_validation");
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "vkcnn-demo";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pNext = options.validation ? &features : nullptr;
    ici.pApplicationInfo = &app;
    ici.enabledLayerCount = uint32_t(layers.size());
    ici.ppEnabledLayerNames = layers.data();
    ici.enabledExtensionCount = uint32_t(extensions.size());
    ici.ppEnabledExtensionNames = extensions.data();
    const VkResult r = vkCreateInstance(&ici, nullptr, &instance_);
    if (r == VK_ERROR_LAYER_NOT_PRESENT)
        throw std::runtime_error("--validation: VK_LAYER_KHRONOS_validation is not installed (vulkan-validationlayers)");
    check_vk(r, "vkCreateInstance");
    if (options.validation) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
        VkDebugUtilsMessengerCreateInfoEXT mci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
        mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
        mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
        mci.pfnUserCallback = on_validation;
        check_vk(create(instance_, &mci, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
    }
}

void Window::pick_device(const WindowOptions& options) {
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance_, &n, nullptr);
    std::vector<VkPhysicalDevice> all(n);
    vkEnumeratePhysicalDevices(instance_, &n, all.data());
    std::string seen;
    for (uint32_t i = 0; i < n && !physical_; ++i) {
        VkPhysicalDeviceProperties props;
        vkGetPhysicalDeviceProperties(all[i], &props);
        seen += (seen.empty() ? "" : ", ") + std::to_string(i) + ": " + props.deviceName;
        if (options.device) {
            const bool index = !options.device->empty() && std::all_of(options.device->begin(), options.device->end(), ::isdigit);
            if (index ? std::stoul(*options.device) != i : std::string(props.deviceName).find(*options.device) == std::string::npos)
                continue;
        }
        if (props.apiVersion < VK_API_VERSION_1_2) continue; // vkcnn needs timeline semaphores' core version
        uint32_t nq = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(all[i], &nq, nullptr);
        std::vector<VkQueueFamilyProperties> qs(nq);
        vkGetPhysicalDeviceQueueFamilyProperties(all[i], &nq, qs.data());
        for (uint32_t q = 0; q < nq; ++q) {
            VkBool32 present = VK_FALSE;
            vkGetPhysicalDeviceSurfaceSupportKHR(all[i], q, surface_, &present);
            const VkQueueFlags need = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
            if (present && (qs[q].queueFlags & need) == need) {
                physical_ = all[i];
                family_ = q;
                break;
            }
        }
    }
    if (!physical_)
        throw std::runtime_error("no Vulkan device" + (options.device ? " matching '" + *options.device + "'" : std::string()) +
                                 " has a queue that computes, draws and presents to this window (devices: " +
                                 (seen.empty() ? "none" : seen) + ")");

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = family_;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    // vkcnn's step results wait on timeline semaphores where the host gives them.
    VkPhysicalDeviceTimelineSemaphoreFeatures timeline{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES};
    timeline.timelineSemaphore = VK_TRUE;
    const char* swapchain_ext = VK_KHR_SWAPCHAIN_EXTENSION_NAME;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &timeline;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = 1;
    dci.ppEnabledExtensionNames = &swapchain_ext;
    check_vk(vkCreateDevice(physical_, &dci, nullptr, &device_), "vkCreateDevice");
    vkGetDeviceQueue(device_, family_, 0, &queue_);
}

std::string Window::device_name() const {
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical_, &props);
    return props.deviceName;
}

bool Window::minimised() const {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    return w == 0 || h == 0 || glfwGetWindowAttrib(window_, GLFW_ICONIFIED);
}

void Window::create_swapchain() {
    VkSurfaceCapabilitiesKHR caps;
    check_vk(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical_, surface_, &caps), "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
    if (caps.currentExtent.width != UINT32_MAX) {
        extent_ = caps.currentExtent;
    } else {
        int w = 0, h = 0;
        glfwGetFramebufferSize(window_, &w, &h);
        extent_ = {std::clamp(uint32_t(w), caps.minImageExtent.width, caps.maxImageExtent.width),
                   std::clamp(uint32_t(h), caps.minImageExtent.height, caps.maxImageExtent.height)};
    }
    if (extent_.width == 0 || extent_.height == 0) return; // minimised: recreated when restored
    uint32_t count = std::max(caps.minImageCount + 1, 2u);
    if (caps.maxImageCount) count = std::min(count, caps.maxImageCount);
    VkSwapchainCreateInfoKHR sci{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    sci.surface = surface_;
    sci.minImageCount = count;
    sci.imageFormat = format_.format;
    sci.imageColorSpace = format_.colorSpace;
    sci.imageExtent = extent_;
    sci.imageArrayLayers = 1;
    // TRANSFER_SRC: a screenshot copies the image out.
    sci.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT |
                     (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    sci.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    sci.preTransform = caps.currentTransform;
    sci.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
    if (!(caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR))
        sci.compositeAlpha = VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR;
    sci.presentMode = present_mode_;
    sci.clipped = VK_TRUE;
    check_vk(vkCreateSwapchainKHR(device_, &sci, nullptr, &swapchain_), "vkCreateSwapchainKHR");
    ++swapchains_created_;

    vkGetSwapchainImagesKHR(device_, swapchain_, &count, nullptr);
    images_.resize(count);
    vkGetSwapchainImagesKHR(device_, swapchain_, &count, images_.data());
    for (VkImage image : images_) {
        VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vci.image = image;
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = format_.format;
        vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView view;
        check_vk(vkCreateImageView(device_, &vci, nullptr, &view), "vkCreateImageView");
        views_.push_back(view);
        VkFramebufferCreateInfo fci{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fci.renderPass = render_pass_;
        fci.attachmentCount = 1;
        fci.pAttachments = &view;
        fci.width = extent_.width;
        fci.height = extent_.height;
        fci.layers = 1;
        VkFramebuffer fb;
        check_vk(vkCreateFramebuffer(device_, &fci, nullptr, &fb), "vkCreateFramebuffer");
        framebuffers_.push_back(fb);
        VkSemaphoreCreateInfo sem{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        VkSemaphore s;
        check_vk(vkCreateSemaphore(device_, &sem, nullptr, &s), "vkCreateSemaphore");
        rendered_.push_back(s);
    }
    swapchain_stale_ = false;
}

void Window::destroy_swapchain() {
    // The presents wait on rendered_ with no fence to say when they are done:
    // only an idle queue does (vkcnn's work on it included; a resize is rare).
    wait_idle();
    if (queue_) vkQueueWaitIdle(queue_);
    for (VkFramebuffer fb : framebuffers_) vkDestroyFramebuffer(device_, fb, nullptr);
    for (VkImageView v : views_) vkDestroyImageView(device_, v, nullptr);
    for (VkSemaphore s : rendered_) vkDestroySemaphore(device_, s, nullptr);
    framebuffers_.clear();
    views_.clear();
    rendered_.clear();
    images_.clear();
    if (swapchain_) vkDestroySwapchainKHR(device_, swapchain_, nullptr);
    swapchain_ = VK_NULL_HANDLE;
}

void Window::wait_idle() {
    // Our own frames only: vkcnn's submissions are vkcnn's to wait for.
    for (Frame& f : frames_) vkWaitForFences(device_, 1, &f.done, VK_TRUE, UINT64_MAX);
}

void Window::submit_once(const std::function<void(VkCommandBuffer)>& record) {
    Frame& f = frames_[frame_];
    vkWaitForFences(device_, 1, &f.done, VK_TRUE, UINT64_MAX);
    vkResetFences(device_, 1, &f.done);
    vkResetCommandPool(device_, f.pool, 0);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check_vk(vkBeginCommandBuffer(f.cmd, &bi), "vkBeginCommandBuffer");
    record(f.cmd);
    check_vk(vkEndCommandBuffer(f.cmd), "vkEndCommandBuffer");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &f.cmd;
    check_vk(vkQueueSubmit(queue_, 1, &si, f.done), "vkQueueSubmit");
    vkWaitForFences(device_, 1, &f.done, VK_TRUE, UINT64_MAX);
}

std::optional<VkCommandBuffer> Window::begin_frame() {
    if (minimised()) return std::nullopt;
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    if (swapchain_stale_ || !swapchain_ || uint32_t(w) != extent_.width || uint32_t(h) != extent_.height) {
        destroy_swapchain();
        create_swapchain();
        if (!swapchain_) return std::nullopt;
    }
    Frame& f = frames_[frame_];
    vkWaitForFences(device_, 1, &f.done, VK_TRUE, UINT64_MAX);
    const VkResult r = vkAcquireNextImageKHR(device_, swapchain_, UINT64_MAX, f.acquired, VK_NULL_HANDLE, &image_);
    if (r == VK_ERROR_OUT_OF_DATE_KHR) {
        swapchain_stale_ = true;
        return std::nullopt;
    }
    if (r != VK_SUBOPTIMAL_KHR) check_vk(r, "vkAcquireNextImageKHR");
    vkResetFences(device_, 1, &f.done);
    vkResetCommandPool(device_, f.pool, 0);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check_vk(vkBeginCommandBuffer(f.cmd, &bi), "vkBeginCommandBuffer");
    return f.cmd;
}

void Window::begin_render_pass(VkCommandBuffer cmd) {
    VkClearValue clear{};
    clear.color = {{0.09f, 0.10f, 0.12f, 1.0f}};
    VkRenderPassBeginInfo rbi{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    rbi.renderPass = render_pass_;
    rbi.framebuffer = framebuffers_[image_];
    rbi.renderArea.extent = extent_;
    rbi.clearValueCount = 1;
    rbi.pClearValues = &clear;
    vkCmdBeginRenderPass(cmd, &rbi, VK_SUBPASS_CONTENTS_INLINE);
}

void Window::end_frame(VkCommandBuffer cmd) {
    vkCmdEndRenderPass(cmd);
    if (!screenshot_path_.empty() && readback_frame_ < 0) {
        // The image is in PRESENT_SRC (the render pass's final layout): to
        // TRANSFER_SRC, copied into the readback buffer, and back.
        const VkDeviceSize bytes = VkDeviceSize(extent_.width) * extent_.height * 4;
        if (bytes > readback_size_) {
            if (readback_) vkDestroyBuffer(device_, readback_, nullptr);
            if (readback_memory_) vkFreeMemory(device_, readback_memory_, nullptr);
            VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
            bci.size = bytes;
            bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
            check_vk(vkCreateBuffer(device_, &bci, nullptr, &readback_), "vkCreateBuffer");
            VkMemoryRequirements req;
            vkGetBufferMemoryRequirements(device_, readback_, &req);
            const std::optional<uint32_t> type = memory_type(
                physical_, req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
            if (!type) throw std::runtime_error("screenshot: no host-visible coherent memory");
            VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
            mai.allocationSize = req.size;
            mai.memoryTypeIndex = *type;
            check_vk(vkAllocateMemory(device_, &mai, nullptr, &readback_memory_), "vkAllocateMemory");
            check_vk(vkBindBufferMemory(device_, readback_, readback_memory_, 0), "vkBindBufferMemory");
            readback_size_ = bytes;
        }
        VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
        b.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
        b.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
        b.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
        b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
        b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        b.image = images_[image_];
        b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0,
                             nullptr, 0, nullptr, 1, &b);
        VkBufferImageCopy region{};
        region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
        region.imageExtent = {extent_.width, extent_.height, 1};
        vkCmdCopyImageToBuffer(cmd, images_[image_], VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, readback_, 1, &region);
        VkBufferMemoryBarrier host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
        host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        host.srcQueueFamilyIndex = host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        host.buffer = readback_;
        host.size = VK_WHOLE_SIZE;
        b.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
        b.dstAccessMask = 0;
        b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
        b.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &host, 0,
                             nullptr);
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0,
                             nullptr, 1, &b);
        readback_frame_ = int(frame_);
        readback_extent_ = extent_;
    }
    check_vk(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");

    Frame& f = frames_[frame_];
    const VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.waitSemaphoreCount = 1;
    si.pWaitSemaphores = &f.acquired;
    si.pWaitDstStageMask = &wait_stage;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    si.signalSemaphoreCount = 1;
    si.pSignalSemaphores = &rendered_[image_];
    check_vk(vkQueueSubmit(queue_, 1, &si, f.done), "vkQueueSubmit");
    VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    pi.waitSemaphoreCount = 1;
    pi.pWaitSemaphores = &rendered_[image_];
    pi.swapchainCount = 1;
    pi.pSwapchains = &swapchain_;
    pi.pImageIndices = &image_;
    const VkResult r = vkQueuePresentKHR(queue_, &pi);
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR)
        swapchain_stale_ = true;
    else
        check_vk(r, "vkQueuePresentKHR");
    frame_ = (frame_ + 1) % uint32_t(frames_.size());
}

bool Window::write_pending_screenshot() {
    if (readback_frame_ < 0) return false;
    Frame& f = frames_[size_t(readback_frame_)];
    vkWaitForFences(device_, 1, &f.done, VK_TRUE, UINT64_MAX);
    void* data = nullptr;
    check_vk(vkMapMemory(device_, readback_memory_, 0, VK_WHOLE_SIZE, 0, &data), "vkMapMemory");
    const uint32_t w = readback_extent_.width, h = readback_extent_.height;
    std::vector<uint8_t> rgba(size_t(w) * h * 4);
    std::memcpy(rgba.data(), data, rgba.size());
    vkUnmapMemory(device_, readback_memory_);
    const bool bgra = format_.format == VK_FORMAT_B8G8R8A8_UNORM || format_.format == VK_FORMAT_B8G8R8A8_SRGB;
    for (size_t p = 0; p < rgba.size(); p += 4) {
        if (bgra) std::swap(rgba[p], rgba[p + 2]);
        rgba[p + 3] = 255;
    }
    const bool ok = stbi_write_png(screenshot_path_.c_str(), int(w), int(h), 4, rgba.data(), int(w) * 4) != 0;
    if (!ok) throw std::runtime_error("could not write the screenshot " + screenshot_path_);
    std::printf("vkcnn-demo: screenshot %s (%u x %u)\n", screenshot_path_.c_str(), w, h);
    screenshot_path_.clear();
    readback_frame_ = -1;
    return true;
}

Window::~Window() {
    if (device_) {
        wait_idle();
        destroy_swapchain();
        if (readback_) vkDestroyBuffer(device_, readback_, nullptr);
        if (readback_memory_) vkFreeMemory(device_, readback_memory_, nullptr);
        for (Frame& f : frames_) {
            vkDestroySemaphore(device_, f.acquired, nullptr);
            vkDestroyFence(device_, f.done, nullptr);
            vkDestroyCommandPool(device_, f.pool, nullptr);
        }
        vkDestroyDescriptorPool(device_, descriptor_pool_, nullptr);
        vkDestroyRenderPass(device_, render_pass_, nullptr);
        vkDestroyDevice(device_, nullptr);
    }
    if (surface_) vkDestroySurfaceKHR(instance_, surface_, nullptr);
    if (messenger_)
        reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"))(instance_, messenger_, nullptr);
    if (instance_) vkDestroyInstance(instance_, nullptr);
    if (window_) glfwDestroyWindow(window_);
    glfwTerminate();
}

} // namespace demo
