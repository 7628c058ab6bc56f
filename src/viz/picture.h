// Pixels on screen: what the visualisations draw into and write as PNG. A
// Picture is 8-bit RGB; maps (saliency, activations, filters) become one
// through grey levels or the library's colour maps (ops/colormap.h: the same
// bytes as exec::VulkanColormap draws on a device), and pictures are
// upscaled, overlaid and tiled into grids here.
#pragma once

#include "vkcnn/core/tensor.h"
#include "vkcnn/ops/colormap.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vkcnn::nn {
class Model;
}

namespace vkcnn::viz {

using ops::Rgb8;

struct Picture {
    uint32_t width = 0, height = 0;
    std::vector<uint8_t> rgb; // (height, width, 3), row-major

    Picture() = default;
    Picture(uint32_t w, uint32_t h, Rgb8 fill = {0, 0, 0});
    Rgb8 at(uint32_t x, uint32_t y) const {
        const size_t i = (size_t{y} * width + x) * 3;
        return {rgb[i], rgb[i + 1], rgb[i + 2]};
    }
    void set(uint32_t x, uint32_t y, Rgb8 c) {
        const size_t i = (size_t{y} * width + x) * 3;
        rgb[i] = c.r, rgb[i + 1] = c.g, rgb[i + 2] = c.b;
    }
    bool empty() const { return width == 0 || height == 0; }
};

// The colour of padding between tiles (the colour map's background, dark grey).
inline constexpr Rgb8 kBackground{0x20, 0x20, 0x20};

// A range of values drawn from the first to the last colour (or black to white).
struct Range {
    float lo = 0, hi = 0;
};
// Over the finite values only (NaN and infinities ignored, as the colour
// map does); {0, 0} when there are none.
Range min_max(std::span<const float> values);
// [-max |x|, max |x|]: 0 is the middle.
Range symmetric(std::span<const float> values);

// A map of h x w values (row-major). Values outside the range are clamped,
// NaN is magenta, a constant range gives the middle level.
// Grey: lo black, hi white; default range: the map's min-max.
Picture grey(std::span<const float> map, uint32_t h, uint32_t w, std::optional<Range> range = {});
// Through a colour map; default range: the map's min-max (Sequential, viridis).
Picture heat(std::span<const float> map, uint32_t h, uint32_t w, std::optional<Range> range = {},
             ops::Colormap colormap = ops::Colormap::Sequential);
// Signed values, diverging (blue < 0 < red), 0 always the middle (near white);
// default range: the map's symmetric one. A given range must be symmetric.
Picture signed_heat(std::span<const float> map, uint32_t h, uint32_t w, std::optional<float> max_abs = {});
// The colours of `values` under `range`: the bytes ops::colormap_reference
// gives a tile whose min-max is exactly the range.
std::vector<Rgb8> colours(std::span<const float> values, Range range, ops::Colormap colormap);

// Each pixel of `over` blended onto `under` (same size): (1 - alpha) under + alpha over.
Picture overlay(const Picture& under, const Picture& over, float alpha);
// Each pixel a factor x factor block (nearest neighbour).
Picture upscale(const Picture& p, uint32_t factor);

// Pictures in rows of `columns` (0: ceil(sqrt(n))), each in a cell of the
// largest width and height at its top-left, `padding` pixels between
// cells and none around the edges; cells and padding not covered are `background`.
struct GridOptions {
    uint32_t columns = 0;
    uint32_t padding = 1;
    Rgb8 background = kBackground;
};
Picture grid(std::span<const Picture> pictures, const GridOptions& options = {});
// Pictures one above another, each its own height, left-aligned, `padding` rows between.
Picture stack(std::span<const Picture> pictures, uint32_t padding = 4, Rgb8 background = kBackground);

// PNG, 8-bit RGB. encode_png gives the file's bytes (the browser offers
// them for download); write_png writes them, and on failure throws
// vkcnn::Error naming the path and removes what it had written.
std::vector<uint8_t> encode_png(const Picture& p);
void write_png(const std::string& path, const Picture& p);

// Many channel maps (tiles) drawn by the colour map op as one grid: tile t is
// values[t * h * w, ...), its own range (per_tile) or one over all.
struct TileOptions {
    ops::Colormap colormap = ops::Colormap::Sequential;
    ops::Normalize normalize = ops::Normalize::MinMax;
    bool per_tile = true;
    uint32_t columns = 0; // 0: ceil(sqrt(tiles))
    uint32_t padding = 1;
    uint32_t scale = 1;
};
Picture tiles(std::span<const float> values, uint32_t count, uint32_t h, uint32_t w, const TileOptions& options);

// Item 1: the filters of a convolution weight (O, C, kh, kw) as a grid of
// O images: C = 1 grey, C = 3 RGB (the weight's channels as R, G, B), 0 mid
// grey under a symmetric range, per filter or shared by all (which shows
// which filters are strong), each weight a scale x scale block.
struct FilterOptions {
    bool shared_range = false;
    uint32_t scale = 8;
    uint32_t columns = 0;
    uint32_t padding = 1;
};
Picture filters(std::span<const float> weight, const Shape& shape, const FilterOptions& options = {});
// The same of a model's parameter by name ("0.weight": LeNet-5's first layer).
Picture filters(const nn::Model& model, const std::string& parameter, const FilterOptions& options = {});

// Item 2: a layer's output for one image: (C, H, W) as a grid of channel
// tiles; (N,) — a vector layer — as N cells of 2 * scale pixels in rows of
// kStripColumns, under one range for the layer.
inline constexpr int64_t kStripColumns = 40;
struct ActivationOptions {
    bool shared_range = false; // one range over all channels instead of each its own
    uint32_t scale = 4;        // each value a scale x scale block (tiles and strips)
    uint32_t columns = 0;
    uint32_t padding = 1;
    ops::Colormap colormap = ops::Colormap::Sequential;
};
Picture activation_picture(std::span<const float> values, const Shape& shape, const ActivationOptions& options = {});

struct LayerPicture {
    std::string path; // "input", "0", "3", ...
    Shape shape;      // of the output, one sample
    Picture picture;
};
// Every layer of the model for one image (C, H, W, model space): a forward
// program keeping every layer, each output drawn by activation_picture.
std::vector<LayerPicture> layer_pictures(nn::Model& model, std::span<const float> image,
                                         const ActivationOptions& options = {});

} // namespace vkcnn::viz
