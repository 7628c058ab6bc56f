// batch_norm2d: the shaders (batch_norm2d_stats, _stats_partials,
// _stats_finish, _forward in training and eval, _backward_sums,
// _backward_partials, _backward_finish, _backward_data, _eval_backward_invstd,
// _eval_backward_data, and the reductions' subgroup variants _stats_subgroup,
// _stats_partials_subgroup, _backward_sums_subgroup,
// _backward_partials_subgroup) vs the CPU kernels vs
// the double reference over batch 1, odd channels, 1x1 maps, 7x7, 17x17 and a
// large batch, each through one workgroup per channel and through chunks, with
// the portable and (where the device has it) the subgroup reductions; a large
// mean offset; numbers worked out from torch's definitions; gradients of the
// double references (training and eval) vs finite differences; errors.
#include "vkcnn/ops/batch_norm2d.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/gradcheck.h"
#include "support/run_kernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

using ops::BatchNorm2dShape;

// Batch 1 with a feature map, odd channels with 1x1 maps, 7x7, 17x17, the
// smallest trainable M (2), more channels than a workgroup has lanes, and
// MNIST-sized maps in a batch of 64 (chunked by default).
const BatchNorm2dShape kShapes[] = {{2, 3, 5, 5},   {1, 4, 7, 7}, {8, 5, 1, 1},  {3, 7, 17, 17},
                                    {2, 1, 1, 1},   {1, 1, 1, 2}, {2, 67, 3, 3}, {64, 3, 28, 28}};

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }

// A sum of M terms rounds to within about sqrt(M) ulps (3 sqrt(M) 2^-23 is
// generous); the shader's division and square root add a few ulps more.
double rtol_for(size_t m) { return 3.0 * std::sqrt(static_cast<double>(m)) * 0x1p-23 + 16 * 0x1p-23; }
constexpr double kPointwise = 16 * 0x1p-23; // elementwise formulas: a few roundings and a square root

double max_abs(std::span<const float> v) {
    double m = 0;
    for (float f : v) m = std::max(m, std::abs(double{f}));
    return m;
}

// How the GPU reduces: chunks per channel (1: one workgroup per channel) and
// whether the workgroup sums use subgroup arithmetic.
struct Variant {
    uint32_t chunks = 1;
    bool subgroup = false;
};

std::string describe(const BatchNorm2dShape& s) { return cat("x (", s.n, ", ", s.c, ", ", s.h, ", ", s.w, ")"); }
std::string describe(const BatchNorm2dShape& s, const Variant& v) {
    return cat(describe(s), " chunks ", v.chunks, v.subgroup ? " subgroup" : " portable");
}

// The reduction paths: the portable one always, the subgroup one where the
// device has subgroup arithmetic (not under VKCNN_DISABLE_FEATURES=subgroup).
std::vector<bool> reduction_paths(const Device& dev) {
    if (dev.quirks().gemm.subgroup_reductions) return {false, true};
    MESSAGE("subgroup reductions not tested: ", dev.info().name, " has no subgroup arithmetic or it is masked");
    return {false};
}

// Each chunk count with each reduction path.
std::vector<Variant> variants(const Device& dev, std::initializer_list<uint32_t> chunk_counts) {
    std::vector<Variant> v;
    for (const bool subgroup : reduction_paths(dev))
        for (const uint32_t chunks : chunk_counts) v.push_back({chunks, subgroup});
    return v;
}

struct Data {
    std::vector<float> x, weight, bias, running_mean, running_var, dy;
};

Data make_data(const BatchNorm2dShape& s, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    return {uniform(s.x_size(), seed, lo, hi),      uniform(s.c, seed + 1, 0.5f, 2.0f),
            uniform(s.c, seed + 2),                 uniform(s.c, seed + 3, -0.5f, 0.5f),
            uniform(s.c, seed + 4, 0.5f, 2.0f),     uniform(s.x_size(), seed + 5)};
}

struct Train {
    std::vector<float> y, mean, invstd, running_mean, running_var;
};
struct Grads {
    std::vector<float> dx, dweight, dbias;
};

// Chunk counts that exercise both reduction shapes: one workgroup per
// channel, the default, and 3 (empty trailing chunks when M < 3); each with
// both reduction paths.
std::vector<Variant> variants(const Device& dev, const BatchNorm2dShape& s) {
    std::vector<uint32_t> c = {1, ops::batch_norm2d_chunks(s), 3};
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());
    std::vector<Variant> v;
    for (const bool subgroup : reduction_paths(dev))
        for (const uint32_t chunks : c) v.push_back({chunks, subgroup});
    return v;
}

Train gpu_train(Device& dev, const BatchNorm2dShape& s, const ops::BatchNorm2dAttrs& attrs, const Data& d,
                const Variant& v) {
    const uint32_t chunks = v.chunks;
    std::vector<std::vector<float>> stats;
    if (chunks == 1) {
        stats = run_kernel(dev, ops::batch_norm2d_stats_launch(s, attrs, v.subgroup),
                           {d.x, std::vector<float>(s.c), std::vector<float>(s.c), d.running_mean, d.running_var});
    } else {
        const auto partials = run_kernel(dev, ops::batch_norm2d_stats_partials_launch(s, chunks, v.subgroup),
                                         {d.x, std::vector<float>(ops::batch_norm2d_partials_size(s, chunks))})[1];
        stats = run_kernel(dev, ops::batch_norm2d_stats_finish_launch(s, attrs, chunks),
                           {partials, std::vector<float>(s.c), std::vector<float>(s.c), d.running_mean, d.running_var});
    }
    const auto y = run_kernel(dev, ops::batch_norm2d_forward_launch(s, attrs, true),
                              {d.x, stats[1], stats[2], d.weight, d.bias, std::vector<float>(s.x_size())})[5];
    return {y, stats[1], stats[2], stats[3], stats[4]};
}

Grads gpu_backward(Device& dev, const BatchNorm2dShape& s, const Data& d, const std::vector<float>& mean,
                   const std::vector<float>& invstd, const Variant& v) {
    const uint32_t chunks = v.chunks;
    std::vector<float> dw, db;
    if (chunks == 1) {
        const auto out = run_kernel(dev, ops::batch_norm2d_backward_sums_launch(s, v.subgroup),
                                    {d.x, d.dy, mean, invstd, std::vector<float>(s.c), std::vector<float>(s.c)});
        dw = out[4], db = out[5];
    } else {
        const auto partials =
            run_kernel(dev, ops::batch_norm2d_backward_partials_launch(s, chunks, v.subgroup),
                       {d.x, d.dy, mean, std::vector<float>(ops::batch_norm2d_partials_size(s, chunks))})[3];
        const auto out = run_kernel(dev, ops::batch_norm2d_backward_finish_launch(s, chunks),
                                    {partials, invstd, std::vector<float>(s.c), std::vector<float>(s.c)});
        dw = out[2], db = out[3];
    }
    const auto dx = run_kernel(dev, ops::batch_norm2d_backward_data_launch(s),
                               {d.x, d.dy, mean, invstd, d.weight, dw, db, std::vector<float>(s.x_size())})[7];
    return {dx, dw, db};
}

std::vector<float> gpu_eval(Device& dev, const BatchNorm2dShape& s, const ops::BatchNorm2dAttrs& attrs,
                            const Data& d) {
    return run_kernel(dev, ops::batch_norm2d_forward_launch(s, attrs, false),
                      {d.x, d.running_mean, d.running_var, d.weight, d.bias, std::vector<float>(s.x_size())})[5];
}

Train cpu_train(cpu::ThreadPool& pool, const BatchNorm2dShape& s, const ops::BatchNorm2dAttrs& attrs, const Data& d) {
    Train t{std::vector<float>(s.x_size()), std::vector<float>(s.c), std::vector<float>(s.c), d.running_mean,
            d.running_var};
    ops::batch_norm2d_forward_train_cpu(pool, s, attrs, d.x, d.weight, d.bias, t.running_mean, t.running_var, t.y,
                                        t.mean, t.invstd);
    return t;
}

struct TrainDouble {
    std::vector<double> y, mean, invstd, running_mean, running_var;
};

TrainDouble reference_train(const BatchNorm2dShape& s, const ops::BatchNorm2dAttrs& attrs, const Data& d) {
    TrainDouble t{std::vector<double>(s.x_size()), std::vector<double>(s.c), std::vector<double>(s.c),
                  to_double(d.running_mean), to_double(d.running_var)};
    ops::batch_norm2d_forward_train_reference<double>(s, attrs, to_double(d.x), to_double(d.weight),
                                                      to_double(d.bias), t.running_mean, t.running_var, t.y, t.mean,
                                                      t.invstd);
    return t;
}

// Checks one implementation's training forward against the double reference:
// statistics with the reduction tolerance, y against the reference with that
// tolerance scaled by the magnitude of what was summed and normalised, and y
// against its own statistics with the elementwise tolerance.
void check_train(const Train& got, const TrainDouble& want, const BatchNorm2dShape& s, const Data& d,
                 const std::string& what) {
    const double rtol = rtol_for(s.reduced()), xmax = max_abs(d.x);
    check_allclose(got.mean, to_float(want.mean), rtol * xmax, rtol, what + " mean");
    check_allclose(got.invstd, to_float(want.invstd), 0, rtol, what + " invstd");
    check_allclose(got.running_mean, to_float(want.running_mean), rtol * xmax, rtol, what + " running_mean");
    check_allclose(got.running_var, to_float(want.running_var), 0, rtol, what + " running_var");
    // y = (x - mean) * invstd * w + b: an error in the mean shows up scaled by invstd * |w|.
    double scale = max_abs(d.bias);
    for (size_t c = 0; c < s.c; ++c)
        scale = std::max(scale, (xmax + std::abs(want.mean[c])) * want.invstd[c] * std::abs(d.weight[c]));
    check_allclose(got.y, to_float(want.y), rtol * scale, rtol, what + " y");
    std::vector<double> y_own(s.x_size());
    for (size_t i = 0; i < s.x_size(); ++i) {
        const size_t c = i / s.hw() % s.c;
        y_own[i] = (double{d.x[i]} - got.mean[c]) * got.invstd[c] * d.weight[c] + d.bias[c];
    }
    check_allclose(got.y, to_float(y_own), kPointwise * scale, kPointwise, what + " y from its own statistics");
}

// The double reference's gradients for given saved statistics, and the
// tolerances: sums of M terms of magnitude up to max|dy| (dbias) and
// max|dy * xhat| (dweight) as linear's, dx scaled by the size of its terms.
struct BackwardWant {
    std::vector<double> dx, dweight, dbias;
    double rtol = 0, atol_dx = 0, atol_dweight = 0, atol_dbias = 0;

    void check(const Grads& g, const std::string& what) const {
        check_allclose(g.dbias, to_float(dbias), atol_dbias, rtol, what + " dbias");
        check_allclose(g.dweight, to_float(dweight), atol_dweight, rtol, what + " dweight");
        check_allclose(g.dx, to_float(dx), atol_dx, rtol, what + " dx");
    }
};

BackwardWant backward_want(const BatchNorm2dShape& s, const Data& d, const std::vector<float>& mean,
                           const std::vector<float>& invstd) {
    BackwardWant w{std::vector<double>(s.x_size()), std::vector<double>(s.c), std::vector<double>(s.c)};
    ops::batch_norm2d_backward_reference<double>(s, to_double(d.x), to_double(d.dy), to_double(d.weight),
                                                 to_double(mean), to_double(invstd), w.dx, w.dweight, w.dbias);
    const double m = static_cast<double>(s.reduced()), dymax = max_abs(d.dy);
    double xhat_max = 0, dx_scale = 0;
    for (size_t i = 0; i < s.x_size(); ++i) {
        const size_t c = i / s.hw() % s.c;
        xhat_max = std::max(xhat_max, std::abs((double{d.x[i]} - mean[c]) * invstd[c]));
    }
    for (size_t c = 0; c < s.c; ++c)
        dx_scale = std::max(dx_scale, std::abs(d.weight[c] * double{invstd[c]}) *
                                          (dymax + std::abs(w.dbias[c]) / m + xhat_max * std::abs(w.dweight[c]) / m));
    w.rtol = rtol_for(s.reduced());
    w.atol_dbias = w.rtol * std::sqrt(m) * dymax;
    w.atol_dweight = w.atol_dbias * xhat_max;
    w.atol_dx = w.rtol * dx_scale;
    return w;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: training forward, shaders and CPU kernel within rounding of the double reference") {
    cpu::ThreadPool pool(2);
    const ops::BatchNorm2dAttrs attrs{};
    uint32_t seed = 1;
    for (const BatchNorm2dShape& s : kShapes) {
        const Data d = make_data(s, seed += 10);
        const TrainDouble want = reference_train(s, attrs, d);
        CAPTURE(describe(s));
        check_train(cpu_train(pool, s, attrs, d), want, s, d, "cpu");
        Train ref{std::vector<float>(s.x_size()), std::vector<float>(s.c), std::vector<float>(s.c), d.running_mean,
                  d.running_var};
        ops::batch_norm2d_forward_train_reference<float>(s, attrs, d.x, d.weight, d.bias, ref.running_mean,
                                                         ref.running_var, ref.y, ref.mean, ref.invstd);
        check_train(ref, want, s, d, "float reference");
        for (const Variant& v : variants(dev, s))
            check_train(gpu_train(dev, s, attrs, d, v), want, s, d, "gpu " + describe(s, v));
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: other eps and momentum reach every implementation") {
    cpu::ThreadPool pool(2);
    const ops::BatchNorm2dAttrs attrs{.eps = 0.25f, .momentum = 0.75f};
    const BatchNorm2dShape s{3, 5, 4, 3};
    const Data d = make_data(s, 77);
    const TrainDouble want = reference_train(s, attrs, d);
    check_train(cpu_train(pool, s, attrs, d), want, s, d, "cpu");
    for (const Variant& v : variants(dev, {1u, 4u}))
        check_train(gpu_train(dev, s, attrs, d, v), want, s, d, "gpu " + describe(s, v));
    std::vector<double> y(s.x_size());
    ops::batch_norm2d_forward_eval_reference<double>(s, attrs, to_double(d.x), to_double(d.weight), to_double(d.bias),
                                                     to_double(d.running_mean), to_double(d.running_var), y);
    check_allclose(gpu_eval(dev, s, attrs, d), to_float(y), kPointwise * 8, kPointwise, "gpu eval");
}

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: eval forward uses the running statistics") {
    cpu::ThreadPool pool(2);
    const ops::BatchNorm2dAttrs attrs{};
    uint32_t seed = 100;
    // M == 1 is fine outside training.
    std::vector<BatchNorm2dShape> shapes(std::begin(kShapes), std::end(kShapes));
    shapes.push_back({1, 3, 1, 1});
    for (const BatchNorm2dShape& s : shapes) {
        CAPTURE(describe(s));
        const Data d = make_data(s, seed += 10);
        std::vector<double> want(s.x_size());
        ops::batch_norm2d_forward_eval_reference<double>(s, attrs, to_double(d.x), to_double(d.weight),
                                                         to_double(d.bias), to_double(d.running_mean),
                                                         to_double(d.running_var), want);
        // |x - running_mean| <= 1.5, invstd <= 1.5, |w| <= 2, |b| <= 1.
        const double atol = kPointwise * 6;
        std::vector<float> y_cpu(s.x_size()), y_ref(s.x_size());
        ops::batch_norm2d_forward_eval_cpu(pool, s, attrs, d.x, d.weight, d.bias, d.running_mean, d.running_var, y_cpu);
        ops::batch_norm2d_forward_eval_reference<float>(s, attrs, d.x, d.weight, d.bias, d.running_mean,
                                                        d.running_var, y_ref);
        const auto y_gpu = gpu_eval(dev, s, attrs, d);
        check_allclose(y_cpu, to_float(want), atol, kPointwise, "cpu eval");
        check_allclose(y_ref, to_float(want), atol, kPointwise, "float reference eval");
        check_allclose(y_gpu, to_float(want), atol, kPointwise, "gpu eval");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: backward, shaders and CPU kernel within rounding of the double reference") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 200;
    for (const BatchNorm2dShape& s : kShapes) {
        CAPTURE(describe(s));
        const Data d = make_data(s, seed += 10);
        // The statistics a forward pass saved, rounded to float: every implementation gets the same ones.
        const TrainDouble fwd = reference_train(s, {}, d);
        const auto mean = to_float(fwd.mean), invstd = to_float(fwd.invstd);
        const BackwardWant want = backward_want(s, d, mean, invstd);
        Grads cpu{std::vector<float>(s.x_size()), std::vector<float>(s.c), std::vector<float>(s.c)};
        ops::batch_norm2d_backward_cpu(pool, s, d.x, d.dy, d.weight, mean, invstd, cpu.dx, cpu.dweight, cpu.dbias);
        want.check(cpu, "cpu");
        Grads ref{std::vector<float>(s.x_size()), std::vector<float>(s.c), std::vector<float>(s.c)};
        ops::batch_norm2d_backward_reference<float>(s, d.x, d.dy, d.weight, mean, invstd, ref.dx, ref.dweight,
                                                    ref.dbias);
        want.check(ref, "float reference");
        for (const Variant& v : variants(dev, s))
            want.check(gpu_backward(dev, s, d, mean, invstd, v), "gpu " + describe(s, v));

        // Only some gradients wanted: the others are skipped, the wanted ones unchanged.
        std::vector<float> dx_only(s.x_size()), db_only(s.c);
        ops::batch_norm2d_backward_cpu(pool, s, d.x, d.dy, d.weight, mean, invstd, dx_only, {}, {});
        ops::batch_norm2d_backward_cpu(pool, s, d.x, d.dy, d.weight, mean, invstd, {}, {}, db_only);
        check_bitwise_equal(dx_only, cpu.dx, "cpu dx alone");
        check_bitwise_equal(db_only, cpu.dbias, "cpu dbias alone");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: gradient sums of small integers are exact, CPU bits independent of threads") {
    uint32_t seed = 300;
    for (const BatchNorm2dShape& s : {BatchNorm2dShape{3, 7, 17, 17}, BatchNorm2dShape{64, 3, 28, 28}}) {
        CAPTURE(describe(s));
        Data d = make_data(s, seed += 10);
        d.dy = small_integers(s.x_size(), seed);
        const TrainDouble fwd = reference_train(s, {}, d);
        const auto mean = to_float(fwd.mean), invstd = to_float(fwd.invstd);
        std::vector<float> db_ref(s.c);
        ops::batch_norm2d_backward_reference<float>(s, d.x, d.dy, d.weight, mean, invstd, {}, {}, db_ref);
        std::vector<Grads> cpu;
        for (const unsigned threads : {1u, 3u}) {
            cpu::ThreadPool pool(threads);
            Grads g{std::vector<float>(s.x_size()), std::vector<float>(s.c), std::vector<float>(s.c)};
            ops::batch_norm2d_backward_cpu(pool, s, d.x, d.dy, d.weight, mean, invstd, g.dx, g.dweight, g.dbias);
            check_bitwise_equal(g.dbias, db_ref, cat("cpu dbias, ", threads, " threads"));
            cpu.push_back(std::move(g));
        }
        check_bitwise_equal(cpu[1].dx, cpu[0].dx, "cpu dx, 3 threads vs 1");
        check_bitwise_equal(cpu[1].dweight, cpu[0].dweight, "cpu dweight, 3 threads vs 1");
        Train t1 = cpu_train(*std::make_unique<cpu::ThreadPool>(1), s, {}, d);
        Train t3 = cpu_train(*std::make_unique<cpu::ThreadPool>(3), s, {}, d);
        check_bitwise_equal(t3.y, t1.y, "cpu training y, 3 threads vs 1");
        check_bitwise_equal(t3.running_var, t1.running_var, "cpu running_var, 3 threads vs 1");
        for (const Variant& v : variants(dev, s))
            check_bitwise_equal(gpu_backward(dev, s, d, mean, invstd, v).dbias, db_ref,
                                "gpu dbias " + describe(s, v));
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: a large mean offset does not cancel the variance") {
    // x = 1000 + U(0, 1): E[x^2] - E[x]^2 in float loses the variance (1/12)
    // entirely to rounding of 10^6; two passes keep it to a few ulps.
    cpu::ThreadPool pool(2);
    const ops::BatchNorm2dAttrs attrs{};
    uint32_t seed = 400;
    for (const BatchNorm2dShape& s : {BatchNorm2dShape{4, 3, 16, 16}, BatchNorm2dShape{64, 2, 28, 28}}) {
        CAPTURE(describe(s));
        const Data d = make_data(s, seed += 10, 1000.0f, 1001.0f);
        const TrainDouble want = reference_train(s, attrs, d);
        for (size_t c = 0; c < s.c; ++c) CHECK(std::abs(want.invstd[c] - std::sqrt(12.0)) < 0.2);
        check_train(cpu_train(pool, s, attrs, d), want, s, d, "cpu");
        for (const Variant& v : variants(dev, s))
            check_train(gpu_train(dev, s, attrs, d, v), want, s, d, "gpu " + describe(s, v));
        // dx and dweight take deviations from the saved mean, so they keep their accuracy too.
        const auto mean = to_float(want.mean), invstd = to_float(want.invstd);
        const BackwardWant bwant = backward_want(s, d, mean, invstd);
        for (const Variant& v : variants(dev, s))
            bwant.check(gpu_backward(dev, s, d, mean, invstd, v), "gpu " + describe(s, v));
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: every reduction path gives the same bits run after run") {
    // No atomics anywhere: the subgroup sums' order is the hardware's but
    // fixed, so a second run repeats the first exactly.
    const BatchNorm2dShape s{64, 3, 28, 28};
    const Data d = make_data(s, 600);
    for (const Variant& v : variants(dev, {1u, ops::batch_norm2d_chunks(s)})) {
        CAPTURE(describe(s, v));
        const Train a = gpu_train(dev, s, {}, d, v), b = gpu_train(dev, s, {}, d, v);
        check_bitwise_equal(b.mean, a.mean, "mean");
        check_bitwise_equal(b.invstd, a.invstd, "invstd");
        const Grads ga = gpu_backward(dev, s, d, a.mean, a.invstd, v), gb = gpu_backward(dev, s, d, a.mean, a.invstd, v);
        check_bitwise_equal(gb.dweight, ga.dweight, "dweight");
        check_bitwise_equal(gb.dbias, ga.dbias, "dbias");
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: a small case matches torch.nn.BatchNorm2d") {
    // torch.nn.BatchNorm2d(3) in training mode with this weight, bias and
    // running stats, x (2, 3, 1, 2); y.backward(dy). Worked out in double from
    // torch's definitions (python3, no torch on this machine), 9 digits.
    const BatchNorm2dShape s{2, 3, 1, 2};
    const Data d{{0.5f, -1.25f, 2.0f, 3.0f, -0.75f, 0.25f, 1.5f, 0.0f, 4.0f, -1.0f, 0.125f, -0.5f},
                 {1.5f, -0.5f, 2.0f},
                 {0.1f, 0.2f, -0.3f},
                 {0.5f, -0.25f, 0.0f},
                 {2.0f, 0.5f, 1.0f},
                 {0.3f, -0.2f, 1.0f, 0.5f, -0.4f, 0.1f, 0.7f, 0.25f, -1.5f, 2.0f, 0.6f, -0.9f}};
    const std::vector<float> y = {0.573393388f, -2.07760959f, 0.2f,        -0.0672608601f, -2.84120663f, 1.94224114f,
                                  2.08825223f,  -0.184036033f, -0.33452172f, 1.00178258f,    1.34431017f,  -1.64534469f};
    const std::vector<float> mean = {0.1875f, 2.0f, -0.21875f}, invstd = {1.00990589f, 0.53452172f, 2.39172389f};
    const std::vector<float> running_mean = {0.46875f, -0.025f, -0.021875f},
                             running_var = {1.93072917f, 0.916666667f, 0.923307292f};
    const std::vector<float> y_eval = {0.1f,         -1.75615066f, -1.39097435f, -2.09807406f, -1.7999925f,  0.1999975f,
                                       1.16065752f,  -0.43032876f, -2.80517377f, 0.730324783f, -0.05000125f, -1.299995f};
    const std::vector<float> dx = {-0.0944508114f, -0.00483533183f, -0.13363043f, -0.162265059f,
                                   1.41617869f,    -1.10887979f,    0.027467068f, 0.0718190753f,
                                   0.209991603f,   0.0859038856f,   1.89744189f,  -2.20474079f};
    const std::vector<float> dweight = {1.26553832f, -4.54343462f, 1.71905154f}, dbias = {1.05f, 2.0f, -0.6f};
    const double atol = 2e-6, rtol = 2e-6;

    cpu::ThreadPool pool(2);
    auto check_all = [&](const Train& t, const Grads& g, const std::string& what) {
        check_allclose(t.y, y, atol, rtol, what + " y");
        check_allclose(t.mean, mean, atol, rtol, what + " mean");
        check_allclose(t.invstd, invstd, atol, rtol, what + " invstd");
        check_allclose(t.running_mean, running_mean, atol, rtol, what + " running_mean");
        check_allclose(t.running_var, running_var, atol, rtol, what + " running_var");
        check_allclose(g.dx, dx, atol, rtol, what + " dx");
        check_allclose(g.dweight, dweight, atol, rtol, what + " dweight");
        check_allclose(g.dbias, dbias, atol, rtol, what + " dbias");
    };
    const Train ct = cpu_train(pool, s, {}, d);
    Grads cg{std::vector<float>(s.x_size()), std::vector<float>(s.c), std::vector<float>(s.c)};
    ops::batch_norm2d_backward_cpu(pool, s, d.x, d.dy, d.weight, ct.mean, ct.invstd, cg.dx, cg.dweight, cg.dbias);
    check_all(ct, cg, "cpu");
    for (const Variant& v : variants(dev, {1u, 2u})) {
        const Train gt = gpu_train(dev, s, {}, d, v);
        check_all(gt, gpu_backward(dev, s, d, gt.mean, gt.invstd, v), "gpu " + describe(s, v));
    }
    std::vector<float> ye(s.x_size());
    ops::batch_norm2d_forward_eval_cpu(pool, s, {}, d.x, d.weight, d.bias, d.running_mean, d.running_var, ye);
    check_allclose(ye, y_eval, atol, rtol, "cpu eval");
    check_allclose(gpu_eval(dev, s, {}, d), y_eval, atol, rtol, "gpu eval");
}

TEST_CASE("ops/batch_norm2d: backward of the double reference matches finite differences") {
    for (const BatchNorm2dShape& s : {BatchNorm2dShape{2, 2, 2, 3}, BatchNorm2dShape{3, 1, 1, 1}}) {
        CAPTURE(describe(s));
        const Data d = make_data(s, 500);
        const auto x = to_double(d.x), w = to_double(d.weight), b = to_double(d.bias), dy = to_double(d.dy);
        auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
            std::vector<double> y(s.x_size()), rm(s.c), rv(s.c, 1.0), mean(s.c), invstd(s.c);
            ops::batch_norm2d_forward_train_reference<double>(s, {}, xv, wv, bv, rm, rv, y, mean, invstd);
            return weighted_sum(y, dy);
        };
        std::vector<double> y(s.x_size()), rm(s.c), rv(s.c, 1.0), mean(s.c), invstd(s.c);
        ops::batch_norm2d_forward_train_reference<double>(s, {}, x, w, b, rm, rv, y, mean, invstd);
        std::vector<double> dx(x.size()), dw(s.c), db(s.c);
        ops::batch_norm2d_backward_reference<double>(s, x, dy, w, mean, invstd, dx, dw, db);
        check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) { return loss(v, w, b); }, x), "dx");
        check_gradient(dw, numerical_gradient([&](const std::vector<double>& v) { return loss(x, v, b); }, w), "dweight");
        check_gradient(db, numerical_gradient([&](const std::vector<double>& v) { return loss(x, w, v); }, b), "dbias");
    }
}

TEST_CASE("ops/batch_norm2d: bad shapes and sizes name the op and the shapes") {
    const int64_t x[] = {2, 3, 5, 5}, x3[] = {2, 3, 5}, x1[] = {1, 3, 1, 1}, x0[] = {0, 3, 4, 4};
    const int64_t c3[] = {3}, c4[] = {4}, c31[] = {3, 1};
    CHECK_THROWS_WITH(ops::batch_norm2d_shape(x3, c3, c3, c3, c3, true),
                      "batch_norm2d: expected 4-D x (N, C, H, W), got (2, 3, 5)");
    CHECK_THROWS_WITH(ops::batch_norm2d_shape(x, c4, c3, c3, c3, true),
                      "batch_norm2d: weight (4,) does not match x (2, 3, 5, 5): expected (3,)");
    CHECK_THROWS_WITH(ops::batch_norm2d_shape(x, c3, c3, c3, c31, false),
                      doctest::Contains("batch_norm2d: running_var (3, 1) does not match x (2, 3, 5, 5)"));
    CHECK_THROWS_WITH(ops::batch_norm2d_shape(x1, c3, c3, c3, c3, true),
                      "batch_norm2d: expected more than 1 value per channel when training, got x (1, 3, 1, 1)");
    CHECK_THROWS_WITH(ops::batch_norm2d_shape(x0, c3, c3, c3, c3, false),
                      doctest::Contains("batch_norm2d: x (0, 3, 4, 4) is empty"));
    const BatchNorm2dShape one = ops::batch_norm2d_shape(x1, c3, c3, c3, c3, false); // eval: fine
    CHECK(one.reduced() == 1);
    const BatchNorm2dShape s = ops::batch_norm2d_shape(x, c3, c3, c3, c3, true);
    CHECK((s.n == 2 && s.c == 3 && s.h == 5 && s.w == 5));

    cpu::ThreadPool pool(1);
    std::vector<float> xs(150), cs(3), ys(150), bad(10), c2(2);
    CHECK_THROWS_WITH(ops::batch_norm2d_forward_train_cpu(pool, s, {}, xs, cs, cs, cs, cs, bad, cs, cs),
                      "batch_norm2d_forward: y has 10 elements, expected (2, 3, 5, 5) = 150");
    CHECK_THROWS_WITH(ops::batch_norm2d_forward_eval_reference<float>(s, {}, xs, cs, c2, cs, cs, ys),
                      "batch_norm2d_forward: bias has 2 elements, expected (3,) for x (2, 3, 5, 5)");
    CHECK_THROWS_WITH(ops::batch_norm2d_backward_cpu(pool, s, xs, ys, cs, cs, cs, {}, c2, {}),
                      "batch_norm2d_backward: dweight has 2 elements, expected (3,) for x (2, 3, 5, 5)");
    CHECK_THROWS_WITH(ops::batch_norm2d_backward_reference<float>(s, xs, ys, cs, cs, cs, bad, {}, {}),
                      doctest::Contains("batch_norm2d_backward: dx has 10 elements"));

    auto contains = [](const std::string& text) { return doctest::Contains(text.c_str()); };
    const std::string one_value = "expected more than 1 value per channel when training, got x (1, 3, 1, 1)";
    std::vector<float> x1s(3);
    CHECK_THROWS_WITH(ops::batch_norm2d_forward_train_cpu(pool, one, {}, x1s, cs, cs, cs, cs, x1s, cs, cs),
                      contains("batch_norm2d_forward: " + one_value));
    CHECK_THROWS_WITH(ops::batch_norm2d_forward_train_reference<float>(one, {}, x1s, cs, cs, cs, cs, x1s, cs, cs),
                      contains(one_value));
    CHECK_THROWS_WITH(ops::batch_norm2d_backward_cpu(pool, one, x1s, x1s, cs, cs, cs, x1s, cs, cs),
                      contains("batch_norm2d_backward: " + one_value));
    CHECK_THROWS_WITH(ops::batch_norm2d_stats_launch(one, {}), contains("batch_norm2d_stats: " + one_value));
    CHECK_THROWS_WITH(ops::batch_norm2d_stats_partials_launch(one, 2), contains(one_value));
    CHECK_THROWS_WITH(ops::batch_norm2d_forward_launch(one, {}, true), contains(one_value));
    CHECK_NOTHROW(ops::batch_norm2d_forward_launch(one, {}, false));
    CHECK_THROWS_WITH(ops::batch_norm2d_backward_sums_launch(one), contains(one_value));
    CHECK_THROWS_WITH(ops::batch_norm2d_backward_data_launch(one), contains(one_value));

    CHECK_THROWS_WITH(ops::batch_norm2d_stats_partials_launch(s, 0),
                      "batch_norm2d_stats_partials: 0 chunks per channel, expected 1 to 65535");
    CHECK_THROWS_WITH(ops::batch_norm2d_backward_finish_launch(s, 70000), doctest::Contains("70000 chunks"));
    CHECK_THROWS_WITH(ops::batch_norm2d_stats_launch({1024, 1024, 64, 64}, {}),
                      "batch_norm2d_stats: x (1024, 1024, 64, 64) has more than 2^31 elements");
}

namespace {

// Eval backward over the running statistics. Odd batches, 1x1 and 17x17
// maps, 1 and 5 channels, M == 1 (fine in eval), and a batch of 64 28x28
// maps (chunked by default).
const BatchNorm2dShape kEvalShapes[] = {{3, 5, 1, 1}, {3, 1, 17, 17}, {1, 5, 17, 17}, {5, 1, 1, 1},
                                        {1, 5, 1, 1}, {3, 5, 17, 17}, {64, 3, 28, 28}};

Grads gpu_eval_backward(Device& dev, const BatchNorm2dShape& s, const ops::BatchNorm2dAttrs& attrs, const Data& d,
                        const Variant& v) {
    const auto invstd = run_kernel(dev, ops::batch_norm2d_eval_backward_invstd_launch(s, attrs),
                                   {d.running_var, std::vector<float>(s.c)})[1];
    std::vector<float> dw, db;
    if (v.chunks == 1) {
        const auto out = run_kernel(dev, ops::batch_norm2d_eval_backward_sums_launch(s, v.subgroup),
                                    {d.x, d.dy, d.running_mean, invstd, std::vector<float>(s.c), std::vector<float>(s.c)});
        dw = out[4], db = out[5];
    } else {
        const auto partials = run_kernel(
            dev, ops::batch_norm2d_eval_backward_partials_launch(s, v.chunks, v.subgroup),
            {d.x, d.dy, d.running_mean, std::vector<float>(ops::batch_norm2d_partials_size(s, v.chunks))})[3];
        const auto out = run_kernel(dev, ops::batch_norm2d_eval_backward_finish_launch(s, v.chunks),
                                    {partials, invstd, std::vector<float>(s.c), std::vector<float>(s.c)});
        dw = out[2], db = out[3];
    }
    const auto dx = run_kernel(dev, ops::batch_norm2d_eval_backward_data_launch(s, attrs),
                               {d.dy, d.running_var, d.weight, std::vector<float>(s.x_size())})[3];
    return {dx, dw, db};
}

// The double reference's eval gradients and their tolerances: dbias and
// dweight sums of M terms (|dy| and |dy * xhat|), dx a product of three
// roundings and a square root.
BackwardWant eval_backward_want(const BatchNorm2dShape& s, const ops::BatchNorm2dAttrs& attrs, const Data& d) {
    BackwardWant w{std::vector<double>(s.x_size()), std::vector<double>(s.c), std::vector<double>(s.c)};
    ops::batch_norm2d_eval_backward_reference<double>(s, attrs, to_double(d.x), to_double(d.dy), to_double(d.weight),
                                                      to_double(d.running_mean), to_double(d.running_var), w.dx,
                                                      w.dweight, w.dbias);
    const double m = static_cast<double>(s.reduced()), dymax = max_abs(d.dy);
    double xhat_max = 0, scale_max = 0;
    for (size_t i = 0; i < s.x_size(); ++i) {
        const size_t c = i / s.hw() % s.c;
        const double invstd = 1.0 / std::sqrt(double{d.running_var[c]} + attrs.eps);
        xhat_max = std::max(xhat_max, std::abs((double{d.x[i]} - d.running_mean[c]) * invstd));
        scale_max = std::max(scale_max, std::abs(d.weight[c] * invstd));
    }
    w.rtol = rtol_for(s.reduced());
    w.atol_dbias = w.rtol * std::sqrt(m) * dymax;
    w.atol_dweight = w.atol_dbias * xhat_max;
    w.atol_dx = kPointwise * dymax * scale_max;
    return w;
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/batch_norm2d: eval backward, shaders and CPU kernel within rounding of the double reference") {
    cpu::ThreadPool pool(2);
    uint32_t seed = 700;
    // The default eps, and one large enough to show it reaches every implementation.
    for (const ops::BatchNorm2dAttrs attrs : {ops::BatchNorm2dAttrs{}, ops::BatchNorm2dAttrs{.eps = 0.25f}})
        for (const BatchNorm2dShape& s : kEvalShapes) {
            CAPTURE(describe(s));
            CAPTURE(attrs.eps);
            const Data d = make_data(s, seed += 10);
            const BackwardWant want = eval_backward_want(s, attrs, d);
            Grads cpu{std::vector<float>(s.x_size()), std::vector<float>(s.c), std::vector<float>(s.c)};
            ops::batch_norm2d_eval_backward_cpu(pool, s, attrs, d.x, d.dy, d.weight, d.running_mean, d.running_var,
                                                cpu.dx, cpu.dweight, cpu.dbias);
            want.check(cpu, "cpu");
            Grads ref{std::vector<float>(s.x_size()), std::vector<float>(s.c), std::vector<float>(s.c)};
            ops::batch_norm2d_eval_backward_reference<float>(s, attrs, d.x, d.dy, d.weight, d.running_mean,
                                                             d.running_var, ref.dx, ref.dweight, ref.dbias);
            want.check(ref, "float reference");
            for (const Variant& v : variants(dev, s))
                want.check(gpu_eval_backward(dev, s, attrs, d, v), "gpu " + describe(s, v));

            // Only some gradients wanted: the others are skipped, the wanted ones unchanged.
            std::vector<float> dx_only(s.x_size()), dw_only(s.c), db_only(s.c);
            ops::batch_norm2d_eval_backward_cpu(pool, s, attrs, d.x, d.dy, d.weight, d.running_mean, d.running_var,
                                                dx_only, {}, {});
            ops::batch_norm2d_eval_backward_cpu(pool, s, attrs, d.x, d.dy, d.weight, d.running_mean, d.running_var,
                                                {}, dw_only, {});
            ops::batch_norm2d_eval_backward_cpu(pool, s, attrs, d.x, d.dy, d.weight, d.running_mean, d.running_var,
                                                {}, {}, db_only);
            check_bitwise_equal(dx_only, cpu.dx, "cpu dx alone");
            check_bitwise_equal(dw_only, cpu.dweight, "cpu dweight alone");
            check_bitwise_equal(db_only, cpu.dbias, "cpu dbias alone");
        }
}

TEST_CASE("ops/batch_norm2d: eval backward of the double reference matches finite differences") {
    const ops::BatchNorm2dAttrs attrs{.eps = 0.1f};
    for (const BatchNorm2dShape& s : {BatchNorm2dShape{3, 2, 2, 3}, BatchNorm2dShape{1, 5, 1, 1}}) {
        CAPTURE(describe(s));
        const Data d = make_data(s, 800);
        const auto x = to_double(d.x), w = to_double(d.weight), b = to_double(d.bias), dy = to_double(d.dy);
        const auto rm = to_double(d.running_mean), rv = to_double(d.running_var);
        auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
            std::vector<double> y(s.x_size());
            ops::batch_norm2d_forward_eval_reference<double>(s, attrs, xv, wv, bv, rm, rv, y);
            return weighted_sum(y, dy);
        };
        std::vector<double> dx(x.size()), dw(s.c), db(s.c);
        ops::batch_norm2d_eval_backward_reference<double>(s, attrs, x, dy, w, rm, rv, dx, dw, db);
        check_gradient(dx, numerical_gradient([&](const std::vector<double>& v) { return loss(v, w, b); }, x), "dx");
        check_gradient(dw, numerical_gradient([&](const std::vector<double>& v) { return loss(x, v, b); }, w), "dweight");
        check_gradient(db, numerical_gradient([&](const std::vector<double>& v) { return loss(x, w, v); }, b), "dbias");
    }
}

TEST_CASE("ops/batch_norm2d: eval backward errors name the op and the shapes, M == 1 is fine") {
    const BatchNorm2dShape s{2, 3, 5, 5}, one{1, 3, 1, 1};
    cpu::ThreadPool pool(1);
    std::vector<float> xs(150), cs(3), c2(2), bad(10), x1(3);
    CHECK_THROWS_WITH(ops::batch_norm2d_eval_backward_cpu(pool, s, {}, xs, xs, cs, cs, c2, xs, cs, cs),
                      "batch_norm2d_eval_backward: running_var has 2 elements, expected (3,) for x (2, 3, 5, 5)");
    CHECK_THROWS_WITH(ops::batch_norm2d_eval_backward_reference<float>(s, {}, xs, bad, cs, cs, cs, {}, {}, cs),
                      "batch_norm2d_eval_backward: dy has 10 elements, expected (2, 3, 5, 5) = 150");
    CHECK_THROWS_WITH(ops::batch_norm2d_eval_backward_cpu(pool, s, {}, xs, xs, cs, cs, cs, bad, {}, {}),
                      doctest::Contains("batch_norm2d_eval_backward: dx has 10 elements"));
    CHECK_THROWS_WITH(ops::batch_norm2d_eval_backward_partials_launch(s, 0),
                      "batch_norm2d_eval_backward_partials: 0 chunks per channel, expected 1 to 65535");
    CHECK_NOTHROW(ops::batch_norm2d_eval_backward_cpu(pool, one, {}, x1, x1, cs, cs, cs, x1, cs, cs));
    CHECK_NOTHROW(ops::batch_norm2d_eval_backward_sums_launch(one));
    CHECK_NOTHROW(ops::batch_norm2d_eval_backward_partials_launch(one, 2));
    CHECK_NOTHROW(ops::batch_norm2d_eval_backward_finish_launch(one, 2));
    CHECK_NOTHROW(ops::batch_norm2d_eval_backward_data_launch(one, {}));
}

// Which shader each launch runs: eval backward reuses the training sums, and
// `subgroup` picks the "_subgroup" builds of the reductions only.
TEST_CASE("ops/batch_norm2d: each launch names its shader") {
    const ops::BatchNorm2dShape s{4, 3, 5, 5};
    const ops::BatchNorm2dAttrs a{};
    const std::pair<KernelLaunch, std::string_view> launches[] = {
        {ops::batch_norm2d_stats_launch(s, a), "batch_norm2d_stats"},
        {ops::batch_norm2d_stats_launch(s, a, true), "batch_norm2d_stats_subgroup"},
        {ops::batch_norm2d_stats_partials_launch(s, 2), "batch_norm2d_stats_partials"},
        {ops::batch_norm2d_stats_partials_launch(s, 2, true), "batch_norm2d_stats_partials_subgroup"},
        {ops::batch_norm2d_stats_finish_launch(s, a, 2), "batch_norm2d_stats_finish"},
        {ops::batch_norm2d_forward_launch(s, a, true), "batch_norm2d_forward"},
        {ops::batch_norm2d_backward_sums_launch(s), "batch_norm2d_backward_sums"},
        {ops::batch_norm2d_backward_sums_launch(s, true), "batch_norm2d_backward_sums_subgroup"},
        {ops::batch_norm2d_backward_partials_launch(s, 2), "batch_norm2d_backward_partials"},
        {ops::batch_norm2d_backward_partials_launch(s, 2, true), "batch_norm2d_backward_partials_subgroup"},
        {ops::batch_norm2d_backward_finish_launch(s, 2), "batch_norm2d_backward_finish"},
        {ops::batch_norm2d_backward_data_launch(s), "batch_norm2d_backward_data"},
        {ops::batch_norm2d_eval_backward_invstd_launch(s, a), "batch_norm2d_eval_backward_invstd"},
        {ops::batch_norm2d_eval_backward_sums_launch(s), "batch_norm2d_backward_sums"},
        {ops::batch_norm2d_eval_backward_partials_launch(s, 2), "batch_norm2d_backward_partials"},
        {ops::batch_norm2d_eval_backward_finish_launch(s, 2), "batch_norm2d_backward_finish"},
        {ops::batch_norm2d_eval_backward_data_launch(s, a), "batch_norm2d_eval_backward_data"},
    };
    for (const auto& [launch, shader] : launches) CHECK(launch.shader == shader);
}
