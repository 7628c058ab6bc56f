// Inside the network for one image (see inspector.h).
#include "inspector.h"

#include <vkcnn/core/error.h>
#include <vkcnn/exec/vulkan_state.h>
#include <vkcnn/ops/colormap.h>
#include <vkcnn/viz/attribution.h>

#include <algorithm>
#include <cmath>

namespace demo {

using namespace vkcnn;

namespace {

// Signed values, 0 the middle colour, each channel its own range: what a
// layer's maps and a layer's filters look like side by side.
constexpr ops::ColormapAttrs kMaps{.map = ops::Colormap::Diverging, .norm = ops::Normalize::Symmetric, .padding = 1};

std::vector<int64_t> dims_of(const Shape& s) {
    // (1, F) of a linear layer: one tile of a row of F values.
    if (s.dims.size() == 2) return {1, s.dims[1]};
    return s.dims;
}

} // namespace

Inspector::Inspector(nn::Model& model, TextureRenderer& renderer) : model_(model), renderer_(renderer) {
    const auto& [c, h, w] = model.options().input;
    cam_layer_ = viz::default_cam_layer(model);
    nn::ProgramOptions po{.batch = 1, .keep = {"input"}};
    for (const nn::LayerInfo& l : model.layers()) po.keep.push_back(l.path);
    po.gradient = nn::GradientOptions{.of = "", .wrt = {"input"}};
    if (!cam_layer_.empty()) po.gradient->wrt.push_back(cam_layer_);
    program_ = model.program(po);

    std::vector<std::string> names = po.keep;
    names.push_back("grad:input");
    if (!cam_layer_.empty()) names.push_back("grad:" + cam_layer_);
    snapshot_ = program_->snapshot(names);
    auto* device_snapshot = dynamic_cast<exec::VulkanSnapshot*>(snapshot_.get());
    check(device_snapshot != nullptr, "the demo's inspector needs the Vulkan backend");

    Device& device = renderer.device();
    for (const nn::LayerInfo& l : model.layers()) {
        Layer layer{l.path, l.shape, nullptr, nullptr};
        const std::vector<int64_t> dims = dims_of(l.shape);
        layer.colormap = std::make_unique<exec::VulkanColormap>(device, device_snapshot->buffer_of(l.path), dims, kMaps);
        const ops::ColormapGeometry& g = layer.colormap->geometry();
        layer.texture = std::make_unique<Texture>(renderer, g.width, g.height);
        layers_.push_back(std::move(layer));
    }
    // The first layer's filters, straight from the live parameter.
    auto& state = dynamic_cast<exec::VulkanState&>(model.state());
    for (const nn::StateSpec& spec : model.parameters())
        if (spec.shape.dims.size() == 4) {
            filters_.path = spec.name;
            filters_.shape = spec.shape;
            filters_.colormap = std::make_unique<exec::VulkanColormap>(device, state.range_of(spec.name),
                                                                       spec.shape.dims, kMaps);
            const ops::ColormapGeometry& g = filters_.colormap->geometry();
            filters_.texture = std::make_unique<Texture>(renderer, g.width, g.height);
            break;
        }
    input_ = std::make_unique<Texture>(renderer, uint32_t(w), uint32_t(h));
    saliency_ = std::make_unique<Texture>(renderer, uint32_t(w), uint32_t(h));
    grad_cam_ = std::make_unique<Texture>(renderer, uint32_t(w), uint32_t(h));
    image_.assign(size_t(c * h * w), 0.0f);
}

Inspector::~Inspector() = default;

void Inspector::set_image(std::span<const float> image) {
    check(image.size() == image_.size(), "Inspector: an image of ", image.size(), " values, the model takes ", image_.size());
    image_.assign(image.begin(), image.end());
}

void Inspector::refresh() {
    const auto& [c, h, w] = model_.options().input;
    const size_t pixels = size_t(h * w);
    program_->set_input(image_);
    // The seed is chosen before the run: the class asked for, else the last
    // prediction; a run that predicts otherwise is run once more.
    for (int pass = 0; pass < 2; ++pass) {
        explained_ = explain.value_or(predicted_);
        program_->seed_one_hot(std::span<const int32_t>(&explained_, 1));
        program_->run();
        const std::vector<float> logits = program_->output();
        predicted_ = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
        probabilities_ = viz::probabilities(logits);
        if (explain || explained_ == predicted_) break;
    }

    // On the device: the snapshot of every kept value, then each drawn.
    snapshot_->take();
    for (Layer& l : layers_) l.colormap->submit();
    if (filters_.colormap) filters_.colormap->submit();
    device_drawn_ = true;

    // On the host: the input as grey, saliency and Grad-CAM as overlays.
    const std::vector<float> input = snapshot_->read("input");
    const std::vector<float> grad = snapshot_->read("grad:input");
    std::vector<float> lo_hi = input; // displayed min-max scaled: the normalisation undone
    const auto [mn, mx] = std::minmax_element(lo_hi.begin(), lo_hi.end());
    const float lo = *mn, range = std::max(*mx - *mn, 1e-6f);
    input_pixels_.resize(pixels);
    for (size_t p = 0; p < pixels; ++p) {
        float v = 0;
        for (int64_t ch = 0; ch < c; ++ch) v += (input[size_t(ch) * pixels + p] - lo) / range / float(c);
        input_pixels_[p] = grey_pixel(v);
    }
    const std::vector<float> saliency = viz::max_abs_over_channels(grad, c);
    const int64_t dims[] = {h, w};
    const ops::ColormapAttrs sequential{.map = ops::Colormap::Sequential, .norm = ops::Normalize::MinMax};
    saliency_pixels_.resize(pixels);
    ops::colormap_reference(ops::colormap_shape(dims), sequential, saliency, saliency_pixels_);

    std::vector<float> cam(pixels, 0.0f);
    if (!cam_layer_.empty()) {
        const viz::GradCam g = viz::grad_cam(snapshot_->read(cam_layer_), snapshot_->read("grad:" + cam_layer_),
                                             program_->shape(cam_layer_), h, w);
        cam = g.map;
        cam_peak_ = g.peak;
    }
    // Grad-CAM over the input: the heat map's colour, mixed by its strength.
    std::vector<uint32_t> heat(pixels);
    ops::colormap_reference(ops::colormap_shape(dims), sequential, cam, heat);
    const float cam_max = std::max(*std::max_element(cam.begin(), cam.end()), 1e-12f);
    cam_pixels_.resize(pixels);
    for (size_t p = 0; p < pixels; ++p) {
        const float t = 0.25f + 0.75f * cam[p] / cam_max;
        uint32_t out = 0;
        for (int byte = 0; byte < 3; ++byte) {
            const float base = float(input_pixels_[p] >> (8 * byte) & 255), hot = float(heat[p] >> (8 * byte) & 255);
            out |= uint32_t(std::lround(base * (1 - t) + hot * t)) << (8 * byte);
        }
        cam_pixels_[p] = out | 0xFF000000u;
    }
    host_drawn_ = true;
    ++refreshes_;
}

void Inspector::record_uploads(VkCommandBuffer cmd, uint32_t frame_slot) {
    if (device_drawn_) {
        for (Layer& l : layers_) l.texture->copy_from(cmd, l.colormap->image());
        if (filters_.colormap) filters_.texture->copy_from(cmd, filters_.colormap->image());
        device_drawn_ = false;
    }
    if (host_drawn_) {
        input_->upload(cmd, frame_slot, input_pixels_);
        saliency_->upload(cmd, frame_slot, saliency_pixels_);
        grad_cam_->upload(cmd, frame_slot, cam_pixels_);
        host_drawn_ = false;
    }
}

} // namespace demo
