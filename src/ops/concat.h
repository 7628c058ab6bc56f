// concat: torch.cat(xs, dim=1) for NCHW tensors, any number (>= 1) of inputs
// with equal N, H, W, and its backward (dy split back into one gradient per
// input). References, CPU kernels and the launches of shaders/concat_*.comp:
// one copy kernel per input, each moving its block of channels.
#pragma once

#include "vkcnn/core/kernel_launch.h"
#include "vkcnn/cpu/thread_pool.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vkcnn::ops {

// y[n, offsets[i] + c, h, w] = xs[i][n, c, h, w]; dxs[i][n, c, h, w] = dy[n, offsets[i] + c, h, w].
struct ConcatShape {
    uint32_t n = 0, h = 0, w = 0;    // shared by every input and the output
    std::vector<uint32_t> channels;  // C_i: input i is (N, C_i, H, W)
    std::vector<uint32_t> offsets;   // first output channel of input i: C_0 + ... + C_{i-1}
    uint32_t c_out = 0;              // y: (N, C_0 + ... + C_{k-1}, H, W)

    size_t inputs() const { return channels.size(); }
    size_t hw() const { return size_t{h} * w; }
    size_t x_size(size_t i) const { return size_t{n} * channels[i] * h * w; }
    size_t y_size() const { return size_t{n} * c_out * h * w; }
};

// Checks the shapes (throws vkcnn::Error naming concat and the shapes: no
// inputs, an empty dimension, N, H or W that differ, more than 2^31 - 1
// elements) and derives the channel offsets. inputs[i]: (N, C_i, H, W).
ConcatShape concat_shape(std::span<const std::array<uint32_t, 4>> inputs);

// References: plain loops, the spec. Write (=) their outputs.
template <typename T>
void concat_forward_reference(const ConcatShape& s,
                              std::span<const std::span<const T>> xs, // xs[i]: (N, C_i, H, W)
                              std::span<T> y);                        // (N, sum C_i, H, W)
template <typename T>
void concat_backward_reference(const ConcatShape& s,
                               std::span<const T> dy,             // (N, sum C_i, H, W)
                               std::span<const std::span<T>> dxs); // dxs[i]: (N, C_i, H, W)

// CPU backend kernels: block copies, one per (image, input). Write (=) their
// outputs; backward skips an empty dxs[i] (a gradient nobody wants).
void concat_forward_cpu(cpu::ThreadPool& pool, const ConcatShape& s, std::span<const std::span<const float>> xs,
                        std::span<float> y);
void concat_backward_cpu(cpu::ThreadPool& pool, const ConcatShape& s, std::span<const float> dy,
                         std::span<const std::span<float>> dxs);

// Vulkan launches, one per input i (0 <= i < s.inputs()):
// forward: (x_i, y), writes (=) y's channels [offsets[i], offsets[i] + C_i)
//   and nothing else; the launches of all inputs together write all of y. y
//   is declared Write, so launches into one y are ordered (write after write)
//   by the hazard tracking.                                    [concat_forward]
// backward: (dy, dx_i), writes (=) dx_i.                        [concat_backward]
KernelLaunch concat_forward_launch(const ConcatShape& s, size_t input);
KernelLaunch concat_backward_launch(const ConcatShape& s, size_t input);

} // namespace vkcnn::ops
