// avg_pool2d forward and backward: reference, CPU kernel and GPU launches (see avg_pool2d.h).
#include "vkcnn/ops/avg_pool2d.h"

#include "vkcnn/core/error.h"

#include <algorithm>

namespace vkcnn::ops {

namespace {

Pool2dGeometry geometry_for(const char* op, const AvgPool2dAttrs& a, const std::array<int64_t, 4>& x_shape) {
    return pool2d_geometry(op, x_shape, a.kernel, a.stride, a.padding, {1, 1}, a.ceil_mode);
}

void check_size(const char* op, const char* name, size_t got, int64_t want) {
    check(got == static_cast<size_t>(want), op, ": ", name, " has ", got, " elements, expected ", want);
}

// Window (oy, ox) clipped to the input, [h0, h1) x [w0, w1), and its divisor,
// as PyTorch's cpu_avg_pool: the padded size counts the window clipped to the
// padded input (ceil_mode windows can hang past it).
struct Window {
    int64_t h0, h1, w0, w1, divisor;
};

Window window(const Pool2dGeometry& g, const AvgPool2dAttrs& a, int64_t oy, int64_t ox) {
    Window win;
    win.h0 = oy * g.sh - g.ph;
    win.w0 = ox * g.sw - g.pw;
    win.h1 = std::min<int64_t>(win.h0 + g.kh, g.h + g.ph);
    win.w1 = std::min<int64_t>(win.w0 + g.kw, g.w + g.pw);
    const int64_t padded = (win.h1 - win.h0) * (win.w1 - win.w0);
    win.h0 = std::max<int64_t>(win.h0, 0);
    win.w0 = std::max<int64_t>(win.w0, 0);
    win.h1 = std::min<int64_t>(win.h1, g.h);
    win.w1 = std::min<int64_t>(win.w1, g.w);
    win.divisor = a.divisor_override != 0 ? a.divisor_override
                  : a.count_include_pad   ? padded
                                          : (win.h1 - win.h0) * (win.w1 - win.w0);
    return win;
}

template <typename T>
void forward_plane(const Pool2dGeometry& g, const AvgPool2dAttrs& a, const T* x, T* y) {
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        for (int64_t ox = 0; ox < g.ow; ++ox) {
            const Window win = window(g, a, oy, ox);
            if (win.h0 >= win.h1 || win.w0 >= win.w1) {
                y[oy * g.ow + ox] = T(0); // a window entirely in the padding
                continue;
            }
            T sum = 0;
            for (int64_t ih = win.h0; ih < win.h1; ++ih)
                for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += x[ih * g.w + iw];
            y[oy * g.ow + ox] = sum / static_cast<T>(win.divisor);
        }
    }
}

// dx = 0, then dy / divisor scattered over each window in output order; the
// GPU gather adds in the same order.
template <typename T>
void backward_plane(const Pool2dGeometry& g, const AvgPool2dAttrs& a, const T* dy, T* dx) {
    std::fill(dx, dx + g.h * g.w, T(0));
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        for (int64_t ox = 0; ox < g.ow; ++ox) {
            const Window win = window(g, a, oy, ox);
            const T delta = dy[oy * g.ow + ox] / static_cast<T>(win.divisor);
            for (int64_t ih = win.h0; ih < win.h1; ++ih)
                for (int64_t iw = win.w0; iw < win.w1; ++iw) dx[ih * g.w + iw] += delta;
        }
    }
}

template <typename Body>
void for_each_plane(cpu::ThreadPool& pool, const Pool2dGeometry& g, const Body& body) {
    const auto run = [&](size_t begin, size_t end) {
        for (size_t p = begin; p < end; ++p) body(static_cast<int64_t>(p));
    };
    if (g.in_elements() + g.out_elements() < (int64_t{1} << 15)) run(0, static_cast<size_t>(g.planes()));
    else pool.parallel_for(static_cast<size_t>(g.planes()), run);
}

KernelLaunch launch(const char* shader, const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                    bool per_input) {
    const Pool2dGeometry g = geometry_for(shader, attrs, x_shape);
    KernelLaunch l = pool2d_elementwise_launch(shader, per_input ? g.in_elements() : g.out_elements(),
                                               {Access::Read, Access::Write});
    Pool2dPush push = pool2d_push(g);
    push.count_include_pad = attrs.count_include_pad ? 1 : 0;
    push.divisor = attrs.divisor_override;
    l.set_push(push);
    return l;
}

} // namespace

Pool2dGeometry avg_pool2d_geometry(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape) {
    return geometry_for("avg_pool2d", attrs, x_shape);
}

std::array<int64_t, 4> avg_pool2d_output_shape(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape) {
    return avg_pool2d_geometry(attrs, x_shape).out_shape();
}

template <typename T>
void avg_pool2d_forward_reference(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                  std::span<const T> x, std::span<T> y) {
    const char* op = "avg_pool2d_forward";
    const Pool2dGeometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "x", x.size(), g.in_elements());
    check_size(op, "y", y.size(), g.out_elements());
    for (int64_t p = 0; p < g.planes(); ++p)
        forward_plane(g, attrs, x.data() + p * g.h * g.w, y.data() + p * g.oh * g.ow);
}

template <typename T>
void avg_pool2d_backward_reference(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                   std::span<const T> dy, std::span<T> dx) {
    const char* op = "avg_pool2d_backward";
    const Pool2dGeometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "dy", dy.size(), g.out_elements());
    check_size(op, "dx", dx.size(), g.in_elements());
    for (int64_t p = 0; p < g.planes(); ++p)
        backward_plane(g, attrs, dy.data() + p * g.oh * g.ow, dx.data() + p * g.h * g.w);
}

template void avg_pool2d_forward_reference<float>(const AvgPool2dAttrs&, const std::array<int64_t, 4>&,
                                                  std::span<const float>, std::span<float>);
template void avg_pool2d_forward_reference<double>(const AvgPool2dAttrs&, const std::array<int64_t, 4>&,
                                                   std::span<const double>, std::span<double>);
template void avg_pool2d_backward_reference<float>(const AvgPool2dAttrs&, const std::array<int64_t, 4>&,
                                                   std::span<const float>, std::span<float>);
template void avg_pool2d_backward_reference<double>(const AvgPool2dAttrs&, const std::array<int64_t, 4>&,
                                                    std::span<const double>, std::span<double>);

void avg_pool2d_forward_cpu(cpu::ThreadPool& pool, const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                            std::span<const float> x, std::span<float> y) {
    const char* op = "avg_pool2d_forward";
    const Pool2dGeometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "x", x.size(), g.in_elements());
    check_size(op, "y", y.size(), g.out_elements());
    for_each_plane(pool, g, [&](int64_t p) {
        forward_plane(g, attrs, x.data() + p * g.h * g.w, y.data() + p * g.oh * g.ow);
    });
}

void avg_pool2d_backward_cpu(cpu::ThreadPool& pool, const AvgPool2dAttrs& attrs,
                             const std::array<int64_t, 4>& x_shape, std::span<const float> dy, std::span<float> dx) {
    const char* op = "avg_pool2d_backward";
    const Pool2dGeometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "dy", dy.size(), g.out_elements());
    check_size(op, "dx", dx.size(), g.in_elements());
    for_each_plane(pool, g, [&](int64_t p) {
        backward_plane(g, attrs, dy.data() + p * g.oh * g.ow, dx.data() + p * g.h * g.w);
    });
}

KernelLaunch avg_pool2d_forward_launch(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape) {
    return launch("avg_pool2d_forward", attrs, x_shape, false);
}

KernelLaunch avg_pool2d_backward_launch(const AvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape) {
    // One invocation per input element, gathering from the windows that cover it.
    return launch("avg_pool2d_backward", attrs, x_shape, true);
}

} // namespace vkcnn::ops
