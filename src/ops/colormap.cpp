// colormap: geometry, reference, CPU kernel and GPU launches (see colormap.h).
// Float arithmetic on levels is one operation per statement, so no compiler
// fuses a multiply and an add into a differently rounded FMA.
#include "vkcnn/ops/colormap.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>

namespace vkcnn::ops {

namespace {

constexpr uint32_t kHalfLevel = kColormapLevels / 2;
static_assert(kDivergingStops.size() % 2 == 1 && kSequentialStops.size() % 2 == 1,
              "odd stop counts: the middle level is the middle stop");
static_assert(kDivergingStops.size() <= kColormapMaxStops && kSequentialStops.size() <= kColormapMaxStops);

struct Range {
    float lo = FLT_MAX, hi = -FLT_MAX; // no finite value yet: constant, and neutral to combine
};

bool is_finite(float v) { return std::isfinite(v); }

void combine(Range& into, const Range& r) {
    into.lo = r.lo < into.lo ? r.lo : into.lo;
    into.hi = r.hi > into.hi ? r.hi : into.hi;
}

// Range of n values as the range pass stores it.
Range range_of(const float* x, size_t n, Normalize norm) {
    Range r;
    float m = 0.0f;
    for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        if (!is_finite(v)) continue;
        if (norm == Normalize::Symmetric) {
            const float a = std::fabs(v);
            m = a > m ? a : m;
        } else {
            r.lo = v < r.lo ? v : r.lo;
            r.hi = v > r.hi ? v : r.hi;
        }
    }
    if (norm == Normalize::Symmetric) r = {-m, m};
    return r;
}

// e and d of the level rule (colormap.h); false for a constant range.
bool level_operands(float x, const Range& r, float& e, float& d) {
    if (!(r.hi > r.lo)) return false;
    e = x - r.lo;
    d = r.hi - r.lo;
    if (std::isinf(d)) {
        const float xh = x * 0.5f, loh = r.lo * 0.5f, hih = r.hi * 0.5f;
        e = xh - loh;
        d = hih - loh;
    }
    if (!(d > 0.0f)) return false; // reached only where a device flushed a subnormal d
    e = std::clamp(e, 0.0f, d);
    return true;
}

// fl(fl(j * 2^-16) * d) <= e: level j is not past e / d.
bool level_fits(uint32_t j, float e, float d) {
    const float t = static_cast<float>(j) * 0x1p-16f; // exact
    const float at = t * d;
    return at <= e;
}

// The level of a non-NaN value, as the reference defines it: a binary search
// for the largest j with level_fits (which holds for 0 and fails from some j on).
uint32_t level_reference(float x, const Range& r) {
    if (std::isinf(x)) return x > 0 ? kColormapLevels : 0;
    float e = 0, d = 0;
    if (!level_operands(x, r, e, d)) return kHalfLevel;
    uint32_t a = 0, b = kColormapLevels;
    while (a < b) {
        const uint32_t mid = a + (b - a + 1) / 2;
        if (level_fits(mid, e, d)) a = mid;
        else b = mid - 1;
    }
    return a;
}

// The same level from the quotient and a correction of up to two steps either
// way, as the shader does (its division may be a few ulps off; here it is
// exact and the correction rarely moves).
uint32_t level_fast(float x, const Range& r) {
    if (std::isinf(x)) return x > 0 ? kColormapLevels : 0;
    float e = 0, d = 0;
    if (!level_operands(x, r, e, d)) return kHalfLevel;
    const float q = std::min(e / d, 1.0f);
    const float qk = q * static_cast<float>(kColormapLevels);
    uint32_t k = static_cast<uint32_t>(qk);
    for (int i = 0; i < 2; ++i)
        if (k < kColormapLevels && level_fits(k + 1, e, d)) ++k;
    for (int i = 0; i < 2; ++i)
        if (k > 0 && !level_fits(k, e, d)) --k;
    return k;
}

// round(255 v) of the piecewise-linear map at t = k / 65536, in doubles: every
// step is exact (integers below 2^24 and fractions with a 2^-16 denominator).
uint32_t color_reference(std::span<const Rgb8> stops, uint32_t k) {
    const uint32_t segments = static_cast<uint32_t>(stops.size() - 1);
    const uint32_t p = k * segments;
    const uint32_t s = std::min(p / kColormapLevels, segments - 1);
    const double f = static_cast<double>(p - s * kColormapLevels) / kColormapLevels;
    auto channel = [&](uint8_t a, uint8_t b) {
        return static_cast<uint8_t>(std::floor(a + (static_cast<double>(b) - a) * f + 0.5));
    };
    const Rgb8 a = stops[s], b = stops[s + 1];
    return colormap_pack({channel(a.r, b.r), channel(a.g, b.g), channel(a.b, b.b)});
}

// The same in integers, as the shader does.
uint32_t color_fast(std::span<const Rgb8> stops, uint32_t k) {
    const uint32_t segments = static_cast<uint32_t>(stops.size() - 1);
    const uint32_t p = k * segments;
    const uint32_t s = std::min(p >> 16, segments - 1);
    const uint32_t r = p - (s << 16);
    auto channel = [r](uint32_t a, uint32_t b) {
        return static_cast<uint8_t>((a * (kColormapLevels - r) + b * r + kHalfLevel) >> 16);
    };
    const Rgb8 a = stops[s], b = stops[s + 1];
    return colormap_pack({channel(a.r, b.r), channel(a.g, b.g), channel(a.b, b.b)});
}

void check_sizes(const char* op, const ColormapShape& s, const ColormapGeometry& g, size_t x_size,
                 size_t image_size) {
    check(x_size == s.size(), op, ": x has ", x_size, " elements, expected (", s.n, ", ", s.c, ", ", s.h, ", ",
          s.w, ") = ", s.size());
    check(image_size == g.pixels(), op, ": image has ", image_size, " pixels, expected ", g.width, " x ", g.height,
          " = ", g.pixels());
}

} // namespace

std::span<const Rgb8> colormap_stops(Colormap map) {
    switch (map) {
    case Colormap::Diverging: return kDivergingStops;
    case Colormap::Sequential: return kSequentialStops;
    }
    throw Error(cat("colormap: unknown map ", static_cast<uint32_t>(map)));
}

void check_colormap_attrs(const ColormapAttrs& a) {
    check(a.map == Colormap::Diverging || a.map == Colormap::Sequential, "colormap: map is ",
          static_cast<uint32_t>(a.map), ", expected Diverging (0) or Sequential (1)");
    check(a.norm == Normalize::MinMax || a.norm == Normalize::Symmetric, "colormap: norm is ",
          static_cast<uint32_t>(a.norm), ", expected MinMax (0) or Symmetric (1)");
    check(a.scale >= 1, "colormap: scale is ", a.scale, ", expected at least 1");
    check(a.padding <= kColormapMaxSide, "colormap: padding is ", a.padding, ", expected at most ", kColormapMaxSide);
}

ColormapShape colormap_shape(std::span<const int64_t> dims) {
    check(dims.size() >= 2 && dims.size() <= 4, "colormap: x has rank ", dims.size(),
          ", expected (H, W), (C, H, W) or (N, C, H, W)");
    for (size_t i = 0; i < dims.size(); ++i)
        check(dims[i] >= 1 && dims[i] <= int64_t{std::numeric_limits<uint32_t>::max()}, "colormap: dimension ", i,
              " of x is ", dims[i], ", expected 1 to 2^32 - 1");
    const size_t k = dims.size();
    ColormapShape s;
    s.h = static_cast<uint32_t>(dims[k - 2]);
    s.w = static_cast<uint32_t>(dims[k - 1]);
    if (k >= 3) s.c = static_cast<uint32_t>(dims[k - 3]);
    if (k == 4) s.n = static_cast<uint32_t>(dims[0]);
    return s;
}

ColormapGeometry colormap_geometry(const ColormapShape& s, const ColormapAttrs& a) {
    check_colormap_attrs(a);
    check(s.n >= 1 && s.c >= 1 && s.h >= 1 && s.w >= 1, "colormap: x (", s.n, ", ", s.c, ", ", s.h, ", ", s.w,
          ") is empty");
    const uint64_t tile_w = uint64_t{s.w} * a.scale, tile_h = uint64_t{s.h} * a.scale;
    check(tile_w <= kColormapMaxSide && tile_h <= kColormapMaxSide, "colormap: a tile of ", s.h, " x ", s.w,
          " at scale ", a.scale, " is ", tile_h, " x ", tile_w, " pixels, more than the image's ", kColormapMaxSide);
    const uint64_t tiles = s.tiles();
    check(tiles <= kColormapMaxSide * uint64_t{kColormapMaxSide}, "colormap: ", tiles, " tiles do not fit an image");
    uint64_t columns = a.columns;
    if (columns == 0) {
        columns = static_cast<uint64_t>(std::sqrt(static_cast<double>(tiles)));
        while (columns * columns < tiles) ++columns; // ceil(sqrt), exact
        while (columns > 1 && (columns - 1) * (columns - 1) >= tiles) --columns;
    }
    columns = std::min(columns, tiles);
    const uint64_t rows = (tiles + columns - 1) / columns;
    const uint64_t width = columns * tile_w + (columns - 1) * a.padding;
    const uint64_t height = rows * tile_h + (rows - 1) * a.padding;
    check(width <= kColormapMaxSide && height <= kColormapMaxSide, "colormap: ", tiles, " tiles of ", tile_h, " x ",
          tile_w, " pixels in ", rows, " rows of ", columns, " with padding ", a.padding, " make a ", width, " x ",
          height, " image, more than ", kColormapMaxSide, " x ", kColormapMaxSide);
    ColormapGeometry g;
    g.tiles = static_cast<uint32_t>(tiles);
    g.columns = static_cast<uint32_t>(columns);
    g.rows = static_cast<uint32_t>(rows);
    g.width = static_cast<uint32_t>(width);
    g.height = static_cast<uint32_t>(height);
    return g;
}

void colormap_reference(const ColormapShape& s, const ColormapAttrs& a, std::span<const float> x,
                        std::span<uint32_t> image) {
    const ColormapGeometry g = colormap_geometry(s, a);
    check_sizes("colormap_reference", s, g, x.size(), image.size());
    const std::span<const Rgb8> stops = colormap_stops(a.map);
    const size_t hw = s.tile_size();
    std::vector<Range> ranges(g.tiles);
    for (size_t t = 0; t < g.tiles; ++t) ranges[t] = range_of(x.data() + t * hw, hw, a.norm);
    if (!a.per_tile) {
        const Range all = range_of(x.data(), x.size(), a.norm);
        std::fill(ranges.begin(), ranges.end(), all);
    }
    const size_t pitch_w = size_t{s.w} * a.scale + a.padding, pitch_h = size_t{s.h} * a.scale + a.padding;
    for (size_t py = 0; py < g.height; ++py) {
        for (size_t px = 0; px < g.width; ++px) {
            const size_t row = py / pitch_h, oy = py % pitch_h, col = px / pitch_w, ox = px % pitch_w;
            const size_t t = row * g.columns + col;
            uint32_t color = kColormapBackground;
            if (oy < size_t{s.h} * a.scale && ox < size_t{s.w} * a.scale && t < g.tiles) {
                const float v = x[t * hw + oy / a.scale * s.w + ox / a.scale];
                color = std::isnan(v) ? kColormapNan : color_reference(stops, level_reference(v, ranges[t]));
            }
            image[py * g.width + px] = color;
        }
    }
}

void colormap_cpu(cpu::ThreadPool& pool, const ColormapShape& s, const ColormapAttrs& a, std::span<const float> x,
                  std::span<uint32_t> image) {
    const ColormapGeometry g = colormap_geometry(s, a);
    check_sizes("colormap_cpu", s, g, x.size(), image.size());
    const std::span<const Rgb8> stops = colormap_stops(a.map);
    const size_t hw = s.tile_size(), tiles = g.tiles;
    const float* xs = x.data();
    std::vector<Range> ranges(tiles);
    Range* rs = ranges.data();
    const bool parallel = x.size() >= (size_t{1} << 16);
    auto for_tiles = [&](const std::function<void(size_t, size_t)>& body) {
        if (parallel) pool.parallel_for(tiles, body);
        else body(0, tiles);
    };
    for_tiles([=](size_t begin, size_t end) {
        for (size_t t = begin; t < end; ++t) rs[t] = range_of(xs + t * hw, hw, a.norm);
    });
    if (!a.per_tile) {
        Range all;
        for (const Range& r : ranges) combine(all, r); // min / max: any order gives the same bytes
        std::fill(ranges.begin(), ranges.end(), all);
    }
    std::fill(image.begin(), image.end(), kColormapBackground);
    uint32_t* img = image.data();
    const size_t scale = a.scale, w = s.w, h = s.h, width = g.width, columns = g.columns;
    const size_t pitch_w = w * scale + a.padding, pitch_h = h * scale + a.padding;
    for_tiles([=](size_t begin, size_t end) {
        for (size_t t = begin; t < end; ++t) {
            uint32_t* tile = img + (t / columns) * pitch_h * width + (t % columns) * pitch_w;
            for (size_t y = 0; y < h; ++y) {
                uint32_t* line = tile + y * scale * width;
                for (size_t xi = 0; xi < w; ++xi) {
                    const float v = xs[t * hw + y * w + xi];
                    const uint32_t color = std::isnan(v) ? kColormapNan : color_fast(stops, level_fast(v, rs[t]));
                    std::fill(line + xi * scale, line + (xi + 1) * scale, color);
                }
                for (size_t r = 1; r < scale; ++r) std::copy(line, line + w * scale, line + r * width);
            }
        }
    });
}

size_t colormap_temp_bytes(const ColormapShape& s, const ColormapAttrs& a) {
    return (s.tiles() + (a.per_tile ? 0 : 1)) * 2 * sizeof(float);
}

std::vector<ColormapKernel> colormap_launches(const ColormapShape& s, const ColormapAttrs& a) {
    const ColormapGeometry g = colormap_geometry(s, a);
    check(s.tile_size() <= kColormapMaxTile, "colormap: a tile of ", s.h, " x ", s.w, " = ", s.tile_size(),
          " values exceeds the GPU range pass's ", kColormapMaxTile, " (4096 x 4096)");
    check(s.tiles() <= kColormapMaxTiles, "colormap: ", s.tiles(), " tiles exceed the GPU range pass's ",
          kColormapMaxTiles);
    check(s.size() <= std::numeric_limits<uint32_t>::max(), "colormap: x has ", s.size(),
          " values, the GPU takes at most 2^32 - 1");
    std::vector<ColormapKernel> kernels;

    KernelLaunch range;
    range.shader = "colormap_range";
    range.workgroup = {256, 1, 1};
    range.args = {Access::Read, Access::Write};
    range.groups = {std::min<uint32_t>(g.tiles, 65535), groups_for(g.tiles, 65535), 1};
    struct RangePush {
        uint32_t tiles, tile_size, symmetric;
    };
    range.set_push(RangePush{g.tiles, static_cast<uint32_t>(s.tile_size()), a.norm == Normalize::Symmetric});
    kernels.push_back({range, {ColormapArg::X, ColormapArg::Temp}});

    if (!a.per_tile) {
        KernelLaunch finish;
        finish.shader = "colormap_range_finish";
        finish.workgroup = {256, 1, 1};
        finish.args = {Access::ReadWrite};
        finish.groups = {1, 1, 1};
        finish.set_push(g.tiles);
        kernels.push_back({finish, {ColormapArg::Temp}});
    }

    struct ApplyPush {
        uint32_t width, height, tile_w, tile_h; // image; W, H of x
        uint32_t scale, padding, columns, tiles;
        uint32_t range_slot; // 0xffffffff: each tile's own, else this entry (the tensor's)
        uint32_t stop_count, background, nan_color;
        uint32_t stops[kColormapMaxStops]; // colormap_pack'd, alpha 255
    };
    static_assert(sizeof(ApplyPush) <= KernelLaunch::kMaxPushBytes);
    ApplyPush push{g.width, g.height, s.w, s.h, a.scale, a.padding, g.columns, g.tiles,
                   a.per_tile ? 0xffffffffu : g.tiles, 0, kColormapBackground, kColormapNan, {}};
    const std::span<const Rgb8> stops = colormap_stops(a.map);
    push.stop_count = static_cast<uint32_t>(stops.size());
    for (size_t i = 0; i < stops.size(); ++i) push.stops[i] = colormap_pack(stops[i]);
    KernelLaunch apply;
    apply.shader = "colormap_apply";
    apply.workgroup = {16, 16, 1};
    apply.args = {Access::Read, Access::Read, Access::Write};
    apply.groups = {groups_for(g.width, 16), groups_for(g.height, 16), 1};
    apply.set_push(push);
    kernels.push_back({apply, {ColormapArg::X, ColormapArg::Temp, ColormapArg::Image}});
    return kernels;
}

} // namespace vkcnn::ops
