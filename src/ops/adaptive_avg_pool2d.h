// adaptive_avg_pool2d as torch.nn.functional.adaptive_avg_pool2d: output cell
// (oy, ox) averages rows [floor(oy*H/OH), ceil((oy+1)*H/OH)) and the columns
// likewise; (1, 1) is global average pooling. Reference, CPU kernel, GPU launches.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <array>
#include <cstdint>
#include <span>

namespace vkcnn::ops {

struct AdaptiveAvgPool2dAttrs {
    std::array<int64_t, 2> output_size{1, 1}; // (OH, OW); may exceed (H, W)
};

// (N, C, OH, OW) for x (N, C, H, W); throws vkcnn::Error naming
// "adaptive_avg_pool2d" and the shapes for an empty input or output size < 1.
std::array<int64_t, 4> adaptive_avg_pool2d_output_shape(const AdaptiveAvgPool2dAttrs& attrs,
                                                        const std::array<int64_t, 4>& x_shape);

// References: plain loops, the spec. Forward writes (=) y = sum / kh / kw (two
// divisions, PyTorch's order); backward writes (=) dx (scatter-adds
// dy / kh / kw into a zeroed dx in output order).
template <typename T>
void adaptive_avg_pool2d_forward_reference(const AdaptiveAvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                           std::span<const T> x, // (N, C, H, W)
                                           std::span<T> y);      // (N, C, OH, OW)
template <typename T>
void adaptive_avg_pool2d_backward_reference(const AdaptiveAvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                            std::span<const T> dy, // (N, C, OH, OW)
                                            std::span<T> dx);      // (N, C, H, W)

// CPU backend kernels, bitwise equal to the float reference. Write (=) their outputs.
void adaptive_avg_pool2d_forward_cpu(cpu::ThreadPool& pool, const AdaptiveAvgPool2dAttrs& attrs,
                                     const std::array<int64_t, 4>& x_shape, std::span<const float> x,
                                     std::span<float> y);
void adaptive_avg_pool2d_backward_cpu(cpu::ThreadPool& pool, const AdaptiveAvgPool2dAttrs& attrs,
                                      const std::array<int64_t, 4>& x_shape, std::span<const float> dy,
                                      std::span<float> dx);

// Vulkan launches: the avg_pool2d shaders (shaders/avg_pool2d_{forward,backward}.comp)
// in their adaptive mode; sums in the reference's order, divisions within
// GLSL's 2.5 ulp. Arguments: forward (x, y); backward (dy, dx), a gather without
// atomics. Write (=). Throw if (H + 1)(OH + 1) or (W + 1)(OW + 1) exceeds 2^31 - 1.
KernelLaunch adaptive_avg_pool2d_forward_launch(const AdaptiveAvgPool2dAttrs& attrs,
                                                const std::array<int64_t, 4>& x_shape);
KernelLaunch adaptive_avg_pool2d_backward_launch(const AdaptiveAvgPool2dAttrs& attrs,
                                                 const std::array<int64_t, 4>& x_shape);

} // namespace vkcnn::ops
