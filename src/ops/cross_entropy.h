// Cross-entropy loss fused with log_softmax (torch.nn.functional.cross_entropy
// with class-index targets, reduction 'mean', optional label_smoothing): loss
// per row, then a fixed-order mean; backward straight to the logits.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <cstdint>
#include <span>

namespace vkcnn::ops {

struct CrossEntropyAttrs {
    float label_smoothing = 0.0f; // epsilon in [0, 1]
};

// For row i with logits x (C classes), target t = targets[i] in [0, C):
//   lse    = max + log(sum_j exp(x_j - max))
//   nll    = lse - x_t                       (-log softmax[t])
//   smooth = lse - mean_j x_j                (mean over classes of -log softmax)
//   loss_i = (1 - eps) * nll + eps * smooth  (PyTorch's label_smoothing)
// computed relative to the max (nll = log(s) - (x_t - max), smooth = log(s) -
// mean_j (x_j - max)), so large logits keep their precision as in PyTorch.
// loss = mean_i loss_i. Backward: dlogits = dloss / N * (softmax - q) with
// q_j = (1 - eps) [j == t] + eps / C. ignore_index and class weights are not
// supported. Logits (N, C) row-major, targets (N) int32.

// Throws vkcnn::Error for an empty shape, mismatched sizes, eps outside [0, 1].
void cross_entropy_check(const CrossEntropyAttrs& attrs, size_t rows, size_t cols, size_t logits_size,
                         size_t targets_size);

// References: return the mean loss / write (=) dlogits. A target outside
// [0, C) throws, naming the row and the value.
template <typename T>
T cross_entropy_forward_reference(const CrossEntropyAttrs& attrs, size_t rows, size_t cols, std::span<const T> logits,
                                  std::span<const int32_t> targets);
template <typename T>
void cross_entropy_backward_reference(const CrossEntropyAttrs& attrs, size_t rows, size_t cols,
                                      std::span<const T> logits, std::span<const int32_t> targets, T dloss,
                                      std::span<T> dlogits);

// CPU backend: writes (=) row_loss (N) and returns its mean (reduce.h's
// sum_cpu order: the same bits for any thread count). Throws like the reference.
float cross_entropy_forward_cpu(cpu::ThreadPool& pool, const CrossEntropyAttrs& attrs, size_t rows, size_t cols,
                                std::span<const float> logits, std::span<const int32_t> targets,
                                std::span<float> row_loss);
void cross_entropy_backward_cpu(cpu::ThreadPool& pool, const CrossEntropyAttrs& attrs, size_t rows, size_t cols,
                                std::span<const float> logits, std::span<const int32_t> targets, float dloss,
                                std::span<float> dlogits);

// Vulkan, one workgroup per row.
//   forward (logits (N, C), targets (N), row_loss (N)), writes (=) row_loss;
//   the loss is then reduce_partials_launch(N) + reduce_finish_launch(P, N)
//   over row_loss (reduce.h): a deterministic mean.
//   backward (logits (N, C), targets (N), dloss (1), dlogits (N, C)), writes (=)
//   dlogits; dloss is the upstream gradient of the loss (1 for loss.backward()).
// A target outside [0, C) cannot throw on the device: that row's loss and
// dlogits row are written as NaN, so the loss turns NaN.
KernelLaunch cross_entropy_forward_launch(const CrossEntropyAttrs& attrs, size_t rows, size_t cols);
KernelLaunch cross_entropy_backward_launch(const CrossEntropyAttrs& attrs, size_t rows, size_t cols);

} // namespace vkcnn::ops
