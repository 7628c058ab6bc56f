// avg_pool2d as torch.nn.functional.avg_pool2d: window sums divided by the
// window size (count_include_pad), by the in-bounds tap count, or by
// divisor_override; windows hanging past the padded input in ceil_mode are
// clipped first, as PyTorch does. Reference, CPU kernel, GPU launches.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/ops/pool2d_geometry.h"

#include <array>
#include <cstdint>
#include <span>

namespace vkcnn::ops {

struct AvgPool2dAttrs {
    std::array<int, 2> kernel{2, 2};  // (kH, kW)
    std::array<int, 2> stride{0, 0};  // (sH, sW); (0, 0) = kernel, PyTorch's stride=None
    std::array<int, 2> padding{0, 0}; // zero padding; at most kernel / 2
    bool ceil_mode = false;
    bool count_include_pad = true;    // divide by the padded window size (clipped to the padded input)
    int divisor_override = 0;         // 0 = none
};

// Checks attrs against x (N, C, H, W) and returns the window geometry (dilation 1);
// throws vkcnn::Error naming "avg_pool2d" and the values PyTorch would refuse.
Pool2dGeometry avg_pool2d_geometry(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape);
// (N, C, OH, OW)
std::array<int64_t, 4> avg_pool2d_output_shape(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape);

// References: plain loops, the spec. Forward writes (=) y; backward writes (=) dx
// (scatter-adds dy / divisor into a zeroed dx in output order).
template <typename T>
void avg_pool2d_forward_reference(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                  std::span<const T> x, // (N, C, H, W)
                                  std::span<T> y);      // (N, C, OH, OW)
template <typename T>
void avg_pool2d_backward_reference(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                   std::span<const T> dy, // (N, C, OH, OW)
                                   std::span<T> dx);      // (N, C, H, W)

// CPU backend kernels, bitwise equal to the float reference. Write (=) their outputs.
void avg_pool2d_forward_cpu(cpu::ThreadPool& pool, const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                            std::span<const float> x, std::span<float> y);
void avg_pool2d_backward_cpu(cpu::ThreadPool& pool, const AvgPool2dAttrs& attrs,
                             const std::array<int64_t, 4>& x_shape, std::span<const float> dy, std::span<float> dx);

// Vulkan launches (shaders/avg_pool2d_{forward,backward}.comp). Sums are added in
// the reference's order; only the division may differ (GLSL allows 2.5 ulp).
// Arguments: forward (x, y); backward (dy, dx), a gather without atomics. Write (=).
KernelLaunch avg_pool2d_forward_launch(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape);
KernelLaunch avg_pool2d_backward_launch(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape);

} // namespace vkcnn::ops
