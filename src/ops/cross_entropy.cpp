// Cross-entropy with fused log_softmax: references, CPU kernels, GPU launches (see cross_entropy.h).
#include "vkcnn/ops/cross_entropy.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/reduce.h"

#include <cmath>
#include <vector>

namespace vkcnn::ops {

namespace {

void check_targets(size_t rows, size_t cols, std::span<const int32_t> targets) {
    for (size_t i = 0; i < rows; ++i)
        check(targets[i] >= 0 && static_cast<size_t>(targets[i]) < cols, "cross_entropy: target[", i, "] = ",
              targets[i], " is out of range for ", cols, " classes");
}

template <typename T>
T row_max(const T* x, size_t n) {
    T m = x[0];
    for (size_t j = 1; j < n; ++j)
        if (x[j] > m || std::isnan(x[j])) m = x[j];
    return m;
}

// loss_i for one row; the CPU kernel and the float reference share it, so they agree bit for bit.
// Everything is taken relative to the max, as torch's log_softmax: lse - x_t = log(s) - (x_t - max)
// keeps the bits that lse = max + log(s) would round away when the logits are large (|x| ~ 1000).
template <typename T>
T row_loss(const T* x, size_t cols, int32_t target, T eps) {
    const T m = row_max(x, cols);
    T s = 0, sx = 0;
    for (size_t j = 0; j < cols; ++j) {
        s += std::exp(x[j] - m);
        sx += x[j] - m;
    }
    const T log_s = std::log(s);
    const T nll = log_s - (x[target] - m);
    const T smooth = log_s - sx / static_cast<T>(cols);
    return (T(1) - eps) * nll + eps * smooth;
}

template <typename T>
void row_grad(const T* x, size_t cols, int32_t target, T eps, T scale, T* dx) {
    const T m = row_max(x, cols);
    T s = 0;
    for (size_t j = 0; j < cols; ++j) s += std::exp(x[j] - m);
    const T inv = T(1) / s, off = eps / static_cast<T>(cols), on = (T(1) - eps) + off;
    for (size_t j = 0; j < cols; ++j)
        dx[j] = scale * (std::exp(x[j] - m) * inv - (static_cast<int32_t>(j) == target ? on : off));
}

} // namespace

void cross_entropy_check(const CrossEntropyAttrs& attrs, size_t rows, size_t cols, size_t logits_size,
                         size_t targets_size) {
    check(rows >= 1 && cols >= 1, "cross_entropy: shape (", rows, ", ", cols, ") is empty");
    check(logits_size == rows * cols, "cross_entropy: logits have ", logits_size, " elements, expected (", rows,
          ", ", cols, ") = ", rows * cols);
    check(targets_size == rows, "cross_entropy: targets have ", targets_size, " elements, logits have ", rows,
          " rows");
    check(attrs.label_smoothing >= 0.0f && attrs.label_smoothing <= 1.0f,
          "cross_entropy: label_smoothing must be between 0.0 and 1.0, got ", attrs.label_smoothing);
}

template <typename T>
T cross_entropy_forward_reference(const CrossEntropyAttrs& attrs, size_t rows, size_t cols, std::span<const T> logits,
                                  std::span<const int32_t> targets) {
    cross_entropy_check(attrs, rows, cols, logits.size(), targets.size());
    check_targets(rows, cols, targets);
    T total = 0;
    for (size_t i = 0; i < rows; ++i) total += row_loss(&logits[i * cols], cols, targets[i], T(attrs.label_smoothing));
    return total / static_cast<T>(rows);
}

template <typename T>
void cross_entropy_backward_reference(const CrossEntropyAttrs& attrs, size_t rows, size_t cols,
                                      std::span<const T> logits, std::span<const int32_t> targets, T dloss,
                                      std::span<T> dlogits) {
    cross_entropy_check(attrs, rows, cols, logits.size(), targets.size());
    check(dlogits.size() == logits.size(), "cross_entropy_backward: dlogits has ", dlogits.size(),
          " elements, logits ", logits.size());
    check_targets(rows, cols, targets);
    for (size_t i = 0; i < rows; ++i)
        row_grad(&logits[i * cols], cols, targets[i], T(attrs.label_smoothing), dloss / static_cast<T>(rows),
                 &dlogits[i * cols]);
}

template float cross_entropy_forward_reference<float>(const CrossEntropyAttrs&, size_t, size_t,
                                                      std::span<const float>, std::span<const int32_t>);
template double cross_entropy_forward_reference<double>(const CrossEntropyAttrs&, size_t, size_t,
                                                        std::span<const double>, std::span<const int32_t>);
template void cross_entropy_backward_reference<float>(const CrossEntropyAttrs&, size_t, size_t,
                                                      std::span<const float>, std::span<const int32_t>, float,
                                                      std::span<float>);
template void cross_entropy_backward_reference<double>(const CrossEntropyAttrs&, size_t, size_t,
                                                       std::span<const double>, std::span<const int32_t>, double,
                                                       std::span<double>);

float cross_entropy_forward_cpu(cpu::ThreadPool& pool, const CrossEntropyAttrs& attrs, size_t rows, size_t cols,
                                std::span<const float> logits, std::span<const int32_t> targets,
                                std::span<float> row_losses) {
    cross_entropy_check(attrs, rows, cols, logits.size(), targets.size());
    check(row_losses.size() == rows, "cross_entropy_forward: row_loss has ", row_losses.size(),
          " elements, expected ", rows);
    check_targets(rows, cols, targets);
    const float* x = logits.data();
    const int32_t* t = targets.data();
    float* out = row_losses.data();
    const float eps = attrs.label_smoothing;
    auto body = [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) out[i] = row_loss(x + i * cols, cols, t[i], eps);
    };
    if (rows * cols < (size_t{1} << 15)) body(0, rows);
    else pool.parallel_for(rows, body);
    return mean_cpu(pool, row_losses);
}

void cross_entropy_backward_cpu(cpu::ThreadPool& pool, const CrossEntropyAttrs& attrs, size_t rows, size_t cols,
                                std::span<const float> logits, std::span<const int32_t> targets, float dloss,
                                std::span<float> dlogits) {
    cross_entropy_check(attrs, rows, cols, logits.size(), targets.size());
    check(dlogits.size() == logits.size(), "cross_entropy_backward: dlogits has ", dlogits.size(),
          " elements, logits ", logits.size());
    check_targets(rows, cols, targets);
    const float* x = logits.data();
    const int32_t* t = targets.data();
    float* dx = dlogits.data();
    const float eps = attrs.label_smoothing, scale = dloss / static_cast<float>(rows);
    auto body = [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) row_grad(x + i * cols, cols, t[i], eps, scale, dx + i * cols);
    };
    if (rows * cols < (size_t{1} << 15)) body(0, rows);
    else pool.parallel_for(rows, body);
}

namespace {

KernelLaunch ce_launch(std::string_view shader, const CrossEntropyAttrs& attrs, size_t rows, size_t cols,
                       std::vector<Access> args) {
    cross_entropy_check(attrs, rows, cols, rows * cols, rows);
    KernelLaunch l = row_launch(shader, rows, cols, std::move(args));
    struct Push {
        uint32_t rows, cols;
        float label_smoothing;
    };
    l.set_push(Push{static_cast<uint32_t>(rows), static_cast<uint32_t>(cols), attrs.label_smoothing});
    return l;
}

} // namespace

KernelLaunch cross_entropy_forward_launch(const CrossEntropyAttrs& attrs, size_t rows, size_t cols) {
    return ce_launch("cross_entropy_forward", attrs, rows, cols, {Access::Read, Access::Read, Access::Write});
}

KernelLaunch cross_entropy_backward_launch(const CrossEntropyAttrs& attrs, size_t rows, size_t cols) {
    return ce_launch("cross_entropy_backward", attrs, rows, cols,
                     {Access::Read, Access::Read, Access::Read, Access::Write});
}

} // namespace vkcnn::ops
