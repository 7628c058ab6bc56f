// Pictures: maps to pixels through grey levels and the colour map op, grids,
// and PNG. stb_image_write is compiled into this file alone (static), as
// io/image.cpp does with the decoder.
#include "vkcnn/viz/picture.h"

#include "vkcnn/core/error.h"
#include "vkcnn/nn/model.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace vkcnn::viz {

namespace {

Rgb8 unpack(uint32_t c) {
    return {static_cast<uint8_t>(c & 0xff), static_cast<uint8_t>(c >> 8 & 0xff), static_cast<uint8_t>(c >> 16 & 0xff)};
}

Picture from_rgba(const std::vector<uint32_t>& rgba, uint32_t w, uint32_t h) {
    Picture p(w, h);
    for (size_t i = 0; i < rgba.size(); ++i) {
        const Rgb8 c = unpack(rgba[i]);
        p.rgb[i * 3] = c.r, p.rgb[i * 3 + 1] = c.g, p.rgb[i * 3 + 2] = c.b;
    }
    return p;
}

void check_map(const char* what, std::span<const float> map, uint32_t h, uint32_t w) {
    check(h > 0 && w > 0, what, ": the map is ", h, " x ", w, ", expected at least 1 x 1");
    check(map.size() == size_t{h} * w, what, ": the map has ", map.size(), " values, expected ", h, " x ", w, " = ",
          size_t{h} * w);
}

void check_range(const char* what, Range r) {
    check(std::isfinite(r.lo) && std::isfinite(r.hi) && r.lo <= r.hi, what, ": the range [", r.lo, ", ", r.hi,
          "] is not a finite interval");
}

Picture from_colours(const std::vector<Rgb8>& c, uint32_t w, uint32_t h) {
    Picture p(w, h);
    for (size_t i = 0; i < c.size(); ++i) p.rgb[i * 3] = c[i].r, p.rgb[i * 3 + 1] = c[i].g, p.rgb[i * 3 + 2] = c[i].b;
    return p;
}

uint8_t grey_level(float v, Range r) {
    if (!(r.hi > r.lo)) return 128;
    const double t = std::clamp((static_cast<double>(v) - r.lo) / (static_cast<double>(r.hi) - r.lo), 0.0, 1.0);
    return static_cast<uint8_t>(std::lround(t * 255.0));
}

uint32_t ceil_sqrt(size_t n) {
    uint32_t c = 1;
    while (size_t{c} * c < n) ++c;
    return c;
}

} // namespace

Picture::Picture(uint32_t w, uint32_t h, Rgb8 fill) : width(w), height(h), rgb(size_t{w} * h * 3) {
    for (size_t i = 0; i < size_t{w} * h; ++i) rgb[i * 3] = fill.r, rgb[i * 3 + 1] = fill.g, rgb[i * 3 + 2] = fill.b;
}

Range min_max(std::span<const float> values) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (float v : values)
        if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    return lo <= hi ? Range{lo, hi} : Range{};
}

Range symmetric(std::span<const float> values) {
    float m = 0;
    for (float v : values)
        if (std::isfinite(v)) m = std::max(m, std::fabs(v));
    return {-m, m};
}

std::vector<Rgb8> colours(std::span<const float> values, Range range, ops::Colormap colormap) {
    check_range("colours", range);
    // Each chunk is one tile for the colour map op, led by lo and hi and
    // followed by the values clamped into them: the tile's min-max is then
    // exactly the range, so the op itself (not a copy of its arithmetic)
    // colours every value. NaN stays NaN (magenta); the op ignores it for
    // the range.
    constexpr size_t kChunk = ops::kColormapMaxSide - 2;
    const ops::ColormapAttrs attrs{.map = colormap, .norm = ops::Normalize::MinMax, .per_tile = true,
                                   .columns = 1, .padding = 0, .scale = 1};
    std::vector<Rgb8> out(values.size());
    std::vector<float> tile;
    std::vector<uint32_t> image;
    for (size_t start = 0; start < values.size(); start += kChunk) {
        const size_t n = std::min(kChunk, values.size() - start);
        tile.assign({range.lo, range.hi});
        for (size_t i = 0; i < n; ++i) {
            const float v = values[start + i];
            tile.push_back(std::isnan(v) ? v : std::clamp(v, range.lo, range.hi));
        }
        const ops::ColormapShape shape{.n = 1, .c = 1, .h = 1, .w = static_cast<uint32_t>(tile.size())};
        image.resize(tile.size());
        ops::colormap_reference(shape, attrs, tile, image);
        for (size_t i = 0; i < n; ++i) out[start + i] = unpack(image[i + 2]);
    }
    return out;
}

Picture grey(std::span<const float> map, uint32_t h, uint32_t w, std::optional<Range> range) {
    check_map("grey", map, h, w);
    const Range r = range ? *range : min_max(map);
    check_range("grey", r);
    Picture p(w, h);
    for (size_t i = 0; i < map.size(); ++i) {
        const float v = map[i];
        const Rgb8 c = std::isnan(v) ? unpack(ops::kColormapNan) : Rgb8{grey_level(v, r), grey_level(v, r), grey_level(v, r)};
        p.rgb[i * 3] = c.r, p.rgb[i * 3 + 1] = c.g, p.rgb[i * 3 + 2] = c.b;
    }
    return p;
}

Picture heat(std::span<const float> map, uint32_t h, uint32_t w, std::optional<Range> range, ops::Colormap colormap) {
    check_map("heat", map, h, w);
    return from_colours(colours(map, range ? *range : min_max(map), colormap), w, h);
}

Picture signed_heat(std::span<const float> map, uint32_t h, uint32_t w, std::optional<float> max_abs) {
    check_map("signed_heat", map, h, w);
    check(!max_abs || (std::isfinite(*max_abs) && *max_abs >= 0), "signed_heat: max_abs is ", max_abs.value_or(0),
          ", expected a finite number >= 0");
    const Range r = max_abs ? Range{-*max_abs, *max_abs} : symmetric(map);
    return from_colours(colours(map, r, ops::Colormap::Diverging), w, h);
}

Picture overlay(const Picture& under, const Picture& over, float alpha) {
    check(under.width == over.width && under.height == over.height, "overlay: the pictures are ", under.width, " x ",
          under.height, " and ", over.width, " x ", over.height, ", expected the same size");
    check(alpha >= 0 && alpha <= 1, "overlay: alpha is ", alpha, ", expected it in [0, 1]");
    Picture p = under;
    for (size_t i = 0; i < p.rgb.size(); ++i)
        p.rgb[i] = static_cast<uint8_t>(std::lround((1.0 - alpha) * under.rgb[i] + static_cast<double>(alpha) * over.rgb[i]));
    return p;
}

Picture upscale(const Picture& p, uint32_t factor) {
    check(factor >= 1, "upscale: factor is 0, expected at least 1");
    check(uint64_t{p.width} * factor <= ops::kColormapMaxSide && uint64_t{p.height} * factor <= ops::kColormapMaxSide,
          "upscale: ", p.width, " x ", p.height, " by ", factor, " is past ", ops::kColormapMaxSide, " pixels a side");
    Picture out(p.width * factor, p.height * factor);
    for (uint32_t y = 0; y < out.height; ++y)
        for (uint32_t x = 0; x < out.width; ++x) out.set(x, y, p.at(x / factor, y / factor));
    return out;
}

Picture grid(std::span<const Picture> pictures, const GridOptions& o) {
    check(!pictures.empty(), "grid: no pictures");
    uint32_t cw = 0, ch = 0;
    for (const Picture& p : pictures) cw = std::max(cw, p.width), ch = std::max(ch, p.height);
    const uint32_t columns = std::min<uint32_t>(o.columns ? o.columns : ceil_sqrt(pictures.size()),
                                                static_cast<uint32_t>(pictures.size()));
    const uint32_t rows = static_cast<uint32_t>((pictures.size() + columns - 1) / columns);
    const uint64_t width = uint64_t{columns} * cw + uint64_t{columns - 1} * o.padding;
    const uint64_t height = uint64_t{rows} * ch + uint64_t{rows - 1} * o.padding;
    check(width <= ops::kColormapMaxSide && height <= ops::kColormapMaxSide, "grid: ", pictures.size(),
          " pictures in ", rows, " rows of ", columns, " make ", width, " x ", height, " pixels, past ",
          ops::kColormapMaxSide, " a side");
    Picture out(static_cast<uint32_t>(width), static_cast<uint32_t>(height), o.background);
    for (size_t i = 0; i < pictures.size(); ++i) {
        const uint32_t x0 = static_cast<uint32_t>(i % columns) * (cw + o.padding);
        const uint32_t y0 = static_cast<uint32_t>(i / columns) * (ch + o.padding);
        const Picture& p = pictures[i];
        for (uint32_t y = 0; y < p.height; ++y)
            std::memcpy(&out.rgb[(size_t{y0 + y} * out.width + x0) * 3], &p.rgb[size_t{y} * p.width * 3], size_t{p.width} * 3);
    }
    return out;
}

std::vector<uint8_t> encode_png(const Picture& p) {
    check(!p.empty() && p.rgb.size() == size_t{p.width} * p.height * 3, "encode_png: a ", p.width, " x ", p.height,
          " picture with ", p.rgb.size(), " bytes");
    std::vector<uint8_t> bytes;
    auto append = [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<uint8_t>*>(context);
        const auto* d = static_cast<const uint8_t*>(data);
        out->insert(out->end(), d, d + size);
    };
    const int ok = stbi_write_png_to_func(append, &bytes, static_cast<int>(p.width), static_cast<int>(p.height), 3,
                                          p.rgb.data(), static_cast<int>(p.width * 3));
    check(ok != 0 && !bytes.empty(), "encode_png: stb_image_write failed on a ", p.width, " x ", p.height, " picture");
    return bytes;
}

void write_png(const std::string& path, const Picture& p) {
    const std::vector<uint8_t> bytes = encode_png(p); // encoded first: a failure there touches no file
    std::FILE* f = std::fopen(path.c_str(), "wb");
    check(f != nullptr, path, ": cannot write the PNG (", std::strerror(errno), ")");
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    const int error = errno;
    const bool closed = std::fclose(f) == 0;
    if (!written || !closed) {
        std::remove(path.c_str()); // no truncated picture left behind
        throw Error(cat(path, ": cannot write the PNG (", std::strerror(written ? errno : error), ")"));
    }
}

Picture tiles(std::span<const float> values, uint32_t count, uint32_t h, uint32_t w, const TileOptions& o) {
    check(count > 0 && h > 0 && w > 0, "tiles: ", count, " tiles of ", h, " x ", w, ", expected at least one of 1 x 1");
    check(values.size() == size_t{count} * h * w, "tiles: ", values.size(), " values, expected ", count, " tiles of ",
          h, " x ", w, " = ", size_t{count} * h * w);
    const ops::ColormapShape shape{.n = 1, .c = count, .h = h, .w = w};
    const ops::ColormapAttrs attrs{.map = o.colormap, .norm = o.normalize, .per_tile = o.per_tile,
                                   .columns = o.columns, .padding = o.padding, .scale = o.scale};
    const ops::ColormapGeometry g = ops::colormap_geometry(shape, attrs);
    std::vector<uint32_t> rgba(g.pixels());
    ops::colormap_reference(shape, attrs, values, rgba);
    return from_rgba(rgba, g.width, g.height);
}

Picture stack(std::span<const Picture> pictures, uint32_t padding, Rgb8 background) {
    check(!pictures.empty(), "stack: no pictures");
    uint64_t width = 0, height = 0;
    for (const Picture& p : pictures) width = std::max<uint64_t>(width, p.width), height += p.height;
    height += uint64_t{padding} * (pictures.size() - 1);
    check(width <= ops::kColormapMaxSide && height <= ops::kColormapMaxSide, "stack: ", pictures.size(),
          " pictures make ", width, " x ", height, " pixels, past ", ops::kColormapMaxSide, " a side");
    Picture out(static_cast<uint32_t>(width), static_cast<uint32_t>(height), background);
    uint32_t y0 = 0;
    for (const Picture& p : pictures) {
        for (uint32_t y = 0; y < p.height; ++y)
            std::memcpy(&out.rgb[size_t{y0 + y} * out.width * 3], &p.rgb[size_t{y} * p.width * 3], size_t{p.width} * 3);
        y0 += p.height + padding;
    }
    return out;
}

Picture filters(std::span<const float> weight, const Shape& shape, const FilterOptions& o) {
    check(shape.rank() == 4 && shape.elements() > 0, "filters: the weight is ", shape.str(),
          ", expected a convolution's (out, in, kh, kw)");
    check(shape[1] == 1 || shape[1] == 3, "filters: the weight ", shape.str(), " has ", shape[1],
          " input channels; filters are drawn as grey (1) or RGB (3) images");
    check(weight.size() == static_cast<size_t>(shape.elements()), "filters: ", weight.size(), " values for a weight of ",
          shape.str());
    check(o.scale >= 1, "filters: scale is 0, expected at least 1");
    const size_t out = static_cast<size_t>(shape[0]), c = static_cast<size_t>(shape[1]);
    const uint32_t kh = static_cast<uint32_t>(shape[2]), kw = static_cast<uint32_t>(shape[3]);
    const size_t per = c * kh * kw;
    const Range all = symmetric(weight);
    std::vector<Picture> pictures;
    for (size_t f = 0; f < out; ++f) {
        const std::span<const float> wf = weight.subspan(f * per, per);
        const Range r = o.shared_range ? all : symmetric(wf);
        Picture p(kw, kh);
        for (uint32_t y = 0; y < kh; ++y)
            for (uint32_t x = 0; x < kw; ++x) {
                const size_t i = size_t{y} * kw + x;
                if (c == 1) {
                    const uint8_t g = grey_level(wf[i], r);
                    p.set(x, y, {g, g, g});
                } else {
                    p.set(x, y, {grey_level(wf[i], r), grey_level(wf[size_t{kh} * kw + i], r),
                                 grey_level(wf[2 * size_t{kh} * kw + i], r)});
                }
            }
        pictures.push_back(upscale(p, o.scale));
    }
    return grid(pictures, {.columns = o.columns, .padding = o.padding});
}

Picture filters(const nn::Model& model, const std::string& parameter, const FilterOptions& o) {
    const std::vector<nn::StateSpec>& specs = model.parameters();
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const nn::StateSpec& s) { return s.name == parameter; });
    if (spec == specs.end()) {
        std::string names;
        for (const nn::StateSpec& s : specs)
            if (s.shape.rank() == 4) names += (names.empty() ? "" : ", ") + s.name;
        throw Error(cat("filters: the model has no parameter '", parameter, "'; convolution weights: ", names));
    }
    const nn::StateDict weights = model.weights();
    return filters(weights.at(parameter), spec->shape, o);
}

Picture activation_picture(std::span<const float> values, const Shape& shape, const ActivationOptions& o) {
    // A layer's shape for one sample: (1, C, H, W) or (1, N) (Model::layers), or without the batch.
    std::vector<int64_t> d = shape.dims;
    if ((d.size() == 4 || d.size() == 2) && d[0] == 1) d.erase(d.begin());
    check((d.size() == 3 || d.size() == 1) && shape.elements() > 0, "activation_picture: a layer output of ",
          shape.str(), ", expected (C, H, W) or (N,) for one sample");
    check(values.size() == static_cast<size_t>(shape.elements()), "activation_picture: ", values.size(),
          " values for ", shape.str());
    TileOptions t{.colormap = o.colormap, .normalize = ops::Normalize::MinMax, .per_tile = !o.shared_range,
                  .columns = o.columns, .padding = o.padding, .scale = o.scale};
    if (d.size() == 1) {
        // A vector layer: a cell per unit, rows of kStripColumns, one range
        // for the layer (a unit alone has no range of its own); cells twice
        // the scale, so that a unit is as easy to see as a channel's tile.
        t.per_tile = false;
        t.columns = static_cast<uint32_t>(std::min<int64_t>(d[0], kStripColumns));
        t.padding = 0;
        t.scale = o.scale * 2;
        return tiles(values, static_cast<uint32_t>(d[0]), 1, 1, t);
    }
    return tiles(values, static_cast<uint32_t>(d[0]), static_cast<uint32_t>(d[1]), static_cast<uint32_t>(d[2]), t);
}

std::vector<LayerPicture> layer_pictures(nn::Model& model, std::span<const float> image, const ActivationOptions& o) {
    const auto& in = model.options().input;
    check(image.size() == static_cast<size_t>(in[0] * in[1] * in[2]), "layer_pictures: the image has ", image.size(),
          " values, the model takes (", in[0], ", ", in[1], ", ", in[2], ")");
    std::vector<std::string> keep;
    for (const nn::LayerInfo& l : model.layers()) keep.push_back(l.path);
    auto program = model.program({.batch = 1, .keep = keep});
    program->set_input(image);
    program->run();
    std::vector<LayerPicture> out;
    out.push_back({"input", Shape{in[0], in[1], in[2]}, activation_picture(image, Shape{in[0], in[1], in[2]}, o)});
    for (const nn::LayerInfo& l : model.layers()) {
        const std::vector<float> a = program->activation(l.path);
        out.push_back({l.path, l.shape, activation_picture(a, l.shape, o)});
    }
    return out;
}

} // namespace vkcnn::viz
