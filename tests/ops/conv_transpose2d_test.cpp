// conv_transpose2d: the launches (conv2d's shaders plus the bias pass) vs the
// CPU kernels vs the plain references, bit-exact on small integers and within
// rounding of the double reference on real inputs, over a sweep of shapes,
// other tilings and a seeded random-shape fuzzer; the double reference's
// backward vs finite differences and vs conv2d's (the adjoint); PyTorch's
// output-size rule and known answers; bad shapes. The backward weight runs
// in one pass and split into chunks (conv2d_backward_weight_sum).
#include "vkcnn/ops/conv_transpose2d.h"

#include "support/compare.h"
#include "support/fuzz_seeds.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace vkcnn;
using namespace vkcnn::test;
using ops::ConvTranspose2dAttrs;
using ops::ConvTranspose2dShape;

namespace {

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }

// Sums of k products of numbers in [-1, 1]: rtol 3 sqrt(k) 2^-23, atol that
// much again per sqrt(k) of typical result magnitude (as the conv2d tests).
double rtol_for(size_t k) { return 3.0 * std::sqrt(static_cast<double>(std::max<size_t>(k, 1))) * 0x1p-23; }
double atol_for(size_t k) { return rtol_for(k) * std::sqrt(static_cast<double>(std::max<size_t>(k, 1))); }

// One transposed convolution, written the way torch.nn.ConvTranspose2d is called.
struct Case {
    uint32_t n, c_in, h, w, c_out, kh, kw;
    ConvTranspose2dAttrs a{};
    bool bias = false;

    Case& stride(uint32_t sh, uint32_t sw) { return a.stride_h = sh, a.stride_w = sw, *this; }
    Case& pad(uint32_t ph, uint32_t pw) { return a.pad(ph, pw), *this; }
    Case& pads(uint32_t t, uint32_t b, uint32_t l, uint32_t r) {
        a.pad_top = t, a.pad_bottom = b, a.pad_left = l, a.pad_right = r;
        return *this;
    }
    Case& out_pad(uint32_t oph, uint32_t opw) { return a.output_padding_h = oph, a.output_padding_w = opw, *this; }
    Case& dilation(uint32_t dh, uint32_t dw) { return a.dilation_h = dh, a.dilation_w = dw, *this; }
    Case& groups(uint32_t g) { return a.groups = g, *this; }
    Case& with_bias() { return bias = true, *this; }

    ConvTranspose2dShape shape() const {
        return ops::conv_transpose2d_shape({n, c_in, h, w}, {c_in, c_out / a.groups, kh, kw}, a, bias);
    }
};

// All the shape parameters on one line: enough to rebuild the case.
std::string describe(const Case& c) {
    const ConvTranspose2dAttrs& a = c.a;
    return cat("x (", c.n, ", ", c.c_in, ", ", c.h, ", ", c.w, ") weight (", c.c_in, ", ", c.c_out / a.groups, ", ",
               c.kh, ", ", c.kw, ") stride ", a.stride_h, "x", a.stride_w, " pad top ", a.pad_top, " bottom ",
               a.pad_bottom, " left ", a.pad_left, " right ", a.pad_right, " output_padding ", a.output_padding_h, "x",
               a.output_padding_w, " dilation ", a.dilation_h, "x", a.dilation_w, " groups ", a.groups,
               c.bias ? " bias" : " no bias");
}

struct Data {
    std::vector<float> x, w, b, dy;
};

Data make_data(const ConvTranspose2dShape& s, uint32_t seed, bool integers) {
    auto gen = [&](size_t n, uint32_t sd) { return integers ? small_integers(n, sd) : uniform(n, sd); };
    return {gen(s.x_size(), seed), gen(s.w_size(), seed + 1), s.bias ? gen(s.c_out, seed + 2) : std::vector<float>{},
            gen(s.y_size(), seed + 3)};
}

// The four results of one case: forward, dx, dw, db; from the GPU also dw
// through the split backward weight.
template <typename T>
struct Results {
    std::vector<T> y, dx, dw, db;
    std::vector<T> dw_split;
    uint32_t split = 0;
};

// The Vulkan kernels, each in its own guarded run (the bias pass reads the
// forward's y back in). grid_x, when given, caps the GEMM kernels' grid in x.
Results<float> run_gpu(Device& dev, const ConvTranspose2dShape& s, const Data& d, const GemmTuning& tuning,
                       std::optional<uint32_t> grid_x = {}) {
    auto capped = [&](KernelLaunch l) {
        if (grid_x) l.groups[0] = std::min(l.groups[0], *grid_x);
        return l;
    };
    Results<float> r;
    r.y = run_kernel(dev, capped(ops::conv_transpose2d_forward_launch(s, tuning)),
                     {d.w, d.x, std::vector<float>(s.y_size())})[2];
    if (s.bias) r.y = run_kernel(dev, ops::conv_transpose2d_add_bias_launch(s), {d.b, r.y})[1];
    r.dx = run_kernel(dev, capped(ops::conv_transpose2d_backward_data_launch(s, tuning)),
                      {d.dy, d.w, std::vector<float>(s.x_size())})[2];
    r.dw = run_kernel(dev, capped(ops::conv_transpose2d_backward_weight_launch(s, tuning)),
                      {d.dy, d.x, std::vector<float>(s.w_size())})[2];
    // The split a graph would take, or 3 chunks where it takes none.
    const uint32_t chosen = ops::conv_transpose2d_backward_weight_split(s, tuning);
    r.split = chosen > 1 ? chosen : std::min<uint32_t>(3, 65535 / s.conv.attrs.groups);
    if (r.split > 1) {
        const auto partials = run_kernel(
            dev, capped(ops::conv_transpose2d_backward_weight_launch(s, tuning, r.split)),
            {d.dy, d.x, std::vector<float>(ops::conv_transpose2d_backward_weight_partials_size(s, r.split))})[2];
        r.dw_split = run_kernel(dev, ops::conv_transpose2d_backward_weight_sum_launch(s, r.split),
                                {partials, std::vector<float>(s.w_size())})[1];
    }
    r.db = run_kernel(dev, ops::conv_transpose2d_backward_bias_launch(s), {d.dy, std::vector<float>(s.c_out)})[1];
    return r;
}

// The CPU kernels, outputs pre-filled with NaN (they write, never read, them).
Results<float> run_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s, const Data& d) {
    const float nan = std::nanf("");
    Results<float> r{std::vector<float>(s.y_size(), nan), std::vector<float>(s.x_size(), nan),
                     std::vector<float>(s.w_size(), nan), std::vector<float>(s.c_out, nan)};
    ops::conv_transpose2d_forward_cpu(pool, s, d.x, d.w, d.b, r.y);
    ops::conv_transpose2d_backward_data_cpu(pool, s, d.w, d.dy, r.dx);
    ops::conv_transpose2d_backward_weight_cpu(pool, s, d.x, d.dy, r.dw);
    ops::conv_transpose2d_backward_bias_cpu(pool, s, d.dy, r.db);
    return r;
}

template <typename T>
Results<T> run_reference(const ConvTranspose2dShape& s, const Data& d) {
    const std::vector<T> x(d.x.begin(), d.x.end()), w(d.w.begin(), d.w.end()), b(d.b.begin(), d.b.end()),
        dy(d.dy.begin(), d.dy.end());
    const T nan = std::numeric_limits<T>::quiet_NaN();
    Results<T> r{std::vector<T>(s.y_size(), nan), std::vector<T>(s.x_size(), nan), std::vector<T>(s.w_size(), nan),
                 std::vector<T>(s.c_out, nan)};
    ops::conv_transpose2d_forward_reference<T>(s, x, w, b, r.y);
    ops::conv_transpose2d_backward_data_reference<T>(s, w, dy, r.dx);
    ops::conv_transpose2d_backward_weight_reference<T>(s, x, dy, r.dw);
    ops::conv_transpose2d_backward_bias_reference<T>(s, dy, r.db);
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

// Tolerances scaled by each result's reduction length (upper bounds: with
// stride > 1 an output element sums fewer taps).
void check_close(const ConvTranspose2dShape& s, const Results<float>& got, const Results<double>& want,
                 const std::string& who) {
    const size_t k_fwd = size_t{s.cin_g()} * s.kh * s.kw + (s.bias ? 1 : 0);
    const size_t k_dx = size_t{s.cout_g()} * s.kh * s.kw;
    const size_t k_w = size_t{s.n} * s.h * s.w;
    const size_t k_b = size_t{s.n} * s.oh * s.ow;
    check_allclose(got.y, to_float(want.y), atol_for(k_fwd), rtol_for(k_fwd), who + " forward");
    check_allclose(got.dx, to_float(want.dx), atol_for(k_dx), rtol_for(k_dx), who + " backward_data");
    check_allclose(got.dw, to_float(want.dw), atol_for(k_w), rtol_for(k_w), who + " backward_weight");
    if (!got.dw_split.empty())
        check_allclose(got.dw_split, to_float(want.dw), atol_for(k_w), rtol_for(k_w),
                       cat(who, " backward_weight in ", got.split, " chunks"));
    check_allclose(got.db, to_float(want.db), atol_for(k_b), rtol_for(k_b), who + " backward_bias");
}

// GPU == CPU == float reference, bit for bit, on small integers.
void exact_case(Device& dev, cpu::ThreadPool& pool, const Case& c, uint32_t seed, const GemmTuning& tuning,
                std::optional<uint32_t> grid_x = {}) {
    const ConvTranspose2dShape s = c.shape();
    const Data d = make_data(s, seed, true);
    const Results<float> ref = run_reference<float>(s, d);
    check_exact(run_cpu(pool, s, d), ref, "cpu");
    check_exact(run_gpu(dev, s, d, tuning, grid_x), ref, "vulkan");
}

// GPU and CPU within rounding of the double reference on uniform inputs.
void real_case(Device& dev, cpu::ThreadPool& pool, const Case& c, uint32_t seed, const GemmTuning& tuning) {
    const ConvTranspose2dShape s = c.shape();
    const Data d = make_data(s, seed, false);
    const Results<double> ref = run_reference<double>(s, d);
    check_close(s, run_cpu(pool, s, d), ref, "cpu");
    check_close(s, run_gpu(dev, s, d, tuning), ref, "vulkan");
}

// The sweep: spatial sizes 1..33, kernels 1-5 and non-square ones, strides
// 1-3, dilations 1-2 (3 once), padding up to dilation*(k-1), output_padding
// below the stride and (stride 1 or 2) below the dilation only, which crops
// the conv2d underneath, groups and depthwise, batch 1 and odd, with and
// without bias, channel counts around the tile edges.
const Case kSweep[] = {
    // 1x1: conv2d's pointwise path, strided (zeros between the pixels), and cropped.
    Case{2, 4, 7, 5, 6, 1, 1}.with_bias(),
    Case{1, 6, 9, 9, 9, 1, 1}.groups(3),
    Case{3, 4, 7, 7, 5, 1, 1}.stride(2, 2).with_bias(),
    Case{1, 3, 7, 7, 4, 1, 1}.dilation(2, 2).out_pad(1, 1).with_bias(), // 1x1, stride 1, output 8x8: cropped
    Case{1, 2, 7, 3, 3, 1, 1}.stride(3, 1).out_pad(2, 0),
    // 3x3.
    Case{1, 3, 17, 17, 8, 3, 3}.pad(1, 1).with_bias(),
    Case{3, 4, 17, 17, 4, 3, 3}.stride(2, 2).pad(1, 1).out_pad(1, 1), // the usual 2x upsampling
    Case{1, 5, 7, 17, 7, 3, 3}.stride(3, 3).dilation(2, 2).pad(2, 0).out_pad(2, 1).with_bias(),
    Case{1, 33, 7, 7, 17, 3, 3}.pad(1, 1).with_bias(), // rows beyond one tile, odd tile edges
    Case{1, 17, 7, 7, 33, 3, 3}.pad(2, 2),
    Case{1, 3, 7, 9, 2, 3, 3}.stride(2, 2).dilation(3, 3).out_pad(2, 2).pad(0, 1), // output_padding = stride
    Case{2, 2, 9, 7, 3, 3, 3}.dilation(3, 2).out_pad(2, 1).pad(3, 1), // below the dilation, no crop (padding)
    // 2x2, 4x4 and 5x5.
    Case{1, 4, 8, 8, 4, 2, 2}.stride(2, 2).with_bias(),
    Case{1, 4, 16, 16, 3, 4, 4}.stride(2, 2).pad(1, 1).with_bias(), // DCGAN's generator layer
    Case{1, 2, 31, 33, 3, 5, 5}.stride(2, 2).pad(2, 2).out_pad(1, 1),
    Case{1, 3, 17, 17, 4, 5, 5}.dilation(2, 2).pad(4, 4).with_bias(),
    Case{1, 1, 3, 3, 2, 5, 5}.pad(3, 3),
    Case{3, 2, 3, 3, 2, 5, 5}.stride(3, 2).pad(1, 2),
    // Non-square kernels and asymmetric padding.
    Case{1, 3, 17, 7, 5, 3, 5}.pads(0, 2, 1, 0).with_bias(),
    Case{5, 2, 7, 17, 3, 1, 4}.pads(0, 0, 3, 2).stride(1, 2).out_pad(0, 1),
    Case{1, 2, 31, 7, 4, 5, 1}.pads(3, 0, 0, 0).dilation(2, 1).out_pad(1, 0), // cropped, 5x1
    Case{1, 4, 8, 8, 4, 2, 4}.stride(2, 3).pads(1, 0, 0, 2).with_bias(),
    // Tiny inputs: 1x1 images, outputs of one pixel.
    Case{1, 3, 1, 1, 2, 1, 1}.with_bias(),
    Case{3, 2, 1, 1, 3, 3, 3},
    Case{1, 2, 1, 1, 2, 3, 3}.pad(1, 1).with_bias(),
    Case{1, 2, 1, 1, 2, 4, 4}.stride(3, 3).out_pad(2, 2),
    Case{2, 1, 1, 7, 1, 1, 3}.stride(1, 3),
    // Groups and depthwise (with multiplier 2, strided, dilated).
    Case{1, 6, 17, 9, 4, 3, 5}.groups(2).stride(1, 2).dilation(2, 1).pad(2, 2).with_bias(),
    Case{3, 8, 17, 17, 8, 3, 3}.groups(8).pad(1, 1).with_bias(),
    Case{1, 8, 17, 15, 16, 3, 3}.groups(8).stride(2, 2).pad(1, 1).out_pad(1, 0),
    Case{1, 4, 13, 11, 4, 5, 5}.groups(4).dilation(2, 2).stride(2, 2).pad(4, 4).out_pad(1, 1).with_bias(),
    Case{1, 6, 9, 9, 6, 1, 1}.groups(6),
    Case{2, 9, 7, 7, 6, 3, 1}.groups(3).stride(2, 1).pads(1, 2, 0, 0),
};

} // namespace

TEST_CASE("ops/conv_transpose2d: output size matches PyTorch and the conv2d underneath maps y to x") {
    // OH = (H - 1) s - pad_top - pad_bottom + d (k - 1) + output_padding + 1, values from torch.nn.ConvTranspose2d.
    const ConvTranspose2dShape a = Case{2, 8, 14, 14, 4, 3, 3}.stride(2, 2).pad(1, 1).out_pad(1, 1).shape();
    CHECK(a.oh == 28);
    CHECK(a.ow == 28);
    const ConvTranspose2dShape b = Case{1, 4, 7, 5, 2, 4, 4}.stride(2, 2).pad(1, 1).shape();
    CHECK(b.oh == 14);
    CHECK(b.ow == 10);
    const ConvTranspose2dShape c =
        Case{1, 1, 5, 6, 1, 5, 3}.stride(3, 2).pad(2, 0).dilation(2, 3).out_pad(2, 1).shape();
    CHECK(c.oh == 19); // 12 - 4 + 8 + 2 + 1
    CHECK(c.ow == 18); // 10 - 0 + 6 + 1 + 1
    CHECK(a.flops() == 2 * a.x_size() * 4 * 9);
    CHECK(a.w_size() == 8 * 4 * 9);

    // The conv2d underneath: input y, weight the same tensor, output x's size.
    for (const Case& k : kSweep) {
        const ConvTranspose2dShape s = k.shape();
        INFO("case: ", describe(k));
        CHECK(s.conv.n == s.n);
        CHECK(s.conv.c_in == s.c_out);
        CHECK(s.conv.h == s.oh);
        CHECK(s.conv.w == s.ow);
        CHECK(s.conv.c_out == s.c_in);
        CHECK(s.conv.oh == s.h);
        CHECK(s.conv.ow == s.w);
        CHECK(s.conv.w_size() == s.w_size());
        CHECK(!s.conv.bias);
    }
}

TEST_CASE("ops/conv_transpose2d: known answers as PyTorch computes them") {
    // Stride 1: the full (flipped-kernel) convolution, scipy.signal.convolve2d(x, w, 'full').
    const std::vector<double> x = {1, 2, 3, 4}, w = {1, 2, 3, 4};
    const ConvTranspose2dShape full = Case{1, 1, 2, 2, 1, 2, 2}.shape();
    std::vector<double> y(full.y_size());
    ops::conv_transpose2d_forward_reference<double>(full, x, w, {}, y);
    CHECK(y == std::vector<double>{1, 4, 4, 6, 20, 16, 9, 24, 16});
    // padding=1 keeps its centre; output_padding=1 (with stride 2) adds a row and column.
    const ConvTranspose2dShape centre = Case{1, 1, 2, 2, 1, 2, 2}.pad(1, 1).shape();
    std::vector<double> yc(centre.y_size());
    ops::conv_transpose2d_forward_reference<double>(centre, x, w, {}, yc);
    CHECK(yc == std::vector<double>{20});
    // Kernel = stride = 2 with a ones kernel: nearest-neighbour upsampling, plus the bias;
    // output_padding 1 adds a last row and column of bias only.
    const ConvTranspose2dShape up = Case{1, 1, 2, 2, 1, 2, 2}.stride(2, 2).out_pad(1, 1).with_bias().shape();
    std::vector<double> yu(up.y_size());
    const std::vector<double> ones(4, 1.0), b = {0.5};
    ops::conv_transpose2d_forward_reference<double>(up, x, ones, b, yu);
    CHECK(yu == std::vector<double>{1.5, 1.5, 2.5, 2.5, 0.5, 1.5, 1.5, 2.5, 2.5, 0.5, 3.5, 3.5, 4.5,
                                    4.5, 0.5, 3.5, 3.5, 4.5, 4.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
}

TEST_CASE("ops/conv_transpose2d: the references are the adjoints of conv2d's") {
    // <conv_transpose2d(x, w), dy> == <x, conv2d(dy, w)>: the definition here
    // and conv2d's, written independently, describe the same linear map. And
    // the transposed convolution's backward_data is conv2d's forward, its
    // forward conv2d's backward_data (on the cropped conv2d shape).
    uint32_t seed = 7000;
    for (const Case& k : kSweep) {
        INFO("case: ", describe(k));
        const ConvTranspose2dShape s = k.shape();
        Case nb = k;
        nb.bias = false;
        const Data d = make_data(nb.shape(), seed += 8, false);
        const auto x = to_double(d.x), w = to_double(d.w), dy = to_double(d.dy);
        std::vector<double> y(s.y_size()), cy(s.x_size()), cdx(s.y_size());
        ops::conv_transpose2d_forward_reference<double>(nb.shape(), x, w, {}, y);
        ops::conv2d_forward_reference<double>(s.conv, dy, w, {}, cy);
        const double lhs = weighted_sum(y, dy), rhs = weighted_sum(cy, x);
        CHECK(std::abs(lhs - rhs) <= 1e-9 * (1 + std::abs(lhs)));
        ops::conv2d_backward_data_reference<double>(s.conv, w, x, cdx);
        check_gradient(y, cdx, "forward vs conv2d backward_data", 1e-12, 1e-12);
    }
}

TEST_CASE_FIXTURE(GpuTest,
                  "ops/conv_transpose2d: shaders == CPU == reference on small integers over the sweep (exact)") {
    cpu::ThreadPool pool(2);
    const GemmTuning tuning = dev.quirks().gemm;
    uint32_t seed = 1000;
    for (const Case& c : kSweep) {
        INFO("case: ", describe(c));
        exact_case(dev, pool, c, seed += 8, tuning);
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv_transpose2d: real inputs within rounding of the double reference over the sweep") {
    cpu::ThreadPool pool(3);
    const GemmTuning tuning = dev.quirks().gemm;
    uint32_t seed = 2000;
    for (const Case& c : kSweep) {
        INFO("case: ", describe(c));
        real_case(dev, pool, c, seed += 8, tuning);
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv_transpose2d: other tilings and a shrunk grid (exact)") {
    cpu::ThreadPool pool(2);
    const GemmTuning tunings[] = {{true, 64, 64}, {false, 4, 4}, {false, 128, 8}};
    const Case cases[] = {
        Case{2, 5, 9, 7, 33, 3, 3}.pad(1, 1).stride(2, 1).out_pad(1, 0).with_bias(),
        Case{1, 3, 7, 7, 4, 1, 1}.dilation(2, 2).out_pad(1, 1),
        Case{1, 4, 9, 9, 8, 3, 3}.groups(2).stride(2, 2).dilation(2, 2).out_pad(1, 1),
    };
    uint32_t seed = 3000;
    for (const Case& c : cases) {
        INFO("case: ", describe(c));
        for (const GemmTuning& t : tunings) {
            INFO("tile ", t.tile_m, "x", t.tile_n);
            exact_case(dev, pool, c, seed += 8, t);
        }
        INFO("grid x capped at 1");
        exact_case(dev, pool, c, seed += 8, dev.quirks().gemm, 1u);
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv_transpose2d: long reductions past the lavapipe loop limit (exact)") {
    // lavapipe ends all loops of an invocation after 65535 steps in total (see
    // shaders/conv2d_common.glsl); each case sums more terms than that in one
    // invocation of the conv2d kernel it lands on.
    cpu::ThreadPool pool(2);
    const Case cases[] = {
        Case{1, 65536 + 37, 1, 2, 2, 1, 1}.with_bias(), // y sums 65573 input channels (conv2d_backward_data)
        Case{1, 2, 1, 2, 40000, 1, 2},                  // dx: 40000 output channels x 2 taps (conv2d_forward)
        Case{1, 1, 260, 260, 2, 3, 3}.pad(1, 1),        // dw sums 67600 pixels (conv2d_backward_weight)
    };
    uint32_t seed = 4000;
    for (const Case& c : cases) {
        INFO("case: ", describe(c));
        exact_case(dev, pool, c, seed += 8, dev.quirks().gemm);
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/conv_transpose2d: random shapes from a seeded fuzzer (exact and real)") {
    // VKCNN_CONV_TRANSPOSE2D_SEED=<seed> reruns the one case a failure printed.
    const std::vector<uint32_t> seeds = fuzz_seeds("VKCNN_CONV_TRANSPOSE2D_SEED", 0x7c0d0000u, 150);

    cpu::ThreadPool pool(2);
    const GemmTuning tuning = dev.quirks().gemm;
    int valid = 0, rejected = 0;
    for (const uint32_t seed : seeds) {
        std::mt19937 rng(seed);
        auto pick = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
        const uint32_t groups = pick(1, 4) == 1 ? pick(1, 4) : 1;
        const bool depthwise = pick(0, 4) == 0;
        Case c{pick(1, 3), groups * pick(1, 4), pick(1, 17), pick(1, 17), groups * pick(1, 4), 1, 1};
        if (depthwise) {
            c.c_out = c.c_in * pick(1, 2);
            c.groups(c.c_in);
        } else {
            c.groups(groups);
        }
        const uint32_t ks[] = {1, 2, 3, 4, 5};
        c.kh = ks[pick(0, 4)];
        c.kw = pick(0, 2) ? c.kh : ks[pick(0, 4)];
        c.stride(pick(1, 3), pick(1, 3)).dilation(pick(1, 2), pick(1, 2));
        c.pads(pick(0, c.kh), pick(0, c.kh), pick(0, c.kw), pick(0, c.kw));
        // output_padding below max(stride, dilation), as torch requires.
        c.out_pad(pick(0, std::max(c.a.stride_h, c.a.dilation_h) - 1),
                  pick(0, std::max(c.a.stride_w, c.a.dilation_w) - 1));
        if (pick(0, 1)) c.with_bias();

        const std::string repro =
            cat("conv_transpose2d fuzz seed ", seed, ": ", describe(c), "  (rerun: VKCNN_CONV_TRANSPOSE2D_SEED=", seed,
                " vkcnn_tests -tc='ops/conv_transpose2d: random*')");
        INFO(repro);
        // The shape rule against the formula, computed independently here.
        const ConvTranspose2dAttrs& at = c.a;
        const int64_t oh = (int64_t{c.h} - 1) * at.stride_h - at.pad_top - at.pad_bottom +
                           int64_t{at.dilation_h} * (c.kh - 1) + at.output_padding_h + 1;
        const int64_t ow = (int64_t{c.w} - 1) * at.stride_w - at.pad_left - at.pad_right +
                           int64_t{at.dilation_w} * (c.kw - 1) + at.output_padding_w + 1;
        if (oh <= 0 || ow <= 0) {
            CHECK_THROWS_WITH_AS(c.shape(), doctest::Contains("is not positive"), Error);
            ++rejected;
            continue;
        }
        const ConvTranspose2dShape s = c.shape();
        CHECK(s.oh == oh);
        CHECK(s.ow == ow);
        ++valid;
        exact_case(dev, pool, c, seed, tuning);
        real_case(dev, pool, c, seed + 1, tuning);
    }
    if (seeds.size() > 1) CHECK(valid * 2 >= int(seeds.size())); // the fuzzer mostly makes convolutions that run (110 of the first 150)
    MESSAGE("conv_transpose2d fuzzer: ", valid, " cases run, ", rejected, " rejected by the shape rule as expected");
}

TEST_CASE("ops/conv_transpose2d: CPU kernels give the same bits for any thread count") {
    const Case cases[] = {Case{3, 4, 17, 15, 6, 3, 3}.pad(1, 1).stride(2, 1).out_pad(1, 0).with_bias(),
                          Case{1, 16, 20, 20, 16, 4, 4}.stride(2, 2).pad(1, 1).with_bias(), // large enough to thread
                          Case{2, 8, 9, 9, 8, 5, 5}.groups(8).dilation(2, 2).pad(4, 4)};
    cpu::ThreadPool one(1), two(2), three(3);
    uint32_t seed = 5000;
    for (const Case& c : cases) {
        INFO("case: ", describe(c));
        const ConvTranspose2dShape s = c.shape();
        const Data d = make_data(s, seed += 8, false);
        const Results<float> r1 = run_cpu(one, s, d);
        check_exact(run_cpu(two, s, d), r1, "cpu 2 threads vs 1");
        check_exact(run_cpu(three, s, d), r1, "cpu 3 threads vs 1");
        check_close(s, r1, run_reference<double>(s, d), "cpu 1 thread");
    }
}

TEST_CASE("ops/conv_transpose2d: backward of the double reference matches finite differences") {
    const Case cases[] = {
        Case{2, 4, 3, 4, 4, 3, 2}.groups(2).stride(2, 1).pads(1, 0, 0, 1).dilation(1, 2).out_pad(1, 0).with_bias(),
        Case{1, 3, 4, 3, 6, 3, 3}.groups(3).pad(1, 1).stride(2, 2).with_bias(), // depthwise, multiplier 2
        Case{1, 2, 3, 3, 3, 1, 1},                                              // pointwise
        Case{1, 2, 3, 4, 2, 3, 1}.dilation(2, 1).out_pad(1, 0),                 // output_padding = stride
        Case{1, 2, 4, 3, 2, 3, 3}.stride(3, 2).pad(2, 1).out_pad(2, 1),         // outputs no tap reaches: bias only
    };
    uint32_t seed = 6000;
    for (const Case& c : cases) {
        INFO("case: ", describe(c));
        const ConvTranspose2dShape s = c.shape();
        const Data d = make_data(s, seed += 8, false);
        const auto x = to_double(d.x), w = to_double(d.w), b = to_double(d.b);
        const Results<double> r = run_reference<double>(s, d);
        const auto dy = to_double(d.dy);
        auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
            std::vector<double> y(s.y_size());
            ops::conv_transpose2d_forward_reference<double>(s, xv, wv, bv, y);
            return weighted_sum(y, dy);
        };
        check_gradient(r.dx, numerical_gradient([&](const std::vector<double>& v) { return loss(v, w, b); }, x), "dx");
        check_gradient(r.dw, numerical_gradient([&](const std::vector<double>& v) { return loss(x, v, b); }, w), "dw");
        if (s.bias)
            check_gradient(r.db, numerical_gradient([&](const std::vector<double>& v) { return loss(x, w, v); }, b),
                           "db");
    }
}

TEST_CASE("ops/conv_transpose2d: bad shapes throw vkcnn::Error naming conv_transpose2d and the shapes") {
    using X = std::array<uint32_t, 4>;
    auto shape = [](X x, X w, ConvTranspose2dAttrs a = {}, bool bias = false) {
        return ops::conv_transpose2d_shape(x, w, a, bias);
    };
    ConvTranspose2dAttrs g3;
    g3.groups = 3;
    CHECK_THROWS_WITH_AS(shape({2, 4, 8, 8}, {4, 2, 3, 3}, g3),
                         "conv_transpose2d: input has 4 channels, not divisible by groups 3 (input (2, 4, 8, 8), "
                         "weight (4, 2, 3, 3))",
                         Error);
    CHECK_THROWS_WITH_AS(shape({2, 4, 8, 8}, {6, 2, 3, 3}),
                         "conv_transpose2d: input has 4 channels, weight expects 6 "
                         "(input (2, 4, 8, 8), weight (6, 2, 3, 3))",
                         Error);
    ConvTranspose2dAttrs op;
    op.stride_h = 2, op.output_padding_h = 2;
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {3, 2, 3, 3}, op),
                         "conv_transpose2d: output_padding 2x0 must be smaller than either stride 2x1 or dilation 1x1 "
                         "(input (1, 3, 4, 4), weight (3, 2, 3, 3))",
                         Error);
    op.dilation_h = 3; // now below the dilation: allowed, as torch
    CHECK_NOTHROW(shape({1, 3, 4, 4}, {3, 2, 3, 3}, op));
    ConvTranspose2dAttrs opw;
    opw.output_padding_w = 1;
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {3, 2, 3, 3}, opw),
                         doctest::Contains("output_padding 0x1 must be smaller than either stride 1x1 or dilation 1x1"),
                         Error);
    // Padding that removes the whole output.
    CHECK_THROWS_WITH_AS(shape({1, 3, 2, 2}, {3, 2, 2, 2}, ConvTranspose2dAttrs{}.pad(1, 2)),
                         "conv_transpose2d: output size 1x-1 is not positive (input (1, 3, 2, 2), weight (3, 2, 2, 2), "
                         "stride 1x1, padding top 1 bottom 1 left 2 right 2, dilation 1x1, output_padding 0x0)",
                         Error);
    CHECK_THROWS_WITH_AS(shape({1, 3, 0, 4}, {3, 8, 1, 1}),
                         "conv_transpose2d: input (1, 3, 0, 4), weight (3, 8, 1, 1): the input has an empty dimension",
                         Error);
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {3, 0, 1, 1}),
                         "conv_transpose2d: input (1, 3, 4, 4), weight (3, 0, 1, 1): the weight has an empty dimension",
                         Error);
    ConvTranspose2dAttrs s0;
    s0.stride_w = 0;
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {3, 8, 1, 1}, s0), doctest::Contains("conv_transpose2d: stride 1x0"),
                         Error);
    ConvTranspose2dAttrs g0;
    g0.groups = 0;
    CHECK_THROWS_WITH_AS(shape({1, 3, 4, 4}, {3, 8, 1, 1}, g0), doctest::Contains("groups 0 must be positive"), Error);
    // Past what the shaders' 32-bit indices hold: the output grows with the stride.
    ConvTranspose2dAttrs big;
    big.stride_h = big.stride_w = 1024;
    CHECK_THROWS_WITH_AS(shape({4, 1, 256, 256}, {1, 1, 1, 1}, big),
                         doctest::Contains("conv_transpose2d: input (4, 1, 256, 256), weight (1, 1, 1, 1) gives output "
                                           "(4, 1, 261121, 261121): a tensor or the padded output exceeds 2^31 - 1"),
                         Error);
    CHECK_THROWS_WITH_AS(shape({65536, 1, 256, 256}, {1, 1, 1, 1}), doctest::Contains("exceeds 2^31 - 1"), Error);

    // Buffers that do not match the shape.
    const ConvTranspose2dShape s = shape({1, 2, 4, 4}, {2, 3, 3, 3}, ConvTranspose2dAttrs{}, true); // y (1, 3, 6, 6)
    std::vector<float> x(s.x_size()), w(s.w_size()), b(s.c_out), y(s.y_size()), short_w(s.w_size() - 1);
    cpu::ThreadPool pool(1);
    CHECK_THROWS_WITH_AS(ops::conv_transpose2d_forward_reference<float>(s, x, short_w, b, y),
                         "conv_transpose2d_forward: w has 53 elements, the shape needs 54", Error);
    CHECK_THROWS_WITH_AS(ops::conv_transpose2d_forward_cpu(pool, s, x, w, {}, y),
                         "conv_transpose2d_forward: b has 0 elements, the shape needs 3", Error);
    CHECK_THROWS_WITH_AS(ops::conv_transpose2d_backward_data_cpu(pool, s, w, y, b),
                         "conv_transpose2d_backward_data: dx has 3 elements, the shape needs 32", Error);
    CHECK_THROWS_WITH_AS(ops::conv_transpose2d_backward_weight_cpu(pool, s, x, x, w),
                         "conv_transpose2d_backward_weight: dy has 32 elements, the shape needs 108", Error);
    CHECK_THROWS_WITH_AS(ops::conv_transpose2d_backward_bias_cpu(pool, s, y, w),
                         "conv_transpose2d_backward_bias: db has 54 elements, the shape needs 3", Error);
    const ConvTranspose2dShape no_bias = shape({1, 2, 4, 4}, {2, 3, 3, 3});
    CHECK_THROWS_WITH_AS(ops::conv_transpose2d_add_bias_launch(no_bias),
                         "conv_transpose2d_add_bias: the shape has no bias", Error);
}
