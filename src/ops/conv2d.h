// conv2d: 2-D cross-correlation as torch.nn.Conv2d (NCHW, weight
// (Cout, Cin/groups, kH, kW), stride, asymmetric padding, dilation, groups,
// optional bias), forward and the three gradients (dx, dw, db). Plain
// references (templates, the test oracle), CPU kernels (im2col + sgemm) and
// the launches of shaders/conv2d_*.comp (implicit GEMM: register-blocked, or
// with shared-memory tiles in conv2d_*_tiled.comp).
#pragma once

#include "vkcnn/core/error.h"
#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <array>
#include <cstdint>
#include <span>

namespace vkcnn::ops {

struct Conv2dAttrs {
    uint32_t stride_h = 1, stride_w = 1;
    uint32_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    uint32_t dilation_h = 1, dilation_w = 1;
    uint32_t groups = 1;

    // torch's padding=(ph, pw): the same on both sides.
    Conv2dAttrs& pad(uint32_t ph, uint32_t pw) {
        pad_top = pad_bottom = ph;
        pad_left = pad_right = pw;
        return *this;
    }
    // torch's padding='same': total dilation*(k-1) per axis, the odd one extra
    // on the bottom / right. Set stride and dilation first; as in torch, only
    // stride 1 is allowed (throws vkcnn::Error otherwise).
    Conv2dAttrs& pad_same(uint32_t kh, uint32_t kw) {
        check(stride_h == 1 && stride_w == 1, "conv2d: padding 'same' needs stride 1, not ", stride_h, "x", stride_w);
        check(kh > 0 && kw > 0, "conv2d: padding 'same' for an empty kernel ", kh, "x", kw);
        const uint32_t th = dilation_h * (kh - 1), tw = dilation_w * (kw - 1);
        pad_top = th / 2, pad_bottom = th - th / 2;
        pad_left = tw / 2, pad_right = tw - tw / 2;
        return *this;
    }
};

// Every size of one convolution, checked and derived by conv2d_shape.
struct Conv2dShape {
    uint32_t n = 0, c_in = 0, h = 0, w = 0; // x: (N, Cin, H, W)
    uint32_t c_out = 0, kh = 0, kw = 0;     // weight: (Cout, Cin/groups, kH, kW)
    uint32_t oh = 0, ow = 0;                // y: (N, Cout, OH, OW)
    Conv2dAttrs attrs;
    bool bias = false; // b: (Cout) when true

    uint32_t cin_g() const { return c_in / attrs.groups; }
    uint32_t cout_g() const { return c_out / attrs.groups; }
    size_t x_size() const { return size_t{n} * c_in * h * w; }
    size_t w_size() const { return size_t{c_out} * cin_g() * kh * kw; }
    size_t y_size() const { return size_t{n} * c_out * oh * ow; }
    size_t flops() const { return 2 * y_size() * cin_g() * kh * kw; } // forward multiply-adds x 2
};

// Checks the shapes and attributes (throws vkcnn::Error naming conv2d and the
// shapes) and derives OH = floor((H + pad_top + pad_bottom - dh*(kH-1) - 1) / sh) + 1, same for OW.
// x: (N, Cin, H, W); weight: (Cout, Cin/groups, kH, kW).
Conv2dShape conv2d_shape(std::array<uint32_t, 4> x, std::array<uint32_t, 4> weight, const Conv2dAttrs& attrs,
                         bool bias);

// References: plain loops, the spec. All write (=) their output. b is empty
// when the shape has no bias.
template <typename T>
void conv2d_forward_reference(const Conv2dShape& s,
                              std::span<const T> x,   // (N, Cin, H, W)
                              std::span<const T> w,   // (Cout, Cin/groups, kH, kW)
                              std::span<const T> b,   // (Cout) or empty
                              std::span<T> y);        // (N, Cout, OH, OW)
template <typename T>
void conv2d_backward_data_reference(const Conv2dShape& s,
                                    std::span<const T> w,  // (Cout, Cin/groups, kH, kW)
                                    std::span<const T> dy, // (N, Cout, OH, OW)
                                    std::span<T> dx);      // (N, Cin, H, W)
template <typename T>
void conv2d_backward_weight_reference(const Conv2dShape& s,
                                      std::span<const T> x,  // (N, Cin, H, W)
                                      std::span<const T> dy, // (N, Cout, OH, OW)
                                      std::span<T> dw);      // (Cout, Cin/groups, kH, kW)
template <typename T>
void conv2d_backward_bias_reference(const Conv2dShape& s,
                                    std::span<const T> dy, // (N, Cout, OH, OW)
                                    std::span<T> db);      // (Cout)

// CPU backend kernels: im2col + cpu::sgemm per group (col2im for dx), 1x1
// convolutions without im2col, depthwise ones as direct loops
// (conv2d_depthwise.h). Write (=) their output; the same bits for any
// pool size (threads split outputs, never a sum).
void conv2d_forward_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> x,
                        std::span<const float> w, std::span<const float> b, std::span<float> y);
void conv2d_backward_data_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> w,
                              std::span<const float> dy, std::span<float> dx);
void conv2d_backward_weight_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> x,
                                std::span<const float> dy, std::span<float> dw);
void conv2d_backward_bias_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> dy,
                              std::span<float> db);

// Vulkan launches; all write (=) their output, no atomics, fixed summation order.
// forward: (x, w, y), or (x, w, b, y) when s.bias  [conv2d_forward / conv2d_forward_bias]
// backward_data: (w, dy, dx)                        [conv2d_backward_data]
// backward_weight: (x, dy, dw)                      [conv2d_backward_weight]
// backward_bias: (dy, db)                           [conv2d_backward_bias]
// The GEMM-shaped ones take the device's tiling (tile_m x tile_n outputs per
// workgroup); tuning.shared_memory_tiles picks the shared-memory tiled
// variants (conv2d_forward[_bias]_tiled, conv2d_backward_data_tiled,
// conv2d_backward_weight_tiled: same arguments), else the register-blocked ones.
KernelLaunch conv2d_forward_launch(const Conv2dShape& s, const GemmTuning& tuning);
KernelLaunch conv2d_backward_data_launch(const Conv2dShape& s, const GemmTuning& tuning);
KernelLaunch conv2d_backward_bias_launch(const Conv2dShape& s);

// Backward weight reduces N*OH*OW terms per weight element. A small weight
// alone gives few workgroups (LeNet's first: one), so the reduction is split
// into `split` chunks of rows (image, oh), each chunk's sums a workgroup of
// its own:
//   split == 1: backward_weight (x, dy, dw) writes (=) dw;
//   split > 1:  backward_weight (x, dy, partials) writes (=) partials
//               (split, Cout, Cin/groups, kH, kW), one dw per chunk;
//               backward_weight_sum (partials, dw) writes (=) dw = the
//               chunks' sum in chunk order.   [conv2d_backward_weight_sum]
// Each way is deterministic; they round differently. conv2d_backward_weight_split
// picks the split for a shape (1 when the weight gives enough workgroups);
// any split the launch accepts is valid (trailing chunks may be empty; it
// throws past 65535 / groups chunks or 2^32 - 1 partials).
// conv2d_backward_weight_partials_size: floats of scratch (0 for split 1).
uint32_t conv2d_backward_weight_split(const Conv2dShape& s, const GemmTuning& tuning);
size_t conv2d_backward_weight_partials_size(const Conv2dShape& s, uint32_t split);
KernelLaunch conv2d_backward_weight_launch(const Conv2dShape& s, const GemmTuning& tuning, uint32_t split = 1);
KernelLaunch conv2d_backward_weight_sum_launch(const Conv2dShape& s, uint32_t split);

} // namespace vkcnn::ops
