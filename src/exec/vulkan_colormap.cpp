// Values drawn as RGBA8 images on the device (see vulkan_colormap.h).
#include "vkcnn/exec/vulkan_colormap.h"

#include "vkcnn/core/error.h"
#include "vkcnn/vulkan/device.h"

namespace vkcnn::exec {

VulkanColormap::VulkanColormap(Device& device, vulkan::BufferRange source, std::span<const int64_t> dims,
                               const ops::ColormapAttrs& attrs)
    : device_(device) {
    const ops::ColormapShape shape = ops::colormap_shape(dims);
    geometry_ = ops::colormap_geometry(shape, attrs);
    check(source.buffer != nullptr && source.end() - source.offset == shape.size() * 4, "VulkanColormap: the source holds ",
          source.buffer ? (source.end() - source.offset) / 4 : 0, " floats, the shape ", shape.size());
    temp_ = device.create_buffer(ops::colormap_temp_bytes(shape, attrs), "colormap ranges");
    image_ = device.create_buffer(geometry_.pixels() * 4, "colormap image");
    std::vector<vulkan::StepDispatch> dispatches;
    for (ops::ColormapKernel& k : ops::colormap_launches(shape, attrs)) {
        vulkan::StepDispatch d{std::move(k.launch), {}, "colormap", 0};
        for (ops::ColormapArg a : k.args)
            d.args.push_back(a == ops::ColormapArg::X ? source : a == ops::ColormapArg::Temp ? vulkan::BufferRange(temp_) : image());
        dispatches.push_back(std::move(d));
    }
    draw_ = std::make_unique<vulkan::RecordedStep>(device, std::move(dispatches));
}

VulkanColormap::~VulkanColormap() {
    try {
        draw_->wait(0);
    } catch (const Error&) { // a lost device has nothing left to wait for
    }
}

void VulkanColormap::submit(const SubmitSync& sync) {
    draw_->wait(0);
    draw_->submit(0, sync);
}

void VulkanColormap::wait() { draw_->wait(0); }

std::vector<uint32_t> VulkanColormap::read() {
    wait();
    std::vector<uint32_t> pixels(geometry_.pixels());
    device_.download(image_, std::span(pixels));
    return pixels;
}

} // namespace vkcnn::exec
