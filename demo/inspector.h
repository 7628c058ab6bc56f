// Inside the network for one image (a test digit or the user's drawing), on
// the live weights: a forward + backward program of the model (batch 1,
// every layer kept, the gradient of a class score w.r.t. the input and the
// last spatial layer) run between training steps, its values snapshotted
// and drawn by vkcnn's colormap launch into device buffers that the frame
// copies into textures — no activation or filter crosses to the host.
// Saliency and Grad-CAM are small and computed on the host from the
// gradients, by vkcnn/viz/attribution.h.
#pragma once

#include "textures.h"

#include <vkcnn/exec/vulkan_colormap.h>
#include <vkcnn/exec/vulkan_program.h>
#include <vkcnn/nn/model.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace demo {

class Inspector {
public:
    Inspector(vkcnn::nn::Model& model, TextureRenderer& renderer);
    ~Inspector();

    // The image (C x H x W, normalised as the training data) to look at.
    void set_image(std::span<const float> image);
    // The class whose score is explained; nullopt: the predicted one.
    std::optional<int32_t> explain;
    // Runs the program on the live weights and redraws everything (between
    // training steps: it waits for its own run).
    void refresh();
    // In the frame, before the render pass: textures take the new drawings.
    void record_uploads(VkCommandBuffer cmd, uint32_t frame_slot);

    struct Layer {
        std::string path;
        vkcnn::Shape shape; // batch 1
        std::unique_ptr<vkcnn::exec::VulkanColormap> colormap;
        std::unique_ptr<Texture> texture;
    };
    const std::vector<Layer>& layers() const { return layers_; }
    const Layer& filters() const { return filters_; }
    const Texture& input() const { return *input_; }
    const Texture& saliency() const { return *saliency_; }
    const Texture& grad_cam() const { return *grad_cam_; }
    const std::string& cam_layer() const { return cam_layer_; }
    // The largest value of the map before scaling; 0: no positive evidence for the class at that layer.
    float cam_peak() const { return cam_peak_; }
    const std::vector<float>& probabilities() const { return probabilities_; }
    int32_t predicted() const { return predicted_; }
    int32_t explained() const { return explained_; }
    uint64_t refreshes() const { return refreshes_; }

private:
    vkcnn::nn::Model& model_;
    TextureRenderer& renderer_;
    std::unique_ptr<vkcnn::nn::ModelProgram> program_;
    std::unique_ptr<vkcnn::exec::Snapshot> snapshot_;
    std::vector<Layer> layers_;
    Layer filters_;
    std::string cam_layer_;
    std::vector<float> image_;
    std::unique_ptr<Texture> input_, saliency_, grad_cam_;
    std::vector<uint32_t> input_pixels_, saliency_pixels_, cam_pixels_;
    bool device_drawn_ = false, host_drawn_ = false;
    std::vector<float> probabilities_;
    int32_t predicted_ = 0, explained_ = 0;
    uint64_t refreshes_ = 0;
    float cam_peak_ = 0;
};

} // namespace demo
