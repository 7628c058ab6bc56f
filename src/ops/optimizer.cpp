// SGD, Adam and AdamW steps: hyper-parameter checks, step scalars, references,
// CPU kernels and GPU launches (see optimizer.h for the formulas).
#include "vkcnn/ops/optimizer.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>
#include <limits>

// CPU kernels and shaders agree bit for bit only if every multiply and add is
// rounded on its own (the shaders mark their temporaries `precise`), so no
// fused multiply-add here. Clang contracts within expressions by default; GCC
// only fuses where the target has FMA (not baseline x86-64, not wasm), and the
// bitwise tests would catch it if a build enabled one.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace vkcnn::ops {

namespace {

void check_sizes(const char* op, size_t a, size_t b, const char* a_name, const char* b_name) {
    check(a == b, op, ": ", a_name, " has ", a, " elements, ", b_name, " has ", b);
}

void check_count(const char* op, size_t n) {
    check(n <= std::numeric_limits<uint32_t>::max(), op, ": ", n, " elements exceed 2^32 - 1");
}

void check_step(const char* op, uint64_t t) { check(t >= 1, op, ": steps are counted from 1, but got t = 0"); }

template <typename Body>
void parallel_elementwise(cpu::ThreadPool& pool, size_t n, const Body& body) {
    if (n < (size_t{1} << 16)) body(size_t{0}, n);
    else pool.parallel_for(n, body);
}

// The fixed constants of each update in precision T, each formed in double and
// rounded once, as PyTorch turns its Python-float scalars into float.
template <typename T>
struct SgdConstants {
    T weight_decay, momentum, one_minus_dampening;
    bool nesterov;
};
template <typename T>
SgdConstants<T> sgd_constants(const SgdAttrs& a) {
    return {T(a.weight_decay), T(a.momentum), T(1.0 - a.dampening), a.nesterov};
}

template <typename T>
struct AdamConstants {
    T w1;           // 1 - beta1, the lerp weight
    T beta2, w2;    // w2 = 1 - beta2
    T eps;
    T weight_decay; // L2 only (0 for AdamW: its decay comes through the step scalars)
    bool decoupled; // AdamW with weight_decay != 0: p *= 1 - lr * weight_decay first
};
template <typename T>
AdamConstants<T> adam_constants(const AdamAttrs& a) {
    const bool decoupled = a.decoupled_weight_decay && a.weight_decay != 0.0;
    return {T(1.0 - a.beta1), T(a.beta2),  T(1.0 - a.beta2), T(a.eps),
            a.decoupled_weight_decay ? T(0) : T(a.weight_decay), decoupled};
}

// The per-step values in double, before they are rounded into step scalars.
struct AdamPerStep {
    double step_size, bias_correction2_sqrt, decay;
};
AdamPerStep adam_per_step(const AdamAttrs& a, uint64_t t) {
    const double bc1 = 1.0 - std::pow(a.beta1, double(t)), bc2 = 1.0 - std::pow(a.beta2, double(t));
    return {a.lr / bc1, std::sqrt(bc2), a.decoupled_weight_decay ? 1.0 - a.lr * a.weight_decay : 1.0};
}

// One element of each update, shared by the references (T = float, double) and
// the CPU kernels so the two cannot drift apart. Every statement rounds once.
template <typename T>
void sgd_element(const SgdConstants<T>& c, bool has_momentum, T lr, bool first, T& p, T grad, T* buf) {
    T g = grad;
    if (c.weight_decay != T(0)) g = g + c.weight_decay * p;
    if (has_momentum) {
        T b;
        if (first) {
            b = g; // PyTorch: buf = clone(g), no dampening on the first step
        } else {
            b = *buf * c.momentum;
            b = b + c.one_minus_dampening * g;
        }
        *buf = b;
        g = c.nesterov ? g + c.momentum * b : b;
    }
    p = p - lr * g;
}

template <typename T>
void adam_element(const AdamConstants<T>& c, T step_size, T bias_correction2_sqrt, T decay, T& p, T grad, T& m,
                  T& v) {
    if (c.decoupled) p = p * decay;
    T g = grad;
    if (c.weight_decay != T(0)) g = g + c.weight_decay * p;
    // PyTorch's lerp: the form that is exact at the end nearer the weight.
    const T d = g - m;
    m = c.w1 < T(0.5) ? m + c.w1 * d : g - d * (T(1) - c.w1);
    v = v * c.beta2;
    v = v + (c.w2 * g) * g;
    T denom = std::sqrt(v) / bias_correction2_sqrt;
    denom = denom + c.eps;
    p = p - (step_size * m) / denom;
}

} // namespace

void check_sgd_attrs(const SgdAttrs& a) {
    check(std::isfinite(a.lr) && a.lr >= 0.0, "sgd: invalid learning rate: ", a.lr);
    check(std::isfinite(a.momentum) && a.momentum >= 0.0, "sgd: invalid momentum value: ", a.momentum);
    check(std::isfinite(a.dampening), "sgd: invalid dampening value: ", a.dampening);
    check(std::isfinite(a.weight_decay) && a.weight_decay >= 0.0, "sgd: invalid weight_decay value: ",
          a.weight_decay);
    check(!a.nesterov || (a.momentum > 0.0 && a.dampening == 0.0),
          "sgd: Nesterov momentum requires a momentum and zero dampening, but got momentum ", a.momentum,
          " and dampening ", a.dampening);
}

void check_adam_attrs(const AdamAttrs& a) {
    const char* op = a.decoupled_weight_decay ? "adamw" : "adam";
    check(std::isfinite(a.lr) && a.lr >= 0.0, op, ": invalid learning rate: ", a.lr);
    check(std::isfinite(a.eps) && a.eps >= 0.0, op, ": invalid epsilon value: ", a.eps);
    check(a.beta1 >= 0.0 && a.beta1 < 1.0, op, ": invalid beta parameter at index 0: ", a.beta1);
    check(a.beta2 >= 0.0 && a.beta2 < 1.0, op, ": invalid beta parameter at index 1: ", a.beta2);
    check(std::isfinite(a.weight_decay) && a.weight_decay >= 0.0, op, ": invalid weight_decay value: ",
          a.weight_decay);
}

StepScalars sgd_step_scalars(const SgdAttrs& attrs, uint64_t t) {
    check_sgd_attrs(attrs);
    check_step("sgd", t);
    return {float(attrs.lr), t == 1 ? 1.0f : 0.0f, 0.0f, 0.0f};
}

StepScalars adam_step_scalars(const AdamAttrs& attrs, uint64_t t) {
    check_adam_attrs(attrs);
    check_step(attrs.decoupled_weight_decay ? "adamw" : "adam", t);
    const AdamPerStep s = adam_per_step(attrs, t);
    return {float(s.step_size), float(s.bias_correction2_sqrt), float(s.decay), 0.0f};
}

template <typename T>
void sgd_step_reference(const SgdAttrs& attrs, uint64_t t, std::span<T> p, std::span<const T> grad,
                        std::span<T> buf) {
    check_sgd_attrs(attrs);
    check_step("sgd", t);
    check_sizes("sgd", p.size(), grad.size(), "p", "grad");
    const bool has_momentum = attrs.momentum != 0.0;
    if (has_momentum) check_sizes("sgd", p.size(), buf.size(), "p", "momentum buffer");
    const auto c = sgd_constants<T>(attrs);
    for (size_t i = 0; i < p.size(); ++i)
        sgd_element(c, has_momentum, T(attrs.lr), t == 1, p[i], grad[i], has_momentum ? &buf[i] : nullptr);
}

template <typename T>
void adam_step_reference(const AdamAttrs& attrs, uint64_t t, std::span<T> p, std::span<const T> grad,
                         std::span<T> m, std::span<T> v) {
    const char* op = attrs.decoupled_weight_decay ? "adamw" : "adam";
    check_adam_attrs(attrs);
    check_step(op, t);
    check_sizes(op, p.size(), grad.size(), "p", "grad");
    check_sizes(op, p.size(), m.size(), "p", "m");
    check_sizes(op, p.size(), v.size(), "p", "v");
    const auto c = adam_constants<T>(attrs);
    const AdamPerStep s = adam_per_step(attrs, t);
    for (size_t i = 0; i < p.size(); ++i)
        adam_element(c, T(s.step_size), T(s.bias_correction2_sqrt), T(s.decay), p[i], grad[i], m[i], v[i]);
}

#define VKCNN_INSTANTIATE(T)                                                                                   \
    template void sgd_step_reference<T>(const SgdAttrs&, uint64_t, std::span<T>, std::span<const T>,           \
                                        std::span<T>);                                                         \
    template void adam_step_reference<T>(const AdamAttrs&, uint64_t, std::span<T>, std::span<const T>,         \
                                         std::span<T>, std::span<T>);
VKCNN_INSTANTIATE(float)
VKCNN_INSTANTIATE(double)
#undef VKCNN_INSTANTIATE

void sgd_step_cpu(cpu::ThreadPool& pool, const SgdAttrs& attrs, const StepScalars& scalars, std::span<float> p,
                  std::span<const float> grad, std::span<float> buf) {
    check_sgd_attrs(attrs);
    check_sizes("sgd", p.size(), grad.size(), "p", "grad");
    const bool has_momentum = attrs.momentum != 0.0;
    if (has_momentum) check_sizes("sgd", p.size(), buf.size(), "p", "momentum buffer");
    const auto c = sgd_constants<float>(attrs);
    const float lr = scalars[0];
    const bool first = scalars[1] != 0.0f;
    float* __restrict ps = p.data();
    const float* __restrict gs = grad.data();
    float* __restrict bs = has_momentum ? buf.data() : nullptr;
    parallel_elementwise(pool, p.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i)
            sgd_element(c, has_momentum, lr, first, ps[i], gs[i], bs ? bs + i : nullptr);
    });
}

void adam_step_cpu(cpu::ThreadPool& pool, const AdamAttrs& attrs, const StepScalars& scalars, std::span<float> p,
                   std::span<const float> grad, std::span<float> m, std::span<float> v) {
    const char* op = attrs.decoupled_weight_decay ? "adamw" : "adam";
    check_adam_attrs(attrs);
    check_sizes(op, p.size(), grad.size(), "p", "grad");
    check_sizes(op, p.size(), m.size(), "p", "m");
    check_sizes(op, p.size(), v.size(), "p", "v");
    const auto c = adam_constants<float>(attrs);
    const float step_size = scalars[0], bc2_sqrt = scalars[1], decay = scalars[2];
    float* __restrict ps = p.data();
    const float* __restrict gs = grad.data();
    float* __restrict ms = m.data();
    float* __restrict vs = v.data();
    parallel_elementwise(pool, p.size(), [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) adam_element(c, step_size, bc2_sqrt, decay, ps[i], gs[i], ms[i], vs[i]);
    });
}

namespace {

// Push blocks of the shaders, field for field.
struct SgdPush { // shaders/sgd_step.comp
    uint32_t n;
    float weight_decay;
};
struct SgdMomentumPush { // shaders/sgd_momentum_step.comp
    uint32_t n;
    float weight_decay, momentum, one_minus_dampening;
    uint32_t nesterov;
};
struct AdamPush { // shaders/adam_step.comp
    uint32_t n;
    float w1, beta2, w2, eps, weight_decay;
    uint32_t decoupled;
};
static_assert(sizeof(SgdMomentumPush) == 20 && sizeof(AdamPush) == 28);

KernelLaunch step_launch(std::string_view shader, size_t n, std::vector<Access> args) {
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = {256, 1, 1};
    l.args = std::move(args);
    // Grid-stride loop in the shader: cap the grid, each invocation takes several elements.
    l.groups = {std::min<uint32_t>(groups_for(n, 256), 4096), 1, 1};
    return l;
}

} // namespace

KernelLaunch sgd_step_launch(const SgdAttrs& attrs, size_t n) {
    check_sgd_attrs(attrs);
    check_count("sgd", n);
    const auto c = sgd_constants<float>(attrs);
    if (attrs.momentum == 0.0) {
        KernelLaunch l = step_launch("sgd_step", n, {Access::ReadWrite, Access::Read, Access::Read});
        l.set_push(SgdPush{uint32_t(n), c.weight_decay});
        return l;
    }
    KernelLaunch l =
        step_launch("sgd_momentum_step", n, {Access::ReadWrite, Access::Read, Access::ReadWrite, Access::Read});
    l.set_push(SgdMomentumPush{uint32_t(n), c.weight_decay, c.momentum, c.one_minus_dampening, c.nesterov ? 1u : 0u});
    return l;
}

KernelLaunch adam_step_launch(const AdamAttrs& attrs, size_t n) {
    check_adam_attrs(attrs);
    check_count(attrs.decoupled_weight_decay ? "adamw" : "adam", n);
    const auto c = adam_constants<float>(attrs);
    KernelLaunch l = step_launch(
        "adam_step", n, {Access::ReadWrite, Access::Read, Access::ReadWrite, Access::ReadWrite, Access::Read});
    l.set_push(AdamPush{uint32_t(n), c.w1, c.beta2, c.w2, c.eps, c.weight_decay, c.decoupled ? 1u : 0u});
    return l;
}

namespace {

KernelLaunch multi(KernelLaunch single, std::string_view multi_shader) {
    single.shader = multi_shader;
    single.args.push_back(Access::Read); // the table
    return single;
}

} // namespace

KernelLaunch sgd_step_multi_launch(const SgdAttrs& attrs, size_t total) {
    return multi(sgd_step_launch(attrs, total), attrs.momentum == 0.0 ? "sgd_step_multi" : "sgd_momentum_step_multi");
}

KernelLaunch adam_step_multi_launch(const AdamAttrs& attrs, size_t total) {
    return multi(adam_step_launch(attrs, total), "adam_step_multi");
}

std::vector<uint32_t> multi_tensor_table(std::span<const MultiTensorEntry> tensors) {
    check(!tensors.empty(), "multi-tensor step: no tensors");
    const auto word = [](uint64_t v, const char* what) {
        check(v <= 0xFFFFFFFFull, "multi-tensor step: ", what, " ", v, " exceeds 2^32 - 1");
        return static_cast<uint32_t>(v);
    };
    std::vector<uint32_t> table{word(tensors.size(), "tensor count")};
    uint64_t start = 0;
    for (const MultiTensorEntry& t : tensors) {
        check(t.offsets.size() == tensors[0].offsets.size(), "multi-tensor step: tensors with ", t.offsets.size(),
              " and ", tensors[0].offsets.size(), " operands");
        table.push_back(word(start, "flat index"));
        for (uint64_t offset : t.offsets) {
            word(offset + t.elements, "operand end"); // every index the shader forms fits
            table.push_back(static_cast<uint32_t>(offset));
        }
        start += t.elements;
    }
    word(start, "total elements");
    return table;
}

} // namespace vkcnn::ops
