// The CPU backend's direct kernels for depthwise convolutions: groups > 1 and
// one input channel per group (any channel multiplier Cout / groups). Through
// im2col such a layer is one GEMM per (image, group) of a single K = kH * kW
// row, mostly overhead; here each input plane is copied once, zero-padded,
// and every tap is a contiguous multiply-add over it. conv2d_*_cpu call these
// for the shapes conv2d_is_depthwise accepts (same contract: write (=) the
// output, the same bits for any pool size).
#pragma once

#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/ops/conv2d.h"

#include <span>

namespace vkcnn::ops {

// groups > 1 and Cin / groups == 1. A single group reading one channel
// (LeNet's first layer) stays on the GEMM path: its trained models are the
// ones the tests' bars were set on.
bool conv2d_is_depthwise(const Conv2dShape& s);

// Spans are checked by the caller (conv2d_*_cpu).
void conv2d_depthwise_forward_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> x,
                                  std::span<const float> w, std::span<const float> b, std::span<float> y);
void conv2d_depthwise_backward_data_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> w,
                                        std::span<const float> dy, std::span<float> dx);
void conv2d_depthwise_backward_weight_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> x,
                                          std::span<const float> dy, std::span<float> dw);

} // namespace vkcnn::ops
