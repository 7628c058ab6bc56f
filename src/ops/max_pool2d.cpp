// max_pool2d forward and backward: reference, CPU kernel and GPU launches (see max_pool2d.h).
#include "vkcnn/ops/max_pool2d.h"

#include "vkcnn/core/error.h"

#include <cmath>
#include <limits>

namespace vkcnn::ops {

namespace {

Pool2dGeometry geometry_for(const char* op, const MaxPool2dAttrs& a, const std::array<int64_t, 4>& x_shape) {
    return pool2d_geometry(op, x_shape, a.kernel, a.stride, a.padding, a.dilation, a.ceil_mode);
}

void check_size(const char* op, const char* name, size_t got, int64_t want) {
    check(got == static_cast<size_t>(want), op, ": ", name, " has ", got, " elements, expected ", want);
}

// The taps of window (oy, ox) that lie inside the input: rows h0, h0 + dh, ... < h1
// (likewise columns), as PyTorch's CPU kernel walks them.
struct Taps {
    int64_t h0, h1, w0, w1;
};

Taps taps(const Pool2dGeometry& g, int64_t oy, int64_t ox) {
    Taps t;
    t.h0 = oy * g.sh - g.ph;
    t.w0 = ox * g.sw - g.pw;
    t.h1 = std::min<int64_t>(t.h0 + int64_t{g.dh} * (g.kh - 1) + 1, g.h);
    t.w1 = std::min<int64_t>(t.w0 + int64_t{g.dw} * (g.kw - 1) + 1, g.w);
    while (t.h0 < 0) t.h0 += g.dh;
    while (t.w0 < 0) t.w0 += g.dw;
    return t;
}

// Index of a window with no tap inside the input (possible only with dilation,
// e.g. H = 1, kernel 2, padding 1, dilation 2): its output is -inf and depends on
// no input, so backward skips it. PyTorch writes h0 * W + w0 there, an element
// outside the window (or the plane), and its backward adds dy to it.
constexpr int32_t kNoTap = -1;

// First-tap index of a window, or kNoTap.
int64_t first_tap(const Pool2dGeometry& g, const Taps& t) {
    return t.h0 < t.h1 && t.w0 < t.w1 ? t.h0 * g.w + t.w0 : kNoTap;
}

// One plane of the forward pass: `>` keeps the first maximum, and a NaN always
// takes over (so the last NaN's index is kept), exactly as PyTorch's CPU kernel.
template <typename T>
void forward_plane(const Pool2dGeometry& g, const T* x, T* y, int32_t* idx) {
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        for (int64_t ox = 0; ox < g.ow; ++ox) {
            const Taps t = taps(g, oy, ox);
            T best = -std::numeric_limits<T>::infinity();
            int64_t at = first_tap(g, t);
            for (int64_t ih = t.h0; ih < t.h1; ih += g.dh) {
                for (int64_t iw = t.w0; iw < t.w1; iw += g.dw) {
                    const T v = x[ih * g.w + iw];
                    if (v > best || std::isnan(v)) best = v, at = ih * g.w + iw;
                }
            }
            y[oy * g.ow + ox] = best;
            idx[oy * g.ow + ox] = static_cast<int32_t>(at);
        }
    }
}

// A tap after the first, in the reference's rule: `>` keeps the first maximum,
// a NaN always takes over.
inline void take_if_greater(float v, int32_t at_v, float& best, int32_t& at) {
    const bool take = v > best || v != v;
    best = take ? v : best;
    at = take ? at_v : at;
}

// Output columns [lo, hi) of one row of 2x2 windows at stride 2 whose taps
// all lie inside the input. `row` is the windows' top row, at plane index
// `row_index`, the row below is `row + w`; window ox starts at column
// 2 ox - pw. The
// four taps go through registers in the reference's order (row by row, left
// to right). Starting from the first tap is the reference's start from -inf:
// `-inf > -inf` is false, so the first tap's index is kept, and a NaN is taken.
void forward_row_2x2(const float* __restrict row, int64_t w, int64_t row_index, int64_t pw, int64_t lo, int64_t hi,
                     float* __restrict y, int32_t* __restrict idx) {
    const float* __restrict below = row + w;
    for (int64_t ox = lo; ox < hi; ++ox) {
        const int64_t c = 2 * ox - pw;
        const int32_t at0 = static_cast<int32_t>(row_index + c);
        float best = row[c];
        int32_t at = at0;
        take_if_greater(row[c + 1], at0 + 1, best, at);
        take_if_greater(below[c], at0 + static_cast<int32_t>(w), best, at);
        take_if_greater(below[c + 1], at0 + static_cast<int32_t>(w) + 1, best, at);
        y[ox] = best;
        idx[ox] = at;
    }
}

// forward_plane for the CPU kernel: the same visiting order per window, but for
// the columns whose windows lie inside the input the loops run taps outside and
// output columns inside, a branch-free select the compiler can vectorise.
void forward_plane_fast(const Pool2dGeometry& g, const float* x, float* y, int32_t* idx) {
    // 2x2 windows at stride 2 (LeNet's pools, the usual case) have a row loop of their own.
    const bool pairs = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.dh == 1 && g.dw == 1;
    const int64_t span_w = int64_t{g.dw} * (g.kw - 1);
    // Interior columns: ox * sw - pw >= 0 and ox * sw - pw + span_w < w.
    const int64_t lo = std::min<int64_t>((g.pw + g.sw - 1) / g.sw, g.ow);
    const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(g.ow, g.w - 1 - span_w + g.pw >= 0
                                                                        ? (g.w - 1 - span_w + g.pw) / g.sw + 1
                                                                        : 0));
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        float* __restrict yr = y + oy * g.ow;
        int32_t* __restrict ir = idx + oy * g.ow;
        for (int64_t ox = 0; ox < g.ow; ++ox) {
            if (ox >= lo && ox < hi) continue;
            const Taps t = taps(g, oy, ox);
            float best = -std::numeric_limits<float>::infinity();
            int64_t at = first_tap(g, t);
            for (int64_t ih = t.h0; ih < t.h1; ih += g.dh)
                for (int64_t iw = t.w0; iw < t.w1; iw += g.dw) {
                    const float v = x[ih * g.w + iw];
                    if (v > best || std::isnan(v)) best = v, at = ih * g.w + iw;
                }
            yr[ox] = best;
            ir[ox] = static_cast<int32_t>(at);
        }
        if (lo >= hi) continue;
        const Taps t = taps(g, oy, lo);
        if (pairs && t.h0 == oy * 2 - g.ph && t.h0 + 1 < t.h1) { // both rows of the window inside
            forward_row_2x2(x + t.h0 * g.w, g.w, t.h0 * g.w, g.pw, lo, hi, yr, ir);
            continue;
        }
        const bool no_rows = t.h0 >= t.h1; // interior columns always have taps
        for (int64_t ox = lo; ox < hi; ++ox) {
            yr[ox] = -std::numeric_limits<float>::infinity();
            ir[ox] = no_rows ? kNoTap : static_cast<int32_t>(t.h0 * g.w + ox * g.sw - g.pw);
        }
        for (int64_t ih = t.h0; ih < t.h1; ih += g.dh) {
            for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t off = ih * g.w - g.pw + kx * g.dw;
                const float* __restrict xr = x + off;
                for (int64_t ox = lo; ox < hi; ++ox) {
                    const float v = xr[ox * g.sw];
                    const bool take = v > yr[ox] || v != v;
                    yr[ox] = take ? v : yr[ox];
                    ir[ox] = take ? static_cast<int32_t>(off + ox * g.sw) : ir[ox];
                }
            }
        }
    }
}

// One plane of the backward pass: dx = 0, then dy scattered in output order
// (windows without taps skipped). The order fixes the rounding of sums, and the
// GPU gather adds in the same order.
template <typename T>
void backward_plane(const Pool2dGeometry& g, const int32_t* idx, const T* dy, T* dx) {
    const int64_t hw = g.h * g.w;
    std::fill(dx, dx + hw, T(0));
    for (int64_t o = 0; o < g.oh * g.ow; ++o) {
        if (idx[o] == kNoTap) continue;
        check(idx[o] >= 0 && idx[o] < hw, "max_pool2d_backward: index ", idx[o], " at output ", o,
              " is outside the input plane of ", hw, " elements");
        dx[idx[o]] += dy[o];
    }
}

// Per-plane work across the pool: planes are independent, so any partition gives the same bits.
template <typename Body>
void for_each_plane(cpu::ThreadPool& pool, const Pool2dGeometry& g, const Body& body) {
    const auto run = [&](size_t begin, size_t end) {
        for (size_t p = begin; p < end; ++p) body(static_cast<int64_t>(p));
    };
    if (g.in_elements() + g.out_elements() < (int64_t{1} << 15)) run(0, static_cast<size_t>(g.planes()));
    else pool.parallel_for(static_cast<size_t>(g.planes()), run);
}

} // namespace

Pool2dGeometry max_pool2d_geometry(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape) {
    return geometry_for("max_pool2d", attrs, x_shape);
}

std::array<int64_t, 4> max_pool2d_output_shape(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape) {
    return max_pool2d_geometry(attrs, x_shape).out_shape();
}

template <typename T>
void max_pool2d_forward_reference(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                  std::span<const T> x, std::span<T> y, std::span<int32_t> indices) {
    const char* op = "max_pool2d_forward";
    const Pool2dGeometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "x", x.size(), g.in_elements());
    check_size(op, "y", y.size(), g.out_elements());
    check_size(op, "indices", indices.size(), g.out_elements());
    const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
    for (int64_t p = 0; p < g.planes(); ++p)
        forward_plane(g, x.data() + p * in_plane, y.data() + p * out_plane, indices.data() + p * out_plane);
}

template <typename T>
void max_pool2d_backward_reference(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                   std::span<const int32_t> indices, std::span<const T> dy, std::span<T> dx) {
    const char* op = "max_pool2d_backward";
    const Pool2dGeometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "indices", indices.size(), g.out_elements());
    check_size(op, "dy", dy.size(), g.out_elements());
    check_size(op, "dx", dx.size(), g.in_elements());
    const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
    for (int64_t p = 0; p < g.planes(); ++p)
        backward_plane(g, indices.data() + p * out_plane, dy.data() + p * out_plane, dx.data() + p * in_plane);
}

template void max_pool2d_forward_reference<float>(const MaxPool2dAttrs&, const std::array<int64_t, 4>&,
                                                  std::span<const float>, std::span<float>, std::span<int32_t>);
template void max_pool2d_forward_reference<double>(const MaxPool2dAttrs&, const std::array<int64_t, 4>&,
                                                   std::span<const double>, std::span<double>, std::span<int32_t>);
template void max_pool2d_backward_reference<float>(const MaxPool2dAttrs&, const std::array<int64_t, 4>&,
                                                   std::span<const int32_t>, std::span<const float>, std::span<float>);
template void max_pool2d_backward_reference<double>(const MaxPool2dAttrs&, const std::array<int64_t, 4>&,
                                                    std::span<const int32_t>, std::span<const double>,
                                                    std::span<double>);

void max_pool2d_forward_cpu(cpu::ThreadPool& pool, const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                            std::span<const float> x, std::span<float> y, std::span<int32_t> indices) {
    const char* op = "max_pool2d_forward";
    const Pool2dGeometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "x", x.size(), g.in_elements());
    check_size(op, "y", y.size(), g.out_elements());
    check_size(op, "indices", indices.size(), g.out_elements());
    const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
    for_each_plane(pool, g, [&](int64_t p) {
        forward_plane_fast(g, x.data() + p * in_plane, y.data() + p * out_plane, indices.data() + p * out_plane);
    });
}

void max_pool2d_backward_cpu(cpu::ThreadPool& pool, const MaxPool2dAttrs& attrs,
                             const std::array<int64_t, 4>& x_shape, std::span<const int32_t> indices,
                             std::span<const float> dy, std::span<float> dx) {
    const char* op = "max_pool2d_backward";
    const Pool2dGeometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "indices", indices.size(), g.out_elements());
    check_size(op, "dy", dy.size(), g.out_elements());
    check_size(op, "dx", dx.size(), g.in_elements());
    const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
    for_each_plane(pool, g, [&](int64_t p) {
        backward_plane(g, indices.data() + p * out_plane, dy.data() + p * out_plane, dx.data() + p * in_plane);
    });
}

KernelLaunch max_pool2d_forward_launch(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape) {
    const Pool2dGeometry g = geometry_for("max_pool2d_forward", attrs, x_shape);
    KernelLaunch l = pool2d_elementwise_launch("max_pool2d_forward", g.out_elements(),
                                               {Access::Read, Access::Write, Access::Write});
    l.set_push(pool2d_push(g));
    return l;
}

KernelLaunch max_pool2d_backward_launch(const MaxPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape) {
    const Pool2dGeometry g = geometry_for("max_pool2d_backward", attrs, x_shape);
    // One invocation per input element, gathering from the windows that can hold it.
    KernelLaunch l = pool2d_elementwise_launch("max_pool2d_backward", g.in_elements(),
                                               {Access::Read, Access::Read, Access::Write});
    l.set_push(pool2d_push(g));
    return l;
}

} // namespace vkcnn::ops
