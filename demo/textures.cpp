// Device-filled textures and the pipeline that draws them in ImGui (see textures.h).
#include "textures.h"

#include "vulkan_util.h"

#include <vkcnn/ops/colormap.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace demo {

namespace {

const uint32_t kVertexShader[] = {
#include "texture.vert.inc"
};
const uint32_t kFragmentShader[] = {
#include "texture.frag.inc"
};

VkShaderModule shader_module(VkDevice device, std::span<const uint32_t> words) {
    VkShaderModuleCreateInfo ci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    ci.codeSize = words.size_bytes();
    ci.pCode = words.data();
    VkShaderModule m;
    check_vk(vkCreateShaderModule(device, &ci, nullptr, &m), "vkCreateShaderModule");
    return m;
}

} // namespace

uint32_t grey_pixel(float v) {
    const auto g = uint8_t(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
    return vkcnn::ops::colormap_pack({g, g, g});
}

TextureRenderer::TextureRenderer(const RenderTarget& target, vkcnn::Device& device) : target_(target), device_(device) {
    const VkDevice dev = target.device;
    VkSamplerCreateInfo si{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    si.magFilter = si.minFilter = VK_FILTER_NEAREST;
    si.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
    si.addressModeU = si.addressModeV = si.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
    si.maxLod = 0;
    check_vk(vkCreateSampler(dev, &si, nullptr, &sampler_), "vkCreateSampler");

    VkDescriptorSetLayoutBinding binding{};
    binding.descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    binding.descriptorCount = 1;
    binding.stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
    binding.pImmutableSamplers = &sampler_;
    VkDescriptorSetLayoutCreateInfo dli{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dli.bindingCount = 1;
    dli.pBindings = &binding;
    check_vk(vkCreateDescriptorSetLayout(dev, &dli, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");
    VkPushConstantRange push{VK_SHADER_STAGE_VERTEX_BIT, 0, 4 * sizeof(float)};
    VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &set_layout_;
    pli.pushConstantRangeCount = 1;
    pli.pPushConstantRanges = &push;
    check_vk(vkCreatePipelineLayout(dev, &pli, nullptr, &layout_), "vkCreatePipelineLayout");

    const VkShaderModule vs = shader_module(dev, kVertexShader), fs = shader_module(dev, kFragmentShader);
    VkPipelineShaderStageCreateInfo stages[2]{{VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO},
                                              {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO}};
    stages[0].stage = VK_SHADER_STAGE_VERTEX_BIT;
    stages[0].module = vs;
    stages[0].pName = "main";
    stages[1].stage = VK_SHADER_STAGE_FRAGMENT_BIT;
    stages[1].module = fs;
    stages[1].pName = "main";
    // ImDrawVert: vec2 pos, vec2 uv, uint32 colour (R in the low byte).
    VkVertexInputBindingDescription vb{0, sizeof(ImDrawVert), VK_VERTEX_INPUT_RATE_VERTEX};
    VkVertexInputAttributeDescription va[3] = {
        {0, 0, VK_FORMAT_R32G32_SFLOAT, uint32_t(offsetof(ImDrawVert, pos))},
        {1, 0, VK_FORMAT_R32G32_SFLOAT, uint32_t(offsetof(ImDrawVert, uv))},
        {2, 0, VK_FORMAT_R8G8B8A8_UNORM, uint32_t(offsetof(ImDrawVert, col))},
    };
    VkPipelineVertexInputStateCreateInfo vi{VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
    vi.vertexBindingDescriptionCount = 1;
    vi.pVertexBindingDescriptions = &vb;
    vi.vertexAttributeDescriptionCount = 3;
    vi.pVertexAttributeDescriptions = va;
    VkPipelineInputAssemblyStateCreateInfo ia{VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
    ia.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST;
    VkPipelineViewportStateCreateInfo vp{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
    vp.viewportCount = vp.scissorCount = 1;
    VkPipelineRasterizationStateCreateInfo rs{VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
    rs.polygonMode = VK_POLYGON_MODE_FILL;
    rs.cullMode = VK_CULL_MODE_NONE;
    rs.frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE;
    rs.lineWidth = 1.0f;
    VkPipelineMultisampleStateCreateInfo ms{VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
    ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
    // Opaque: every demo texture's alpha is 255 (the colormap's, the host's
    // grey), and blending is what a software rasteriser pays most for.
    VkPipelineColorBlendAttachmentState blend{};
    blend.colorWriteMask = 0xF;
    VkPipelineColorBlendStateCreateInfo cb{VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
    cb.attachmentCount = 1;
    cb.pAttachments = &blend;
    const VkDynamicState dynamic[] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineDynamicStateCreateInfo ds{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
    ds.dynamicStateCount = 2;
    ds.pDynamicStates = dynamic;
    VkPipelineDepthStencilStateCreateInfo depth{VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO};
    VkGraphicsPipelineCreateInfo pci{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
    pci.stageCount = 2;
    pci.pStages = stages;
    pci.pVertexInputState = &vi;
    pci.pInputAssemblyState = &ia;
    pci.pViewportState = &vp;
    pci.pRasterizationState = &rs;
    pci.pMultisampleState = &ms;
    pci.pDepthStencilState = &depth;
    pci.pColorBlendState = &cb;
    pci.pDynamicState = &ds;
    pci.layout = layout_;
    pci.renderPass = target.render_pass;
    const VkResult r = vkCreateGraphicsPipelines(dev, VK_NULL_HANDLE, 1, &pci, nullptr, &pipeline_);
    vkDestroyShaderModule(dev, vs, nullptr);
    vkDestroyShaderModule(dev, fs, nullptr);
    check_vk(r, "vkCreateGraphicsPipelines");
}

TextureRenderer::~TextureRenderer() {
    const VkDevice dev = target_.device;
    vkDestroyPipeline(dev, pipeline_, nullptr);
    vkDestroyPipelineLayout(dev, layout_, nullptr);
    vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
    vkDestroySampler(dev, sampler_, nullptr);
}

void TextureRenderer::barrier_before_copies(VkCommandBuffer cmd) const {
    // vkcnn's launches write with compute shaders and copies; host writes
    // are made visible by the submission itself.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void TextureRenderer::bind(VkCommandBuffer cmd, const Texture& texture, ImVec2 display_pos, ImVec2 display_size,
                           ImVec2 framebuffer_scale) const {
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline_);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, layout_, 0, 1, &texture.set_, 0, nullptr);
    const float scale[2] = {2.0f / display_size.x, 2.0f / display_size.y};
    const float frame[4] = {scale[0], scale[1], -1.0f - display_pos.x * scale[0], -1.0f - display_pos.y * scale[1]};
    vkCmdPushConstants(cmd, layout_, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof(frame), frame);
    const VkViewport viewport{0, 0, display_size.x * framebuffer_scale.x, display_size.y * framebuffer_scale.y, 0, 1};
    vkCmdSetViewport(cmd, 0, 1, &viewport);
}

void TextureRenderer::bind_callback(const ImDrawList*, const ImDrawCmd* command) {
    const auto* texture = static_cast<const Texture*>(command->UserCallbackData);
    const TextureRenderer& r = texture->renderer_;
    const ImDrawData* data = ImGui::GetDrawData();
    r.bind(r.cmd_, *texture, data->DisplayPos, data->DisplaySize, data->FramebufferScale);
}

Texture::Texture(TextureRenderer& renderer, uint32_t width, uint32_t height)
    : renderer_(renderer), width_(width), height_(height) {
    const VkDevice dev = renderer.target().device;
    VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    ici.imageType = VK_IMAGE_TYPE_2D;
    ici.format = VK_FORMAT_R8G8B8A8_UNORM; // the colormap's byte order
    ici.extent = {width, height, 1};
    ici.mipLevels = ici.arrayLayers = 1;
    ici.samples = VK_SAMPLE_COUNT_1_BIT;
    ici.tiling = VK_IMAGE_TILING_OPTIMAL;
    ici.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
    ici.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    ici.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    check_vk(vkCreateImage(dev, &ici, nullptr, &image_), "vkCreateImage");
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(dev, image_, &req);
    // Device-local where there is such a type, else any the image allows (every device has one).
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = memory_type(renderer.target().physical_device, req.memoryTypeBits,
                                      VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
                              .value_or(uint32_t(__builtin_ctz(req.memoryTypeBits)));
    check_vk(vkAllocateMemory(dev, &mai, nullptr, &memory_), "vkAllocateMemory");
    check_vk(vkBindImageMemory(dev, image_, memory_, 0), "vkBindImageMemory");
    VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    vci.image = image_;
    vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
    vci.format = VK_FORMAT_R8G8B8A8_UNORM;
    vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    check_vk(vkCreateImageView(dev, &vci, nullptr, &view_), "vkCreateImageView");
    VkDescriptorSetAllocateInfo dai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    dai.descriptorPool = renderer.target().descriptor_pool;
    dai.descriptorSetCount = 1;
    dai.pSetLayouts = &renderer.set_layout_;
    check_vk(vkAllocateDescriptorSets(dev, &dai, &set_), "vkAllocateDescriptorSets (too many textures?)");
    VkDescriptorImageInfo info{VK_NULL_HANDLE, view_, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL};
    VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w.dstSet = set_;
    w.descriptorCount = 1;
    w.descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    w.pImageInfo = &info;
    vkUpdateDescriptorSets(dev, 1, &w, 0, nullptr);
}

Texture::~Texture() {
    // The owner waited for the frames that drew it (Window::wait_idle).
    const VkDevice dev = renderer_.target().device;
    vkFreeDescriptorSets(dev, renderer_.target().descriptor_pool, 1, &set_);
    vkDestroyImageView(dev, view_, nullptr);
    vkDestroyImage(dev, image_, nullptr);
    vkFreeMemory(dev, memory_, nullptr);
}

void Texture::transition(VkCommandBuffer cmd, VkImageLayout from, VkImageLayout to, VkAccessFlags src_access,
                         VkAccessFlags dst_access, VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage) {
    VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    b.srcAccessMask = src_access;
    b.dstAccessMask = dst_access;
    b.oldLayout = from;
    b.newLayout = to;
    b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    b.image = image_;
    b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, nullptr, 0, nullptr, 1, &b);
    layout_ = to;
}

void Texture::copy_from(VkCommandBuffer cmd, vkcnn::vulkan::BufferRange source) {
    const VkDeviceSize bytes = VkDeviceSize(width_) * height_ * 4;
    if (!source.buffer || source.end() - source.offset < bytes)
        throw std::runtime_error("Texture::copy_from: the source holds fewer than " + std::to_string(bytes) + " bytes");
    // Earlier frames' sampling done (write-after-read), contents discarded.
    transition(cmd, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0, VK_ACCESS_TRANSFER_WRITE_BIT,
               VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkBufferImageCopy region{};
    region.bufferOffset = source.offset;
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {width_, height_, 1};
    vkCmdCopyBufferToImage(cmd, source.buffer->handle(), image_, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
    transition(cmd, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL,
               VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_SHADER_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
               VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT);
}

void Texture::upload(VkCommandBuffer cmd, uint32_t frame_slot, std::span<const uint32_t> pixels) {
    if (pixels.size() != size_t(width_) * height_)
        throw std::runtime_error("Texture::upload: " + std::to_string(pixels.size()) + " pixels for " +
                                 std::to_string(width_) + " x " + std::to_string(height_));
    vkcnn::vulkan::Buffer& staging = staging_.at(frame_slot);
    if (!staging)
        staging = renderer_.device().create_buffer(pixels.size_bytes(), "demo texture staging",
                                                   vkcnn::vulkan::MemoryUsage::Upload);
    renderer_.device().upload(staging, pixels);
    copy_from(cmd, staging);
}

void Texture::image(ImVec2 size, ImU32 tint) const {
    ImDrawList* list = ImGui::GetWindowDrawList();
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::Dummy(size);
    draw(list, p0, ImVec2(p0.x + size.x, p0.y + size.y), tint);
}

void Texture::draw(ImDrawList* list, ImVec2 p0, ImVec2 p1, ImU32 tint, ImVec2 uv0, ImVec2 uv1) const {
    if (!ready()) {
        list->AddRectFilled(p0, p1, IM_COL32(40, 40, 48, 255));
        return;
    }
    list->AddCallback(&TextureRenderer::bind_callback, const_cast<Texture*>(this));
    // A texture id of our own keeps ImGui from merging this quad with font draws.
    list->AddImage(reinterpret_cast<ImTextureID>(const_cast<Texture*>(this)), p0, p1, uv0, uv1, tint);
    list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

} // namespace demo
