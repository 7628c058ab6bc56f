// colormap: float tensors drawn as an RGBA8 image straight from memory, so a
// renderer or a browser canvas can show activations and filters: a grid of
// N*C tiles of H x W, each value through a diverging or sequential colour map.
// Reference (the oracle), CPU kernel and the launches of shaders/colormap_*.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vkcnn::ops {

// Semantics.
//
// Input x (N, C, H, W) floats; a (C, H, W) or (H, W) tensor is N = 1 / C = 1
// (colormap_shape takes any of the three). Tile t = n * C + c is channel c of
// sample n, drawn H * scale rows of W * scale pixels (each value a scale x
// scale block, nearest). Tiles go row-major, `columns` to a row (0: ceil(sqrt(
// tiles)); more than the tiles is clamped to the tiles), rows = ceil(tiles /
// columns), with `padding` pixels between neighbouring tiles and none around
// the edges:
//   width  = columns * W * scale + (columns - 1) * padding
//   height = rows * H * scale + (rows - 1) * padding
// Padding and the cells after the last tile are kColormapBackground.
//
// Output: one uint32 per pixel, row-major (height, width), packed so the bytes
// in memory are R, G, B, A (R the low byte, as a canvas's ImageData or
// VK_FORMAT_R8G8B8A8_UNORM reads them); alpha is always 255.
//
// Range (lo, hi) of a tile, or of the whole tensor when per_tile is false,
// over its finite values only (NaN and +-inf ignored):
//   MinMax:    lo = min x, hi = max x;
//   Symmetric: m = max |x|, lo = -m, hi = m (so 0 is always the middle colour).
// A tile without finite values has a constant range.
//
// Each value x becomes a level k in [0, 65536] (t = k / 65536):
//   NaN                      -> no level: kColormapNan (magenta);
//   +inf / -inf              -> k = 65536 / k = 0 (infinities clamp, constant range or not);
//   constant range (hi <= lo)-> k = 32768, the middle of the map;
//   otherwise, with float arithmetic (each operation rounded):
//     e = x - lo, d = hi - lo; if d overflows to inf, e = x*0.5 - lo*0.5 and
//     d = hi*0.5 - lo*0.5 instead (exact halves); e clamped to [0, d];
//     k = the largest j in [0, 65536] with fl(fl(j * 2^-16) * d) <= e,
//   i.e. t = e / d rounded down to a multiple of 2^-16, but defined through
//   multiplications and comparisons alone, which Vulkan rounds exactly, so a
//   shader's inexact division (2.5 ulp allowed) only seeds the search: every
//   backend gets the same k.
// Colour: the map's S stops are evenly spaced, stop i at t = i / (S - 1);
// p = k * (S - 1), segment s = min(p / 65536, S - 2), r = p - 65536 s, and
// each channel is round(c_s + (c_(s+1) - c_s) * r / 65536) (halves up) of the
// stops' bytes — round(255 v) of the piecewise-linear map v, computed in
// integers, so GPU bytes equal the reference's exactly.
//
// Device caveat: Vulkan lets a device flush subnormal floats to zero (lavapipe
// does), so subnormal inputs, and ranges narrower than about 1e-38, may colour
// differently on a device than on the CPU; everything else is bit-exact.

enum class Colormap : uint32_t {
    Diverging,  // signed values: blue -> near-white -> red (RdBu_r)
    Sequential, // non-negative values: dark purple -> green -> yellow (viridis)
};
enum class Normalize : uint32_t {
    MinMax,    // [min, max] -> [0, 1]
    Symmetric, // [-max|x|, max|x|] -> [0, 1]
};

struct ColormapAttrs {
    Colormap map = Colormap::Diverging;
    Normalize norm = Normalize::Symmetric;
    bool per_tile = true;  // range per tile (true) or over the whole tensor
    uint32_t columns = 0;  // tiles per row; 0: ceil(sqrt(tiles))
    uint32_t padding = 1;  // background pixels between tiles
    uint32_t scale = 1;    // each value drawn as scale x scale pixels, >= 1
};

struct ColormapShape {
    uint32_t n = 1, c = 1, h = 0, w = 0; // x: (N, C, H, W)

    size_t tiles() const { return size_t{n} * c; }
    size_t tile_size() const { return size_t{h} * w; }
    size_t size() const { return tiles() * tile_size(); }
};

struct ColormapGeometry {
    uint32_t tiles = 0, columns = 0, rows = 0; // the grid
    uint32_t width = 0, height = 0;            // the image, pixels

    size_t pixels() const { return size_t{width} * height; }
};

// An 8-bit sRGB colour; stops are written as the usual hex codes.
struct Rgb8 {
    uint8_t r, g, b;
};

// R in the low byte: the bytes in memory are R, G, B, A.
constexpr uint32_t colormap_pack(Rgb8 c, uint8_t a = 255) {
    return uint32_t{c.r} | uint32_t{c.g} << 8 | uint32_t{c.b} << 16 | uint32_t{a} << 24;
}

inline constexpr uint32_t kColormapBackground = colormap_pack({0x20, 0x20, 0x20}); // opaque dark grey
inline constexpr uint32_t kColormapNan = colormap_pack({0xff, 0x00, 0xff});        // opaque magenta
inline constexpr uint32_t kColormapLevels = 65536;                                 // k in [0, kColormapLevels]

// The stops, the one table every backend uses (the shader gets them as push
// constants). Odd counts, so the middle level (a constant tile, or 0 under
// Symmetric) is exactly the middle stop.
// Diverging: ColorBrewer RdBu, 9 classes, reversed — the inner nine of the
// eleven colours matplotlib's 'RdBu_r' interpolates (its darker ends #053061
// and #67001f left out, so the ends stay clearly blue and red).
inline constexpr std::array<Rgb8, 9> kDivergingStops{{
    {0x21, 0x66, 0xac}, // #2166ac  t = 0
    {0x43, 0x93, 0xc3}, // #4393c3
    {0x92, 0xc5, 0xde}, // #92c5de
    {0xd1, 0xe5, 0xf0}, // #d1e5f0
    {0xf7, 0xf7, 0xf7}, // #f7f7f7  t = 0.5
    {0xfd, 0xdb, 0xc7}, // #fddbc7
    {0xf4, 0xa5, 0x82}, // #f4a582
    {0xd6, 0x60, 0x4d}, // #d6604d
    {0xb2, 0x18, 0x2b}, // #b2182b  t = 1
}};
// Sequential: matplotlib's viridis sampled at t = i / 8.
inline constexpr std::array<Rgb8, 9> kSequentialStops{{
    {0x44, 0x01, 0x54}, // #440154  t = 0
    {0x47, 0x2d, 0x7b}, // #472d7b
    {0x3b, 0x52, 0x8b}, // #3b528b
    {0x2c, 0x72, 0x8e}, // #2c728e
    {0x21, 0x91, 0x8c}, // #21918c  t = 0.5
    {0x28, 0xae, 0x80}, // #28ae80
    {0x5e, 0xc9, 0x62}, // #5ec962
    {0xad, 0xdc, 0x30}, // #addc30
    {0xfd, 0xe7, 0x25}, // #fde725  t = 1
}};
inline constexpr size_t kColormapMaxStops = 16; // the apply shader's push-constant room

std::span<const Rgb8> colormap_stops(Colormap map); // throws on an unknown map

// Limits. The image: width and height at most 65535. The GPU range pass: a
// tile of at most 2^24 values (4096 x 4096; 256 invocations striding 4 values
// an iteration keep every invocation under lavapipe's 65535 loop iterations)
// and at most 2^22 tiles; x at most 2^32 - 1 values.
inline constexpr uint32_t kColormapMaxSide = 65535;
inline constexpr size_t kColormapMaxTile = size_t{1} << 24;
inline constexpr size_t kColormapMaxTiles = size_t{1} << 22;

// Throws vkcnn::Error naming the field: "colormap: scale is 0, expected at least 1".
void check_colormap_attrs(const ColormapAttrs& attrs);
// (H, W), (C, H, W) or (N, C, H, W) -> the shape; throws on another rank, a
// zero or negative dimension or one past 2^32 - 1.
ColormapShape colormap_shape(std::span<const int64_t> dims);
// The grid and image size; checks attrs, a non-empty shape and the image limits.
ColormapGeometry colormap_geometry(const ColormapShape& shape, const ColormapAttrs& attrs);

// Reference: plain loops over the image's pixels, the oracle. Writes (=) image.
void colormap_reference(const ColormapShape& shape, const ColormapAttrs& attrs,
                        std::span<const float> x,  // (N, C, H, W)
                        std::span<uint32_t> image); // (height, width)
// CPU backend: ranges and colours per tile on the pool, each value coloured
// once and copied into its scale x scale block. Same bytes as the reference.
void colormap_cpu(cpu::ThreadPool& pool, const ColormapShape& shape, const ColormapAttrs& attrs,
                  std::span<const float> x, std::span<uint32_t> image);

// Vulkan. Three buffers: x (N, C, H, W) floats, a temporary of
// colormap_temp_bytes (the ranges: (lo, hi) floats per tile, then the whole
// tensor's when per_tile is false) and the image (height, width) uint32.
//   colormap_range (x, temp): one workgroup per tile (256 invocations striding
//     over it, combined in shared memory in a fixed order), writes (=) the
//     tile's (lo, hi) — the range, as above; a tile without finite values
//     writes (FLT_MAX, -FLT_MAX), which is constant and neutral to the next pass;
//   colormap_range_finish (temp), per_tile false only: one workgroup combines
//     the tiles' ranges into the tensor's, read-write (=) the last entry;
//   colormap_apply (x, temp, image): one invocation per pixel, writes (=) the image.
// Every buffer is an Access of its launch, so a Recorder or RecordedStep puts
// the barriers between them. Throws past the limits above (the range pass's
// tile limit here, not in colormap_geometry: the CPU has none).
enum class ColormapArg : uint8_t { X, Temp, Image };
struct ColormapKernel {
    KernelLaunch launch;
    std::vector<ColormapArg> args; // args[i] is the buffer of launch argument i
};
size_t colormap_temp_bytes(const ColormapShape& shape, const ColormapAttrs& attrs); // (tiles [+ 1]) * 2 * 4
std::vector<ColormapKernel> colormap_launches(const ColormapShape& shape, const ColormapAttrs& attrs);

} // namespace vkcnn::ops
