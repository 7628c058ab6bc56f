// max_pool2d as torch.nn.functional.max_pool2d(return_indices=True): forward
// writes the maximum and its flat index h * W + w in the input plane (implicit
// -inf padding; the first maximum in scan order wins ties; a NaN wins, the last
// NaN's index is kept), and backward routes dy to those indices. A window with
// no tap inside the input (only with dilation) gives -inf and index -1, which
// backward skips (PyTorch's index there points outside the window). Reference,
// CPU kernel, GPU launches.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/ops/pool2d_geometry.h"

#include <array>
#include <cstdint>
#include <span>

namespace vkcnn::ops {

struct MaxPool2dAttrs {
    std::array<int, 2> kernel{2, 2};   // (kH, kW)
    std::array<int, 2> stride{0, 0};   // (sH, sW); (0, 0) = kernel, PyTorch's stride=None
    std::array<int, 2> padding{0, 0};  // implicit -inf; at most kernel / 2
    std::array<int, 2> dilation{1, 1}; // spacing of window taps
    bool ceil_mode = false;
};

// Checks attrs against x (N, C, H, W) and returns the window geometry;
// throws vkcnn::Error naming "max_pool2d" and the values PyTorch would refuse.
Pool2dGeometry max_pool2d_geometry(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape);
// (N, C, OH, OW)
std::array<int64_t, 4> max_pool2d_output_shape(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape);

// References: plain loops, the spec. Forward writes (=) y and indices;
// backward writes (=) dx (scatter-adds dy into a zeroed dx in output order).
template <typename T>
void max_pool2d_forward_reference(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                  std::span<const T> x,          // (N, C, H, W)
                                  std::span<T> y,                // (N, C, OH, OW)
                                  std::span<int32_t> indices);   // (N, C, OH, OW), into the (H, W) plane
template <typename T>
void max_pool2d_backward_reference(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                   std::span<const int32_t> indices, // (N, C, OH, OW)
                                   std::span<const T> dy,            // (N, C, OH, OW)
                                   std::span<T> dx);                 // (N, C, H, W)

// CPU backend kernels, bitwise equal to the float reference. Write (=) their outputs.
void max_pool2d_forward_cpu(cpu::ThreadPool& pool, const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                            std::span<const float> x, std::span<float> y, std::span<int32_t> indices);
void max_pool2d_backward_cpu(cpu::ThreadPool& pool, const MaxPool2dAttrs& attrs,
                             const std::array<int64_t, 4>& x_shape, std::span<const int32_t> indices,
                             std::span<const float> dy, std::span<float> dx);

// Vulkan launches (shaders/max_pool2d_{forward,backward}.comp), bitwise equal
// to the reference. Arguments: forward (x, y, indices) with indices an int32
// buffer; backward (indices, dy, dx), a gather without atomics. Write (=).
KernelLaunch max_pool2d_forward_launch(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape);
KernelLaunch max_pool2d_backward_launch(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape);

} // namespace vkcnn::ops
