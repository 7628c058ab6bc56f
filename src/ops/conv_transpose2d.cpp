// conv_transpose2d: shape rule, references, CPU kernels and GPU launches (see
// conv_transpose2d.h). Everything but the references and the bias pass runs
// on conv2d's kernels through ConvTranspose2dShape::conv.
//   1. shape rule   2. references   3. CPU kernels   4. launches
#include "vkcnn/ops/conv_transpose2d.h"

#include "vkcnn/core/error.h"

#include <algorithm>
#include <limits>
#include <string>

namespace vkcnn::ops {

// ---- 1. shape rule -----------------------------------------------------------

namespace {

std::string dims(const std::array<uint32_t, 4>& d) { return cat("(", d[0], ", ", d[1], ", ", d[2], ", ", d[3], ")"); }

// (in - 1) * stride - pad_total + dilation * (k - 1) + output_padding + 1; may be <= 0.
int64_t out_size(int64_t in, int64_t pad_total, int64_t k, int64_t dilation, int64_t stride, int64_t output_padding) {
    return (in - 1) * stride - pad_total + dilation * (k - 1) + output_padding + 1;
}

} // namespace

ConvTranspose2dShape conv_transpose2d_shape(std::array<uint32_t, 4> x, std::array<uint32_t, 4> weight,
                                            const ConvTranspose2dAttrs& a, bool bias) {
    const std::string shapes = cat("input ", dims(x), ", weight ", dims(weight));
    check(a.stride_h > 0 && a.stride_w > 0 && a.dilation_h > 0 && a.dilation_w > 0 && a.groups > 0,
          "conv_transpose2d: stride ", a.stride_h, "x", a.stride_w, ", dilation ", a.dilation_h, "x", a.dilation_w,
          " and groups ", a.groups, " must be positive (", shapes, ")");
    for (uint32_t d : x) check(d > 0, "conv_transpose2d: ", shapes, ": the input has an empty dimension");
    for (uint32_t d : weight) check(d > 0, "conv_transpose2d: ", shapes, ": the weight has an empty dimension");
    check(x[1] % a.groups == 0, "conv_transpose2d: input has ", x[1], " channels, not divisible by groups ", a.groups,
          " (", shapes, ")");
    check(weight[0] == x[1], "conv_transpose2d: input has ", x[1], " channels, weight expects ", weight[0], " (",
          shapes, ")");
    // As torch: "output padding must be smaller than either stride or dilation".
    check((a.output_padding_h < a.stride_h || a.output_padding_h < a.dilation_h) &&
              (a.output_padding_w < a.stride_w || a.output_padding_w < a.dilation_w),
          "conv_transpose2d: output_padding ", a.output_padding_h, "x", a.output_padding_w,
          " must be smaller than either stride ", a.stride_h, "x", a.stride_w, " or dilation ", a.dilation_h, "x",
          a.dilation_w, " (", shapes, ")");
    const int64_t oh = out_size(x[2], int64_t{a.pad_top} + a.pad_bottom, weight[2], a.dilation_h, a.stride_h,
                                a.output_padding_h);
    const int64_t ow = out_size(x[3], int64_t{a.pad_left} + a.pad_right, weight[3], a.dilation_w, a.stride_w,
                                a.output_padding_w);
    check(oh > 0 && ow > 0, "conv_transpose2d: output size ", oh, "x", ow, " is not positive (", shapes, ", stride ",
          a.stride_h, "x", a.stride_w, ", padding top ", a.pad_top, " bottom ", a.pad_bottom, " left ", a.pad_left,
          " right ", a.pad_right, ", dilation ", a.dilation_h, "x", a.dilation_w, ", output_padding ",
          a.output_padding_h, "x", a.output_padding_w, ")");

    ConvTranspose2dShape s;
    s.n = x[0], s.c_in = x[1], s.h = x[2], s.w = x[3];
    s.kh = weight[2], s.kw = weight[3];
    s.attrs = a;
    s.bias = bias;
    // The shaders index in 32 bits and hold coordinates in signed ints (see
    // conv2d_shape): every tensor and the padded output must fit in an int32.
    // Products in double: exact far enough past 2^31, and they cannot overflow.
    const double limit = std::numeric_limits<int32_t>::max();
    const double c_out = double(weight[1]) * a.groups, n = x[0], hw = double(x[2]) * x[3];
    check(c_out <= limit && oh + a.pad_top + a.pad_bottom <= limit && ow + a.pad_left + a.pad_right <= limit &&
              n * x[1] * hw <= limit && double(x[1]) * weight[1] * weight[2] * weight[3] <= limit &&
              n * c_out * double(oh) * double(ow) <= limit && a.pad_top + double(a.stride_h) * x[2] <= limit &&
              a.pad_left + double(a.stride_w) * x[3] <= limit,
          "conv_transpose2d: ", shapes, " gives output (", x[0], ", ", uint64_t{weight[1]} * a.groups, ", ", oh, ", ",
          ow,
          "): a tensor or the padded output exceeds 2^31 - 1");
    s.c_out = weight[1] * a.groups;
    s.oh = static_cast<uint32_t>(oh), s.ow = static_cast<uint32_t>(ow);

    // The conv2d from y (OH, OW) to x (H, W). Its output size
    // floor((OH + pad_top + pad_bottom' - dh*(kH-1) - 1) / sh) + 1 is H when
    // pad_bottom' = pad_bottom - output_padding_h; a padding cannot be
    // negative, so below 0 it is 0 and the output is cropped to H where needed.
    Conv2dAttrs c;
    c.stride_h = a.stride_h, c.stride_w = a.stride_w;
    c.dilation_h = a.dilation_h, c.dilation_w = a.dilation_w;
    c.groups = a.groups;
    c.pad_top = a.pad_top, c.pad_left = a.pad_left;
    c.pad_bottom = a.pad_bottom >= a.output_padding_h ? a.pad_bottom - a.output_padding_h : 0;
    c.pad_right = a.pad_right >= a.output_padding_w ? a.pad_right - a.output_padding_w : 0;
    try {
        s.conv = conv2d_shape({s.n, s.c_out, s.oh, s.ow}, weight, c, false);
    } catch (const Error& e) { // not expected after the checks above; say whose shapes they were
        throw Error(cat("conv_transpose2d: ", shapes, ": the equivalent convolution failed: ", e.what()));
    }
    check(s.conv.oh >= s.h && s.conv.ow >= s.w, "conv_transpose2d: internal: the equivalent convolution's output ",
          s.conv.oh, "x", s.conv.ow, " is smaller than the input ", s.h, "x", s.w, " (", shapes, ")");
    if (s.conv.oh > s.h || s.conv.ow > s.w) {
        // Cropped (output_padding >= stride, below the dilation). conv2d's
        // pointwise path (1x1, stride 1, no padding) assumes output == input
        // size; a bottom / right padding, which its kernels never read, keeps
        // a cropped convolution off it.
        if (s.conv.oh > s.h) s.conv.attrs.pad_bottom = std::max<uint32_t>(s.conv.attrs.pad_bottom, 1);
        if (s.conv.ow > s.w) s.conv.attrs.pad_right = std::max<uint32_t>(s.conv.attrs.pad_right, 1);
        s.conv.oh = s.h, s.conv.ow = s.w;
    }
    return s;
}

namespace {

void check_span(const char* op, const char* name, size_t got, size_t want) {
    check(got == want, op, ": ", name, " has ", got, " elements, the shape needs ", want);
}

// A depthwise 1x1 convolution whose output has y's shape: its bias gradient is ours.
Conv2dShape bias_shape(const ConvTranspose2dShape& s) {
    Conv2dAttrs a;
    a.groups = s.c_out;
    return conv2d_shape({s.n, s.c_out, s.oh, s.ow}, {s.c_out, 1, 1, 1}, a, false);
}

// ---- 2. references -------------------------------------------------------------

// The y position that x[.., ih, iw] reaches through tap (r, t); false outside y.
bool output_pos(const ConvTranspose2dShape& s, int64_t ih, int64_t iw, int64_t r, int64_t t, int64_t& oh,
                int64_t& ow) {
    const ConvTranspose2dAttrs& a = s.attrs;
    oh = ih * a.stride_h - a.pad_top + r * a.dilation_h;
    ow = iw * a.stride_w - a.pad_left + t * a.dilation_w;
    return oh >= 0 && oh < s.oh && ow >= 0 && ow < s.ow;
}

} // namespace

template <typename T>
void conv_transpose2d_forward_reference(const ConvTranspose2dShape& s, std::span<const T> x, std::span<const T> w,
                                        std::span<const T> b, std::span<T> y) {
    check_span("conv_transpose2d_forward", "x", x.size(), s.x_size());
    check_span("conv_transpose2d_forward", "w", w.size(), s.w_size());
    check_span("conv_transpose2d_forward", "b", b.size(), s.bias ? s.c_out : 0);
    check_span("conv_transpose2d_forward", "y", y.size(), s.y_size());
    for (size_t n = 0; n < s.n; ++n)
        for (size_t co = 0; co < s.c_out; ++co) {
            T* plane = y.data() + (n * s.c_out + co) * s.oh * s.ow;
            std::fill(plane, plane + size_t{s.oh} * s.ow, s.bias ? b[co] : T(0));
        }
    // Scatter every input element through every tap.
    for (size_t n = 0; n < s.n; ++n)
        for (size_t ci = 0; ci < s.c_in; ++ci) {
            const size_t g = ci / s.cin_g();
            for (size_t ih = 0; ih < s.h; ++ih)
                for (size_t iw = 0; iw < s.w; ++iw) {
                    const T xv = x[((n * s.c_in + ci) * s.h + ih) * s.w + iw];
                    for (size_t co = 0; co < s.cout_g(); ++co)
                        for (size_t r = 0; r < s.kh; ++r)
                            for (size_t t = 0; t < s.kw; ++t) {
                                int64_t oh, ow;
                                if (!output_pos(s, ih, iw, r, t, oh, ow)) continue;
                                y[((n * s.c_out + g * s.cout_g() + co) * s.oh + oh) * s.ow + ow] +=
                                    xv * w[((ci * s.cout_g() + co) * s.kh + r) * s.kw + t];
                            }
                }
        }
}

// dx[n, ci, ih, iw] = sum over (co, r, t) of w[ci, co, r, t] * dy at the position x[n, ci, ih, iw] reaches.
template <typename T>
void conv_transpose2d_backward_data_reference(const ConvTranspose2dShape& s, std::span<const T> w,
                                              std::span<const T> dy, std::span<T> dx) {
    check_span("conv_transpose2d_backward_data", "w", w.size(), s.w_size());
    check_span("conv_transpose2d_backward_data", "dy", dy.size(), s.y_size());
    check_span("conv_transpose2d_backward_data", "dx", dx.size(), s.x_size());
    for (size_t n = 0; n < s.n; ++n)
        for (size_t ci = 0; ci < s.c_in; ++ci) {
            const size_t g = ci / s.cin_g();
            for (size_t ih = 0; ih < s.h; ++ih)
                for (size_t iw = 0; iw < s.w; ++iw) {
                    T acc = T(0);
                    for (size_t co = 0; co < s.cout_g(); ++co)
                        for (size_t r = 0; r < s.kh; ++r)
                            for (size_t t = 0; t < s.kw; ++t) {
                                int64_t oh, ow;
                                if (!output_pos(s, ih, iw, r, t, oh, ow)) continue;
                                acc += w[((ci * s.cout_g() + co) * s.kh + r) * s.kw + t] *
                                       dy[((n * s.c_out + g * s.cout_g() + co) * s.oh + oh) * s.ow + ow];
                            }
                    dx[((n * s.c_in + ci) * s.h + ih) * s.w + iw] = acc;
                }
        }
}

// dw[ci, co, r, t] = sum over (n, ih, iw) of x[n, ci, ih, iw] * dy at the position it reaches through (r, t).
template <typename T>
void conv_transpose2d_backward_weight_reference(const ConvTranspose2dShape& s, std::span<const T> x,
                                                std::span<const T> dy, std::span<T> dw) {
    check_span("conv_transpose2d_backward_weight", "x", x.size(), s.x_size());
    check_span("conv_transpose2d_backward_weight", "dy", dy.size(), s.y_size());
    check_span("conv_transpose2d_backward_weight", "dw", dw.size(), s.w_size());
    for (size_t ci = 0; ci < s.c_in; ++ci) {
        const size_t g = ci / s.cin_g();
        for (size_t co = 0; co < s.cout_g(); ++co)
            for (size_t r = 0; r < s.kh; ++r)
                for (size_t t = 0; t < s.kw; ++t) {
                    T acc = T(0);
                    for (size_t n = 0; n < s.n; ++n)
                        for (size_t ih = 0; ih < s.h; ++ih)
                            for (size_t iw = 0; iw < s.w; ++iw) {
                                int64_t oh, ow;
                                if (!output_pos(s, ih, iw, r, t, oh, ow)) continue;
                                acc += x[((n * s.c_in + ci) * s.h + ih) * s.w + iw] *
                                       dy[((n * s.c_out + g * s.cout_g() + co) * s.oh + oh) * s.ow + ow];
                            }
                    dw[((ci * s.cout_g() + co) * s.kh + r) * s.kw + t] = acc;
                }
    }
}

template <typename T>
void conv_transpose2d_backward_bias_reference(const ConvTranspose2dShape& s, std::span<const T> dy, std::span<T> db) {
    check_span("conv_transpose2d_backward_bias", "dy", dy.size(), s.y_size());
    check_span("conv_transpose2d_backward_bias", "db", db.size(), s.c_out);
    const size_t p = size_t{s.oh} * s.ow;
    for (size_t co = 0; co < s.c_out; ++co) {
        T acc = T(0);
        for (size_t n = 0; n < s.n; ++n)
            for (size_t i = 0; i < p; ++i) acc += dy[(n * s.c_out + co) * p + i];
        db[co] = acc;
    }
}

#define VKCNN_CONV_TRANSPOSE2D_REFERENCES(T)                                                                        \
    template void conv_transpose2d_forward_reference<T>(const ConvTranspose2dShape&, std::span<const T>,           \
                                                        std::span<const T>, std::span<const T>, std::span<T>);     \
    template void conv_transpose2d_backward_data_reference<T>(const ConvTranspose2dShape&, std::span<const T>,     \
                                                              std::span<const T>, std::span<T>);                   \
    template void conv_transpose2d_backward_weight_reference<T>(const ConvTranspose2dShape&, std::span<const T>,   \
                                                                std::span<const T>, std::span<T>);                 \
    template void conv_transpose2d_backward_bias_reference<T>(const ConvTranspose2dShape&, std::span<const T>,     \
                                                              std::span<T>);
VKCNN_CONV_TRANSPOSE2D_REFERENCES(float)
VKCNN_CONV_TRANSPOSE2D_REFERENCES(double)
#undef VKCNN_CONV_TRANSPOSE2D_REFERENCES

// ---- 3. CPU kernels ------------------------------------------------------------

void conv_transpose2d_forward_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s, std::span<const float> x,
                                  std::span<const float> w, std::span<const float> b, std::span<float> y) {
    check_span("conv_transpose2d_forward", "x", x.size(), s.x_size());
    check_span("conv_transpose2d_forward", "w", w.size(), s.w_size());
    check_span("conv_transpose2d_forward", "b", b.size(), s.bias ? s.c_out : 0);
    check_span("conv_transpose2d_forward", "y", y.size(), s.y_size());
    conv2d_backward_data_cpu(pool, s.conv, w, x, y); // y = the data gradient of conv, with x as its output gradient
    if (!s.bias) return;
    const size_t p = size_t{s.oh} * s.ow, planes = size_t{s.n} * s.c_out;
    auto body = [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            const float bv = b[i % s.c_out];
            for (float* v = y.data() + i * p; v != y.data() + (i + 1) * p; ++v) *v += bv;
        }
    };
    if (s.y_size() < (size_t{1} << 16)) body(0, planes);
    else pool.parallel_for(planes, body);
}

void conv_transpose2d_backward_data_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s,
                                        std::span<const float> w, std::span<const float> dy, std::span<float> dx) {
    check_span("conv_transpose2d_backward_data", "w", w.size(), s.w_size());
    check_span("conv_transpose2d_backward_data", "dy", dy.size(), s.y_size());
    check_span("conv_transpose2d_backward_data", "dx", dx.size(), s.x_size());
    conv2d_forward_cpu(pool, s.conv, dy, w, {}, dx);
}

void conv_transpose2d_backward_weight_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s,
                                          std::span<const float> x, std::span<const float> dy, std::span<float> dw) {
    check_span("conv_transpose2d_backward_weight", "x", x.size(), s.x_size());
    check_span("conv_transpose2d_backward_weight", "dy", dy.size(), s.y_size());
    check_span("conv_transpose2d_backward_weight", "dw", dw.size(), s.w_size());
    // conv's dw[ci, co, r, t] = sum of (its output gradient = x) * (its input = dy) through the tap.
    conv2d_backward_weight_cpu(pool, s.conv, dy, x, dw);
}

void conv_transpose2d_backward_bias_cpu(cpu::ThreadPool& pool, const ConvTranspose2dShape& s,
                                        std::span<const float> dy, std::span<float> db) {
    check_span("conv_transpose2d_backward_bias", "dy", dy.size(), s.y_size());
    check_span("conv_transpose2d_backward_bias", "db", db.size(), s.c_out);
    conv2d_backward_bias_cpu(pool, bias_shape(s), dy, db);
}

// ---- 4. launches ---------------------------------------------------------------

namespace {

// Mirrors `Push` in shaders/conv_transpose2d_add_bias.comp.
struct AddBiasPush {
    uint32_t n;     // elements of y
    uint32_t c_out; // channels
    uint32_t hw;    // OH * OW
};

} // namespace

KernelLaunch conv_transpose2d_forward_launch(const ConvTranspose2dShape& s, const GemmTuning& tuning) {
    return conv2d_backward_data_launch(s.conv, tuning); // (w, dy = x, dx = y)
}

KernelLaunch conv_transpose2d_add_bias_launch(const ConvTranspose2dShape& s) {
    check(s.bias, "conv_transpose2d_add_bias: the shape has no bias");
    KernelLaunch l;
    l.shader = "conv_transpose2d_add_bias";
    l.workgroup = {256, 1, 1};
    l.args = {Access::Read, Access::ReadWrite};
    // Grid-stride loop in the shader: at most 2^31 / (4096 * 256) = 2048 steps per invocation.
    l.groups = {std::min<uint32_t>(groups_for(s.y_size(), 256), 4096), 1, 1};
    l.set_push(AddBiasPush{static_cast<uint32_t>(s.y_size()), s.c_out, s.oh * s.ow});
    return l;
}

KernelLaunch conv_transpose2d_backward_data_launch(const ConvTranspose2dShape& s, const GemmTuning& tuning) {
    return conv2d_forward_launch(s.conv, tuning); // (x = dy, w, y = dx); s.conv has no bias
}

uint32_t conv_transpose2d_backward_weight_split(const ConvTranspose2dShape& s, const GemmTuning& tuning) {
    return conv2d_backward_weight_split(s.conv, tuning);
}

size_t conv_transpose2d_backward_weight_partials_size(const ConvTranspose2dShape& s, uint32_t split) {
    return conv2d_backward_weight_partials_size(s.conv, split);
}

KernelLaunch conv_transpose2d_backward_weight_launch(const ConvTranspose2dShape& s, const GemmTuning& tuning,
                                                     uint32_t split) {
    return conv2d_backward_weight_launch(s.conv, tuning, split); // (x = dy, dy = x, dw or partials)
}

KernelLaunch conv_transpose2d_backward_weight_sum_launch(const ConvTranspose2dShape& s, uint32_t split) {
    return conv2d_backward_weight_sum_launch(s.conv, split); // (partials, dw)
}

KernelLaunch conv_transpose2d_backward_bias_launch(const ConvTranspose2dShape& s) {
    return conv2d_backward_bias_launch(bias_shape(s)); // (dy, db)
}

} // namespace vkcnn::ops
