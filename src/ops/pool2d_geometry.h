// Pooling window arithmetic shared by max_pool2d and avg_pool2d: PyTorch's
// output-size rule (pooling_output_shape, incl. the ceil_mode "last window must
// start inside the padded input" rule) and its checks (pool2d_shape_check).
#pragma once

#include "vkcnn/core/error.h"
#include "vkcnn/core/kernel_launch.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

namespace vkcnn::ops {

// A checked pooling problem: input (N, C, H, W), output (N, C, OH, OW), window
// kernel k, stride s, padding p, dilation d per axis.
struct Pool2dGeometry {
    int64_t n = 0, c = 0, h = 0, w = 0, oh = 0, ow = 0;
    int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;

    int64_t planes() const { return n * c; }
    int64_t in_elements() const { return n * c * h * w; }
    int64_t out_elements() const { return n * c * oh * ow; }
    std::array<int64_t, 4> out_shape() const { return {n, c, oh, ow}; }
};

namespace pool2d_detail {

// floor((in + 2p - d(k-1) - 1 [+ s-1 if ceil]) / s) + 1, then in ceil mode drop
// a last window that would start in the right padding (PyTorch's rule).
inline int64_t output_size(int64_t in, int k, int s, int p, int d, bool ceil_mode) {
    const int64_t num = in + 2 * p - int64_t{d} * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    // Floor division rounding towards -inf, as PyTorch's div_rtn.
    int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
    if (ceil_mode && (out - 1) * s >= in + p) --out;
    return out;
}

inline std::string pair(int a, int b) { return cat("(", a, ", ", b, ")"); }

} // namespace pool2d_detail

// The geometry of a pooling op named `op` on x (N, C, H, W); throws vkcnn::Error
// with the op and the offending values where PyTorch would refuse.
inline Pool2dGeometry pool2d_geometry(const char* op, const std::array<int64_t, 4>& x_shape, std::array<int, 2> kernel,
                                      std::array<int, 2> stride, std::array<int, 2> padding,
                                      std::array<int, 2> dilation, bool ceil_mode) {
    using pool2d_detail::pair;
    if (stride[0] == 0 && stride[1] == 0) stride = kernel; // PyTorch's stride=None
    const auto [n, c, h, w] = x_shape;
    check(n >= 1 && c >= 1 && h >= 1 && w >= 1, op, ": input shape (", n, ", ", c, ", ", h, ", ", w,
          ") has an empty dimension");
    check(kernel[0] > 0 && kernel[1] > 0, op, ": kernel size should be greater than zero, got ",
          pair(kernel[0], kernel[1]));
    check(stride[0] > 0 && stride[1] > 0, op, ": stride should be greater than zero, got ", pair(stride[0], stride[1]));
    check(dilation[0] > 0 && dilation[1] > 0, op, ": dilation should be greater than zero, got ",
          pair(dilation[0], dilation[1]));
    check(padding[0] >= 0 && padding[1] >= 0 && padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op,
          ": pad should be at most half of kernel size, got padding ", pair(padding[0], padding[1]), " for kernel ",
          pair(kernel[0], kernel[1]));
    // Shaders index with 32-bit unsigned integers and compute windows in int.
    check(n * c * h * w <= std::numeric_limits<int32_t>::max(), op, ": input shape (", n, ", ", c, ", ", h, ", ", w,
          ") has more than 2^31 - 1 elements");
    Pool2dGeometry g;
    g.n = n, g.c = c, g.h = h, g.w = w;
    g.kh = kernel[0], g.kw = kernel[1], g.sh = stride[0], g.sw = stride[1];
    g.ph = padding[0], g.pw = padding[1], g.dh = dilation[0], g.dw = dilation[1];
    g.oh = pool2d_detail::output_size(h, g.kh, g.sh, g.ph, g.dh, ceil_mode);
    g.ow = pool2d_detail::output_size(w, g.kw, g.sw, g.pw, g.dw, ceil_mode);
    check(g.oh >= 1 && g.ow >= 1, op, ": input (", n, ", ", c, ", ", h, ", ", w, ") with kernel ",
          pair(g.kh, g.kw), ", stride ", pair(g.sh, g.sw), ", padding ", pair(g.ph, g.pw), ", dilation ",
          pair(g.dh, g.dw), " gives output size (", g.oh, ", ", g.ow, "): output size is too small");
    // With padding and stride 1 the output can be larger than the input.
    check(g.out_elements() <= std::numeric_limits<int32_t>::max(), op, ": output (", n, ", ", c, ", ", g.oh, ", ",
          g.ow, ") has more than 2^31 - 1 elements");
    return g;
}

// 1-D launch over `n` items with a grid-stride loop in the shader (FOR_EACH_ELEMENT).
inline KernelLaunch pool2d_elementwise_launch(std::string_view shader, int64_t n, std::vector<Access> args) {
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = {256, 1, 1};
    l.args = std::move(args);
    l.groups = {std::min<uint32_t>(groups_for(static_cast<uint64_t>(n), 256), 4096), 1, 1};
    return l;
}

// Push constants of the pooling shaders; matches `Push` in shaders/*pool2d_*.comp.
// adaptive_avg_pool2d runs on the avg_pool2d shaders with `adaptive` = 1: its
// windows come from (H, W) and (OH, OW) alone, and the window fields are unused.
struct Pool2dPush {
    uint32_t planes, h, w, oh, ow; // N*C, input and output plane sizes
    int32_t kh, kw, sh, sw, ph, pw, dh, dw;
    int32_t count_include_pad; // avg_pool2d only
    int32_t divisor;           // avg_pool2d: divisor_override, 0 = none
    int32_t adaptive;          // avg_pool2d shaders: 1 = adaptive_avg_pool2d windows
};

inline Pool2dPush pool2d_push(const Pool2dGeometry& g) {
    return {static_cast<uint32_t>(g.planes()), static_cast<uint32_t>(g.h), static_cast<uint32_t>(g.w),
            static_cast<uint32_t>(g.oh), static_cast<uint32_t>(g.ow), g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw,
            1, 0, 0};
}

} // namespace vkcnn::ops
