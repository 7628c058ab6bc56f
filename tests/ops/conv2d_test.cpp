// conv2d: the shaders (conv2d_forward, conv2d_forward_bias,
// conv2d_backward_data, conv2d_backward_weight, their shared-memory tiled
// variants conv2d_forward_tiled, conv2d_forward_bias_tiled,
// conv2d_backward_data_tiled, conv2d_backward_weight_tiled, and
// conv2d_backward_weight_sum, conv2d_backward_bias) vs the CPU kernels (im2col + sgemm) vs the plain
// references, bit-exact on small integers and within rounding of the double
// reference on real inputs, over a sweep of shapes, other tilings, a shrunk
// grid and a seeded random-shape fuzzer, the backward weight both in one pass
// and split into chunks; LeNet's first layer, whose backward weight is split;
// the double reference's backward vs finite differences; PyTorch's
// output-size rule; bad shapes, also ones whose sizes overflow 64 bits.
#include "vkcnn/ops/conv2d.h"

#include "support/compare.h"
#include "support/fuzz_seeds.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::test;
using ops::Conv2dAttrs;
using ops::Conv2dShape;

namespace {

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }

// Sums of k products of numbers in [-1, 1]: rtol 3 sqrt(k) 2^-23, atol that
// much again per sqrt(k) of typical result magnitude (as the linear tests).
double rtol_for(size_t k) { return 3.0 * std::sqrt(static_cast<double>(std::max<size_t>(k, 1))) * 0x1p-23; }
double atol_for(size_t k) { return rtol_for(k) * std::sqrt(static_cast<double>(std::max<size_t>(k, 1))); }

// One convolution to test, written the way torch.nn.Conv2d is called.
struct Case {
    uint32_t n, c_in, h, w, c_out, kh, kw;
    Conv2dAttrs a{};
    bool bias = false;
    bool same = false; // padding='same', resolved in shape()

    Case& stride(uint32_t sh, uint32_t sw) { return a.stride_h = sh, a.stride_w = sw, *this; }
    Case& pad(uint32_t ph, uint32_t pw) { return a.pad(ph, pw), *this; }
    Case& pads(uint32_t t, uint32_t b, uint32_t l, uint32_t r) {
        a.pad_top = t, a.pad_bottom = b, a.pad_left = l, a.pad_right = r;
        return *this;
    }
    Case& dilation(uint32_t dh, uint32_t dw) { return a.dilation_h = dh, a.dilation_w = dw, *this; }
    Case& groups(uint32_t g) { return a.groups = g, *this; }
    Case& with_bias() { return bias = true, *this; }
    Case& pad_same() { return same = true, *this; }

    Conv2dAttrs attrs() const {
        Conv2dAttrs r = a;
        if (same) r.pad_same(kh, kw);
        return r;
    }
    Conv2dShape shape() const { return ops::conv2d_shape({n, c_in, h, w}, {c_out, c_in / a.groups, kh, kw}, attrs(), bias); }
};

// Both GEMM kernels, whatever the test device's quirks choose: register
// blocks (lavapipe's are 64 x 64) and shared-memory tiles, two sizes each.
const GemmTuning kPaths[] = {{.shared_memory_tiles = false, .tile_m = 32, .tile_n = 32},
                             {.shared_memory_tiles = false, .tile_m = 64, .tile_n = 64},
                             {.shared_memory_tiles = true, .tile_m = 32, .tile_n = 32},
                             {.shared_memory_tiles = true, .tile_m = 64, .tile_n = 64}};

std::string path_name(const GemmTuning& t) {
    return cat(t.shared_memory_tiles ? "shared-memory tiles " : "register blocks ", t.tile_m, "x", t.tile_n);
}

// All the shape parameters on one line: enough to rebuild the case.
std::string describe(const Case& c) {
    const Conv2dAttrs a = c.attrs();
    return cat("x (", c.n, ", ", c.c_in, ", ", c.h, ", ", c.w, ") weight (", c.c_out, ", ", c.c_in / a.groups, ", ", c.kh,
               ", ", c.kw, ") stride ", a.stride_h, "x", a.stride_w, " pad top ", a.pad_top, " bottom ", a.pad_bottom,
               " left ", a.pad_left, " right ", a.pad_right, c.same ? " (same)" : "", " dilation ", a.dilation_h, "x",
               a.dilation_w, " groups ", a.groups, c.bias ? " bias" : " no bias");
}

struct Data {
    std::vector<float> x, w, b, dy;
};

Data make_data(const Conv2dShape& s, uint32_t seed, bool integers) {
    auto gen = [&](size_t n, uint32_t sd) { return integers ? small_integers(n, sd) : uniform(n, sd); };
    return {gen(s.x_size(), seed), gen(s.w_size(), seed + 1), s.bias ? gen(s.c_out, seed + 2) : std::vector<float>{},
            gen(s.y_size(), seed + 3)};
}

// The four results of one case: forward, dx, dw, db; from the GPU also dw
// through the split backward weight (chunks, then their sum).
template <typename T>
struct Results {
    std::vector<T> y, dx, dw, db;
    std::vector<T> dw_split;
    uint32_t split = 0;
};

// The backward weight in `split` chunks: partials, then the sum pass.
std::vector<float> gpu_backward_weight_split(Device& dev, const Conv2dShape& s, const Data& d,
                                             const GemmTuning& tuning, uint32_t split,
                                             const std::function<KernelLaunch(KernelLaunch)>& adjust) {
    REQUIRE(split > 1);
    const auto partials =
        run_kernel(dev, adjust(ops::conv2d_backward_weight_launch(s, tuning, split)),
                   {d.x, d.dy, std::vector<float>(ops::conv2d_backward_weight_partials_size(s, split))})[2];
    return run_kernel(dev, ops::conv2d_backward_weight_sum_launch(s, split),
                      {partials, std::vector<float>(s.w_size())})[1];
}

// The Vulkan kernels, each in its own guarded run. grid_x, when given, caps
// the GEMM kernels' grid in x so that their grid-stride loop goes round.
Results<float> run_gpu(Device& dev, const Conv2dShape& s, const Data& d, const GemmTuning& tuning,
                       std::optional<uint32_t> grid_x = {}) {
    auto capped = [&](KernelLaunch l) {
        if (grid_x) l.groups[0] = std::min(l.groups[0], *grid_x);
        return l;
    };
    Results<float> r;
    const KernelLaunch fl = capped(ops::conv2d_forward_launch(s, tuning));
    CHECK(fl.shader == cat(s.bias ? "conv2d_forward_bias" : "conv2d_forward", tuning.shared_memory_tiles ? "_tiled" : ""));
    CHECK(ops::conv2d_backward_data_launch(s, tuning).shader ==
          (tuning.shared_memory_tiles ? "conv2d_backward_data_tiled" : "conv2d_backward_data"));
    CHECK(ops::conv2d_backward_weight_launch(s, tuning).shader ==
          (tuning.shared_memory_tiles ? "conv2d_backward_weight_tiled" : "conv2d_backward_weight"));
    std::vector<std::vector<float>> fargs = {d.x, d.w};
    if (s.bias) fargs.push_back(d.b);
    fargs.emplace_back(s.y_size());
    r.y = run_kernel(dev, fl, std::move(fargs)).back();
    r.dx = run_kernel(dev, capped(ops::conv2d_backward_data_launch(s, tuning)), {d.w, d.dy, std::vector<float>(s.x_size())})[2];
    r.dw = run_kernel(dev, capped(ops::conv2d_backward_weight_launch(s, tuning)), {d.x, d.dy, std::vector<float>(s.w_size())})[2];
    // The split the graph would take, or 3 chunks (empty ones when there are
    // fewer rows) where it takes none, so every case runs the split path too.
    const uint32_t chosen = ops::conv2d_backward_weight_split(s, tuning);
    r.split = chosen > 1 ? chosen : std::min<uint32_t>(3, 65535 / s.attrs.groups);
    if (r.split > 1) r.dw_split = gpu_backward_weight_split(dev, s, d, tuning, r.split, capped);
    r.db = run_kernel(dev, ops::conv2d_backward_bias_launch(s), {d.dy, std::vector<float>(s.c_out)})[1];
    return r;
}

// The CPU kernels, outputs pre-filled with NaN (they write, never read, them).
Results<float> run_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, const Data& d) {
    const float nan = std::nanf("");
    Results<float> r{std::vector<float>(s.y_size(), nan), std::vector<float>(s.x_size(), nan),
                     std::vector<float>(s.w_size(), nan), std::vector<float>(s.c_out, nan)};
    ops::conv2d_forward_cpu(pool, s, d.x, d.w, d.b, r.y);
    ops::conv2d_backward_data_cpu(pool, s, d.w, d.dy, r.dx);
    ops::conv2d_backward_weight_cpu(pool, s, d.x, d.dy, r.dw);
    ops::conv2d_backward_bias_cpu(pool, s, d.dy, r.db);
    return r;
}

template <typename T>
Results<T> run_reference(const Conv2dShape& s, const Data& d) {
    const std::vector<T> x(d.x.begin(), d.x.end()), w(d.w.begin(), d.w.end()), b(d.b.begin(), d.b.end()),
        dy(d.dy.begin(), d.dy.end());
    Results<T> r{std::vector<T>(s.y_size()), std::vector<T>(s.x_size()), std::vector<T>(s.w_size()),
                 std::vector<T>(s.c_out)};
    ops::conv2d_forward_reference<T>(s, x, w, b, r.y);
    ops::conv2d_backward_data_reference<T>(s, w, dy, r.dx);
    ops::conv2d_backward_weight_reference<T>(s, x, dy, r.dw);
    ops::conv2d_backward_bias_reference<T>(s, dy, r.db);
    return r;
}

void check_exact(const Results<float>& got, const Results<float>& want, const std::string& who) {
    check_bitwise_equal(got.y, want.y, who + " forward");
    check_bitwise_equal(got.dx, want.dx, who + " backward_data");
    check_bitwise_equal(got.dw, want.dw, who + " backward_weight");
    if (!got.dw_split.empty())
        check_bitwise_equal(got.dw_split, want.dw, cat(who, " backward_weight in ", got.split, " chunks"));
    check_bitwise_equal(got.db, want.db, who + " backward_bias");
}

// Tolerances scaled by each result's reduction length.
void check_close(const Conv2dShape& s, const Results<float>& got, const Results<double>& want, const std::string& who) {
    const size_t k_fwd = size_t{s.cin_g()} * s.kh * s.kw + (s.bias ? 1 : 0);
    const size_t k_dx = size_t{s.cout_g()} * s.kh * s.kw;
    const size_t k_w = size_t{s.n} * s.oh * s.ow;
    check_allclose(got.y, to_float(want.y), atol_for(k_fwd), rtol_for(k_fwd), who + " forward");
    check_allclose(got.dx, to_float(want.dx), atol_for(k_dx), rtol_for(k_dx), who + " backward_data");
    check_allclose(got.dw, to_float(want.dw), atol_for(k_w), rtol_for(k_w), who + " backward_weight");
    if (!got.dw_split.empty())
        check_allclose(got.dw_split, to_float(want.dw), atol_for(k_w), rtol_for(k_w),
                       cat(who, " backward_weight in ", got.split, " chunks"));
    check_allclose(got.db, to_float(want.db), atol_for(k_w), rtol_for(k_w), who + " backward_bias");
}

// GPU == CPU == float reference, bit for bit, on small integers.
void exact_case(Device& dev, cpu::ThreadPool& pool, const Case& c, uint32_t seed, const GemmTuning& tuning,
                std::optional<uint32_t> grid_x = {}) {
    const Conv2dShape s = c.shape();
    const Data d = make_data(s, seed, true);
    const Results<float> ref = run_reference<float>(s, d);
    check_exact(run_cpu(pool, s, d), ref, "cpu");
    check_exact(run_gpu(dev, s, d, tuning, grid_x), ref, "vulkan");
}

// GPU and CPU within rounding of the double reference on uniform inputs.
void real_case(Device& dev, cpu::ThreadPool& pool, const Case& c, uint32_t seed, const GemmTuning& tuning) {
    const Conv2dShape s = c.shape();
    const Data d = make_data(s, seed, false);
    const Results<double> ref = run_reference<double>(s, d);
    check_close(s, run_cpu(pool, s, d), ref, "cpu");
    check_close(s, run_gpu(dev, s, d, tuning), ref, "vulkan");
}

// The sweep: spatial sizes 1..65, kernels 1/3/5/7 and non-square ones,
// strides 1-3, dilations 1-2, padding 0..k-1 (symmetric, asymmetric,
// 'same'), groups and depthwise, batch 1 and odd, the 1x1 fast path and its
// near misses, with and without bias, channel counts around the tile edges.
const Case kSweep[] = {
    // 1x1: the pointwise fast path (stride 1, no padding), grouped, and the near misses.
    Case{2, 8, 7, 5, 6, 1, 1}.with_bias(),
    Case{1, 6, 9, 9, 9, 1, 1}.groups(3),
    Case{3, 4, 17, 17, 5, 1, 1}.stride(2, 2).with_bias(),
    Case{1, 3, 7, 7, 4, 1, 1}.pad(1, 1),
    Case{1, 2, 7, 3, 3, 1, 1}.stride(3, 1).dilation(2, 2),
    // 3x3.
    Case{1, 3, 31, 31, 8, 3, 3}.pad(1, 1).with_bias(),
    Case{3, 4, 33, 33, 4, 3, 3}.stride(2, 2).pad(1, 1),
    Case{1, 5, 17, 31, 7, 3, 3}.stride(3, 3).dilation(2, 2).pad(2, 0).with_bias(),
    Case{1, 33, 7, 7, 17, 3, 3}.pad(1, 1).with_bias(), // rows beyond one tile, odd tile edges
    Case{1, 17, 7, 7, 33, 3, 3}.pad(2, 2),
    // 5x5 and 7x7, padding up to k - 1.
    Case{1, 2, 65, 65, 4, 5, 5}.with_bias(),
    Case{1, 3, 17, 17, 4, 5, 5}.dilation(2, 2).pad_same().with_bias(),
    Case{1, 2, 65, 33, 3, 7, 7}.stride(3, 3).pad(3, 6),
    Case{1, 1, 7, 7, 2, 7, 7}.pad(6, 6).with_bias(),
    Case{3, 2, 3, 3, 2, 7, 7}.pad_same(),
    Case{1, 2, 3, 3, 3, 5, 5}.pad(4, 4).stride(2, 1),
    // Non-square kernels and asymmetric padding.
    Case{1, 3, 17, 7, 5, 3, 5}.pads(0, 2, 1, 0).with_bias(),
    Case{5, 2, 7, 17, 3, 1, 7}.pads(0, 0, 3, 2).stride(1, 2),
    Case{1, 2, 31, 7, 4, 7, 1}.pads(6, 0, 0, 0).dilation(2, 1),
    Case{1, 4, 8, 8, 4, 4, 2}.pad_same().with_bias(), // even kernel: the odd 'same' padding goes bottom / right
    // Tiny inputs: 1x1 images, the kernel as large as the padded input.
    Case{1, 3, 1, 1, 2, 1, 1}.with_bias(),
    Case{3, 2, 1, 1, 3, 3, 3}.pad(1, 1),
    Case{1, 2, 1, 1, 2, 3, 3}.pad(2, 2).with_bias(),
    Case{1, 3, 5, 5, 2, 5, 5},
    Case{2, 1, 1, 7, 1, 1, 3}.stride(1, 3),
    // Groups and depthwise (with multiplier 2, strided, dilated).
    Case{1, 6, 17, 9, 4, 3, 5}.groups(2).stride(1, 2).dilation(2, 1).pad(2, 2).with_bias(),
    Case{3, 8, 17, 17, 8, 3, 3}.groups(8).pad(1, 1).with_bias(),
    Case{1, 8, 33, 31, 16, 3, 3}.groups(8).stride(2, 2).pad(1, 1),
    Case{1, 4, 31, 33, 4, 5, 5}.groups(4).dilation(2, 2).pad_same().with_bias(),
    Case{1, 6, 9, 9, 6, 1, 1}.groups(6), // depthwise pointwise
    Case{2, 9, 7, 7, 6, 3, 1}.groups(3).stride(2, 1).pads(1, 2, 0, 0),
};

} // namespace

TEST_CASE("ops/conv2d: output size and padding rules match PyTorch") {
    // out = floor((H + pad_total - dilation (k - 1) - 1) / stride) + 1, values from torch.nn.Conv2d.
    const Conv2dShape a = Case{2, 3, 28, 28, 6, 5, 5}.pad(2, 2).shape();
    CHECK(a.oh == 28);
    CHECK(a.ow == 28);
    const Conv2dShape b = Case{1, 1, 7, 8, 1, 3, 3}.stride(2, 3).pad(1, 0).shape();
    CHECK(b.oh == 4);
    CHECK(b.ow == 2);
    const Conv2dShape c = Case{1, 1, 10, 10, 1, 3, 2}.dilation(2, 3).pads(0, 1, 2, 0).stride(2, 2).shape();
    CHECK(c.oh == 4); // (10 + 1 - 4 - 1) / 2 + 1
    CHECK(c.ow == 5); // (10 + 2 - 3 - 1) / 2 + 1
    CHECK(a.flops() == 2 * a.y_size() * 3 * 25);

    // padding='same': total dilation (k - 1), the odd one on the bottom / right, as torch.
    for (uint32_t k : {1u, 2u, 3u, 4u, 5u, 7u})
        for (uint32_t d : {1u, 2u}) {
            Conv2dAttrs at;
            at.dilation_h = d, at.dilation_w = 1;
            at.pad_same(k, k + 1);
            CAPTURE(k);
            CAPTURE(d);
            CHECK(at.pad_top == d * (k - 1) / 2);
            CHECK(at.pad_top + at.pad_bottom == d * (k - 1));
            CHECK(at.pad_left == k / 2);
            CHECK(at.pad_left + at.pad_right == k);
            const Conv2dShape s = ops::conv2d_shape({1, 2, 9, 6}, {2, 2, k, k + 1}, at, false);
            CHECK(s.oh == 9);
            CHECK(s.ow == 6);
        }
    Conv2dAttrs strided;
    strided.stride_w = 2;
    CHECK_THROWS_WITH_AS(strided.pad_same(3, 3), "conv2d: padding 'same' needs stride 1, not 1x2", Error);
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv2d: shaders, register and tiled == CPU kernels == reference on small integers over the sweep (exact)") {
    cpu::ThreadPool pool(2);
    for (const GemmTuning& tuning : kPaths) {
        INFO(path_name(tuning));
        uint32_t seed = 1000;
        for (const Case& c : kSweep) {
            const std::string what = describe(c);
            INFO("case: ", what);
            exact_case(dev, pool, c, seed += 8, tuning);
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv2d: real inputs, register and tiled, within rounding of the double reference over the sweep") {
    cpu::ThreadPool pool(3);
    for (const GemmTuning& tuning : kPaths) {
        INFO(path_name(tuning));
        uint32_t seed = 2000;
        for (const Case& c : kSweep) {
            const std::string what = describe(c);
            INFO("case: ", what);
            real_case(dev, pool, c, seed += 8, tuning);
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv2d: channel counts and reductions of 1 7 33 65 127, register and tiled (exact and real)") {
    // GEMM rows (channels), columns (pixels, weight taps) and K (channels x
    // taps, pixels) around and between the tile edges of both kernels.
    cpu::ThreadPool pool(2);
    const Case cases[] = {
        Case{1, 7, 5, 5, 33, 3, 3}.pad(1, 1).with_bias(),
        Case{2, 33, 3, 3, 65, 1, 1},
        Case{1, 127, 3, 3, 7, 3, 3}.pad(1, 1),
        Case{1, 65, 4, 4, 127, 1, 1}.with_bias(),
        Case{1, 1, 9, 9, 1, 3, 3}.stride(2, 2),
        Case{3, 65, 7, 9, 1, 3, 3}.pad(1, 0).with_bias(),
    };
    uint32_t seed = 2500;
    for (const GemmTuning& tuning : kPaths)
        for (const Case& c : cases) {
            const std::string what = cat(path_name(tuning), ", case: ", describe(c));
            INFO(what);
            exact_case(dev, pool, c, seed += 8, tuning);
            real_case(dev, pool, c, seed += 8, tuning);
        }
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv2d: other tilings and a shrunk grid (exact)") {
    cpu::ThreadPool pool(2);
    // Tilings other devices get (64x64, the default), very small and lopsided
    // ones (register blocks 1, 2 and 4 rows tall), each with both kernels, and
    // a grid capped at 1 or 3 workgroups in x so that every column tile comes
    // from the grid-stride loop.
    const GemmTuning tunings[] = {{true, 64, 64}, {false, 64, 64}, {false, 4, 4},   {true, 4, 4},
                                  {false, 128, 8}, {true, 128, 8}, {false, 8, 128}, {true, 8, 128}};
    const Case cases[] = {
        Case{2, 5, 17, 9, 33, 3, 3}.pad(1, 1).stride(2, 1).with_bias(),
        Case{1, 6, 9, 9, 6, 1, 1}.with_bias(),
        Case{3, 6, 7, 17, 4, 3, 5}.groups(2).dilation(2, 1).pads(2, 1, 0, 3),
        Case{1, 4, 17, 17, 4, 3, 3}.groups(4).pad(1, 1).with_bias(),
        Case{1, 4, 17, 17, 8, 3, 3}.groups(2).stride(2, 2),
    };
    uint32_t seed = 3000;
    for (const Case& c : cases) {
        const std::string what = describe(c);
        INFO("case: ", what);
        for (const GemmTuning& t : tunings) {
            INFO(path_name(t));
            exact_case(dev, pool, c, seed += 8, t);
        }
        for (uint32_t grid_x : {1u, 3u})
            for (const GemmTuning& t : {kPaths[0], kPaths[1]}) {
                INFO("grid x capped at ", grid_x, ", ", path_name(t));
                exact_case(dev, pool, c, seed += 8, t, grid_x);
            }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv2d: long reductions and more than 65535 channels (exact)") {
    // lavapipe ends all loops of an invocation after 65535 loop steps in total
    // (see shaders/conv2d_common.glsl): each case below sums more terms than
    // that in one invocation, and came out short before the loops were
    // unrolled. Over 65535 output channels also takes conv2d_backward_bias
    // round its grid-stride loop (one workgroup per channel up to 65535).
    cpu::ThreadPool pool(2);
    const Case cases[] = {
        Case{2, 2, 1, 2, 65536 + 37, 1, 1}.with_bias(), // dx sums 65573 channels, pointwise
        Case{1, 2, 1, 2, 40000, 1, 2}.pads(0, 0, 0, 1), // dx: 2 taps x 40000 channels
        Case{1, 65536 + 64, 1, 1, 2, 1, 1},              // y sums 65600 channels
        Case{1, 1, 260, 260, 2, 3, 3}.pad(1, 1),         // dw sums 67600 pixels
        Case{2, 1, 200, 200, 2, 1, 1}.with_bias(),       // dw sums 80000 pixels, pointwise
    };
    uint32_t seed = 4000;
    for (const Case& c : cases)
        for (const GemmTuning& t : {kPaths[0], kPaths[1]}) {
            const std::string what = cat(path_name(t), ", case: ", describe(c));
            INFO(what);
            exact_case(dev, pool, c, seed += 8, t);
        }
    CHECK(ops::conv2d_backward_bias_launch(cases[0].shape()).groups[0] == 65535);

    // db: one workgroup of 64 sums 2050 x 2050 pixels, 65664 steps per invocation before unrolling.
    const Conv2dShape s = Case{1, 1, 2050, 2050, 1, 1, 1}.shape();
    const auto dy = small_integers(s.y_size(), 4100);
    std::vector<float> want(1);
    ops::conv2d_backward_bias_reference<float>(s, dy, want);
    check_bitwise_equal(run_kernel(dev, ops::conv2d_backward_bias_launch(s), {dy, std::vector<float>(1)})[1], want,
                        "vulkan backward_bias over 2050x2050 pixels");
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv2d: LeNet's first layer splits its backward weight, 50176 terms (exact and real)") {
    // 6x1x5x5 weight, batch 64, 28x28 padded by 2: the weight alone gives one
    // workgroup (or a few) summing 64 * 28 * 28 = 50176 terms, so the
    // reduction is split into chunks and their partials summed in order.
    cpu::ThreadPool pool(2);
    const GemmTuning tuning = dev.quirks().gemm;
    const Case c = Case{64, 1, 28, 28, 6, 5, 5}.pad(2, 2).with_bias();
    const Conv2dShape s = c.shape();
    const uint32_t split = ops::conv2d_backward_weight_split(s, tuning);
    INFO("split ", split);
    CHECK(split > 1);
    CHECK(split <= 64 * 28); // at most one chunk per row (image, oh)
    CHECK(ops::conv2d_backward_weight_partials_size(s, split) == size_t{split} * s.w_size());
    for (const GemmTuning& t : {tuning, GemmTuning{true, 64, 64}}) CHECK(ops::conv2d_backward_weight_split(s, t) > 1);
    for (const GemmTuning& t : kPaths) {
        INFO(path_name(t));
        exact_case(dev, pool, c, 4500, t);
        real_case(dev, pool, c, 4510, t);
    }
    // Chunk counts that do not divide the 1792 rows, and one chunk per row.
    const Data d = make_data(s, 4520, true);
    const Results<float> ref = run_reference<float>(s, d);
    const auto same = [](KernelLaunch l) { return l; };
    for (const uint32_t k : {2u, 7u, 1792u})
        for (const GemmTuning& t : {kPaths[0], kPaths[1]})
            check_bitwise_equal(gpu_backward_weight_split(dev, s, d, t, k, same), ref.dw,
                                cat("split ", k, ", ", path_name(t)));
    // The same bits on every run.
    const Data r = make_data(s, 4530, false);
    for (const GemmTuning& t : {kPaths[0], kPaths[1]})
        check_bitwise_equal(gpu_backward_weight_split(dev, s, r, t, split, same),
                            gpu_backward_weight_split(dev, s, r, t, split, same), "split twice, " + path_name(t));
    // A weight that fills a device by itself is not split.
    CHECK(ops::conv2d_backward_weight_split(Case{2, 512, 7, 7, 512, 3, 3}.pad(1, 1).shape(), tuning) == 1);
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv2d: random shapes from a seeded fuzzer (exact and real)") {
    // VKCNN_CONV2D_SEED=<seed> reruns the one case a failure printed.
    const std::vector<uint32_t> seeds = fuzz_seeds("VKCNN_CONV2D_SEED", 0xc0de0000u, 100);

    cpu::ThreadPool pool(2);
    const GemmTuning tuning = dev.quirks().gemm;
    int valid = 0, rejected = 0;
    for (const uint32_t seed : seeds) {
        std::mt19937 rng(seed);
        auto pick = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
        const uint32_t groups = pick(1, 4) == 1 ? pick(1, 4) : 1;
        const bool depthwise = pick(0, 4) == 0;
        Case c{pick(1, 3), groups * pick(1, 4), pick(1, 24), pick(1, 24), groups * pick(1, 4), 1, 1};
        if (depthwise) {
            c.c_out = c.c_in * pick(1, 2);
            c.groups(c.c_in);
        } else {
            c.groups(groups);
        }
        const uint32_t ks[] = {1, 2, 3, 5, 7};
        c.kh = ks[pick(0, 4)];
        c.kw = pick(0, 2) ? c.kh : ks[pick(0, 4)];
        c.stride(pick(1, 3), pick(1, 3)).dilation(pick(1, 2), pick(1, 2));
        if (pick(0, 5) == 0 && c.a.stride_h == 1 && c.a.stride_w == 1) c.pad_same();
        else c.pads(pick(0, c.kh - 1), pick(0, c.kh - 1), pick(0, c.kw - 1), pick(0, c.kw - 1));
        if (pick(0, 1)) c.with_bias();

        const std::string repro = cat("conv2d fuzz seed ", seed, ": ", describe(c),
                                      "  (rerun: VKCNN_CONV2D_SEED=", seed, " vkcnn_tests -tc='ops/conv2d: random*')");
        INFO(repro);
        // The shape rule against the formula, computed independently here.
        const Conv2dAttrs at = c.attrs();
        const int64_t oh = (int64_t{c.h} + at.pad_top + at.pad_bottom - int64_t{at.dilation_h} * (c.kh - 1) - 1),
                      ow = (int64_t{c.w} + at.pad_left + at.pad_right - int64_t{at.dilation_w} * (c.kw - 1) - 1);
        if (oh < 0 || ow < 0) {
            CHECK_THROWS_WITH_AS(c.shape(), doctest::Contains("is larger than the padded input"), Error);
            ++rejected;
            continue;
        }
        const Conv2dShape s = c.shape();
        CHECK(s.oh == oh / at.stride_h + 1);
        CHECK(s.ow == ow / at.stride_w + 1);
        ++valid;
        exact_case(dev, pool, c, seed, tuning);
        real_case(dev, pool, c, seed + 1, tuning);
        // The other kernels on every case too: shared-memory tiles of either size in turn.
        const GemmTuning& tiled = kPaths[1 + valid % 2];
        INFO(path_name(tiled));
        exact_case(dev, pool, c, seed, tiled);
        real_case(dev, pool, c, seed + 1, tiled);
    }
    if (seeds.size() > 1) CHECK(valid * 2 >= int(seeds.size())); // the fuzzer mostly makes convolutions that run (75 of the first 100)
    MESSAGE("conv2d fuzzer: ", valid, " cases run, ", rejected, " rejected by the shape rule as expected");
}

TEST_CASE("ops/conv2d: CPU kernels give the same bits for any thread count") {
    // Different pool sizes take the per-image parallel path or hand the pool to sgemm / im2col.
    const Case cases[] = {Case{3, 4, 33, 31, 6, 3, 3}.pad(1, 1).stride(2, 1).with_bias(),
                          Case{1, 16, 40, 40, 32, 3, 3}.pad(1, 1).with_bias(), // large enough to thread im2col / col2im
                          Case{2, 8, 17, 17, 8, 5, 5}.groups(8).dilation(2, 2).pad_same(),
                          // depthwise, as the depthwise-separable net's (channels split across threads)
                          Case{8, 16, 28, 28, 16, 3, 3}.groups(16).stride(2, 2).pad(1, 1),
                          Case{8, 6, 7, 7, 12, 3, 3}.groups(6).pad(1, 1).with_bias(),
                          Case{4, 8, 9, 9, 16, 1, 1}.with_bias()};
    cpu::ThreadPool one(1), two(2), three(3);
    uint32_t seed = 5000;
    for (const Case& c : cases) {
        const std::string what = describe(c);
        INFO("case: ", what);
        const Conv2dShape s = c.shape();
        const Data d = make_data(s, seed += 8, false);
        const Results<float> r1 = run_cpu(one, s, d);
        check_exact(run_cpu(two, s, d), r1, "cpu 2 threads vs 1");
        check_exact(run_cpu(three, s, d), r1, "cpu 3 threads vs 1");
        check_close(s, r1, run_reference<double>(s, d), "cpu 1 thread");
    }
}

TEST_CASE("ops/conv2d: backward of the double reference matches finite differences") {
    const Case cases[] = {
        Case{2, 4, 5, 6, 4, 3, 2}.groups(2).stride(2, 1).pads(1, 0, 0, 1).dilation(1, 2).with_bias(),
        Case{1, 3, 4, 5, 6, 3, 3}.groups(3).pad_same().with_bias(), // depthwise, multiplier 2
        Case{1, 2, 3, 3, 3, 1, 1},                                  // pointwise
        Case{1, 2, 7, 5, 2, 3, 3}.stride(3, 2).pad(2, 1),           // pixels no tap reads: zero dx
    };
    uint32_t seed = 6000;
    for (const Case& c : cases) {
        const std::string what = describe(c);
        INFO("case: ", what);
        const Conv2dShape s = c.shape();
        const Data d = make_data(s, seed += 8, false);
        const auto x = to_double(d.x), w = to_double(d.w), b = to_double(d.b), dy = to_double(d.dy);
        const Results<double> r = run_reference<double>(s, d);
        auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
            std::vector<double> y(s.y_size());
            ops::conv2d_forward_reference<double>(s, xv, wv, bv, y);
            return weighted_sum(y, dy);
        };
        check_gradient(r.dx, numerical_gradient([&](const std::vector<double>& v) { return loss(v, w, b); }, x), "dx");
        check_gradient(r.dw, numerical_gradient([&](const std::vector<double>& v) { return loss(x, v, b); }, w), "dw");
        if (s.bias) {
            check_gradient(r.db, numerical_gradient([&](const std::vector<double>& v) { return loss(x, w, v); }, b), "db");
        } else {
            // Without a bias parameter db is still the gradient an added bias would get.
            const std::vector<double> ones(s.c_out, 1.0);
            Case cb = c;
            const Conv2dShape sb = cb.with_bias().shape();
            auto loss_b = [&](const std::vector<double>& bv) {
                std::vector<double> y(sb.y_size());
                ops::conv2d_forward_reference<double>(sb, x, w, bv, y);
                return weighted_sum(y, dy);
            };
            check_gradient(r.db, numerical_gradient(loss_b, ones), "db (no bias)");
        }
    }
}

TEST_CASE("ops/conv2d: bad shapes throw vkcnn::Error naming conv2d and the shapes") {
    using X = std::array<uint32_t, 4>;
    auto shape = [](X x, X w, Conv2dAttrs a = {}, bool bias = false) { return ops::conv2d_shape(x, w, a, bias); };
    Conv2dAttrs g3;
    g3.groups = 3;
    CHECK_THROWS_WITH_AS(shape({2, 4, 8, 8}, {6, 1, 3, 3}, g3),
                         "conv2d: input has 4 channels, not divisible by groups 3 (input (2, 4, 8, 8), weight (6, 1, 3, 3))",
                         Error);
    Conv2dAttrs g2;
    g2.groups = 2;
    CHECK_THROWS_WITH_AS(shape({2, 4, 8, 8}, {5, 2, 3, 3}, g2),
                         doctest::Contains("conv2d: weight has 5 output channels, not divisible by groups 2"), Error);
    CHECK_THROWS_WITH_AS(shape({2, 4, 8, 8}, {6, 4, 3, 3}, g2),
                         "conv2d: input has 4 channels, weight expects 8 (input (2, 4, 8, 8), weight (6, 4, 3, 3), groups 2)",
                         Error);
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {8, 3, 5, 3}),
                         "conv2d: kernel 5x3 with dilation 1x1 is larger than the padded input 4x4 (input (1, 3, 4, 4), "
                         "weight (8, 3, 5, 3), padding top 0 bottom 0 left 0 right 0)",
                         Error);
    // Fits only once padded; dilation makes it too large again (a zero or negative output size).
    CHECK_NOTHROW(shape({1, 3, 4, 4}, {8, 3, 5, 3}, Conv2dAttrs{}.pad(1, 0)));
    Conv2dAttrs dil;
    dil.dilation_h = 2;
    dil.pad(1, 0);
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {8, 3, 5, 3}, dil),
                         doctest::Contains("conv2d: kernel 5x3 with dilation 2x1 is larger than the padded input 6x4"),
                         Error);
    Conv2dAttrs tall;
    tall.pad_top = 0, tall.pad_bottom = 1;
    CHECK_THROWS_WITH_AS(shape({1, 1, 1, 9}, {1, 1, 3, 3}, tall),
                         doctest::Contains("(input (1, 1, 1, 9), weight (1, 1, 3, 3), padding top 0 bottom 1"), Error);
    CHECK_THROWS_WITH_AS(shape({1, 3, 0, 4}, {8, 3, 1, 1}),
                         "conv2d: input (1, 3, 0, 4), weight (8, 3, 1, 1): the input has an empty dimension", Error);
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {0, 3, 1, 1}),
                         "conv2d: input (1, 3, 4, 4), weight (0, 3, 1, 1): the weight has an empty dimension", Error);
    Conv2dAttrs s0;
    s0.stride_w = 0;
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {8, 3, 1, 1}, s0), doctest::Contains("conv2d: stride 1x0"), Error);
    Conv2dAttrs g0;
    g0.groups = 0;
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {8, 3, 1, 1}, g0), doctest::Contains("groups 0 must be positive"), Error);
    // Past what the shaders' 32-bit indices hold.
    CHECK_THROWS_WITH_AS(shape({65536, 1, 256, 256}, {1, 1, 1, 1}), doctest::Contains("exceeds 2^31 - 1"), Error);
    Conv2dAttrs huge;
    huge.pad_bottom = 0x7fffffffu;
    CHECK_THROWS_WITH_AS(shape({1, 1, 4, 4}, {1, 1, 3, 3}, huge), doctest::Contains("exceeds 2^31 - 1"), Error);
    // Sizes whose products wrap in 64 bits: 65536^4 = 2^64 is 0 as a size_t,
    // so every tensor here once looked empty enough to pass.
    Conv2dAttrs wide;
    wide.groups = 65536;
    CHECK_THROWS_WITH_AS(shape({65536, 65536, 65536, 65536}, {65536, 1, 1, 1}, wide),
                         "conv2d: input (65536, 65536, 65536, 65536), weight (65536, 1, 1, 1) gives output (65536, "
                         "65536, 65536, 65536): a tensor, the padded input or the strided output exceeds 2^31 - 1",
                         Error);
    // dilation * (kH - 1) past 2^63 once wrapped to a negative extent, i.e. a huge output.
    Conv2dAttrs far;
    far.dilation_h = 0xffffffffu;
    CHECK_THROWS_WITH_AS(shape({1, 1, 4, 4}, {1, 1, 0xffffffffu, 1}, far),
                         doctest::Contains("conv2d: kernel 4294967295x1 with dilation 4294967295x1 is larger than the "
                                           "padded input 4x4 (input (1, 1, 4, 4), weight (1, 1, 4294967295, 1)"),
                         Error);
    // Every dimension at the uint32 limit.
    constexpr uint32_t m = 0xffffffffu;
    CHECK_THROWS_WITH_AS(shape({m, m, m, m}, {m, m, 1, 1}), doctest::Contains("conv2d: input (4294967295"), Error);

    // The split backward weight's own limits.
    const Conv2dShape small = shape({2, 3, 8, 8}, {4, 3, 3, 3});
    CHECK_THROWS_WITH_AS(ops::conv2d_backward_weight_launch(small, {}, 0),
                         "conv2d_backward_weight: split 0 does not fit weight (4, 3, 3, 3) with groups 1: expected 1 to "
                         "65535 / groups chunks, at most 2^32 - 1 partials",
                         Error);
    CHECK_THROWS_WITH_AS(ops::conv2d_backward_weight_sum_launch(small, 65536),
                         doctest::Contains("conv2d_backward_weight: split 65536 does not fit"), Error);

    // Buffers that do not match the shape.
    const Conv2dShape s = shape({1, 2, 4, 4}, {3, 2, 3, 3}, Conv2dAttrs{}, true);
    std::vector<float> x(s.x_size()), w(s.w_size()), b(s.c_out), y(s.y_size()), short_w(s.w_size() - 1);
    cpu::ThreadPool pool(1);
    CHECK_THROWS_WITH_AS(ops::conv2d_forward_reference<float>(s, x, short_w, b, y),
                         "conv2d_forward: w has 53 elements, the shape needs 54", Error);
    CHECK_THROWS_WITH_AS(ops::conv2d_forward_cpu(pool, s, x, w, {}, y),
                         "conv2d_forward: b has 0 elements, the shape needs 3", Error);
    CHECK_THROWS_WITH_AS(ops::conv2d_backward_data_cpu(pool, s, w, y, b),
                         "conv2d_backward_data: dx has 3 elements, the shape needs 32", Error);
    CHECK_THROWS_WITH_AS(ops::conv2d_backward_weight_cpu(pool, s, x, x, w),
                         "conv2d_backward_weight: dy has 32 elements, the shape needs 12", Error);
    CHECK_THROWS_WITH_AS(ops::conv2d_backward_bias_cpu(pool, s, y, w),
                         "conv2d_backward_bias: db has 54 elements, the shape needs 3", Error);
}
