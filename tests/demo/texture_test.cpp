// The demo's textures, without a window: a value drawn by vkcnn's colormap
// launch into a device buffer, copied into a texture on the device and
// drawn through the demo's texture pipeline (its vertex layout, push
// constants and nearest sampler) into an offscreen image, gives exactly the
// bytes of the CPU backend's colormap of the same values; host pixels
// uploaded through the staging path come back as they were. Validation and
// synchronization validation on (HostApp).
#include "textures.h"

#include "vkcnn/exec/vulkan_colormap.h"
#include "vkcnn/ops/colormap.h"

#include "support/compare.h"
#include "vulkan/host_app.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

// An offscreen R8G8B8A8 target the texture pipeline draws into, read back.
struct Offscreen {
    HostApp& host;
    uint32_t width, height;
    VkRenderPass pass = VK_NULL_HANDLE;
    VkImage image = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkImageView view = VK_NULL_HANDLE;
    VkFramebuffer framebuffer = VK_NULL_HANDLE;
    VkDescriptorPool pool = VK_NULL_HANDLE;

    Offscreen(HostApp& h, uint32_t w, uint32_t ht) : host(h), width(w), height(ht) {
        VkAttachmentDescription colour{};
        colour.format = VK_FORMAT_R8G8B8A8_UNORM;
        colour.samples = VK_SAMPLE_COUNT_1_BIT;
        colour.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
        colour.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
        colour.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
        colour.finalLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
        VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
        VkSubpassDescription sub{};
        sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
        sub.colorAttachmentCount = 1;
        sub.pColorAttachments = &ref;
        VkSubpassDependency out{};
        out.srcSubpass = 0;
        out.dstSubpass = VK_SUBPASS_EXTERNAL;
        out.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
        out.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
        out.dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
        out.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
        VkRenderPassCreateInfo rpi{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
        rpi.attachmentCount = 1;
        rpi.pAttachments = &colour;
        rpi.subpassCount = 1;
        rpi.pSubpasses = &sub;
        rpi.dependencyCount = 1;
        rpi.pDependencies = &out;
        REQUIRE(vkCreateRenderPass(host.device, &rpi, nullptr, &pass) == VK_SUCCESS);

        VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
        ici.imageType = VK_IMAGE_TYPE_2D;
        ici.format = VK_FORMAT_R8G8B8A8_UNORM;
        ici.extent = {width, height, 1};
        ici.mipLevels = ici.arrayLayers = 1;
        ici.samples = VK_SAMPLE_COUNT_1_BIT;
        ici.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
        REQUIRE(vkCreateImage(host.device, &ici, nullptr, &image) == VK_SUCCESS);
        VkMemoryRequirements req;
        vkGetImageMemoryRequirements(host.device, image, &req);
        VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
        mai.allocationSize = req.size;
        mai.memoryTypeIndex = uint32_t(__builtin_ctz(req.memoryTypeBits));
        REQUIRE(vkAllocateMemory(host.device, &mai, nullptr, &memory) == VK_SUCCESS);
        REQUIRE(vkBindImageMemory(host.device, image, memory, 0) == VK_SUCCESS);
        VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vci.image = image;
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = VK_FORMAT_R8G8B8A8_UNORM;
        vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        REQUIRE(vkCreateImageView(host.device, &vci, nullptr, &view) == VK_SUCCESS);
        VkFramebufferCreateInfo fci{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fci.renderPass = pass;
        fci.attachmentCount = 1;
        fci.pAttachments = &view;
        fci.width = width;
        fci.height = height;
        fci.layers = 1;
        REQUIRE(vkCreateFramebuffer(host.device, &fci, nullptr, &framebuffer) == VK_SUCCESS);
        VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 8};
        VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        dpi.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
        dpi.maxSets = 8;
        dpi.poolSizeCount = 1;
        dpi.pPoolSizes = &size;
        REQUIRE(vkCreateDescriptorPool(host.device, &dpi, nullptr, &pool) == VK_SUCCESS);
    }
    ~Offscreen() {
        vkDestroyDescriptorPool(host.device, pool, nullptr);
        vkDestroyFramebuffer(host.device, framebuffer, nullptr);
        vkDestroyImageView(host.device, view, nullptr);
        vkDestroyImage(host.device, image, nullptr);
        vkFreeMemory(host.device, memory, nullptr);
        vkDestroyRenderPass(host.device, pass, nullptr);
    }
    demo::RenderTarget target() const { return {host.physical, host.device, pass, pool}; }

    // Draws `texture` over the whole target as the ImGui callback would (a
    // quad of ImDrawVerts in display coordinates, white vertex colour),
    // after `before` records the texture's copy; returns the pixels.
    std::vector<uint32_t> draw(Device& device, demo::TextureRenderer& renderer, const demo::Texture& texture,
                               const std::function<void(VkCommandBuffer)>& before) {
        const float w = float(width), h = float(height);
        const ImDrawVert quad[6] = {{{0, 0}, {0, 0}, IM_COL32_WHITE}, {{w, 0}, {1, 0}, IM_COL32_WHITE},
                                    {{w, h}, {1, 1}, IM_COL32_WHITE}, {{0, 0}, {0, 0}, IM_COL32_WHITE},
                                    {{w, h}, {1, 1}, IM_COL32_WHITE}, {{0, h}, {0, 1}, IM_COL32_WHITE}};
        vulkan::Buffer vertices = device.create_buffer(sizeof quad, "test quad");
        device.upload(vertices, std::as_bytes(std::span(quad)));
        vulkan::Buffer readback = device.create_buffer(size_t(width) * height * 4, "test readback");

        VkCommandBuffer cmd = host.begin_commands();
        before(cmd);
        VkClearValue clear{};
        VkRenderPassBeginInfo rbi{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
        rbi.renderPass = pass;
        rbi.framebuffer = framebuffer;
        rbi.renderArea.extent = {width, height};
        rbi.clearValueCount = 1;
        rbi.pClearValues = &clear;
        vkCmdBeginRenderPass(cmd, &rbi, VK_SUBPASS_CONTENTS_INLINE);
        renderer.bind(cmd, texture, ImVec2(0, 0), ImVec2(w, h));
        const VkRect2D scissor{{0, 0}, {width, height}};
        vkCmdSetScissor(cmd, 0, 1, &scissor);
        const VkBuffer vb = vertices.handle();
        const VkDeviceSize offset = 0;
        vkCmdBindVertexBuffers(cmd, 0, 1, &vb, &offset);
        vkCmdDraw(cmd, 6, 1, 0, 0);
        vkCmdEndRenderPass(cmd);
        VkBufferImageCopy region{};
        region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
        region.imageExtent = {width, height, 1};
        vkCmdCopyImageToBuffer(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, readback.handle(), 1, &region);
        // Device::download's own copy reads the buffer after our transfer.
        VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                             0, 1, &mb, 0, nullptr, 0, nullptr);
        host.submit_and_wait(cmd);
        std::vector<uint32_t> pixels(size_t(width) * height);
        device.download(readback, std::span(pixels));
        return pixels;
    }
};

} // namespace

TEST_CASE("demo/textures: a colormap drawn from device memory through the texture pipeline is the CPU colormap") {
    HostApp host;
    if (!(host.family_flags & VK_QUEUE_GRAPHICS_BIT)) {
        MESSAGE("skipped: the compute queue family does not draw");
        return;
    }
    host_messages = 0;
    {
        auto device = host.adopt_validated();
        // Six 5x5 filters of signed values, as the demo draws layer 0's weight.
        const int64_t dims[] = {6, 1, 5, 5};
        const std::vector<float> values = uniform(6 * 25, 17, -0.4f, 0.4f);
        vulkan::Buffer source = device->create_buffer(values.size() * 4, "test filters");
        device->upload(source, std::span(values));
        const ops::ColormapAttrs attrs{.map = ops::Colormap::Diverging, .norm = ops::Normalize::Symmetric, .padding = 1};
        exec::VulkanColormap colormap(*device, source, dims, attrs);
        colormap.submit();
        const ops::ColormapGeometry& g = colormap.geometry();
        std::vector<uint32_t> expected(g.pixels());
        cpu::ThreadPool pool(1);
        ops::colormap_cpu(pool, ops::colormap_shape(dims), attrs, values, expected);

        Offscreen target(host, g.width, g.height);
        demo::TextureRenderer renderer(target.target(), *device);
        demo::Texture texture(renderer, g.width, g.height);
        const std::vector<uint32_t> drawn = target.draw(*device, renderer, texture, [&](VkCommandBuffer cmd) {
            renderer.barrier_before_copies(cmd);
            texture.copy_from(cmd, colormap.image());
        });
        REQUIRE(drawn.size() == expected.size());
        size_t differ = 0;
        for (size_t i = 0; i < drawn.size(); ++i) differ += drawn[i] != expected[i];
        CHECK_MESSAGE(differ == 0, differ, " of ", drawn.size(), " pixels differ from the CPU colormap");

        // Host pixels (a drawn digit, the gallery) through the staging path.
        std::vector<uint32_t> pixels(g.pixels());
        for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint32_t(i * 2654435761u) | 0xFF000000u;
        const std::vector<uint32_t> uploaded = target.draw(*device, renderer, texture, [&](VkCommandBuffer cmd) {
            texture.upload(cmd, 0, pixels);
        });
        CHECK(uploaded == pixels);
        CHECK(device->validation_log().count() == 0);
        colormap.wait();
        REQUIRE(vkDeviceWaitIdle(host.device) == VK_SUCCESS);
    }
    CHECK(host_messages == 0);
}
