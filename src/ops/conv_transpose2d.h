// conv_transpose2d: 2-D transposed convolution as torch.nn.ConvTranspose2d
// (NCHW, weight (Cin, Cout/groups, kH, kW), stride, padding, output_padding,
// dilation, groups, optional bias), forward and the three gradients. Plain
// references (the test oracle, written from the definition) and CPU kernels
// and launches that run conv2d's: a transposed convolution is the data
// gradient of the convolution whose input is its output.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/ops/conv2d.h"

#include <array>
#include <cstdint>
#include <span>

namespace vkcnn::ops {

// Definition (g = ci / (Cin/groups), co' = g * Cout/groups + co):
//   y[n, co', ih*sh - pad_top + r*dh, iw*sw - pad_left + t*dw] += x[n, ci, ih, iw] * w[ci, co, r, t]
// summed over every (ci, ih, iw, co, r, t) whose target lies inside y, plus b[co'].
// torch's padding=(ph, pw) is pad(ph, pw); the bottom / right padding only
// shrinks the output, like output_padding grows it (on the bottom / right).
struct ConvTranspose2dAttrs {
    uint32_t stride_h = 1, stride_w = 1;
    uint32_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    uint32_t output_padding_h = 0, output_padding_w = 0; // < stride or < dilation, per axis (as torch)
    uint32_t dilation_h = 1, dilation_w = 1;
    uint32_t groups = 1;

    ConvTranspose2dAttrs& pad(uint32_t ph, uint32_t pw) {
        pad_top = pad_bottom = ph;
        pad_left = pad_right = pw;
        return *this;
    }
};

// Every size of one transposed convolution, checked and derived by conv_transpose2d_shape.
struct ConvTranspose2dShape {
    uint32_t n = 0, c_in = 0, h = 0, w = 0; // x: (N, Cin, H, W)
    uint32_t c_out = 0, kh = 0, kw = 0;     // weight: (Cin, Cout/groups, kH, kW)
    uint32_t oh = 0, ow = 0;                // y: (N, Cout, OH, OW)
    ConvTranspose2dAttrs attrs;
    bool bias = false; // b: (Cout) when true
    // The conv2d this op runs on: input (N, Cout, OH, OW) (= y), weight
    // (Cin, Cout/groups, kH, kW) (the same tensor), output (N, Cin, H, W)
    // (= x), same stride, dilation, groups, top / left padding; no bias.
    // When output_padding >= stride (torch allows it below the dilation) that
    // convolution's own output would be taller / wider than x: `conv` is then
    // cropped to (H, W), which conv2d's kernels honour (they visit outputs
    // below conv.oh, conv.ow only).
    Conv2dShape conv;

    uint32_t cin_g() const { return c_in / attrs.groups; }
    uint32_t cout_g() const { return c_out / attrs.groups; }
    size_t x_size() const { return size_t{n} * c_in * h * w; }
    size_t w_size() const { return size_t{c_in} * cout_g() * kh * kw; }
    size_t y_size() const { return size_t{n} * c_out * oh * ow; }
    size_t flops() const { return 2 * x_size() * cout_g() * kh * kw; } // forward multiply-adds x 2
};

// Checks the shapes and attributes (throws vkcnn::Error naming
// conv_transpose2d and the shapes) and derives
//   OH = (H - 1) * sh - pad_top - pad_bottom + dh * (kH - 1) + output_padding_h + 1, same for OW.
// x: (N, Cin, H, W); weight: (Cin, Cout/groups, kH, kW).
ConvTranspose2dShape conv_transpose2d_shape(std::array<uint32_t, 4> x, std::array<uint32_t, 4> weight,
                                            const ConvTranspose2dAttrs& attrs, bool bias);

// References: plain loops from the definition, the spec. All write (=) their
// output. b is empty when the shape has no bias.
template <typename T>
void conv_transpose2d_forward_reference(const ConvTranspose2dShape& s,
                                        std::span<const T> x, // (N, Cin, H, W)
                                        std::span<const T> w, // (Cin, Cout/groups, kH, kW)
                                        std::span<const T> b, // (Cout) or empty
                                        std::span<T> y);      // (N, Cout, OH, OW)
template <typename T>
void conv_transpose2d_backward_data_reference(const ConvTranspose2dShape& s,
                                              std::span<const T> w,  // (Cin, Cout/groups, kH, kW)
                                              std::span<const T> dy, // (N, Cout, OH, OW)
                                              std::span<T> dx);      // (N, Cin, H, W)
template <typename T>
void conv_transpose2d_backward_weight_reference(const ConvTranspose2dShape& s,
                                                std::span<const T> x,  // (N, Cin, H, W)
                                                std::span<const T> dy, // (N, Cout, OH, OW)
                                                std::span<T> dw);      // (Cin, Cout/groups, kH, kW)
template <typename T>
void conv_transpose2d_backward_bias_reference(const ConvTranspose2dShape& s,
                                              std::span<const T> dy, // (N, Cout, OH, OW)
                                              std::span<T> db);      // (Cout)

// CPU backend kernels, on conv2d's (forward = conv2d_backward_data_cpu, then
// the bias; backward_data = conv2d_forward_cpu; backward_weight =
// conv2d_backward_weight_cpu with dy as the input and x as the gradient).
// Write (=) their output; deterministic for a given pool size.
void conv_transpose2d_forward_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s, std::span<const float> x,
                                  std::span<const float> w, std::span<const float> b, std::span<float> y);
void conv_transpose2d_backward_data_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s,
                                        std::span<const float> w, std::span<const float> dy, std::span<float> dx);
void conv_transpose2d_backward_weight_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s,
                                          std::span<const float> x, std::span<const float> dy, std::span<float> dw);
void conv_transpose2d_backward_bias_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s,
                                        std::span<const float> dy, std::span<float> db);

// Vulkan launches, no atomics, fixed summation order. Note the argument
// orders: they are the bindings of the conv2d shaders underneath.
// forward: (w, x, y), writes (=) y             [conv2d_backward_data]
//   then, when s.bias, add_bias: (b, y), y += b over N, OH, OW  [conv_transpose2d_add_bias]
// backward_data: (dy, w, dx), writes (=) dx     [conv2d_forward]
// backward_weight: (dy, x, dw), writes (=) dw   [conv2d_backward_weight]
//   split in chunks as conv2d's (conv2d.h): (dy, x, partials), then
//   weight_sum (partials, dw)                   [conv2d_backward_weight_sum]
// backward_bias: (dy, db), writes (=) db        [conv2d_backward_bias]
KernelLaunch conv_transpose2d_forward_launch(const ConvTranspose2dShape& s, const GemmTuning& tuning);
KernelLaunch conv_transpose2d_add_bias_launch(const ConvTranspose2dShape& s);
KernelLaunch conv_transpose2d_backward_data_launch(const ConvTranspose2dShape& s, const GemmTuning& tuning);
uint32_t conv_transpose2d_backward_weight_split(const ConvTranspose2dShape& s, const GemmTuning& tuning);
size_t conv_transpose2d_backward_weight_partials_size(const ConvTranspose2dShape& s, uint32_t split); // floats
KernelLaunch conv_transpose2d_backward_weight_launch(const ConvTranspose2dShape& s, const GemmTuning& tuning,
                                                     uint32_t split = 1);
KernelLaunch conv_transpose2d_backward_weight_sum_launch(const ConvTranspose2dShape& s, uint32_t split);
KernelLaunch conv_transpose2d_backward_bias_launch(const ConvTranspose2dShape& s);

} // namespace vkcnn::ops
