// Optimizer steps: the shaders (sgd_step, sgd_momentum_step, adam_step) vs the
// CPU kernels vs the float references over several steps and sizes, against
// the PyTorch documentation's formulas written out here in double and against
// hand-computed numbers; one recording replayed with only the step-scalar
// buffer changed; one dispatch over many packed tensors; errors.
#include "vkcnn/ops/optimizer.h"

#include "support/compare.h"
#include "support/gpu.h"
#include "support/run_kernel.h"
#include "vkcnn/vulkan/recorded_step.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace vkcnn;
using namespace vkcnn::test;

namespace {

const size_t kSizes[] = {1, 7, 1000, 65537}; // 65537: not a multiple of the workgroup, and the CPU kernel threads
constexpr uint64_t kSteps = 5;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<double> to_double(std::span<const float> v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(std::span<const double> v) { return {v.begin(), v.end()}; }
std::vector<float> scalars_vec(const ops::StepScalars& s) { return {s.begin(), s.end()}; }

// A different gradient at every step.
std::vector<float> grad_at(size_t n, uint64_t t) { return uniform(n, static_cast<uint32_t>(1000 * t + n)); }

// Vulkan requires fp32 add, sub and mul to round correctly, so SGD and Adam's
// moments agree bit for bit on every device; sqrt and division may be off by
// up to 3 and 2.5 ulp, so Adam's p is bitwise only where they round correctly:
// lavapipe (LLVM's sqrtss and divss). Elsewhere a tolerance of a few ulp per step.
bool exact_sqrt_and_division(Device& dev) { return dev.info().driver_id == VK_DRIVER_ID_MESA_LLVMPIPE; }

// |got - want| <= tol * (1 + |want|) in double, for double references against each other.
void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i)
        if (!(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])))) {
            FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", expected " << want[i]);
            return;
        }
}

void check_matches(Device& dev, std::span<const float> got, std::span<const float> want, const std::string& what) {
    if (exact_sqrt_and_division(dev)) check_bitwise_equal(got, want, what);
    else check_allclose(got, want, 1e-6, 1e-5, what);
}

// ---- The PyTorch documentation's pseudo-code, in double, written independently
// of src/ops/optimizer.cpp (textbook order: m-hat, v-hat, no lerp). ----

void textbook_sgd(const ops::SgdAttrs& a, uint64_t t, std::vector<double>& p, const std::vector<double>& grad,
                  std::vector<double>& b) {
    for (size_t i = 0; i < p.size(); ++i) {
        double g = grad[i];
        if (a.weight_decay != 0) g += a.weight_decay * p[i];
        if (a.momentum != 0) {
            b[i] = t > 1 ? a.momentum * b[i] + (1 - a.dampening) * g : g;
            g = a.nesterov ? g + a.momentum * b[i] : b[i];
        }
        p[i] -= a.lr * g;
    }
}

void textbook_adam(const ops::AdamAttrs& a, uint64_t t, std::vector<double>& p, const std::vector<double>& grad,
                   std::vector<double>& m, std::vector<double>& v) {
    for (size_t i = 0; i < p.size(); ++i) {
        double g = grad[i];
        if (a.decoupled_weight_decay) p[i] *= 1 - a.lr * a.weight_decay; // AdamW
        else g += a.weight_decay * p[i];
        m[i] = a.beta1 * m[i] + (1 - a.beta1) * g;
        v[i] = a.beta2 * v[i] + (1 - a.beta2) * g * g;
        const double mhat = m[i] / (1 - std::pow(a.beta1, double(t)));
        const double vhat = v[i] / (1 - std::pow(a.beta2, double(t)));
        p[i] -= a.lr * mhat / (std::sqrt(vhat) + a.eps);
    }
}

// ---- One step on the GPU through run_kernel (guard bands around every buffer). ----

void gpu_sgd_step(Device& dev, const ops::SgdAttrs& a, uint64_t t, std::vector<float>& p,
                  const std::vector<float>& g, std::vector<float>& buf) {
    const auto s = scalars_vec(ops::sgd_step_scalars(a, t));
    const KernelLaunch l = ops::sgd_step_launch(a, p.size());
    if (a.momentum == 0) {
        CHECK(l.shader == "sgd_step");
        auto r = run_kernel(dev, l, {p, g, s});
        p = std::move(r[0]);
        CHECK(r[1] == g); // read-only arguments stay as they were
        CHECK(r[2] == s);
    } else {
        CHECK(l.shader == "sgd_momentum_step");
        auto r = run_kernel(dev, l, {p, g, buf, s});
        p = std::move(r[0]);
        buf = std::move(r[2]);
        CHECK(r[1] == g);
        CHECK(r[3] == s);
    }
}

void gpu_adam_step(Device& dev, const ops::AdamAttrs& a, uint64_t t, std::vector<float>& p,
                   const std::vector<float>& g, std::vector<float>& m, std::vector<float>& v) {
    const auto s = scalars_vec(ops::adam_step_scalars(a, t));
    auto r = run_kernel(dev, ops::adam_step_launch(a, p.size()), {p, g, m, v, s});
    p = std::move(r[0]);
    m = std::move(r[2]);
    v = std::move(r[3]);
    CHECK(r[1] == g);
    CHECK(r[4] == s);
}

// ---- Sweeps: kSteps steps from the same start on GPU, CPU kernel, float and
// double references and the textbook; compared after every step. ----

void sgd_sweep(Device& dev, const ops::SgdAttrs& a, const std::string& name) {
    cpu::ThreadPool pool(2);
    for (const size_t n : kSizes) {
        const std::string what = cat(name, " n ", n);
        CAPTURE(what);
        const auto p0 = uniform(n, static_cast<uint32_t>(n));
        // The momentum buffer starts as NaN: the first step must only write it (PyTorch creates it then).
        std::vector<float> gp = p0, gb(n, kNaN), cp = p0, cb(n, kNaN), rp = p0, rb(n, kNaN);
        std::vector<double> dp = to_double(p0), db(n, 0.0), tp = dp, tb(n, 0.0);
        for (uint64_t t = 1; t <= kSteps; ++t) {
            CAPTURE(t);
            const auto g = grad_at(n, t);
            gpu_sgd_step(dev, a, t, gp, g, gb);
            ops::sgd_step_cpu(pool, a, ops::sgd_step_scalars(a, t), cp, g, cb);
            ops::sgd_step_reference<float>(a, t, rp, g, rb);
            ops::sgd_step_reference<double>(a, t, dp, to_double(g), db);
            textbook_sgd(a, t, tp, to_double(g), tb);
            // Only add, sub and mul: bit for bit on every Vulkan device.
            check_bitwise_equal(cp, rp, "cpu p " + what);
            check_bitwise_equal(gp, rp, "sgd shader p " + what);
            check_close(dp, tp, 1e-12, "double reference p vs textbook " + what);
            check_allclose(gp, to_float(tp), 2e-6, 2e-6, "sgd shader p vs textbook " + what);
            if (a.momentum != 0) {
                check_bitwise_equal(cb, rb, "cpu buf " + what);
                check_bitwise_equal(gb, rb, "sgd shader buf " + what);
                check_allclose(gb, to_float(tb), 2e-6, 2e-6, "sgd shader buf vs textbook " + what);
            }
        }
    }
}

void adam_sweep(Device& dev, const ops::AdamAttrs& a, const std::string& name) {
    cpu::ThreadPool pool(2);
    for (const size_t n : kSizes) {
        const std::string what = cat(name, " n ", n);
        CAPTURE(what);
        const auto p0 = uniform(n, static_cast<uint32_t>(n));
        std::vector<float> gp = p0, gm(n, 0.0f), gv(n, 0.0f); // PyTorch's state starts at zero
        std::vector<float> cp = p0, cm = gm, cv = gv, rp = p0, rm = gm, rv = gv;
        std::vector<double> dp = to_double(p0), dm(n, 0.0), dv(n, 0.0), tp = dp, tm = dm, tv = dv;
        for (uint64_t t = 1; t <= kSteps; ++t) {
            CAPTURE(t);
            const auto g = grad_at(n, t);
            gpu_adam_step(dev, a, t, gp, g, gm, gv);
            ops::adam_step_cpu(pool, a, ops::adam_step_scalars(a, t), cp, g, cm, cv);
            ops::adam_step_reference<float>(a, t, rp, g, rm, rv);
            ops::adam_step_reference<double>(a, t, dp, to_double(g), dm, dv);
            textbook_adam(a, t, tp, to_double(g), tm, tv);
            check_bitwise_equal(cp, rp, "cpu p " + what);
            check_bitwise_equal(cm, rm, "cpu m " + what);
            check_bitwise_equal(cv, rv, "cpu v " + what);
            check_matches(dev, gp, rp, "adam shader p " + what);
            check_matches(dev, gm, rm, "adam shader m " + what);
            check_matches(dev, gv, rv, "adam shader v " + what);
            // The library's double reference (lerp, PyTorch's rounding order) is the textbook up to double rounding.
            check_close(dp, tp, 1e-12, "double reference p vs textbook " + what);
            check_close(dm, tm, 1e-12, "double reference m vs textbook " + what);
            check_close(dv, tv, 1e-12, "double reference v vs textbook " + what);
            // Float vs double: a few roundings per step, accumulated over the steps.
            check_allclose(gp, to_float(tp), 1e-6, 1e-6, "adam shader p vs textbook " + what);
            check_allclose(gm, to_float(tm), 1e-7, 1e-5, "adam shader m vs textbook " + what);
            check_allclose(gv, to_float(tv), 1e-9, 1e-5, "adam shader v vs textbook " + what);
        }
    }
}

} // namespace

// ---------------------------------------------------------------------------- SGD

TEST_CASE_FIXTURE(GpuTest, "ops/sgd: shaders match the CPU kernel and the PyTorch formulas over 5 steps") {
    sgd_sweep(dev, {.lr = 0.1}, "plain");
    sgd_sweep(dev, {.lr = 0.1, .weight_decay = 0.01}, "weight decay");
    sgd_sweep(dev, {.lr = 0.1, .momentum = 0.9}, "momentum");
    sgd_sweep(dev, {.lr = 0.05, .momentum = 0.8, .dampening = 0.3}, "momentum + dampening");
    sgd_sweep(dev, {.lr = 0.1, .momentum = 0.9, .nesterov = true}, "nesterov");
    sgd_sweep(dev, {.lr = 0.1, .momentum = 0.5, .dampening = 0.2, .weight_decay = 0.05}, "momentum + dampening + wd");
    sgd_sweep(dev, {.lr = 0.02, .momentum = 0.95, .weight_decay = 1e-3, .nesterov = true}, "nesterov + wd");
}

TEST_CASE_FIXTURE(GpuTest, "ops/sgd: hand-computed steps") {
    struct Case {
        ops::SgdAttrs attrs;
        std::vector<float> grads; // one per step, p starts at 1
        std::vector<double> want; // p after each step
    };
    const Case cases[] = {
        // p = 1 - 0.1 * 1 = 0.9;  0.9 - 0.1 * 2 = 0.7
        {{.lr = 0.1}, {1, 2}, {0.9, 0.7}},
        // g = 1 + 0.1 * 1 = 1.1, p = 0.89;  g = 1 + 0.089 = 1.089, p = 0.89 - 0.1089 = 0.7811
        {{.lr = 0.1, .weight_decay = 0.1}, {1, 1}, {0.89, 0.7811}},
        // buf = 1, p = 0.9;  buf = 0.9 + 0.5 * 2 = 1.9, p = 0.71;  buf = 1.71 + 1.5 = 3.21, p = 0.389
        {{.lr = 0.1, .momentum = 0.9, .dampening = 0.5}, {1, 2, 3}, {0.9, 0.71, 0.389}},
        // buf = 1, g = 1 + 0.9 = 1.9, p = 0.81;  buf = 0.9 + 2 = 2.9, g = 2 + 2.61 = 4.61, p = 0.349
        {{.lr = 0.1, .momentum = 0.9, .nesterov = true}, {1, 2}, {0.81, 0.349}},
    };
    cpu::ThreadPool pool(1);
    for (const Case& c : cases) {
        std::vector<float> gp{1.0f}, gb{kNaN}, cp{1.0f}, cb{kNaN};
        for (uint64_t t = 1; t <= c.grads.size(); ++t) {
            CAPTURE(t);
            const std::vector<float> g{c.grads[t - 1]};
            gpu_sgd_step(dev, c.attrs, t, gp, g, gb);
            ops::sgd_step_cpu(pool, c.attrs, ops::sgd_step_scalars(c.attrs, t), cp, g, cb);
            CHECK(gp[0] == doctest::Approx(c.want[t - 1]).epsilon(1e-6));
            CHECK(cp[0] == doctest::Approx(c.want[t - 1]).epsilon(1e-6));
        }
    }
}

TEST_CASE_FIXTURE(GpuTest, "ops/sgd: one recording replayed with only the step scalars changed") {
    // Two parameter groups in one recording: one with momentum (sgd_momentum_step),
    // one without (sgd_step), both reading the same step-scalar buffer. Between
    // replays the host writes new gradients and the scalars for the next step,
    // including a learning-rate change at step 3; nothing is re-recorded.
    cpu::ThreadPool pool(2);
    const size_t n = 4097;
    ops::SgdAttrs with{.lr = 0.1, .momentum = 0.9, .dampening = 0.1}, without{.lr = 0.1, .weight_decay = 0.01};
    std::vector<float> p1 = uniform(n, 1), b1(n, kNaN), p2 = uniform(n, 2);
    auto bp1 = dev.create_buffer(n * 4, "p1"), bg1 = dev.create_buffer(n * 4, "g1");
    auto bb1 = dev.create_buffer(n * 4, "buf1");
    auto bp2 = dev.create_buffer(n * 4, "p2"), bg2 = dev.create_buffer(n * 4, "g2");
    auto bs = dev.create_buffer(16, "step scalars");
    dev.upload<float>(bp1, p1);
    dev.upload<float>(bb1, b1);
    dev.upload<float>(bp2, p2);
    std::vector<vulkan::StepDispatch> d(2);
    d[0].launch = ops::sgd_step_launch(with, n);
    d[0].args = {bp1, bg1, bb1, bs};
    d[0].label = "sgd momentum";
    d[1].launch = ops::sgd_step_launch(without, n);
    d[1].args = {bp2, bg2, bs};
    d[1].label = "sgd";
    vulkan::RecordedStep step(dev, std::move(d));
    for (uint64_t t = 1; t <= 5; ++t) {
        CAPTURE(t);
        if (t == 3) with.lr = without.lr = 0.05; // a schedule: only the scalars carry lr
        const auto g1 = grad_at(n, t), g2 = grad_at(n, t + 10);
        dev.upload<float>(bg1, g1);
        dev.upload<float>(bg2, g2);
        const auto s = ops::sgd_step_scalars(with, t);
        REQUIRE(s == ops::sgd_step_scalars(without, t)); // one buffer serves both groups
        dev.upload<float>(bs, s);
        step.run();
        ops::sgd_step_cpu(pool, with, s, p1, g1, b1);
        ops::sgd_step_cpu(pool, without, s, p2, g2, {});
        std::vector<float> got(n);
        dev.download<float>(bp1, got);
        check_bitwise_equal(got, p1, "p with momentum");
        dev.download<float>(bb1, got);
        check_bitwise_equal(got, b1, "momentum buffer");
        dev.download<float>(bp2, got);
        check_bitwise_equal(got, p2, "p without momentum");
    }
    CHECK(step.submit_count() == 5);
}

TEST_CASE("ops/sgd: bad sizes and hyper-parameters throw") {
    cpu::ThreadPool pool(1);
    std::vector<float> p(4), g3(3), g4(4), b5(5);
    const ops::SgdAttrs momentum{.momentum = 0.9};
    const auto s = ops::sgd_step_scalars(momentum, 1);
    CHECK_THROWS_WITH_AS(ops::sgd_step_cpu(pool, {}, s, p, g3, {}), "sgd: p has 4 elements, grad has 3", Error);
    CHECK_THROWS_WITH_AS(ops::sgd_step_cpu(pool, momentum, s, p, g4, b5),
                         "sgd: p has 4 elements, momentum buffer has 5", Error);
    CHECK_THROWS_WITH_AS(ops::sgd_step_reference<float>(momentum, 1, p, g3, b5), "sgd: p has 4 elements, grad has 3",
                         Error);
    CHECK_THROWS_WITH_AS(ops::sgd_step_launch({}, size_t{1} << 32), "sgd: 4294967296 elements exceed 2^32 - 1", Error);
    CHECK_NOTHROW(ops::sgd_step_cpu(pool, {}, s, p, g4, {})); // no momentum: no buffer needed

    CHECK_THROWS_WITH_AS(ops::sgd_step_launch({.lr = -0.1}, 4), "sgd: invalid learning rate: -0.1", Error);
    CHECK_THROWS_AS(ops::sgd_step_scalars({.lr = std::nan("")}, 1), Error);
    CHECK_THROWS_WITH_AS(ops::sgd_step_launch({.momentum = -0.5}, 4), "sgd: invalid momentum value: -0.5", Error);
    CHECK_THROWS_WITH_AS(ops::sgd_step_launch({.weight_decay = -1}, 4), "sgd: invalid weight_decay value: -1", Error);
    // PyTorch: "Nesterov momentum requires a momentum and zero dampening".
    CHECK_THROWS_WITH_AS(ops::sgd_step_launch({.nesterov = true}, 4), doctest::Contains("requires a momentum"), Error);
    CHECK_THROWS_WITH_AS(ops::sgd_step_launch({.momentum = 0.9, .dampening = 0.1, .nesterov = true}, 4),
                         "sgd: Nesterov momentum requires a momentum and zero dampening, but got momentum 0.9 and "
                         "dampening 0.1",
                         Error);
    CHECK_THROWS_WITH_AS(ops::sgd_step_scalars({}, 0), "sgd: steps are counted from 1, but got t = 0", Error);
    CHECK_NOTHROW(ops::sgd_step_launch({.lr = 0.0, .momentum = 0.9, .nesterov = true}, 4));
}

// ---------------------------------------------------------------------------- Adam / AdamW

TEST_CASE_FIXTURE(GpuTest, "ops/adam: shader matches the CPU kernel and the PyTorch formulas over 5 steps") {
    adam_sweep(dev, {.lr = 0.01}, "defaults, lr 0.01");
    adam_sweep(dev, {.lr = 0.01, .weight_decay = 0.1}, "L2 weight decay");
    // beta1 <= 0.5: the lerp weight 1 - beta1 >= 0.5 takes PyTorch's other branch.
    adam_sweep(dev, {.lr = 0.003, .beta1 = 0.3, .beta2 = 0.9, .eps = 1e-6}, "beta1 0.3");
}

TEST_CASE_FIXTURE(GpuTest, "ops/adamw: shader matches the CPU kernel and the PyTorch formulas over 5 steps") {
    ops::AdamAttrs a = ops::adamw_attrs();
    CHECK(a.weight_decay == 1e-2); // torch.optim.AdamW's default
    a.lr = 0.01;
    adam_sweep(dev, a, "AdamW defaults, lr 0.01");
    a.weight_decay = 0.3;
    adam_sweep(dev, a, "AdamW weight decay 0.3");
    a.weight_decay = 0.0;
    adam_sweep(dev, a, "AdamW without weight decay");
}

namespace {

// p starts at 1, gradients 0.5 then -1; lr 0.1, betas (0.9, 0.999), eps 1e-8.
void hand_computed_adam(Device& dev, const ops::AdamAttrs& a, const double (&want)[2][3]) {
    cpu::ThreadPool pool(1);
    std::vector<float> gp{1.0f}, gm{0.0f}, gv{0.0f}, cp{1.0f}, cm{0.0f}, cv{0.0f};
    const float grads[2] = {0.5f, -1.0f};
    for (uint64_t t = 1; t <= 2; ++t) {
        CAPTURE(t);
        const std::vector<float> g{grads[t - 1]};
        gpu_adam_step(dev, a, t, gp, g, gm, gv);
        ops::adam_step_cpu(pool, a, ops::adam_step_scalars(a, t), cp, g, cm, cv);
        for (const auto& [got, state] : {std::pair{&gp, 0}, std::pair{&gm, 1}, std::pair{&gv, 2}}) {
            CAPTURE(state);
            CHECK((*got)[0] == doctest::Approx(want[t - 1][state]).epsilon(1e-6));
        }
        CHECK(cp[0] == doctest::Approx(want[t - 1][0]).epsilon(1e-6));
    }
}

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/adam: hand-computed steps") {
    // Step 1: m = 0.1 g, v = 0.001 g^2, so m-hat = g and v-hat = g^2: p = 1 - 0.1 g / (|g| + 1e-8).
    // Step 2 (g = -1): m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975,
    //   m-hat = -0.055 / 0.19, v-hat = 0.00124975 / 0.001999, p = p1 - 0.1 m-hat / (sqrt(v-hat) + 1e-8).
    hand_computed_adam(dev, {.lr = 0.1}, {{0.900000002, 0.05, 0.00025}, {0.9366103542, -0.055, 0.00124975}});
    // L2 0.5: g = 0.5 + 0.5 * 1 = 1 (p = 1 - 0.1 / (1 + 1e-8));
    //   then g = -1 + 0.5 * 0.900000001 = -0.5499999995, m = 0.09 - 0.055 = 0.035, v = 0.000999 + 0.0003025.
    hand_computed_adam(dev, {.lr = 0.1, .weight_decay = 0.5},
                       {{0.900000001, 0.1, 0.001}, {0.8771703775, 0.03500000005, 0.0013014999995}});
}

TEST_CASE_FIXTURE(GpuTest, "ops/adamw: hand-computed steps") {
    // Weight decay 0.5 decoupled: p = 1 * (1 - 0.1 * 0.5) = 0.95 first, then Adam's step 1 (-0.1 + 2e-9);
    // step 2: p = 0.850000002 * 0.95, then Adam's step 2 on the undecayed gradient.
    hand_computed_adam(dev, {.lr = 0.1, .weight_decay = 0.5, .decoupled_weight_decay = true},
                       {{0.850000002, 0.05, 0.00025}, {0.8441103541, -0.055, 0.00124975}});
}

TEST_CASE_FIXTURE(GpuTest, "ops/adam: one dispatch updates many parameter tensors packed in a flat range") {
    // Three parameter tensors (and their gradients and moments) packed back to
    // back, as the memory planner lays out persistent values: one dispatch over
    // the whole range gives what three separate CPU steps give.
    cpu::ThreadPool pool(2);
    const size_t sizes[] = {7, 1000, 33}, total = 1040;
    const ops::AdamAttrs a{.lr = 0.01, .weight_decay = 0.01};
    std::vector<float> gp = uniform(total, 5), gm(total, 0.0f), gv(total, 0.0f), cp = gp, cm = gm, cv = gv;
    for (uint64_t t = 1; t <= 3; ++t) {
        const auto g = grad_at(total, t);
        gpu_adam_step(dev, a, t, gp, g, gm, gv);
        const auto s = ops::adam_step_scalars(a, t);
        size_t offset = 0;
        for (const size_t n : sizes) {
            ops::adam_step_cpu(pool, a, s, std::span(cp).subspan(offset, n), std::span(g).subspan(offset, n),
                               std::span(cm).subspan(offset, n), std::span(cv).subspan(offset, n));
            offset += n;
        }
        check_matches(dev, gp, cp, cat("packed p, step ", t));
        check_matches(dev, gm, cm, cat("packed m, step ", t));
        check_matches(dev, gv, cv, cat("packed v, step ", t));
    }
}

// Multi-tensor launches: three tensors whose operands lie at different,
// gapped offsets in each buffer (as the graph's persistent values and arena
// place them); one dispatch must give bitwise what one launch per tensor
// gives, and leave the gaps alone.
namespace {

struct Scattered {
    std::vector<size_t> sizes{7, 1000, 33};
    // Per operand: each tensor's offset in that operand's buffer, and the buffer's size.
    std::vector<std::vector<uint64_t>> offsets;
    std::vector<size_t> buffer_sizes;
    explicit Scattered(size_t operands) {
        for (size_t k = 0; k < operands; ++k) {
            std::vector<uint64_t> o(sizes.size());
            uint64_t at = 3 + k;
            for (size_t i = 0; i < sizes.size(); ++i) { // tensors in a different order per operand
                const size_t t = (i + k) % sizes.size();
                o[t] = at;
                at += sizes[t] + 5;
            }
            offsets.push_back(o);
            buffer_sizes.push_back(at);
        }
    }
    std::vector<float> table() const {
        std::vector<ops::MultiTensorEntry> entries;
        for (size_t t = 0; t < sizes.size(); ++t) {
            entries.push_back({sizes[t], {}});
            for (const auto& o : offsets) entries.back().offsets.push_back(o[t]);
        }
        const std::vector<uint32_t> words = ops::multi_tensor_table(entries);
        std::vector<float> f(words.size());
        std::memcpy(f.data(), words.data(), words.size() * 4);
        return f;
    }
    size_t total() const { return 7 + 1000 + 33; }
    // Operand k of tensor t in buffer b.
    std::vector<float> slice(const std::vector<float>& b, size_t k, size_t t) const {
        return {b.begin() + static_cast<std::ptrdiff_t>(offsets[k][t]),
                b.begin() + static_cast<std::ptrdiff_t>(offsets[k][t] + sizes[t])};
    }
};

} // namespace

TEST_CASE_FIXTURE(GpuTest, "ops/optimizers: one multi-tensor dispatch steps scattered tensors as one launch each does") {
    const ops::SgdAttrs sgd_cases[] = {{.lr = 0.1, .weight_decay = 0.01},
                                       {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}};
    const ops::AdamAttrs adam_cases[] = {{.lr = 0.01, .weight_decay = 0.01}, ops::adamw_attrs()};
    const auto run_case = [&](const KernelLaunch& multi, const std::vector<float>& scalars,
                              const auto& single_launch, size_t operands, const char* what) {
        const Scattered sc(operands);
        std::vector<std::vector<float>> buffers;
        for (size_t k = 0; k < operands; ++k) buffers.push_back(uniform(sc.buffer_sizes[k], 40 + static_cast<uint32_t>(k)));
        // The launch's argument order: p, grad, [states], scalars, table.
        std::vector<std::vector<float>> args = buffers;
        args.push_back(scalars);
        args.push_back(sc.table());
        CHECK(multi.shader.ends_with("_multi"));
        const auto got = run_kernel(dev, multi, args);
        for (size_t t = 0; t < sc.sizes.size(); ++t) {
            std::vector<std::vector<float>> one;
            for (size_t k = 0; k < operands; ++k) one.push_back(sc.slice(buffers[k], k, t));
            one.push_back(scalars);
            const auto want = run_kernel(dev, single_launch(sc.sizes[t]), one);
            for (size_t k = 0; k < operands; ++k)
                check_bitwise_equal(sc.slice(got[k], k, t), want[k], cat(what, ": operand ", k, " of tensor ", t));
        }
        // Gaps between the tensors are untouched.
        for (size_t k = 0; k < operands; ++k) {
            std::vector<bool> inside(sc.buffer_sizes[k], false);
            for (size_t t = 0; t < sc.sizes.size(); ++t)
                for (size_t i = 0; i < sc.sizes[t]; ++i) inside[sc.offsets[k][t] + i] = true;
            for (size_t i = 0; i < inside.size(); ++i)
                if (!inside[i]) REQUIRE(std::memcmp(&got[k][i], &buffers[k][i], 4) == 0);
        }
    };
    for (const ops::SgdAttrs& a : sgd_cases)
        for (uint64_t t : {1, 2})
            run_case(ops::sgd_step_multi_launch(a, Scattered(1).total()), scalars_vec(ops::sgd_step_scalars(a, t)),
                     [&](size_t n) { return ops::sgd_step_launch(a, n); }, a.momentum == 0 ? 2 : 3,
                     a.momentum == 0 ? "sgd" : "sgd momentum");
    for (const ops::AdamAttrs& a : adam_cases)
        run_case(ops::adam_step_multi_launch(a, Scattered(1).total()), scalars_vec(ops::adam_step_scalars(a, 3)),
                 [&](size_t n) { return ops::adam_step_launch(a, n); }, 4, a.decoupled_weight_decay ? "adamw" : "adam");

    const std::vector<ops::MultiTensorEntry> mixed{{4, {0, 0}}, {4, {0, 0, 0}}};
    CHECK_THROWS_WITH(ops::multi_tensor_table(mixed), doctest::Contains("tensors with 3 and 2 operands"));
    const std::vector<ops::MultiTensorEntry> far{{4, {0, uint64_t{1} << 32}}};
    CHECK_THROWS_WITH(ops::multi_tensor_table(far), doctest::Contains("exceeds 2^32 - 1"));
}

TEST_CASE_FIXTURE(GpuTest, "ops/adam: one recording replayed with only the step scalars changed") {
    // Adam and AdamW groups recorded once; each replay gets new gradients and
    // the scalars of its step (bias corrections, and an lr change at step 4).
    cpu::ThreadPool pool(2);
    const size_t n = 4097;
    ops::AdamAttrs adam{.lr = 0.01}, adamw = ops::adamw_attrs();
    struct Group {
        std::vector<float> p, m, v;
        vulkan::Buffer bp, bg, bm, bv, bs;
    };
    auto make = [&](uint32_t seed) {
        Group gr{uniform(n, seed), std::vector<float>(n, 0.0f), std::vector<float>(n, 0.0f),
                 dev.create_buffer(n * 4, "p"), dev.create_buffer(n * 4, "g"), dev.create_buffer(n * 4, "m"),
                 dev.create_buffer(n * 4, "v"), dev.create_buffer(16, "step scalars")};
        dev.upload<float>(gr.bp, gr.p);
        dev.upload<float>(gr.bm, gr.m);
        dev.upload<float>(gr.bv, gr.v);
        return gr;
    };
    Group g1 = make(1), g2 = make(2);
    std::vector<vulkan::StepDispatch> d(2);
    d[0] = {ops::adam_step_launch(adam, n), {g1.bp, g1.bg, g1.bm, g1.bv, g1.bs}, "adam"};
    d[1] = {ops::adam_step_launch(adamw, n), {g2.bp, g2.bg, g2.bm, g2.bv, g2.bs}, "adamw"};
    vulkan::RecordedStep step(dev, std::move(d));
    for (uint64_t t = 1; t <= 5; ++t) {
        CAPTURE(t);
        if (t == 4) adam.lr = adamw.lr = 5e-4;
        for (auto [gr, a] : {std::pair{&g1, &adam}, std::pair{&g2, &adamw}}) {
            const auto g = grad_at(n, t + (gr == &g2 ? 10 : 0));
            const auto s = ops::adam_step_scalars(*a, t);
            dev.upload<float>(gr->bg, g);
            dev.upload<float>(gr->bs, s);
            ops::adam_step_cpu(pool, *a, s, gr->p, g, gr->m, gr->v);
        }
        step.run();
        for (auto* gr : {&g1, &g2}) {
            std::vector<float> got(n);
            const std::string what = gr == &g1 ? "adam" : "adamw";
            dev.download<float>(gr->bp, got);
            check_matches(dev, got, gr->p, what + " p");
            dev.download<float>(gr->bm, got);
            check_matches(dev, got, gr->m, what + " m");
            dev.download<float>(gr->bv, got);
            check_matches(dev, got, gr->v, what + " v");
        }
    }
    CHECK(step.submit_count() == 5);
}

TEST_CASE("ops/adam: step scalars hold the bias corrections computed in double") {
    const ops::AdamAttrs a{.lr = 0.01};
    for (const uint64_t t : {uint64_t{1}, uint64_t{2}, uint64_t{10}, uint64_t{100000}}) {
        const auto s = ops::adam_step_scalars(a, t);
        CHECK(s[0] == float(0.01 / (1 - std::pow(0.9, double(t)))));
        CHECK(s[1] == float(std::sqrt(1 - std::pow(0.999, double(t)))));
        CHECK(s[2] == 1.0f);
    }
    ops::AdamAttrs w = ops::adamw_attrs();
    w.lr = 0.5;
    CHECK(ops::adam_step_scalars(w, 3)[2] == float(1 - 0.5 * 1e-2));
}

TEST_CASE("ops/adam: bad sizes and hyper-parameters throw") {
    cpu::ThreadPool pool(1);
    std::vector<float> p(4), g(4), m(4), v3(3), g5(5);
    const ops::AdamAttrs a;
    const auto s = ops::adam_step_scalars(a, 1);
    CHECK_THROWS_WITH_AS(ops::adam_step_cpu(pool, a, s, p, g5, m, m), "adam: p has 4 elements, grad has 5", Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_cpu(pool, a, s, p, g, m, v3), "adam: p has 4 elements, v has 3", Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_reference<float>(a, 1, p, g, v3, m), "adam: p has 4 elements, m has 3", Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_launch(a, size_t{1} << 33), "adam: 8589934592 elements exceed 2^32 - 1", Error);

    CHECK_THROWS_WITH_AS(ops::adam_step_launch({.lr = -1e-3}, 4), "adam: invalid learning rate: -0.001", Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_launch({.beta1 = 1.0}, 4), "adam: invalid beta parameter at index 0: 1", Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_launch({.beta1 = -0.1}, 4), "adam: invalid beta parameter at index 0: -0.1",
                         Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_launch({.beta2 = 1.5}, 4), "adam: invalid beta parameter at index 1: 1.5",
                         Error);
    CHECK_THROWS_AS(ops::adam_step_launch({.beta2 = std::nan("")}, 4), Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_launch({.eps = -1e-8}, 4), "adam: invalid epsilon value: -1e-08", Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_scalars({.weight_decay = -0.1}, 1), "adam: invalid weight_decay value: -0.1",
                         Error);
    CHECK_THROWS_WITH_AS(ops::adam_step_scalars(a, 0), "adam: steps are counted from 1, but got t = 0", Error);
    CHECK_NOTHROW(ops::adam_step_launch({.beta1 = 0.0, .beta2 = 0.0, .eps = 0.0}, 4));
}

TEST_CASE("ops/adamw: bad sizes and hyper-parameters throw") {
    cpu::ThreadPool pool(1);
    std::vector<float> p(4), g(4), m(2), v(4);
    ops::AdamAttrs w = ops::adamw_attrs();
    CHECK_THROWS_WITH_AS(ops::adam_step_cpu(pool, w, ops::adam_step_scalars(w, 1), p, g, m, v),
                         "adamw: p has 4 elements, m has 2", Error);
    w.weight_decay = -0.01;
    CHECK_THROWS_WITH_AS(ops::adam_step_launch(w, 4), "adamw: invalid weight_decay value: -0.01", Error);
    w.weight_decay = 0.01;
    w.beta2 = 1.0;
    CHECK_THROWS_WITH_AS(ops::adam_step_launch(w, 4), "adamw: invalid beta parameter at index 1: 1", Error);
}
