// Dropout: the keep rule, references, CPU kernels and GPU launches (see dropout.h).
#include "vkcnn/ops/dropout.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vkcnn::ops {

namespace {

void check_sizes(const char* op, size_t a, size_t b, const char* a_name, const char* b_name) {
    check(a == b, op, ": ", a_name, " has ", a, " elements, ", b_name, " has ", b);
}

void check_count(const char* op, size_t n) {
    check(n <= std::numeric_limits<uint32_t>::max(), op, ": ", n, " elements exceed 2^32 - 1 (the Philox counter)");
}

template <typename T>
void apply_reference(const char* op, const DropoutAttrs& attrs, PhiloxKey key, std::span<const T> in,
                     std::span<T> out) {
    check_sizes(op, in.size(), out.size(), "input", "output");
    check_count(op, in.size());
    const DropoutRule rule = dropout_rule(attrs);
    for (size_t i = 0; i < in.size(); ++i) out[i] = in[i] * T(dropout_multiplier(rule, key, uint32_t(i), attrs.stream));
}

void apply_cpu(cpu::ThreadPool& pool, const char* op, const DropoutAttrs& attrs, PhiloxKey key,
               std::span<const float> in, std::span<float> out) {
    check_sizes(op, in.size(), out.size(), "input", "output");
    check_count(op, in.size());
    const DropoutRule rule = dropout_rule(attrs);
    // Not __restrict: out may be in (the graph runs dropout in place).
    const float* src = in.data();
    float* dst = out.data();
    const size_t n = in.size(), blocks = (n + 3) / 4;
    // One Philox block serves four elements, as in the shader.
    auto body = [=](size_t begin, size_t end) {
        for (size_t b = begin; b < end; ++b) {
            const auto bits = philox4x32_10({uint32_t(b), attrs.stream, 0, 0}, {key.seed, key.step});
            for (size_t k = 0; k < 4 && 4 * b + k < n; ++k) {
                const float m = (bits[k] >> 8) >= rule.threshold ? rule.scale : 0.0f;
                dst[4 * b + k] = src[4 * b + k] * m;
            }
        }
    };
    if (n < (size_t{1} << 14)) body(0, blocks);
    else pool.parallel_for(blocks, body);
}

} // namespace

DropoutRule dropout_rule(const DropoutAttrs& attrs) {
    const float p = attrs.p;
    check(p >= 0.0f && p <= 1.0f, "dropout: probability has to be between 0 and 1, but got ", p);
    if (!attrs.training) return {};
    DropoutRule r;
    r.threshold = static_cast<uint32_t>(std::ceil(static_cast<double>(p) * 16777216.0));
    r.scale = p == 1.0f ? 0.0f : 1.0f / (1.0f - p);
    return r;
}

float dropout_multiplier(const DropoutRule& rule, PhiloxKey key, uint32_t i, uint32_t stream) {
    return (philox_bits(key, i, stream) >> 8) >= rule.threshold ? rule.scale : 0.0f;
}

template <typename T>
void dropout_forward_reference(const DropoutAttrs& attrs, PhiloxKey key, std::span<const T> x, std::span<T> y) {
    apply_reference("dropout_forward", attrs, key, x, y);
}

template <typename T>
void dropout_backward_reference(const DropoutAttrs& attrs, PhiloxKey key, std::span<const T> dy, std::span<T> dx) {
    apply_reference("dropout_backward", attrs, key, dy, dx);
}

template void dropout_forward_reference<float>(const DropoutAttrs&, PhiloxKey, std::span<const float>,
                                               std::span<float>);
template void dropout_forward_reference<double>(const DropoutAttrs&, PhiloxKey, std::span<const double>,
                                                std::span<double>);
template void dropout_backward_reference<float>(const DropoutAttrs&, PhiloxKey, std::span<const float>,
                                                std::span<float>);
template void dropout_backward_reference<double>(const DropoutAttrs&, PhiloxKey, std::span<const double>,
                                                 std::span<double>);

void dropout_forward_cpu(cpu::ThreadPool& pool, const DropoutAttrs& attrs, PhiloxKey key, std::span<const float> x,
                         std::span<float> y) {
    apply_cpu(pool, "dropout_forward", attrs, key, x, y);
}

void dropout_backward_cpu(cpu::ThreadPool& pool, const DropoutAttrs& attrs, PhiloxKey key,
                          std::span<const float> dy, std::span<float> dx) {
    apply_cpu(pool, "dropout_backward", attrs, key, dy, dx);
}

namespace {

// Matches the push block of shaders/dropout_apply.comp.
struct Push {
    uint32_t n;
    uint32_t threshold;
    float scale;
    uint32_t stream;
};

KernelLaunch apply_launch(const char* op, const DropoutAttrs& attrs, size_t n) {
    check_count(op, n);
    const DropoutRule rule = dropout_rule(attrs);
    // Each invocation takes blocks of four elements, grid-stride.
    KernelLaunch l = grid_stride_launch("dropout_apply", (n + 3) / 4, {Access::Read, Access::Read, Access::Write});
    l.set_push(Push{static_cast<uint32_t>(n), rule.threshold, rule.scale, attrs.stream});
    return l;
}

} // namespace

KernelLaunch dropout_forward_launch(const DropoutAttrs& attrs, size_t n) {
    return apply_launch("dropout_forward", attrs, n);
}

KernelLaunch dropout_backward_launch(const DropoutAttrs& attrs, size_t n) {
    return apply_launch("dropout_backward", attrs, n);
}

} // namespace vkcnn::ops
