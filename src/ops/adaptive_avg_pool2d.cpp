// adaptive_avg_pool2d forward and backward: reference, CPU kernel and GPU
// launches (see adaptive_avg_pool2d.h).
#include "vkcnn/ops/adaptive_avg_pool2d.h"

#include "vkcnn/core/error.h"
#include "vkcnn/ops/pool2d_geometry.h"

#include <algorithm>
#include <limits>

namespace vkcnn::ops {

namespace {

struct Geometry {
    int64_t planes, h, w, oh, ow;
};

Geometry geometry_for(const char* op, const AdaptiveAvgPool2dAttrs& a, const std::array<int64_t, 4>& x_shape) {
    const auto [n, c, h, w] = x_shape;
    check(n >= 1 && c >= 1 && h >= 1 && w >= 1, op, ": input shape (", n, ", ", c, ", ", h, ", ", w,
          ") has an empty dimension");
    check(a.output_size[0] >= 1 && a.output_size[1] >= 1, op, ": output size (", a.output_size[0], ", ",
          a.output_size[1], ") must be at least 1");
    const int64_t in = n * c * h * w, out = n * c * a.output_size[0] * a.output_size[1];
    check(in <= std::numeric_limits<int32_t>::max() && out <= std::numeric_limits<int32_t>::max(), op,
          ": input (", n, ", ", c, ", ", h, ", ", w, ") or output size (", a.output_size[0], ", ", a.output_size[1],
          ") has more than 2^31 - 1 elements");
    return {n * c, h, w, a.output_size[0], a.output_size[1]};
}

void check_size(const char* op, const char* name, size_t got, int64_t want) {
    check(got == static_cast<size_t>(want), op, ": ", name, " has ", got, " elements, expected ", want);
}

// PyTorch's start_index / end_index: floor(o * in / out), ceil((o + 1) * in / out).
int64_t start_index(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
int64_t end_index(int64_t o, int64_t out, int64_t in) { return ((o + 1) * in + out - 1) / out; }

template <typename T>
void forward_plane(const Geometry& g, const T* x, T* y) {
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t h0 = start_index(oy, g.oh, g.h), h1 = end_index(oy, g.oh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t w0 = start_index(ox, g.ow, g.w), w1 = end_index(ox, g.ow, g.w);
            T sum = 0;
            for (int64_t ih = h0; ih < h1; ++ih)
                for (int64_t iw = w0; iw < w1; ++iw) sum += x[ih * g.w + iw];
            y[oy * g.ow + ox] = sum / static_cast<T>(h1 - h0) / static_cast<T>(w1 - w0);
        }
    }
}

template <typename T>
void backward_plane(const Geometry& g, const T* dy, T* dx) {
    std::fill(dx, dx + g.h * g.w, T(0));
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t h0 = start_index(oy, g.oh, g.h), h1 = end_index(oy, g.oh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t w0 = start_index(ox, g.ow, g.w), w1 = end_index(ox, g.ow, g.w);
            const T delta = dy[oy * g.ow + ox] / static_cast<T>(h1 - h0) / static_cast<T>(w1 - w0);
            for (int64_t ih = h0; ih < h1; ++ih)
                for (int64_t iw = w0; iw < w1; ++iw) dx[ih * g.w + iw] += delta;
        }
    }
}

template <typename Body>
void for_each_plane(cpu::ThreadPool& pool, const Geometry& g, const Body& body) {
    const auto run = [&](size_t begin, size_t end) {
        for (size_t p = begin; p < end; ++p) body(static_cast<int64_t>(p));
    };
    if (g.planes * (g.h * g.w + g.oh * g.ow) < (int64_t{1} << 15)) run(0, static_cast<size_t>(g.planes));
    else pool.parallel_for(static_cast<size_t>(g.planes), run);
}

// adaptive_avg_pool2d has no shader of its own: it runs on the avg_pool2d
// shaders with Pool2dPush::adaptive = 1, where the windows come from
// start_index / end_index above, computed in 32-bit int, and the sum is divided
// by the height and then the width, as forward_plane.
KernelLaunch launch(const char* op, const char* shader, const AdaptiveAvgPool2dAttrs& attrs,
                    const std::array<int64_t, 4>& x_shape, bool per_input) {
    const Geometry g = geometry_for(op, attrs, x_shape);
    // The shaders' products (o + 1) * in + out and (i + 1) * out + in must fit in int.
    check((g.h + 1) * (g.oh + 1) <= std::numeric_limits<int32_t>::max() &&
              (g.w + 1) * (g.ow + 1) <= std::numeric_limits<int32_t>::max(),
          op, ": input plane (", g.h, ", ", g.w, ") and output size (", g.oh, ", ", g.ow,
          ") are too large for the GPU kernel's 32-bit window arithmetic");
    const int64_t n = g.planes * (per_input ? g.h * g.w : g.oh * g.ow);
    KernelLaunch l = pool2d_elementwise_launch(shader, n, {Access::Read, Access::Write});
    Pool2dPush push{};
    push.planes = static_cast<uint32_t>(g.planes);
    push.h = static_cast<uint32_t>(g.h), push.w = static_cast<uint32_t>(g.w);
    push.oh = static_cast<uint32_t>(g.oh), push.ow = static_cast<uint32_t>(g.ow);
    push.kh = push.kw = push.sh = push.sw = push.dh = push.dw = 1;
    push.adaptive = 1;
    l.set_push(push);
    return l;
}

} // namespace

std::array<int64_t, 4> adaptive_avg_pool2d_output_shape(const AdaptiveAvgPool2dAttrs& attrs,
                                                        const std::array<int64_t, 4>& x_shape) {
    geometry_for("adaptive_avg_pool2d", attrs, x_shape);
    return {x_shape[0], x_shape[1], attrs.output_size[0], attrs.output_size[1]};
}

template <typename T>
void adaptive_avg_pool2d_forward_reference(const AdaptiveAvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                           std::span<const T> x, std::span<T> y) {
    const char* op = "adaptive_avg_pool2d_forward";
    const Geometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "x", x.size(), g.planes * g.h * g.w);
    check_size(op, "y", y.size(), g.planes * g.oh * g.ow);
    for (int64_t p = 0; p < g.planes; ++p) forward_plane(g, x.data() + p * g.h * g.w, y.data() + p * g.oh * g.ow);
}

template <typename T>
void adaptive_avg_pool2d_backward_reference(const AdaptiveAvgPool2dAttrs& attrs, const std::array<int64_t, 4>& x_shape,
                                            std::span<const T> dy, std::span<T> dx) {
    const char* op = "adaptive_avg_pool2d_backward";
    const Geometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "dy", dy.size(), g.planes * g.oh * g.ow);
    check_size(op, "dx", dx.size(), g.planes * g.h * g.w);
    for (int64_t p = 0; p < g.planes; ++p) backward_plane(g, dy.data() + p * g.oh * g.ow, dx.data() + p * g.h * g.w);
}

template void adaptive_avg_pool2d_forward_reference<float>(const AdaptiveAvgPool2dAttrs&,
                                                           const std::array<int64_t, 4>&, std::span<const float>,
                                                           std::span<float>);
template void adaptive_avg_pool2d_forward_reference<double>(const AdaptiveAvgPool2dAttrs&,
                                                            const std::array<int64_t, 4>&, std::span<const double>,
                                                            std::span<double>);
template void adaptive_avg_pool2d_backward_reference<float>(const AdaptiveAvgPool2dAttrs&,
                                                            const std::array<int64_t, 4>&, std::span<const float>,
                                                            std::span<float>);
template void adaptive_avg_pool2d_backward_reference<double>(const AdaptiveAvgPool2dAttrs&,
                                                             const std::array<int64_t, 4>&, std::span<const double>,
                                                             std::span<double>);

void adaptive_avg_pool2d_forward_cpu(cpu::ThreadPool& pool, const AdaptiveAvgPool2dAttrs& attrs,
                                     const std::array<int64_t, 4>& x_shape, std::span<const float> x,
                                     std::span<float> y) {
    const char* op = "adaptive_avg_pool2d_forward";
    const Geometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "x", x.size(), g.planes * g.h * g.w);
    check_size(op, "y", y.size(), g.planes * g.oh * g.ow);
    for_each_plane(pool, g, [&](int64_t p) { forward_plane(g, x.data() + p * g.h * g.w, y.data() + p * g.oh * g.ow); });
}

void adaptive_avg_pool2d_backward_cpu(cpu::ThreadPool& pool, const AdaptiveAvgPool2dAttrs& attrs,
                                      const std::array<int64_t, 4>& x_shape, std::span<const float> dy,
                                      std::span<float> dx) {
    const char* op = "adaptive_avg_pool2d_backward";
    const Geometry g = geometry_for(op, attrs, x_shape);
    check_size(op, "dy", dy.size(), g.planes * g.oh * g.ow);
    check_size(op, "dx", dx.size(), g.planes * g.h * g.w);
    for_each_plane(pool, g,
                   [&](int64_t p) { backward_plane(g, dy.data() + p * g.oh * g.ow, dx.data() + p * g.h * g.w); });
}

KernelLaunch adaptive_avg_pool2d_forward_launch(const AdaptiveAvgPool2dAttrs& attrs,
                                                const std::array<int64_t, 4>& x_shape) {
    return launch("adaptive_avg_pool2d_forward", "avg_pool2d_forward", attrs, x_shape, false);
}

KernelLaunch adaptive_avg_pool2d_backward_launch(const AdaptiveAvgPool2dAttrs& attrs,
                                                 const std::array<int64_t, 4>& x_shape) {
    // One invocation per input element, gathering from the cells whose ranges cover it.
    return launch("adaptive_avg_pool2d_backward", "avg_pool2d_backward", attrs, x_shape, true);
}

} // namespace vkcnn::ops
