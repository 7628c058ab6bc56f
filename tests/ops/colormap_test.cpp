// colormap: the shaders (colormap_range, colormap_range_finish, colormap_apply)
// and the CPU kernel vs the reference, bit for bit, over single values, odd
// tiles, MNIST-sized channel grids, a 700 x 300 and a 1024 x 1024 tile (the
// range pass's strided reduction), more tiles than one grid row of
// workgroups, both norms, both maps, per-tile and global ranges, scale,
// columns and padding; every level boundary (where an inexact division would
// round the other way); colours worked out by hand from the stops; the
// geometry; the launches run by hand from one Recorder; errors.
#include "vkcnn/ops/colormap.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"
#include "vkcnn/vulkan/recorder.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ios>
#include <limits>
#include <sstream>

using namespace vkcnn;
using namespace vkcnn::test;
using ops::Colormap;
using ops::ColormapAttrs;
using ops::ColormapShape;
using ops::Normalize;

namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Hand-written colours (the stops' hex codes), independent of the header's table.
constexpr uint32_t rgb(uint32_t hex) {
    return ((hex >> 16) & 255u) | (hex & 0xff00u) | ((hex & 255u) << 16) | 0xff000000u;
}
constexpr uint32_t kBackground = rgb(0x202020), kMagenta = rgb(0xff00ff);
constexpr uint32_t kDivFirst = rgb(0x2166ac), kDivMid = rgb(0xf7f7f7), kDivLast = rgb(0xb2182b);
constexpr uint32_t kSeqFirst = rgb(0x440154), kSeqMid = rgb(0x21918c), kSeqLast = rgb(0xfde725);

// uint32 travels in run_kernel's float vectors bit for bit.
std::vector<uint32_t> as_u32(std::span<const float> v) {
    std::vector<uint32_t> out(v.size());
    std::memcpy(out.data(), v.data(), v.size() * 4);
    return out;
}

std::string describe(const ColormapShape& s, const ColormapAttrs& a) {
    return cat("x (", s.n, ", ", s.c, ", ", s.h, ", ", s.w, ") ",
               a.map == Colormap::Diverging ? "Diverging " : "Sequential ",
               a.norm == Normalize::Symmetric ? "Symmetric " : "MinMax ", a.per_tile ? "per tile" : "global",
               " columns ", a.columns, " padding ", a.padding, " scale ", a.scale);
}

std::string hex(uint32_t v) {
    std::ostringstream s;
    s << "0x" << std::hex << v;
    return s.str();
}

// Equal images, or the first differing pixel by its coordinates.
void check_same_image(std::span<const uint32_t> got, std::span<const uint32_t> want, uint32_t width,
                      const std::string& what) {
    REQUIRE_MESSAGE(got.size() == want.size(), what << ": sizes differ");
    for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] != want[i]) {
            FAIL_CHECK(what << ": pixel (x " << i % width << ", y " << i / width << ") is " << hex(got[i])
                            << ", expected " << hex(want[i]));
            return;
        }
    }
}

std::vector<uint32_t> reference(const ColormapShape& s, const ColormapAttrs& a, std::span<const float> x) {
    std::vector<uint32_t> image(ops::colormap_geometry(s, a).pixels());
    ops::colormap_reference(s, a, x, image);
    return image;
}

std::vector<uint32_t> on_cpu(cpu::ThreadPool& pool, const ColormapShape& s, const ColormapAttrs& a,
                             std::span<const float> x) {
    std::vector<uint32_t> image(ops::colormap_geometry(s, a).pixels());
    ops::colormap_cpu(pool, s, a, x, image);
    return image;
}

// The launches one after another, each through run_kernel (NaN-filled outputs,
// guard bands), the temporary and the image carried from one to the next.
std::vector<uint32_t> on_gpu(Device& dev, const ColormapShape& s, const ColormapAttrs& a,
                             const std::vector<float>& x) {
    std::vector<float> temp(ops::colormap_temp_bytes(s, a) / sizeof(float));
    std::vector<float> image(ops::colormap_geometry(s, a).pixels());
    for (const ops::ColormapKernel& k : ops::colormap_launches(s, a)) {
        auto buffer = [&](ops::ColormapArg b) -> std::vector<float>& {
            return b == ops::ColormapArg::Temp ? temp : image;
        };
        std::vector<std::vector<float>> args;
        for (const ops::ColormapArg b : k.args) args.push_back(b == ops::ColormapArg::X ? x : buffer(b));
        auto out = run_kernel(dev, k.launch, std::move(args));
        for (size_t i = 0; i < k.args.size(); ++i) {
            if (!writes(k.launch.args[i])) continue;
            REQUIRE(k.args[i] != ops::ColormapArg::X);
            buffer(k.args[i]) = std::move(out[i]);
        }
    }
    return as_u32(image);
}

// Values of mixed sign and size per tile (so per-tile and global ranges
// differ), with exact zeros, repeats, and optionally NaN and infinities.
std::vector<float> values(const ColormapShape& s, uint32_t seed, bool specials = true) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_int_distribution<int> pick(0, 199);
    std::vector<float> x(s.size());
    const size_t hw = s.tile_size();
    for (size_t t = 0; t < s.tiles(); ++t) {
        const float gain = 0.25f + 0.75f * static_cast<float>(t % 7), offset = 0.3f * static_cast<float>(t % 3);
        for (size_t i = 0; i < hw; ++i) {
            const int p = pick(rng);
            float v = u(rng) * gain + offset;
            if (p < 10) v = 0.0f;
            else if (p < 14 && i > 0) v = x[t * hw + i - 1];
            else if (specials && p == 14) v = kNan;
            else if (specials && p == 15) v = kInf;
            else if (specials && p == 16) v = -kInf;
            x[t * hw + i] = v;
        }
    }
    return x;
}

std::vector<ColormapAttrs> all_map_norms(ColormapAttrs base) {
    std::vector<ColormapAttrs> out;
    for (const Colormap map : {Colormap::Diverging, Colormap::Sequential})
        for (const Normalize norm : {Normalize::Symmetric, Normalize::MinMax}) {
            base.map = map;
            base.norm = norm;
            out.push_back(base);
        }
    return out;
}

// The cases the backends are compared on.
struct Case {
    ColormapShape shape;
    ColormapAttrs attrs;
};
std::vector<Case> cases() {
    std::vector<Case> out;
    auto add = [&](ColormapShape s, ColormapAttrs a) {
        for (const ColormapAttrs& v : all_map_norms(a)) out.push_back({s, v});
    };
    add({1, 1, 1, 1}, {});
    add({2, 3, 5, 7}, {});
    add({2, 3, 5, 7}, {.per_tile = false, .columns = 2, .padding = 0});
    add({2, 3, 5, 7}, {.per_tile = true, .columns = 4, .padding = 2, .scale = 2});
    add({1, 16, 28, 28}, {});
    add({1, 16, 28, 28}, {.per_tile = false, .columns = 5, .padding = 2, .scale = 2});
    add({1, 1, 700, 300}, {.padding = 0});
    add({1, 1, 700, 300}, {.per_tile = false});
    add({4, 5, 3, 1}, {.columns = 3, .padding = 2}); // an empty cell at the end of the last row
    add({1, 300, 1, 257}, {.per_tile = false, .columns = 1, .padding = 0});
    return out;
}

} // namespace

TEST_CASE("ops/colormap: geometry") {
    struct Want {
        ColormapShape shape;
        ColormapAttrs attrs;
        uint32_t tiles, columns, rows, width, height;
    };
    const Want wants[] = {
        {{1, 1, 1, 1}, {}, 1, 1, 1, 1, 1},
        {{2, 3, 5, 7}, {}, 6, 3, 2, 3 * 7 + 2, 2 * 5 + 1},                // ceil(sqrt(6)) = 3
        {{1, 16, 28, 28}, {}, 16, 4, 4, 4 * 28 + 3, 4 * 28 + 3},          // a perfect square
        {{1, 17, 28, 28}, {.padding = 0}, 17, 5, 4, 5 * 28, 4 * 28},       // ceil(sqrt(17)) = 5
        {{1, 5, 2, 3}, {}, 5, 3, 2, 3 * 3 + 2, 2 * 2 + 1},                 // ceil(sqrt(5)) = 3
        {{1, 16, 28, 28}, {.columns = 5, .padding = 2, .scale = 2}, 16, 5, 4, 5 * 56 + 4 * 2, 4 * 56 + 3 * 2},
        {{1, 1, 700, 300}, {.padding = 0}, 1, 1, 1, 300, 700},
        {{1, 1, 700, 300}, {.padding = 9}, 1, 1, 1, 300, 700},              // no padding around the edges
        {{1, 3, 4, 5}, {.columns = 10}, 3, 3, 1, 3 * 5 + 2, 4},              // columns clamped to the tiles
        {{1, 3, 4, 5}, {.columns = 1, .scale = 3}, 3, 1, 3, 15, 3 * 12 + 2},
        {{64, 3, 8, 8}, {}, 192, 14, 14, 14 * 8 + 13, 14 * 8 + 13},        // ceil(sqrt(192)) = 14
        {{1, 70000, 1, 1}, {.padding = 0}, 70000, 265, 265, 265, 265},      // ceil(sqrt(70000)) = 265
    };
    for (const Want& w : wants) {
        CAPTURE(describe(w.shape, w.attrs));
        const ops::ColormapGeometry g = ops::colormap_geometry(w.shape, w.attrs);
        CHECK(g.tiles == w.tiles);
        CHECK(g.columns == w.columns);
        CHECK(g.rows == w.rows);
        CHECK(g.width == w.width);
        CHECK(g.height == w.height);
        CHECK(g.pixels() == size_t{w.width} * w.height);
    }
    // (H, W), (C, H, W), (N, C, H, W).
    auto same = [](ColormapShape a, ColormapShape b) { return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w; };
    CHECK(same(ops::colormap_shape(std::vector<int64_t>{28, 27}), {1, 1, 28, 27}));
    CHECK(same(ops::colormap_shape(std::vector<int64_t>{6, 28, 27}), {1, 6, 28, 27}));
    CHECK(same(ops::colormap_shape(std::vector<int64_t>{2, 6, 28, 27}), {2, 6, 28, 27}));
    // Temporaries: (lo, hi) per tile, and one more pair for the whole tensor.
    CHECK(ops::colormap_temp_bytes({2, 3, 5, 7}, {}) == 6 * 2 * 4);
    CHECK(ops::colormap_temp_bytes({2, 3, 5, 7}, {.per_tile = false}) == 7 * 2 * 4);
}

TEST_CASE_FIXTURE(GpuTest, "ops/colormap: colours worked out by hand, on every backend") {
    cpu::ThreadPool pool(2);
    struct Hand {
        const char* what;
        ColormapShape shape;
        ColormapAttrs attrs;
        std::vector<float> x;
        std::vector<uint32_t> want;
    };
    const ColormapAttrs seq_minmax{.map = Colormap::Sequential, .norm = Normalize::MinMax};
    const ColormapAttrs div_minmax{.map = Colormap::Diverging, .norm = Normalize::MinMax};
    const ColormapAttrs seq_sym{.map = Colormap::Sequential, .norm = Normalize::Symmetric};
    // t = 1/16 is halfway from #440154 to #472d7b: (68 + 71) / 2 = 69.5 -> 70, (1 + 45) / 2 = 23,
    // (84 + 123) / 2 = 103.5 -> 104 (halves round up).
    const uint32_t seq_sixteenth = rgb(0x461768);
    const Hand hands[] = {
        // Symmetric: -m, -m/2, 0, m/2, m -> stops 0, 2, 4, 6, 8.
        {"symmetric diverging", {1, 1, 1, 5}, {}, {-2, -1, 0, 1, 2},
         {kDivFirst, rgb(0x92c5de), kDivMid, rgb(0xf4a582), kDivLast}},
        // Symmetric with one-sided values: m = 4, so 0 is still the middle.
        {"symmetric, positive values", {1, 1, 1, 3}, {}, {0, 2, 4}, {kDivMid, rgb(0xf4a582), kDivLast}},
        {"symmetric sequential", {1, 1, 1, 3}, seq_sym, {-3, 0, 3}, {kSeqFirst, kSeqMid, kSeqLast}},
        // MinMax: min, min + d/4, min + d/2, max -> stops 0, 2, 4, 8.
        {"minmax sequential", {1, 1, 1, 4}, seq_minmax, {3, 4, 5, 7},
         {kSeqFirst, rgb(0x3b528b), kSeqMid, kSeqLast}},
        {"minmax, half between two stops", {1, 1, 1, 3}, seq_minmax, {0, 0.0625f, 1},
         {kSeqFirst, seq_sixteenth, kSeqLast}},
        {"minmax diverging", {1, 1, 1, 3}, div_minmax, {10, 11, 12}, {kDivFirst, kDivMid, kDivLast}},
        // Constant ranges draw the middle colour.
        {"constant tile", {1, 1, 1, 3}, seq_minmax, {5, 5, 5}, {kSeqMid, kSeqMid, kSeqMid}},
        {"all zeros, symmetric", {1, 1, 2, 1}, {}, {0, -0.0f}, {kDivMid, kDivMid}},
        {"one value", {1, 1, 1, 1}, div_minmax, {-7}, {kDivMid}},
        // NaN is magenta and left out of the range; infinities clamp and are left out too.
        {"NaN", {1, 1, 1, 4}, seq_minmax, {kNan, 1, 3, kNan}, {kMagenta, kSeqFirst, kSeqLast, kMagenta}},
        {"only NaN", {1, 1, 1, 2}, {}, {kNan, kNan}, {kMagenta, kMagenta}},
        {"infinities", {1, 1, 1, 4}, seq_minmax, {-kInf, 1, 3, kInf}, {kSeqFirst, kSeqFirst, kSeqLast, kSeqLast}},
        {"infinities, symmetric", {1, 1, 1, 4}, {}, {kInf, 0.5f, -kInf, 0}, {kDivLast, kDivLast, kDivFirst, kDivMid}},
        {"infinities in a constant tile", {1, 1, 1, 3}, seq_minmax, {2, kInf, -kInf}, {kSeqMid, kSeqLast, kSeqFirst}},
        {"only infinities", {1, 1, 1, 2}, {}, {kInf, -kInf}, {kDivLast, kDivFirst}},
        // A range past FLT_MAX: the halves.
        {"overflowing range", {1, 1, 1, 3}, div_minmax, {-3e38f, 0, 3e38f}, {kDivFirst, kDivMid, kDivLast}},
        {"overflowing symmetric range", {1, 1, 1, 3}, {}, {-2e38f, 2e38f, 0}, {kDivFirst, kDivLast, kDivMid}},
        // Padding between tiles (none at the edges) and the empty cell after the last tile.
        {"padding", {1, 2, 1, 1}, {.padding = 2}, {1, -1}, {kDivLast, kBackground, kBackground, kDivFirst}},
        {"empty cell", {1, 3, 1, 1}, {.columns = 2, .padding = 1}, {1, 0, 2},
         {kDivLast, kBackground, kDivMid, kBackground, kBackground, kBackground, kDivLast, kBackground, kBackground}},
        // Scale 2: each value a 2 x 2 block.
        {"scale", {1, 1, 1, 2}, {.map = Colormap::Sequential, .norm = Normalize::MinMax, .scale = 2}, {0, 1},
         {kSeqFirst, kSeqFirst, kSeqLast, kSeqLast, kSeqFirst, kSeqFirst, kSeqLast, kSeqLast}},
        // Per tile: each tile spans the whole map; global: the tensor's range [0, 4].
        {"per tile", {1, 2, 1, 2}, {.map = Colormap::Sequential, .norm = Normalize::MinMax, .padding = 0},
         {0, 1, 2, 4}, {kSeqFirst, kSeqLast, kSeqFirst, kSeqLast}},
        {"global", {1, 2, 1, 2},
         {.map = Colormap::Sequential, .norm = Normalize::MinMax, .per_tile = false, .padding = 0},
         {0, 1, 2, 4}, {kSeqFirst, rgb(0x3b528b), kSeqMid, kSeqLast}},
        {"global, a tile of NaN", {2, 1, 1, 2},
         {.map = Colormap::Sequential, .norm = Normalize::MinMax, .per_tile = false, .padding = 0},
         {kNan, kNan, -1, 3}, {kMagenta, kMagenta, kSeqFirst, kSeqLast}},
        // m = 4 over the tensor: 1 is t = 5/8 (stop 5), 2 is t = 3/4 (stop 6).
        {"global symmetric", {1, 2, 1, 2}, {.per_tile = false, .padding = 0}, {0, 1, -4, 2},
         {kDivMid, rgb(0xfddbc7), kDivFirst, rgb(0xf4a582)}},
    };
    for (const Hand& h : hands) {
        CAPTURE(h.what);
        const uint32_t width = ops::colormap_geometry(h.shape, h.attrs).width;
        const std::vector<uint32_t>& want = h.want;
        check_same_image(reference(h.shape, h.attrs, h.x), want, width, "reference");
        check_same_image(on_cpu(pool, h.shape, h.attrs, h.x), want, width, "cpu");
        check_same_image(on_gpu(dev, h.shape, h.attrs, h.x), want, width, "gpu");
    }
    // The bytes in memory are R, G, B, A.
    const std::vector<uint32_t> image = reference({1, 1, 1, 2}, {}, std::vector<float>{-1, 1});
    uint8_t bytes[8];
    std::memcpy(bytes, image.data(), 8);
    CHECK(bytes[0] == 0x21);
    CHECK(bytes[1] == 0x66);
    CHECK(bytes[2] == 0xac);
    CHECK(bytes[3] == 0xff);
    CHECK(bytes[4] == 0xb2);
    CHECK(bytes[5] == 0x18);
    CHECK(bytes[6] == 0x2b);
    CHECK(bytes[7] == 0xff);
    // The header's table is the one the backends use: its ends and middle are the hex codes above.
    CHECK(ops::colormap_pack(ops::kDivergingStops.front()) == kDivFirst);
    CHECK(ops::colormap_pack(ops::kDivergingStops[4]) == kDivMid);
    CHECK(ops::colormap_pack(ops::kDivergingStops.back()) == kDivLast);
    CHECK(ops::colormap_pack(ops::kSequentialStops.front()) == kSeqFirst);
    CHECK(ops::colormap_pack(ops::kSequentialStops[4]) == kSeqMid);
    CHECK(ops::colormap_pack(ops::kSequentialStops.back()) == kSeqLast);
    CHECK(ops::kColormapBackground == kBackground);
    CHECK(ops::kColormapNan == kMagenta);
}

TEST_CASE_FIXTURE(GpuTest, "ops/colormap: every stop of both maps from the shader") {
    // Values at t = i / 8 of a MinMax range [0, 8]: exactly stop i of the table.
    cpu::ThreadPool pool(1);
    for (const Colormap map : {Colormap::Diverging, Colormap::Sequential}) {
        const std::span<const ops::Rgb8> stops = ops::colormap_stops(map);
        REQUIRE(stops.size() == 9);
        const ColormapShape s{1, 1, 1, 9};
        const ColormapAttrs a{.map = map, .norm = Normalize::MinMax};
        const std::vector<float> x{0, 1, 2, 3, 4, 5, 6, 7, 8};
        std::vector<uint32_t> want;
        for (const ops::Rgb8& c : stops) want.push_back(ops::colormap_pack(c));
        check_same_image(on_gpu(dev, s, a, x), want, 9, "gpu stops");
        check_same_image(on_cpu(pool, s, a, x), want, 9, "cpu stops");
        check_same_image(reference(s, a, x), want, 9, "reference stops");
    }
}

TEST_CASE("ops/colormap: the CPU kernel equals the reference for any thread count") {
    uint32_t seed = 1;
    for (const Case& c : cases()) {
        CAPTURE(describe(c.shape, c.attrs));
        const auto x = values(c.shape, ++seed);
        const auto want = reference(c.shape, c.attrs, x);
        const uint32_t width = ops::colormap_geometry(c.shape, c.attrs).width;
        for (const unsigned threads : {1u, 2u, 3u}) {
            CAPTURE(threads);
            cpu::ThreadPool pool(threads);
            check_same_image(on_cpu(pool, c.shape, c.attrs, x), want, width, "cpu");
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/colormap: the shaders equal the reference bit for bit") {
    uint32_t seed = 100;
    std::vector<Case> all = cases();
    // A 1024 x 1024 tile (1024 iterations of each of the range pass's 256
    // invocations) and more tiles than one row of the range pass's grid (65535).
    all.push_back({{1, 1, 1024, 1024}, {}});
    // (70000 workgroups take lavapipe about two seconds: that one runs once.)
    all.push_back({{1, 70000, 1, 1}, {.map = Colormap::Sequential, .norm = Normalize::MinMax, .per_tile = false}});
    for (const Case& c : all) {
        CAPTURE(describe(c.shape, c.attrs));
        for (const bool specials : {true, false}) {
            if (!specials && c.shape.tiles() > 65535) continue;
            CAPTURE(specials);
            const auto x = values(c.shape, ++seed, specials);
            const uint32_t width = ops::colormap_geometry(c.shape, c.attrs).width;
            check_same_image(on_gpu(dev, c.shape, c.attrs, x), reference(c.shape, c.attrs, x), width, "gpu");
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/colormap: levels at and beside every 1/65536 step") {
    // For a range (lo, hi), the values lo + j * (hi - lo) / 65536 for every j
    // and their float neighbours: where a level changes, so a division a few
    // ulps off (Vulkan allows 2.5) would pick the other level without the
    // exact correction. Ranges of exact and inexact widths, and Symmetric.
    cpu::ThreadPool pool(2);
    struct Range {
        float lo, hi;
        Normalize norm;
    };
    const Range ranges[] = {{0.0f, 1.0f, Normalize::MinMax},
                            {-0.3f, 1.7f, Normalize::MinMax},
                            {1000.1f, 1003.7f, Normalize::MinMax},
                            {-3.0f, 3.0f, Normalize::Symmetric},
                            {-0.7f, 0.7f, Normalize::Symmetric}};
    const ColormapShape s{1, 1, 512, 385}; // 197120 >= 3 * 65537 values
    for (const Range& r : ranges) {
        CAPTURE(r.lo);
        CAPTURE(r.hi);
        std::vector<float> x(s.size(), 0.5f * (r.lo + r.hi));
        x[0] = r.lo;
        x[1] = r.hi;
        size_t i = 2;
        const double d = double{r.hi} - double{r.lo};
        for (uint32_t j = 0; j <= ops::kColormapLevels && i + 3 <= x.size(); ++j) {
            const float v = static_cast<float>(double{r.lo} + d * j / ops::kColormapLevels);
            for (const float w : {std::nextafter(v, -kInf), v, std::nextafter(v, kInf)})
                x[i++] = std::clamp(w, r.lo, r.hi);
        }
        for (const Colormap map : {Colormap::Diverging, Colormap::Sequential}) {
            const ColormapAttrs a{.map = map, .norm = r.norm, .padding = 0};
            CAPTURE(describe(s, a));
            const auto want = reference(s, a, x);
            check_same_image(on_gpu(dev, s, a, x), want, s.w, "gpu");
            check_same_image(on_cpu(pool, s, a, x), want, s.w, "cpu");
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/colormap: the range pass covers a 4096 x 4096 tile, the largest") {
    // The range pass alone: the extremes sit in the last values, which only
    // the last of each invocation's 16384 iterations reaches.
    const ColormapShape s{1, 1, 4096, 4096};
    REQUIRE(s.tile_size() == ops::kColormapMaxTile);
    std::vector<float> x(s.size(), 0.25f);
    x[s.size() - 1] = -3.5f;
    x[s.size() - 2] = 7.25f;
    x[s.size() - 300] = kNan;
    x[s.size() - 301] = kInf;
    const auto kernels = ops::colormap_launches(s, {.norm = Normalize::MinMax});
    REQUIRE(kernels.front().launch.shader == "colormap_range");
    const auto ranges = run_kernel(dev, kernels.front().launch, {x, std::vector<float>(2)})[1];
    CHECK(ranges[0] == -3.5f);
    CHECK(ranges[1] == 7.25f);
    const auto sym = run_kernel(dev, ops::colormap_launches(s, {})[0].launch, {x, std::vector<float>(2)})[1];
    CHECK(sym[0] == -7.25f);
    CHECK(sym[1] == 7.25f);
}

TEST_CASE_FIXTURE(GpuTest, "ops/colormap: the launches recorded by hand into one Recorder") {
    // As a renderer would: its own buffers, every launch in one command
    // buffer, the barriers from the declared accesses (sync validation checks them).
    for (const bool per_tile : {true, false}) {
        CAPTURE(per_tile);
        const ColormapShape s{2, 8, 28, 28};
        const ColormapAttrs a{.per_tile = per_tile, .padding = 2, .scale = 2};
        const auto x = values(s, 77);
        const ops::ColormapGeometry g = ops::colormap_geometry(s, a);
        vulkan::Buffer xb = dev.create_buffer(x.size() * 4, "colormap x");
        vulkan::Buffer temp = dev.create_buffer(ops::colormap_temp_bytes(s, a), "colormap temp");
        vulkan::Buffer image = dev.create_buffer(g.pixels() * 4, "colormap image");
        dev.upload<float>(xb, x);
        vulkan::Recorder rec(dev);
        const auto kernels = ops::colormap_launches(s, a);
        CHECK(kernels.size() == (per_tile ? 2u : 3u));
        for (const ops::ColormapKernel& k : kernels) {
            std::vector<vulkan::BufferRange> args;
            for (const ops::ColormapArg b : k.args)
                args.emplace_back(b == ops::ColormapArg::X ? xb : b == ops::ColormapArg::Temp ? temp : image);
            rec.dispatch(k.launch, args, "colormap");
        }
        rec.submit_and_wait("colormap");
        std::vector<uint32_t> got(g.pixels());
        dev.download<uint32_t>(image, got);
        check_same_image(got, reference(s, a, x), g.width, "recorded");
    }
}

TEST_CASE("ops/colormap: launch shapes") {
    const ColormapShape s{2, 3, 5, 7};
    auto k = ops::colormap_launches(s, {});
    REQUIRE(k.size() == 2);
    CHECK(k[0].launch.shader == "colormap_range");
    CHECK(k[0].launch.groups == std::array<uint32_t, 3>{6, 1, 1});
    CHECK(k[0].args == std::vector{ops::ColormapArg::X, ops::ColormapArg::Temp});
    CHECK(k[0].launch.args == std::vector{Access::Read, Access::Write});
    CHECK(k[1].launch.shader == "colormap_apply");
    CHECK(k[1].args == std::vector{ops::ColormapArg::X, ops::ColormapArg::Temp, ops::ColormapArg::Image});
    CHECK(k[1].launch.args == std::vector{Access::Read, Access::Read, Access::Write});
    CHECK(k[1].launch.groups == std::array<uint32_t, 3>{2, 1, 1}); // 23 x 11 pixels in 16 x 16 groups
    k = ops::colormap_launches(s, {.per_tile = false});
    REQUIRE(k.size() == 3);
    CHECK(k[1].launch.shader == "colormap_range_finish");
    CHECK(k[1].args == std::vector{ops::ColormapArg::Temp});
    CHECK(k[1].launch.args == std::vector{Access::ReadWrite});
    // Past 65535 tiles the range pass's grid has a second row.
    k = ops::colormap_launches({1, 70000, 1, 1}, {});
    CHECK(k[0].launch.groups == std::array<uint32_t, 3>{65535, 2, 1});
}

TEST_CASE("ops/colormap: errors name the problem") {
    cpu::ThreadPool pool(1);
    const ColormapShape s{1, 2, 3, 4};
    CHECK_THROWS_WITH_AS(ops::check_colormap_attrs({.scale = 0}), "colormap: scale is 0, expected at least 1", Error);
    CHECK_THROWS_WITH_AS(ops::check_colormap_attrs({.map = static_cast<Colormap>(7)}),
                         "colormap: map is 7, expected Diverging (0) or Sequential (1)", Error);
    CHECK_THROWS_WITH_AS(ops::check_colormap_attrs({.norm = static_cast<Normalize>(2)}),
                         "colormap: norm is 2, expected MinMax (0) or Symmetric (1)", Error);
    CHECK_THROWS_WITH_AS(ops::check_colormap_attrs({.padding = 70000}),
                         "colormap: padding is 70000, expected at most 65535", Error);
    CHECK_THROWS_WITH_AS(ops::colormap_geometry(s, {.scale = 0}), "colormap: scale is 0, expected at least 1", Error);
    CHECK_THROWS_WITH_AS(ops::colormap_geometry({1, 2, 0, 4}, {}), "colormap: x (1, 2, 0, 4) is empty", Error);
    CHECK_THROWS_WITH_AS(ops::colormap_geometry({1, 1, 1, 40000}, {.scale = 2}),
                         "colormap: a tile of 1 x 40000 at scale 2 is 2 x 80000 pixels, more than the image's 65535",
                         Error);
    CHECK_THROWS_WITH_AS(ops::colormap_geometry({1, 4900, 1000, 1000}, {}),
                         "colormap: 4900 tiles of 1000 x 1000 pixels in 70 rows of 70 with padding 1 make a 70069 x "
                         "70069 image, more than 65535 x 65535",
                         Error);
    CHECK_THROWS_WITH_AS(ops::colormap_geometry({1, 70, 1000, 1000}, {.columns = 1}),
                         "colormap: 70 tiles of 1000 x 1000 pixels in 70 rows of 1 with padding 1 make a 1000 x 70069 "
                         "image, more than 65535 x 65535",
                         Error);
    CHECK_THROWS_WITH_AS(ops::colormap_shape(std::vector<int64_t>{5}),
                         "colormap: x has rank 1, expected (H, W), (C, H, W) or (N, C, H, W)", Error);
    CHECK_THROWS_WITH_AS(ops::colormap_shape(std::vector<int64_t>{1, 2, 3, 4, 5}),
                         "colormap: x has rank 5, expected (H, W), (C, H, W) or (N, C, H, W)", Error);
    CHECK_THROWS_WITH_AS(ops::colormap_shape(std::vector<int64_t>{3, 0, 4}),
                         "colormap: dimension 1 of x is 0, expected 1 to 2^32 - 1", Error);
    std::vector<float> x(s.size());
    std::vector<uint32_t> image(ops::colormap_geometry(s, {}).pixels());
    CHECK_THROWS_WITH_AS(ops::colormap_reference(s, {}, std::span(x).first(23), image),
                         "colormap_reference: x has 23 elements, expected (1, 2, 3, 4) = 24", Error);
    CHECK_THROWS_WITH_AS(ops::colormap_cpu(pool, s, {}, x, std::span(image).first(3)),
                         "colormap_cpu: image has 3 pixels, expected 9 x 3 = 27", Error);
    // The GPU range pass's limit: a tile past 4096 x 4096 values (the CPU has none).
    CHECK_THROWS_WITH_AS(ops::colormap_launches({1, 1, 4097, 4096}, {}),
                         "colormap: a tile of 4097 x 4096 = 16781312 values exceeds the GPU range pass's 16777216 "
                         "(4096 x 4096)",
                         Error);
    CHECK_NOTHROW(ops::colormap_launches({1, 1, 4096, 4096}, {}));
}
