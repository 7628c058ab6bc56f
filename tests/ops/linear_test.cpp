// matmul and linear: the GEMM shaders (register-blocked matmul_register[_bias]
// and shared-memory tiled matmul_tiled[_bias], each test running both) and
// linear_backward_bias vs the CPU kernels vs the plain reference over a sweep
// of M, N, K, transposes, bias and accumulate; gradient checks of linear's
// double reference; shape errors; and a GEMM benchmark (skipped unless run
// with --no-skip).
#include "vkcnn/ops/linear.h"
#include "vkcnn/ops/matmul.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"
#include "vkcnn/vulkan/recorder.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

const size_t kSizes[] = {1, 3, 7, 17, 31, 33, 65, 130};

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }

// The tolerance for sums of K products of numbers in [-1, 1]: rtol 3 sqrt(K) 2^-23,
// atol that much again per sqrt(K) of typical result magnitude.
double rtol_for(size_t k) { return 3.0 * std::sqrt(static_cast<double>(std::max<size_t>(k, 1))) * 0x1p-23; }
double atol_for(size_t k) { return rtol_for(k) * std::sqrt(static_cast<double>(std::max<size_t>(k, 1))); }

// Runs matmul on the GPU (shader), the CPU kernel and the float reference.
struct MatmulRun {
    std::vector<float> gpu, cpu, ref;
};

MatmulRun run_matmul(Device& dev, cpu::ThreadPool& pool, const ops::MatmulAttrs& at, const std::vector<float>& a,
                     const std::vector<float>& b, const std::vector<float>& bias, const std::vector<float>& c0,
                     const GemmTuning& tuning, ops::MatmulRegisterBlock block = {}) {
    MatmulRun r{{}, c0, c0};
    ops::matmul_reference<float>(at, a, b, bias, r.ref);
    ops::matmul_cpu(pool, at, a, b, bias, r.cpu);
    const KernelLaunch l = ops::matmul_launch(at, tuning, block);
    const char* shader = tuning.shared_memory_tiles ? (at.bias ? "matmul_tiled_bias" : "matmul_tiled")
                                                    : (at.bias ? "matmul_register_bias" : "matmul_register");
    CHECK(l.shader == shader);
    std::vector<std::vector<float>> args = {a, b};
    if (at.bias) args.push_back(bias);
    args.push_back(c0);
    r.gpu = run_kernel(dev, l, std::move(args)).back();
    return r;
}

// Both kernels, whatever the test device's quirks choose: register blocks
// (lavapipe's are 64 x 64) and shared-memory tiles, two sizes each.
const GemmTuning kPaths[] = {{.shared_memory_tiles = false, .tile_m = 32, .tile_n = 32},
                             {.shared_memory_tiles = false, .tile_m = 64, .tile_n = 64},
                             {.shared_memory_tiles = true, .tile_m = 32, .tile_n = 32},
                             {.shared_memory_tiles = true, .tile_m = 64, .tile_n = 64}};

std::string path_name(const GemmTuning& t) {
    return cat(t.shared_memory_tiles ? "matmul_tiled" : "matmul_register", " ", t.tile_m, "x", t.tile_n);
}

std::string describe(const ops::MatmulAttrs& at) {
    return cat("M ", at.M, " N ", at.N, " K ", at.K, at.trans_a ? " A^T" : "", at.trans_b ? " B^T" : "",
               at.bias ? " +bias" : "", at.accumulate ? " +=C" : "");
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/linear: matmul shaders, register and tiled == CPU kernel == reference, small integers (exact)") {
    cpu::ThreadPool pool(2);
    for (const GemmTuning& tuning : kPaths) {
        uint32_t seed = 1;
        for (int variant = 0; variant < 8; ++variant) {
            for (size_t i = 0; i < 8; ++i)
                for (size_t j : {i, (i + 3) % 8}) {
                    ops::MatmulAttrs at{.M = kSizes[i], .N = kSizes[j], .K = kSizes[(i + 5 + j) % 8],
                                        .trans_a = (variant & 1) != 0, .trans_b = (variant & 2) != 0,
                                        .bias = (variant & 4) != 0, .accumulate = i % 3 == 2};
                    const std::string what = path_name(tuning) + " " + describe(at);
                    CAPTURE(what);
                    const auto a = small_integers(at.M * at.K, ++seed);
                    const auto b = small_integers(at.K * at.N, ++seed);
                    const auto bias = at.bias ? small_integers(at.N, ++seed) : std::vector<float>{};
                    const auto c0 = small_integers(at.M * at.N, ++seed);
                    const MatmulRun r = run_matmul(dev, pool, at, a, b, bias, c0, tuning);
                    check_bitwise_equal(r.cpu, r.ref, "cpu matmul " + what);
                    check_bitwise_equal(r.gpu, r.ref, what + (at.bias ? " (bias shader)" : ""));
                }
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/linear: matmul tilings and register blocks, register and tiled (exact)") {
    cpu::ThreadPool pool(2);
    // Other devices' tilings and larger register blocks, at sizes around their
    // tile edges; the tiled kernel's K step is 16 up to 128 x 128 tiles, 8 at 256 x 128.
    const std::pair<GemmTuning, ops::MatmulRegisterBlock> configs[] = {
        {{false, 64, 64}, {4, 4}}, {{true, 64, 64}, {8, 4}},  {{false, 32, 64}, {4, 8}}, {{true, 32, 64}, {4, 8}},
        {{false, 8, 4}, {4, 4}},   {{true, 8, 4}, {4, 4}},    {{true, 128, 128}, {8, 8}}, {{true, 256, 128}, {16, 8}}};
    uint32_t seed = 100;
    for (const auto& [tuning, block] : configs)
        for (const auto& [m, n, k] : {std::array<size_t, 3>{65, 67, 33}, {64, 64, 8}, {130, 9, 17}}) {
            for (int t = 0; t < 4; ++t) {
                ops::MatmulAttrs at{.M = m, .N = n, .K = k, .trans_a = (t & 1) != 0, .trans_b = (t & 2) != 0,
                                    .bias = t == 3};
                const std::string what =
                    cat(path_name(tuning), " ", describe(at), " block ", block.rows, "x", block.cols);
                CAPTURE(what);
                const auto a = small_integers(m * k, ++seed), b = small_integers(k * n, ++seed);
                const auto bias = at.bias ? small_integers(n, ++seed) : std::vector<float>{};
                const MatmulRun r = run_matmul(dev, pool, at, a, b, bias, std::vector<float>(m * n), tuning, block);
                check_bitwise_equal(r.gpu, r.ref, what);
            }
        }
}

TEST_CASE_FIXTURE(GpuTest, "ops/linear: matmul real inputs, register and tiled, within rounding of the double reference") {
    cpu::ThreadPool pool(2);
    for (const GemmTuning& tuning : kPaths) {
        uint32_t seed = 200;
        for (const auto& [m, n, k] :
             {std::array<size_t, 3>{33, 65, 130}, {130, 31, 65}, {7, 130, 33}, {64, 64, 128}, {1, 17, 1}}) {
            for (int t = 0; t < 8; ++t) {
                ops::MatmulAttrs at{.M = m, .N = n, .K = k, .trans_a = (t & 1) != 0, .trans_b = (t & 2) != 0,
                                    .bias = (t & 4) != 0};
                const std::string what = path_name(tuning) + " " + describe(at);
                CAPTURE(what);
                const auto a = uniform(m * k, ++seed), b = uniform(k * n, ++seed);
                const auto bias = at.bias ? uniform(n, ++seed) : std::vector<float>{};
                const MatmulRun r = run_matmul(dev, pool, at, a, b, bias, std::vector<float>(m * n), tuning);
                std::vector<double> want(m * n);
                ops::matmul_reference<double>(at, to_double(a), to_double(b), to_double(bias), want);
                const auto wantf = to_float(want);
                check_allclose(r.gpu, wantf, atol_for(k), rtol_for(k), what);
                check_allclose(r.cpu, wantf, atol_for(k), rtol_for(k), "cpu matmul " + what);
            }
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/linear: matmul odd shapes, M N K of 1 7 33 65 127, register and tiled (exact and real)") {
    cpu::ThreadPool pool(2);
    const size_t sizes[] = {1, 7, 33, 65, 127};
    uint32_t seed = 250;
    for (const GemmTuning& tuning : kPaths)
        for (size_t m : sizes)
            for (size_t n : sizes)
                for (size_t k : sizes) {
                    // The transposes, bias and accumulate rotate through the shapes.
                    const int t = static_cast<int>(++seed % 16);
                    ops::MatmulAttrs at{.M = m, .N = n, .K = k, .trans_a = (t & 1) != 0, .trans_b = (t & 2) != 0,
                                        .bias = (t & 4) != 0, .accumulate = (t & 8) != 0};
                    const std::string what = path_name(tuning) + " " + describe(at);
                    CAPTURE(what);
                    const auto bias_i = at.bias ? small_integers(n, seed + 3) : std::vector<float>{};
                    const MatmulRun ri = run_matmul(dev, pool, at, small_integers(m * k, seed + 1),
                                                    small_integers(k * n, seed + 2), bias_i,
                                                    small_integers(m * n, seed + 4), tuning);
                    check_bitwise_equal(ri.gpu, ri.ref, what + " small integers");

                    const auto a = uniform(m * k, seed + 5), b = uniform(k * n, seed + 6);
                    const auto bias = at.bias ? uniform(n, seed + 7) : std::vector<float>{};
                    const auto c0 = uniform(m * n, seed + 8);
                    const MatmulRun r = run_matmul(dev, pool, at, a, b, bias, c0, tuning);
                    std::vector<double> want(to_double(c0));
                    ops::matmul_reference<double>(at, to_double(a), to_double(b), to_double(bias), want);
                    check_allclose(r.gpu, to_float(want), atol_for(k + 2), rtol_for(k + 2), what + " real");
                }
}

// lavapipe ends an invocation's loops after 65535 back-edges in total
// (shaders/conv2d_common.glsl): a K past that must still be summed whole.
TEST_CASE_FIXTURE(GpuTest, "ops/linear: matmul with K past 65535 sums every term, register and tiled (exact)") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 280;
    for (const GemmTuning& tuning : kPaths)
        for (const bool trans_a : {false, true}) {
            const ops::MatmulAttrs at{.M = 5, .N = 6, .K = 70001, .trans_a = trans_a};
            const std::string what = path_name(tuning) + " " + describe(at);
            CAPTURE(what);
            // Small integers: |sum| <= 16 K < 2^24, exact in float.
            seed += 2;
            const MatmulRun r = run_matmul(dev, pool, at, small_integers(at.M * at.K, seed),
                                           small_integers(at.K * at.N, seed + 1), {},
                                           std::vector<float>(at.M * at.N), tuning);
            check_bitwise_equal(r.gpu, r.ref, what);
        }
}

namespace {

struct LinearData {
    std::vector<float> x, w, b, dy;
};

LinearData linear_data(const ops::LinearShape& s, uint32_t seed, bool integers) {
    auto gen = [&](size_t n, uint32_t sd) { return integers ? small_integers(n, sd) : uniform(n, sd); };
    return {gen(s.batch * s.in_features, seed), gen(s.out_features * s.in_features, seed + 1),
            s.bias ? gen(s.out_features, seed + 2) : std::vector<float>{}, gen(s.batch * s.out_features, seed + 3)};
}

const ops::LinearShape kLinearShapes[] = {{1, 1, 1, true},    {1, 17, 10, true}, {3, 7, 5, false},
                                          {5, 33, 31, true},  {64, 65, 10, true}, {130, 3, 130, false},
                                          {17, 128, 64, true}};

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/linear: forward and backward, register and tiled shaders == CPU kernels == reference (exact)") {
    cpu::ThreadPool pool(2);
    for (const GemmTuning& tuning : kPaths) {
        const std::string path = path_name(tuning);
        CAPTURE(path);
        uint32_t seed = 300;
        for (const ops::LinearShape& s : kLinearShapes) {
            CAPTURE(s.batch);
            CAPTURE(s.in_features);
            CAPTURE(s.out_features);
            CAPTURE(s.bias);
            const LinearData d = linear_data(s, seed += 4, true);
            const size_t ny = s.batch * s.out_features, nx = s.batch * s.in_features, nw = s.out_features * s.in_features;

            std::vector<float> y_ref(ny), y_cpu(ny);
            ops::linear_forward_reference<float>(s, d.x, d.w, d.b, y_ref);
            ops::linear_forward_cpu(pool, s, d.x, d.w, d.b, y_cpu);
            check_bitwise_equal(y_cpu, y_ref, "cpu linear_forward");
            std::vector<std::vector<float>> fargs = {d.x, d.w};
            if (s.bias) fargs.push_back(d.b);
            fargs.emplace_back(ny);
            const auto fout = run_kernel(dev, ops::linear_forward_launch(s, tuning), fargs);
            check_bitwise_equal(fout.back(), y_ref, "linear forward (" + path + ")");

            std::vector<float> dx_ref(nx), dw_ref(nw), db_ref(s.out_features), dx_cpu(nx), dw_cpu(nw), db_cpu(s.out_features);
            ops::linear_backward_reference<float>(s, d.x, d.w, d.dy, dx_ref, dw_ref, db_ref);
            ops::linear_backward_cpu(pool, s, d.x, d.w, d.dy, dx_cpu, dw_cpu, db_cpu);
            check_bitwise_equal(dx_cpu, dx_ref, "cpu linear dx");
            check_bitwise_equal(dw_cpu, dw_ref, "cpu linear dW");
            check_bitwise_equal(db_cpu, db_ref, "cpu linear db");
            const auto dx = run_kernel(dev, ops::linear_backward_input_launch(s, tuning), {d.dy, d.w, std::vector<float>(nx)});
            check_bitwise_equal(dx[2], dx_ref, "linear dx (" + path + ")");
            const auto dw = run_kernel(dev, ops::linear_backward_weight_launch(s, tuning), {d.dy, d.x, std::vector<float>(nw)});
            check_bitwise_equal(dw[2], dw_ref, "linear dW (" + path + ", A^T)");
            const auto db = run_kernel(dev, ops::linear_backward_bias_launch(s), {d.dy, std::vector<float>(s.out_features)});
            check_bitwise_equal(db[1], db_ref, "linear_backward_bias");

            // Accumulating gradients: dW += and db += onto existing values.
            const auto w0 = small_integers(nw, seed + 10), b0 = small_integers(s.out_features, seed + 11);
            std::vector<float> dw_acc(nw), db_acc(s.out_features);
            for (size_t i = 0; i < nw; ++i) dw_acc[i] = w0[i] + dw_ref[i];
            for (size_t i = 0; i < s.out_features; ++i) db_acc[i] = b0[i] + db_ref[i];
            check_bitwise_equal(run_kernel(dev, ops::linear_backward_weight_launch(s, tuning, true), {d.dy, d.x, w0})[2],
                                dw_acc, "linear dW += (" + path + ")");
            check_bitwise_equal(run_kernel(dev, ops::linear_backward_bias_launch(s, true), {d.dy, b0})[1], db_acc,
                                "linear_backward_bias +=");
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/linear: real inputs, register and tiled shaders and CPU kernels within rounding of the double reference") {
    cpu::ThreadPool pool(3);
    for (const GemmTuning& tuning : kPaths) {
        const std::string path = path_name(tuning);
        CAPTURE(path);
        uint32_t seed = 400;
        for (const ops::LinearShape& s : kLinearShapes) {
            CAPTURE(s.batch);
            CAPTURE(s.in_features);
            CAPTURE(s.out_features);
            const LinearData d = linear_data(s, seed += 4, false);
            const size_t ny = s.batch * s.out_features, nx = s.batch * s.in_features, nw = s.out_features * s.in_features;
            std::vector<double> y(ny), dx(nx), dw(nw), db(s.out_features);
            ops::linear_forward_reference<double>(s, to_double(d.x), to_double(d.w), to_double(d.b), y);
            ops::linear_backward_reference<double>(s, to_double(d.x), to_double(d.w), to_double(d.dy), dx, dw, db);

            std::vector<std::vector<float>> fargs = {d.x, d.w};
            if (s.bias) fargs.push_back(d.b);
            fargs.emplace_back(ny);
            const auto fy = run_kernel(dev, ops::linear_forward_launch(s, tuning), fargs).back();
            const auto fdx = run_kernel(dev, ops::linear_backward_input_launch(s, tuning), {d.dy, d.w, std::vector<float>(nx)})[2];
            const auto fdw = run_kernel(dev, ops::linear_backward_weight_launch(s, tuning), {d.dy, d.x, std::vector<float>(nw)})[2];
            const auto fdb = run_kernel(dev, ops::linear_backward_bias_launch(s), {d.dy, std::vector<float>(s.out_features)})[1];
            std::vector<float> cy(ny), cdx(nx), cdw(nw), cdb(s.out_features);
            ops::linear_forward_cpu(pool, s, d.x, d.w, d.b, cy);
            ops::linear_backward_cpu(pool, s, d.x, d.w, d.dy, cdx, cdw, cdb);

            const size_t kin = s.in_features + 1, kout = s.out_features, kb = s.batch;
            for (const auto& [got, want, k, what] :
                 {std::tuple{&fy, &y, kin, "y"}, {&fdx, &dx, kout, "dx"}, {&fdw, &dw, kb, "dW"}, {&fdb, &db, kb, "db"}}) {
                check_allclose(*got, to_float(*want), atol_for(k), rtol_for(k), cat("gpu ", path, " ", what));
            }
            for (const auto& [got, want, k, what] :
                 {std::tuple{&cy, &y, kin, "y"}, {&cdx, &dx, kout, "dx"}, {&cdw, &dw, kb, "dW"}, {&cdb, &db, kb, "db"}}) {
                check_allclose(*got, to_float(*want), atol_for(k), rtol_for(k), cat("cpu ", what));
            }
        }
    }
}

TEST_CASE("ops/linear: backward of the double reference matches finite differences") {
    for (const ops::LinearShape& s : {ops::LinearShape{3, 4, 5, true}, ops::LinearShape{1, 3, 2, false}}) {
        CAPTURE(s.bias);
        const LinearData d = linear_data(s, 500, false);
        const auto x = to_double(d.x), w = to_double(d.w), b = to_double(d.b), dy = to_double(d.dy);
        std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
        ops::linear_backward_reference<double>(s, x, w, dy, dx, dw, db);
        auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
            std::vector<double> y(s.batch * s.out_features);
            ops::linear_forward_reference<double>(s, xv, wv, bv, y);
            return weighted_sum(y, dy);
        };
        check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) { return loss(v, w, b); }, x), "dx");
        check_gradient(dw, numerical_gradient([&](const std::vector<double>& v) { return loss(x, v, b); }, w), "dW");
        if (s.bias)
            check_gradient(db, numerical_gradient([&](const std::vector<double>& v) { return loss(x, w, v); }, b), "db");
    }
}

TEST_CASE("ops/linear: bad shapes name the op and the shapes") {
    const int64_t x[] = {4, 5}, w[] = {3, 4}, w3[] = {3, 4, 1}, b[] = {2}, ok_w[] = {3, 5}, ok_b[] = {3};
    CHECK_THROWS_WITH(ops::linear_shape(x, w, {}), "linear: x has 5 features, weight (3, 4) expects 4");
    CHECK_THROWS_WITH(ops::linear_shape(x, w3, {}), doctest::Contains("weight (3, 4, 1) is not 2-D"));
    CHECK_THROWS_WITH(ops::linear_shape(x, ok_w, b), doctest::Contains("bias (2,) does not match weight (3, 5)"));
    const ops::LinearShape s = ops::linear_shape(x, ok_w, ok_b);
    CHECK(s.batch == 4);
    CHECK(s.in_features == 5);
    CHECK(s.out_features == 3);
    CHECK(s.bias);

    std::vector<float> xs(20), ws(14), bs(3), ys(12);
    CHECK_THROWS_WITH(ops::linear_forward_reference<float>(s, xs, ws, bs, ys),
                      doctest::Contains("linear_forward: weight has 14 elements, expected (3, 5) = 15"));
    std::vector<float> ws_ok(15), dx(7);
    CHECK_THROWS_WITH(ops::linear_backward_cpu(*std::make_unique<cpu::ThreadPool>(1), s, xs, ws_ok, ys, dx, {}, {}),
                      doctest::Contains("linear_backward: dx has 7 elements, expected (4, 5) = 20"));
    const ops::MatmulAttrs at{.M = 2, .N = 3, .K = 4, .trans_a = true};
    std::vector<float> a(7), bm(12), c(6);
    CHECK_THROWS_WITH(ops::matmul_reference<float>(at, a, bm, {}, c),
                      doctest::Contains("matmul: A has 7 elements, expected (K, M) = 8"));
    CHECK_THROWS_WITH(ops::matmul_launch({.M = 1u << 23, .N = 1u << 23, .K = 1}, GemmTuning{}),
                      doctest::Contains("index past 2^32 - 1"));
    CHECK_THROWS_WITH(ops::matmul_launch(at, GemmTuning{}, {3, 4}), doctest::Contains("multiples of 4"));
}

// GFLOP/s of both GEMM kernels on the default device (its tile sizes): run with
// vkcnn_tests -tc='ops/linear: GEMM throughput*' --no-skip
TEST_CASE_FIXTURE(GpuTest, "ops/linear: GEMM throughput (benchmark)" * doctest::skip()) {
    for (size_t n : {256, 512})
        for (const bool shared : {false, true}) {
            GemmTuning tuning = dev.quirks().gemm;
            tuning.shared_memory_tiles = shared;
            for (const ops::MatmulRegisterBlock block : {ops::MatmulRegisterBlock{4, 4}, {4, 8}, {8, 4}, {8, 8}}) {
                const ops::MatmulAttrs at{.M = n, .N = n, .K = n};
                const KernelLaunch l = ops::matmul_launch(at, tuning, block);
                std::vector<vulkan::Buffer> bufs;
                std::vector<vulkan::BufferRange> ranges;
                for (int i = 0; i < 3; ++i) {
                    bufs.push_back(dev.create_buffer(n * n * sizeof(float), "bench"));
                    dev.upload<float>(bufs.back(), uniform(n * n, i));
                }
                for (auto& b : bufs) ranges.emplace_back(b);
                vulkan::Recorder rec(dev);
                rec.dispatch(l, ranges);
                rec.submit_and_wait("warm-up");
                const int reps = n == 256 ? 10 : 4;
                const auto t0 = std::chrono::steady_clock::now();
                for (int r = 0; r < reps; ++r) rec.dispatch(l, ranges);
                rec.submit_and_wait("bench");
                const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                std::printf("%s %zu^3 block %ux%u tile %ux%u: %.2f GFLOP/s\n", std::string(l.shader).c_str(), n,
                            block.rows, block.cols, tuning.tile_m, tuning.tile_n, 2.0 * n * n * n * reps / s * 1e-9);
            }
        }
}
