// batch_norm2d (torch.nn.BatchNorm2d with affine weights and running stats):
// per-channel statistics over N, H, W of an NCHW tensor; training and eval
// forward, training and eval backward. Plain references (templates, the test oracle),
// threaded CPU kernels and the launches of shaders/batch_norm2d_*.comp.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace vkcnn::ops {

struct BatchNorm2dAttrs {
    float eps = 1e-5f;     // torch's defaults
    float momentum = 0.1f; // running = (1 - momentum) * running + momentum * batch; None (cumulative) is not supported
};

struct BatchNorm2dShape {
    uint32_t n = 0, c = 0, h = 0, w = 0; // x: (N, C, H, W); weight, bias, running stats: (C)

    size_t hw() const { return size_t{h} * w; }
    size_t reduced() const { return size_t{n} * h * w; } // M: the elements of one channel
    size_t x_size() const { return reduced() * c; }
};

// Semantics (M = N*H*W, sums over the M elements of channel c):
//   training: mean = sum(x) / M, var = sum((x - mean)^2) / M (biased),
//     invstd = 1 / sqrt(var + eps), y = (x - mean) * invstd * weight + bias;
//     saves mean and invstd for backward; updates the running stats in place
//     with the unbiased variance sum((x - mean)^2) / (M - 1). M == 1 throws,
//     as torch ("expected more than 1 value per channel when training").
//   eval: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
//   backward (training), xhat = (x - mean) * invstd:
//     dbias = sum(dy), dweight = sum(dy * xhat),
//     dx = weight * invstd / M * (M * dy - dbias - xhat * dweight).
//   eval backward (F.batch_norm with training=False), the running statistics
//   constants: invstd = 1 / sqrt(running_var + eps), xhat = (x - running_mean) * invstd,
//     dbias = sum(dy), dweight = sum(dy * xhat), dx = dy * weight * invstd;
//     no gradient to the running statistics. M == 1 is fine.
// Every function writes (=) its outputs; running_mean / running_var are read
// and written in place. The statistics are two-pass (mean first, then squared
// deviations from it), so a large common offset does not cancel away.

// Shape rule: x (N, C, H, W), the four parameters (C). Throws vkcnn::Error
// naming batch_norm2d and the shapes ("batch_norm2d: weight (4,) does not
// match x (2, 3, 5, 5): expected (3,)"), also for M == 1 when training.
BatchNorm2dShape batch_norm2d_shape(std::span<const int64_t> x_dims, std::span<const int64_t> weight_dims,
                                    std::span<const int64_t> bias_dims, std::span<const int64_t> running_mean_dims,
                                    std::span<const int64_t> running_var_dims, bool training);

// References: plain loops in T (double is the oracle).
template <typename T>
void batch_norm2d_forward_train_reference(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                          std::span<const T> x,      // (N, C, H, W)
                                          std::span<const T> weight, // (C)
                                          std::span<const T> bias,   // (C)
                                          std::span<T> running_mean, // (C), updated in place
                                          std::span<T> running_var,  // (C), updated in place
                                          std::span<T> y,            // (N, C, H, W)
                                          std::span<T> save_mean,    // (C)
                                          std::span<T> save_invstd); // (C)
template <typename T>
void batch_norm2d_forward_eval_reference(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                         std::span<const T> x,            // (N, C, H, W)
                                         std::span<const T> weight,       // (C)
                                         std::span<const T> bias,         // (C)
                                         std::span<const T> running_mean, // (C)
                                         std::span<const T> running_var,  // (C)
                                         std::span<T> y);                 // (N, C, H, W)
// An empty dx / dweight / dbias is not wanted and skipped.
template <typename T>
void batch_norm2d_backward_reference(const BatchNorm2dShape& s,
                                     std::span<const T> x,           // (N, C, H, W)
                                     std::span<const T> dy,          // (N, C, H, W)
                                     std::span<const T> weight,      // (C)
                                     std::span<const T> save_mean,   // (C)
                                     std::span<const T> save_invstd, // (C)
                                     std::span<T> dx,                // (N, C, H, W) or empty
                                     std::span<T> dweight,           // (C) or empty
                                     std::span<T> dbias);            // (C) or empty
template <typename T>
void batch_norm2d_eval_backward_reference(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                          std::span<const T> x,            // (N, C, H, W)
                                          std::span<const T> dy,           // (N, C, H, W)
                                          std::span<const T> weight,       // (C)
                                          std::span<const T> running_mean, // (C)
                                          std::span<const T> running_var,  // (C)
                                          std::span<T> dx,                 // (N, C, H, W) or empty
                                          std::span<T> dweight,            // (C) or empty
                                          std::span<T> dbias);             // (C) or empty

// CPU backend. Sums run over pieces of at most 4096 contiguous elements of
// one (n, c) plane in float lanes, the pieces added in double in a fixed
// order: the same bits for any thread count. Arguments as the references.
void batch_norm2d_forward_train_cpu(cpu::ThreadPool& pool, const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                    std::span<const float> x, std::span<const float> weight,
                                    std::span<const float> bias, std::span<float> running_mean,
                                    std::span<float> running_var, std::span<float> y, std::span<float> save_mean,
                                    std::span<float> save_invstd);
void batch_norm2d_forward_eval_cpu(cpu::ThreadPool& pool, const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                   std::span<const float> x, std::span<const float> weight,
                                   std::span<const float> bias, std::span<const float> running_mean,
                                   std::span<const float> running_var, std::span<float> y);
void batch_norm2d_backward_cpu(cpu::ThreadPool& pool, const BatchNorm2dShape& s, std::span<const float> x,
                               std::span<const float> dy, std::span<const float> weight,
                               std::span<const float> save_mean, std::span<const float> save_invstd,
                               std::span<float> dx, std::span<float> dweight, std::span<float> dbias);
void batch_norm2d_eval_backward_cpu(cpu::ThreadPool& pool, const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                    std::span<const float> x, std::span<const float> dy,
                                    std::span<const float> weight, std::span<const float> running_mean,
                                    std::span<const float> running_var, std::span<float> dx,
                                    std::span<float> dweight, std::span<float> dbias);

// Vulkan. The per-channel sums take one of two shapes, both a fixed-order
// tree without atomics:
//   chunks == 1: one workgroup per channel reduces all M elements;
//   chunks > 1: workgroup (p, c) reduces chunk p of channel c into partials
//     (C, chunks, 2), then one workgroup per channel combines the chunks in
//     order; this keeps a GPU busy when C is small and M large.
// batch_norm2d_chunks picks the count for a shape; any count in [1, 65535]
// is valid (trailing chunks may be empty). x may hold at most 2^31 elements.
// `subgroup` (the device's GemmTuning::subgroup_reductions) picks the
// shaders' "_subgroup" variants, whose workgroup sums use subgroup arithmetic
// (shaders/reduce_common.glsl); only for a device that has it. Both are
// deterministic on a device; they round differently.
uint32_t batch_norm2d_chunks(const BatchNorm2dShape& s);
size_t batch_norm2d_partials_size(const BatchNorm2dShape& s, uint32_t chunks); // floats: C * chunks * 2

// Training forward = statistics, then batch_norm2d_forward_launch(.., true):
//   chunks == 1: stats (x, save_mean, save_invstd, running_mean, running_var)
//   chunks > 1:  stats_partials (x, partials), each chunk's (mean, sum of squared deviations);
//                stats_finish (partials, save_mean, save_invstd, running_mean, running_var)
// Write (=) save_mean, save_invstd (and partials); running stats read-write.
KernelLaunch batch_norm2d_stats_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs, bool subgroup = false);
KernelLaunch batch_norm2d_stats_partials_launch(const BatchNorm2dShape& s, uint32_t chunks, bool subgroup = false);
KernelLaunch batch_norm2d_stats_finish_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs,
                                              uint32_t chunks);
// Normalisation, writes (=) y:
//   training: (x, save_mean, save_invstd, weight, bias, y)
//   eval:     (x, running_mean, running_var, weight, bias, y)
KernelLaunch batch_norm2d_forward_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs, bool training);

// Training backward = gradient sums, then (if dx is wanted) backward_data:
//   chunks == 1: backward_sums (x, dy, save_mean, save_invstd, dweight, dbias)
//   chunks > 1:  backward_partials (x, dy, save_mean, partials), each chunk's
//                (sum(dy), sum(dy * (x - mean)));
//                backward_finish (partials, save_invstd, dweight, dbias)
//   backward_data (x, dy, save_mean, save_invstd, weight, dweight, dbias, dx)
// All write (=). dweight and dbias feed dx, so they are computed (into
// temporaries if need be) even when the parameters are frozen.
KernelLaunch batch_norm2d_backward_sums_launch(const BatchNorm2dShape& s, bool subgroup = false);
KernelLaunch batch_norm2d_backward_partials_launch(const BatchNorm2dShape& s, uint32_t chunks, bool subgroup = false);
KernelLaunch batch_norm2d_backward_finish_launch(const BatchNorm2dShape& s, uint32_t chunks);
KernelLaunch batch_norm2d_backward_data_launch(const BatchNorm2dShape& s);

// Eval backward: the training backward's gradient sums over the running
// statistics, and dx elementwise without the batch-statistics terms.
//   eval_backward_invstd (running_var, invstd): invstd = 1 / sqrt(running_var + eps), (C);
//   the sums as training's, running_mean for save_mean and that invstd for
//   save_invstd (the same shaders; only M == 1 is allowed here):
//     chunks == 1: eval_backward_sums (x, dy, running_mean, invstd, dweight, dbias)
//     chunks > 1:  eval_backward_partials (x, dy, running_mean, partials);
//                  eval_backward_finish (partials, invstd, dweight, dbias)
//   eval_backward_data (dy, running_var, weight, dx): dx = dy * weight * invstd,
//     invstd taken in the shader, so dx waits for nothing.
// All write (=). dx needs no sums: a graph wanting only dx (saliency) runs one kernel.
KernelLaunch batch_norm2d_eval_backward_invstd_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs);
KernelLaunch batch_norm2d_eval_backward_sums_launch(const BatchNorm2dShape& s, bool subgroup = false);
KernelLaunch batch_norm2d_eval_backward_partials_launch(const BatchNorm2dShape& s, uint32_t chunks,
                                                        bool subgroup = false);
KernelLaunch batch_norm2d_eval_backward_finish_launch(const BatchNorm2dShape& s, uint32_t chunks);
KernelLaunch batch_norm2d_eval_backward_data_launch(const BatchNorm2dShape& s, const BatchNorm2dAttrs& attrs);

} // namespace vkcnn::ops
