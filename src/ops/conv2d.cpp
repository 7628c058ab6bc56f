// conv2d: shape rule, references, CPU kernels (im2col / col2im + sgemm) and
// GPU launches (see conv2d.h).
//   1. shape rule   2. references   3. CPU kernels   4. launches
#include "vkcnn/ops/conv2d.h"

#include "vkcnn/core/error.h"
#include "vkcnn/cpu/gemm.h"
#include "vkcnn/ops/conv2d_depthwise.h"
#include "vkcnn/ops/matmul.h"

#include <algorithm>
#include <bit>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace vkcnn::ops {

// ---- 1. shape rule -----------------------------------------------------------

namespace {

std::string dims(const std::array<uint32_t, 4>& d) { return cat("(", d[0], ", ", d[1], ", ", d[2], ", ", d[3], ")"); }

// Output size along one axis; 0 when the dilated kernel does not fit the
// padded input. in >= 1, k >= 1, dilation >= 1, stride >= 1, each below 2^32:
// dilation * (k - 1) could pass 2^63, so it is compared by division.
uint64_t out_size(uint64_t in, uint64_t pad_total, uint64_t k, uint64_t dilation, uint64_t stride) {
    const uint64_t padded = in + pad_total; // < 2^34
    if (k > 1 && dilation > (padded - 1) / (k - 1)) return 0;
    return (padded - 1 - dilation * (k - 1)) / stride + 1;
}

// Whether the product of factors (each >= 1) is at most limit (< 2^32),
// stopping before a partial product could wrap.
bool product_within(std::initializer_list<uint64_t> factors, uint64_t limit) {
    uint64_t p = 1;
    for (const uint64_t f : factors) {
        if (f > limit) return false;
        p *= f; // both at most limit: no wrap
        if (p > limit) return false;
    }
    return true;
}

} // namespace

Conv2dShape conv2d_shape(std::array<uint32_t, 4> x, std::array<uint32_t, 4> weight, const Conv2dAttrs& a, bool bias) {
    const std::string shapes = cat("input ", dims(x), ", weight ", dims(weight));
    check(a.stride_h > 0 && a.stride_w > 0 && a.dilation_h > 0 && a.dilation_w > 0 && a.groups > 0,
          "conv2d: stride ", a.stride_h, "x", a.stride_w, ", dilation ", a.dilation_h, "x", a.dilation_w,
          " and groups ", a.groups, " must be positive");
    for (uint32_t d : x) check(d > 0, "conv2d: ", shapes, ": the input has an empty dimension");
    for (uint32_t d : weight) check(d > 0, "conv2d: ", shapes, ": the weight has an empty dimension");
    check(x[1] % a.groups == 0, "conv2d: input has ", x[1], " channels, not divisible by groups ", a.groups, " (",
          shapes, ")");
    check(weight[0] % a.groups == 0, "conv2d: weight has ", weight[0], " output channels, not divisible by groups ",
          a.groups, " (", shapes, ")");
    check(weight[1] == x[1] / a.groups, "conv2d: input has ", x[1], " channels, weight expects ",
          uint64_t{weight[1]} * a.groups, " (", shapes, ", groups ", a.groups, ")");
    const uint64_t oh = out_size(x[2], uint64_t{a.pad_top} + a.pad_bottom, weight[2], a.dilation_h, a.stride_h);
    const uint64_t ow = out_size(x[3], uint64_t{a.pad_left} + a.pad_right, weight[3], a.dilation_w, a.stride_w);
    check(oh > 0 && ow > 0, "conv2d: kernel ", weight[2], "x", weight[3], " with dilation ", a.dilation_h, "x",
          a.dilation_w, " is larger than the padded input ", uint64_t{x[2]} + a.pad_top + a.pad_bottom, "x",
          uint64_t{x[3]} + a.pad_left + a.pad_right, " (", shapes, ", padding top ", a.pad_top, " bottom ",
          a.pad_bottom, " left ", a.pad_left, " right ", a.pad_right, ")");

    // The shaders index in 32 bits and hold coordinates in signed ints: every
    // tensor, the padded input (which bounds dilation * (k - 1) and every tap's
    // coordinate) and the strided output extent must fit in an int32. Every
    // factor is below 2^34 and the products are checked without wrapping
    // (a size_t product of four uint32 dimensions can wrap to a small number).
    const uint64_t limit = std::numeric_limits<int32_t>::max();
    const bool fits =
        uint64_t{x[2]} + a.pad_top + a.pad_bottom <= limit && uint64_t{x[3]} + a.pad_left + a.pad_right <= limit &&
        oh <= limit && ow <= limit && a.pad_top + uint64_t{a.stride_h} * oh <= limit &&
        a.pad_left + uint64_t{a.stride_w} * ow <= limit && product_within({x[0], x[1], x[2], x[3]}, limit) &&
        product_within({weight[0], weight[1], weight[2], weight[3]}, limit) &&
        product_within({x[0], weight[0], oh, ow}, limit);
    check(fits, "conv2d: ", shapes, " gives output (", x[0], ", ", weight[0], ", ", oh, ", ", ow,
          "): a tensor, the padded input or the strided output exceeds 2^31 - 1");

    Conv2dShape s;
    s.n = x[0], s.c_in = x[1], s.h = x[2], s.w = x[3];
    s.c_out = weight[0], s.kh = weight[2], s.kw = weight[3];
    s.oh = static_cast<uint32_t>(oh), s.ow = static_cast<uint32_t>(ow);
    s.attrs = a;
    s.bias = bias;
    return s;
}

namespace {

void check_span(const char* op, const char* name, size_t got, size_t want) {
    check(got == want, op, ": ", name, " has ", got, " elements, the shape needs ", want);
}

// ---- 2. references -------------------------------------------------------------

// x[n, c, ih, iw] for the kernel tap (r, t) of output (oh, ow); false in the padding.
bool input_pos(const Conv2dShape& s, int64_t oh, int64_t ow, int64_t r, int64_t t, int64_t& ih, int64_t& iw) {
    const Conv2dAttrs& a = s.attrs;
    ih = oh * a.stride_h - a.pad_top + r * a.dilation_h;
    iw = ow * a.stride_w - a.pad_left + t * a.dilation_w;
    return ih >= 0 && ih < s.h && iw >= 0 && iw < s.w;
}

} // namespace

template <typename T>
void conv2d_forward_reference(const Conv2dShape& s, std::span<const T> x, std::span<const T> w, std::span<const T> b,
                              std::span<T> y) {
    check_span("conv2d_forward", "x", x.size(), s.x_size());
    check_span("conv2d_forward", "w", w.size(), s.w_size());
    check_span("conv2d_forward", "b", b.size(), s.bias ? s.c_out : 0);
    check_span("conv2d_forward", "y", y.size(), s.y_size());
    for (size_t n = 0; n < s.n; ++n)
        for (size_t co = 0; co < s.c_out; ++co) {
            const size_t g = co / s.cout_g();
            for (size_t oh = 0; oh < s.oh; ++oh)
                for (size_t ow = 0; ow < s.ow; ++ow) {
                    T acc = s.bias ? b[co] : T(0);
                    for (size_t ci = 0; ci < s.cin_g(); ++ci)
                        for (size_t r = 0; r < s.kh; ++r)
                            for (size_t t = 0; t < s.kw; ++t) {
                                int64_t ih, iw;
                                if (!input_pos(s, oh, ow, r, t, ih, iw)) continue;
                                acc += w[((co * s.cin_g() + ci) * s.kh + r) * s.kw + t] *
                                       x[((n * s.c_in + g * s.cin_g() + ci) * s.h + ih) * s.w + iw];
                            }
                    y[((n * s.c_out + co) * s.oh + oh) * s.ow + ow] = acc;
                }
        }
}

// dx[n, ci, ih, iw] = sum of w * dy over every (co, oh, ow, r, t) whose tap reads x[n, ci, ih, iw].
template <typename T>
void conv2d_backward_data_reference(const Conv2dShape& s, std::span<const T> w, std::span<const T> dy,
                                    std::span<T> dx) {
    check_span("conv2d_backward_data", "w", w.size(), s.w_size());
    check_span("conv2d_backward_data", "dy", dy.size(), s.y_size());
    check_span("conv2d_backward_data", "dx", dx.size(), s.x_size());
    std::fill(dx.begin(), dx.end(), T(0));
    for (size_t n = 0; n < s.n; ++n)
        for (size_t co = 0; co < s.c_out; ++co) {
            const size_t g = co / s.cout_g();
            for (size_t oh = 0; oh < s.oh; ++oh)
                for (size_t ow = 0; ow < s.ow; ++ow)
                    for (size_t ci = 0; ci < s.cin_g(); ++ci)
                        for (size_t r = 0; r < s.kh; ++r)
                            for (size_t t = 0; t < s.kw; ++t) {
                                int64_t ih, iw;
                                if (!input_pos(s, oh, ow, r, t, ih, iw)) continue;
                                dx[((n * s.c_in + g * s.cin_g() + ci) * s.h + ih) * s.w + iw] +=
                                    w[((co * s.cin_g() + ci) * s.kh + r) * s.kw + t] *
                                    dy[((n * s.c_out + co) * s.oh + oh) * s.ow + ow];
                            }
        }
}

template <typename T>
void conv2d_backward_weight_reference(const Conv2dShape& s, std::span<const T> x, std::span<const T> dy,
                                      std::span<T> dw) {
    check_span("conv2d_backward_weight", "x", x.size(), s.x_size());
    check_span("conv2d_backward_weight", "dy", dy.size(), s.y_size());
    check_span("conv2d_backward_weight", "dw", dw.size(), s.w_size());
    for (size_t co = 0; co < s.c_out; ++co) {
        const size_t g = co / s.cout_g();
        for (size_t ci = 0; ci < s.cin_g(); ++ci)
            for (size_t r = 0; r < s.kh; ++r)
                for (size_t t = 0; t < s.kw; ++t) {
                    T acc = T(0);
                    for (size_t n = 0; n < s.n; ++n)
                        for (size_t oh = 0; oh < s.oh; ++oh)
                            for (size_t ow = 0; ow < s.ow; ++ow) {
                                int64_t ih, iw;
                                if (!input_pos(s, oh, ow, r, t, ih, iw)) continue;
                                acc += dy[((n * s.c_out + co) * s.oh + oh) * s.ow + ow] *
                                       x[((n * s.c_in + g * s.cin_g() + ci) * s.h + ih) * s.w + iw];
                            }
                    dw[((co * s.cin_g() + ci) * s.kh + r) * s.kw + t] = acc;
                }
    }
}

template <typename T>
void conv2d_backward_bias_reference(const Conv2dShape& s, std::span<const T> dy, std::span<T> db) {
    check_span("conv2d_backward_bias", "dy", dy.size(), s.y_size());
    check_span("conv2d_backward_bias", "db", db.size(), s.c_out);
    const size_t p = size_t{s.oh} * s.ow;
    for (size_t co = 0; co < s.c_out; ++co) {
        T acc = T(0);
        for (size_t n = 0; n < s.n; ++n)
            for (size_t i = 0; i < p; ++i) acc += dy[(n * s.c_out + co) * p + i];
        db[co] = acc;
    }
}

#define VKCNN_CONV2D_REFERENCES(T)                                                                                  \
    template void conv2d_forward_reference<T>(const Conv2dShape&, std::span<const T>, std::span<const T>,          \
                                              std::span<const T>, std::span<T>);                                   \
    template void conv2d_backward_data_reference<T>(const Conv2dShape&, std::span<const T>, std::span<const T>,    \
                                                    std::span<T>);                                                 \
    template void conv2d_backward_weight_reference<T>(const Conv2dShape&, std::span<const T>, std::span<const T>,  \
                                                      std::span<T>);                                               \
    template void conv2d_backward_bias_reference<T>(const Conv2dShape&, std::span<const T>, std::span<T>);
VKCNN_CONV2D_REFERENCES(float)
VKCNN_CONV2D_REFERENCES(double)
#undef VKCNN_CONV2D_REFERENCES

// ---- 3. CPU kernels ------------------------------------------------------------

namespace {

// A 1x1 kernel at stride 1 without padding reads x as it is: the GEMM needs no im2col.
bool is_pointwise(const Conv2dShape& s) {
    const Conv2dAttrs& a = s.attrs;
    return s.kh == 1 && s.kw == 1 && a.stride_h == 1 && a.stride_w == 1 && a.pad_top == 0 && a.pad_bottom == 0 &&
           a.pad_left == 0 && a.pad_right == 0;
}

// The outputs ow in [lo, hi) whose tap at offset `off` (= t*dilation - pad) lands inside [0, size).
void valid_range(int64_t off, int64_t stride, int64_t size, int64_t n_out, int64_t& lo, int64_t& hi) {
    // ow*stride + off >= 0  <=>  ow >= ceil(-off / stride); ow*stride + off < size <=> ow < ceil((size - off) / stride)
    auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
    lo = std::clamp<int64_t>(ceil_div(-off, stride), 0, n_out);
    hi = std::clamp<int64_t>(ceil_div(size - off, stride), lo, n_out);
}

// Rows [begin, end) of col (Cin/groups * kH * kW, OH * OW) from the group's
// input planes xg (Cin/groups, H, W); row `begin` goes to `out_rows`.
void im2col_rows(const Conv2dShape& s, const float* xg, size_t begin, size_t end, float* out_rows) {
    const Conv2dAttrs& a = s.attrs;
    const size_t p = size_t{s.oh} * s.ow;
    for (size_t k = begin; k < end; ++k) {
        const int64_t ci = k / (s.kh * s.kw), r = k / s.kw % s.kh, t = k % s.kw;
        const float* plane = xg + ci * s.h * s.w;
        float* out = out_rows + (k - begin) * p;
        int64_t lo, hi;
        valid_range(t * int64_t{a.dilation_w} - a.pad_left, a.stride_w, s.w, s.ow, lo, hi);
        for (int64_t oh = 0; oh < s.oh; ++oh, out += s.ow) {
            const int64_t ih = oh * a.stride_h - a.pad_top + r * a.dilation_h;
            if (ih < 0 || ih >= s.h) {
                std::fill(out, out + s.ow, 0.0f);
                continue;
            }
            const int64_t row = ih * s.w + t * int64_t{a.dilation_w} - a.pad_left; // + ow * stride: the column
            std::fill(out, out + lo, 0.0f);
            if (a.stride_w == 1) // a contiguous run: a copy the compiler turns into vector moves
                std::copy(plane + row + lo, plane + row + hi, out + lo);
            else
                for (int64_t ow = lo; ow < hi; ++ow) out[ow] = plane[row + ow * a.stride_w];
            std::fill(out + hi, out + s.ow, 0.0f);
        }
    }
}

// All of col, rows in parallel.
void im2col(cpu::ThreadPool& pool, const Conv2dShape& s, const float* xg, float* col) {
    const size_t rows = size_t{s.cin_g()} * s.kh * s.kw, p = size_t{s.oh} * s.ow;
    auto body = [&](size_t begin, size_t end) { im2col_rows(s, xg, begin, end, col + begin * p); };
    if (rows * p < (size_t{1} << 15)) body(0, rows);
    else pool.parallel_for(rows, body);
}

void add_row(float* __restrict to, const float* __restrict from, int64_t n) {
    for (int64_t i = 0; i < n; ++i) to[i] += from[i];
}

// dxg (Cin/groups, H, W) = sum over the kernel taps of col (Cin/groups * kH * kW, OH * OW).
// Channels in parallel: each owns its plane, so the order of the sums is fixed.
void col2im(cpu::ThreadPool& pool, const Conv2dShape& s, const float* col, float* dxg) {
    const Conv2dAttrs& a = s.attrs;
    const size_t p = size_t{s.oh} * s.ow;
    auto body = [&](size_t begin, size_t end) {
        for (size_t ci = begin; ci < end; ++ci) {
            float* plane = dxg + ci * s.h * s.w;
            std::fill(plane, plane + size_t{s.h} * s.w, 0.0f);
            for (int64_t r = 0; r < s.kh; ++r)
                for (int64_t t = 0; t < s.kw; ++t) {
                    const float* in = col + ((ci * s.kh + r) * s.kw + t) * p;
                    int64_t lo, hi;
                    valid_range(t * int64_t{a.dilation_w} - a.pad_left, a.stride_w, s.w, s.ow, lo, hi);
                    for (int64_t oh = 0; oh < s.oh; ++oh, in += s.ow) {
                        const int64_t ih = oh * a.stride_h - a.pad_top + r * a.dilation_h;
                        if (ih < 0 || ih >= s.h) continue;
                        const int64_t row = ih * s.w + t * int64_t{a.dilation_w} - a.pad_left;
                        if (a.stride_w == 1) // contiguous: the same adds, vectorised (col and dx never overlap)
                            add_row(plane + row + lo, in + lo, hi - lo);
                        else
                            for (int64_t ow = lo; ow < hi; ++ow) plane[row + ow * a.stride_w] += in[ow];
                    }
                }
        }
    };
    if (size_t{s.cin_g()} * s.kh * s.kw * p < (size_t{1} << 15)) body(0, s.cin_g());
    else pool.parallel_for(s.cin_g(), body);
}

// Runs item(i, scratch) for i in [0, n): in parallel (one scratch per chunk,
// nested sgemm calls run inline) when there are enough independent items,
// else one after another with the pool left to sgemm and im2col.
template <typename Item>
void for_each_item(cpu::ThreadPool& pool, size_t n, size_t scratch_floats, const Item& item) {
    if (n >= pool.size() && pool.size() > 1) {
        pool.parallel_for(n, [&](size_t begin, size_t end) {
            std::vector<float> scratch(scratch_floats);
            for (size_t i = begin; i < end; ++i) item(i, scratch.data());
        });
    } else {
        std::vector<float> scratch(scratch_floats);
        for (size_t i = 0; i < n; ++i) item(i, scratch.data());
    }
}

} // namespace

void conv2d_forward_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> x,
                        std::span<const float> w, std::span<const float> b, std::span<float> y) {
    check_span("conv2d_forward", "x", x.size(), s.x_size());
    check_span("conv2d_forward", "w", w.size(), s.w_size());
    check_span("conv2d_forward", "b", b.size(), s.bias ? s.c_out : 0);
    check_span("conv2d_forward", "y", y.size(), s.y_size());
    if (conv2d_is_depthwise(s)) return conv2d_depthwise_forward_cpu(pool, s, x, w, b, y);
    const size_t k = size_t{s.cin_g()} * s.kh * s.kw, p = size_t{s.oh} * s.ow, groups = s.attrs.groups;
    const bool direct = is_pointwise(s);
    // One item per (image, group): y[n, group's channels] = w_g (Cout/g, K) * col (K, P).
    for_each_item(pool, size_t{s.n} * groups, direct ? 0 : k * p, [&](size_t item, float* col) {
        const size_t n = item / groups, g = item % groups;
        const float* xg = x.data() + (n * s.c_in + g * s.cin_g()) * size_t{s.h} * s.w;
        float* yg = y.data() + (n * s.c_out + g * s.cout_g()) * p;
        if (!direct) im2col(pool, s, xg, col);
        if (s.bias)
            for (size_t m = 0; m < s.cout_g(); ++m) std::fill(yg + m * p, yg + (m + 1) * p, b[g * s.cout_g() + m]);
        cpu::sgemm(pool, cpu::Trans::No, cpu::Trans::No, s.cout_g(), p, k, 1.0f, w.data() + g * s.cout_g() * k, k,
                   direct ? xg : col, p, s.bias ? 1.0f : 0.0f, yg, p);
    });
}

void conv2d_backward_data_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> w,
                              std::span<const float> dy, std::span<float> dx) {
    check_span("conv2d_backward_data", "w", w.size(), s.w_size());
    check_span("conv2d_backward_data", "dy", dy.size(), s.y_size());
    check_span("conv2d_backward_data", "dx", dx.size(), s.x_size());
    if (conv2d_is_depthwise(s)) return conv2d_depthwise_backward_data_cpu(pool, s, w, dy, dx);
    const size_t k = size_t{s.cin_g()} * s.kh * s.kw, p = size_t{s.oh} * s.ow, groups = s.attrs.groups;
    const bool direct = is_pointwise(s);
    // dcol (K, P) = w_g^T (K, Cout/g) * dy_g (Cout/g, P), then col2im sums the taps into dx.
    for_each_item(pool, size_t{s.n} * groups, direct ? 0 : k * p, [&](size_t item, float* col) {
        const size_t n = item / groups, g = item % groups;
        float* dxg = dx.data() + (n * s.c_in + g * s.cin_g()) * size_t{s.h} * s.w;
        cpu::sgemm(pool, cpu::Trans::Yes, cpu::Trans::No, k, p, s.cout_g(), 1.0f, w.data() + g * s.cout_g() * k, k,
                   dy.data() + (n * s.c_out + g * s.cout_g()) * p, p, 0.0f, direct ? dxg : col, p);
        if (!direct) col2im(pool, s, col, dxg);
    });
}

void conv2d_backward_weight_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> x,
                                std::span<const float> dy, std::span<float> dw) {
    check_span("conv2d_backward_weight", "x", x.size(), s.x_size());
    check_span("conv2d_backward_weight", "dy", dy.size(), s.y_size());
    check_span("conv2d_backward_weight", "dw", dw.size(), s.w_size());
    if (conv2d_is_depthwise(s)) return conv2d_depthwise_backward_weight_cpu(pool, s, x, dy, dw);
    const size_t k = size_t{s.cin_g()} * s.kh * s.kw, p = size_t{s.oh} * s.ow, groups = s.attrs.groups;
    const bool direct = is_pointwise(s);
    // dw_g (Cout/g, K) = sum over images, in order, of dy_g (Cout/g, P) *
    // col^T (P, K), for dw's columns [k0, k1): those columns need only col's
    // rows [k0, k1). sgemm gives an element the same bits whatever slice of C
    // it is computed in, so any split of the columns gives the bits of one
    // product over all of them, on any number of threads.
    const auto columns = [&](size_t g, size_t k0, size_t k1, float* col) {
        float* dwg = dw.data() + g * s.cout_g() * k + k0;
        for (size_t n = 0; n < s.n; ++n) {
            const float* xg = x.data() + (n * s.c_in + g * s.cin_g()) * size_t{s.h} * s.w;
            if (!direct) im2col_rows(s, xg, k0, k1, col);
            cpu::sgemm(pool, cpu::Trans::No, cpu::Trans::Yes, s.cout_g(), k1 - k0, p, 1.0f,
                       dy.data() + (n * s.c_out + g * s.cout_g()) * p, p, direct ? xg + k0 * p : col, p,
                       n ? 1.0f : 0.0f, dwg, k);
        }
    };
    if (groups >= pool.size()) { // many groups: whole ones in parallel
        for_each_item(pool, groups, direct ? 0 : k * p, [&](size_t g, float* col) { columns(g, 0, k, col); });
        return;
    }
    // Few groups: their columns in parallel, each thread streaming the whole
    // batch through its slice (the images' sgemm calls nested: inline).
    for (size_t g = 0; g < groups; ++g)
        pool.parallel_for(k, [&](size_t k0, size_t k1) {
            std::vector<float> col(direct ? 0 : (k1 - k0) * p);
            columns(g, k0, k1, col.data());
        });
}

void conv2d_backward_bias_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> dy,
                              std::span<float> db) {
    check_span("conv2d_backward_bias", "dy", dy.size(), s.y_size());
    check_span("conv2d_backward_bias", "db", db.size(), s.c_out);
    const size_t p = size_t{s.oh} * s.ow;
    auto body = [&](size_t begin, size_t end) {
        for (size_t co = begin; co < end; ++co) {
            float acc = 0.0f;
            for (size_t n = 0; n < s.n; ++n) {
                const float* plane = dy.data() + (n * s.c_out + co) * p;
                for (size_t i = 0; i < p; ++i) acc += plane[i];
            }
            db[co] = acc;
        }
    };
    if (s.y_size() < (size_t{1} << 16)) body(0, s.c_out);
    else pool.parallel_for(s.c_out, body);
}

// ---- 4. launches ---------------------------------------------------------------

namespace {

// Mirrors `Conv2dPush` in shaders/conv2d_common.glsl.
struct Push {
    uint32_t n, c_in, h, w;
    uint32_t c_out, oh, ow, kh;
    uint32_t kw, stride_h, stride_w, dilation_h;
    uint32_t dilation_w, pad_top, pad_left, groups;
    uint32_t cin_g, cout_g, pixels, blocks; // pixels: columns of the implicit GEMM; blocks: their tiles
    uint32_t chunk_rows;                    // backward weight: reduction rows (image, oh) per chunk
    uint32_t wg_n, wg_m;                    // register kernels: the workgroup's split (a row of wg_n * wg_m)
};

Push make_push(const Conv2dShape& s) {
    const Conv2dAttrs& a = s.attrs;
    return Push{s.n,        s.c_in,     s.h,        s.w,        s.c_out,    s.oh,      s.ow,     s.kh,
                s.kw,       a.stride_h, a.stride_w, a.dilation_h, a.dilation_w, a.pad_top, a.pad_left, a.groups,
                s.cin_g(),  s.cout_g(), 0,          0,          0,          0,          0};
}

// The register block: each invocation owns tm rows x tn columns of the
// implicit GEMM (rows: channels, columns: pixels or weight taps); a workgroup
// owns wg_m * tm rows x wg_n * tn columns.
struct Blocking {
    uint32_t tm, tn, wg_m, wg_n;
    uint32_t threads; // the tuning's invocations per workgroup, wg_m * wg_n of them working
};

// Rows of the GEMM are few for depthwise and narrow convolutions: the block
// then turns towards columns so no accumulator idles. About tile_m x tile_n
// outputs per workgroup, at most 128 invocations (Vulkan's guaranteed minimum).
// Few columns (a small weight's taps in the backward weight, a tiny output)
// get no more working lanes across than they fill: a lane computing a clamped
// duplicate costs lavapipe as much as a useful one (LeNet's first backward
// weight has 25 columns, once spread over 128), while the register kernels'
// lanes past wg_m * wg_n return at once and cost nothing.
Blocking choose_blocking(uint32_t rows, uint64_t columns, const GemmTuning& t) {
    const uint32_t tile_m = std::max<uint32_t>(t.tile_m, 4), tile_n = std::max<uint32_t>(t.tile_n, 4);
    const uint32_t outputs = std::bit_ceil(tile_m * tile_n);
    const uint32_t acc = std::clamp<uint32_t>(outputs / 128, 16, 32); // accumulators per invocation
    const uint32_t tm = rows >= 4 ? 4 : rows >= 2 ? 2 : 1;
    const uint32_t tn = std::min<uint32_t>(acc / tm, 8);
    const uint32_t threads = std::clamp<uint32_t>(outputs / acc, 32, 128);
    const uint32_t wg_m =
        std::min({std::bit_ceil((rows + tm - 1) / tm), std::max<uint32_t>(tile_m / tm, 1), threads});
    const uint64_t fill_n = std::bit_ceil((columns + tn - 1) / tn);
    const uint32_t wg_n = static_cast<uint32_t>(std::clamp<uint64_t>(fill_n, 1, std::max<uint32_t>(threads / wg_m, 1)));
    return {tm, tn, wg_m, wg_n, threads};
}

// The blocking a launch uses. Register blocks fit the shape (a lane on a
// clamped duplicate costs lavapipe as much as a useful one) and split one
// row of invocations by push constants, so a pipeline is one of a few
// (invocations, TM, TN) per tuning.
// Shared-memory tiles follow the rows alone and always fill the workgroup,
// which stages every slice: a few pipelines per tuning whatever the columns.
// Few rows turn that blocking towards columns (up to 1024 a workgroup);
// staged in shared memory, such a tile leaves room for a K step of 2 or 4
// only, a barrier pair every few products. At most 256 rows + columns keep
// the step at 16.
Blocking launch_blocking(uint32_t rows, uint64_t columns, const GemmTuning& tuning) {
    if (!tuning.shared_memory_tiles) return choose_blocking(rows, columns, tuning);
    Blocking b = choose_blocking(rows, std::numeric_limits<uint32_t>::max(), tuning);
    while (b.wg_n > 1 && b.wg_m * b.tm + b.wg_n * b.tn > 256) b.wg_n /= 2;
    return b;
}

// A grid for a GEMM of `rows` x `columns` per group; columns beyond 65535
// tiles are covered by the shaders' grid-stride loop. tuning.shared_memory_tiles
// picks the shared-memory tiled kernel (`tiled`, conv2d_tiled.glsl) over the
// register-blocked one (`shader`); both take the same arguments and push
// constants.
KernelLaunch gemm_launch(std::string_view shader, std::string_view tiled, const Conv2dShape& s, uint32_t rows,
                         uint64_t columns, const GemmTuning& tuning, bool pointwise, std::vector<Access> args,
                         uint32_t chunk_rows = 0) {
    const Blocking b = launch_blocking(rows, columns, tuning);
    if (tuning.shared_memory_tiles) shader = tiled;
    const uint32_t blocks = groups_for(columns, b.wg_n * b.tn);
    const uint32_t row_blocks = groups_for(rows, b.wg_m * b.tm);
    check(s.attrs.groups <= 65535 && row_blocks <= 65535, shader, ": ", s.attrs.groups, " groups of ", rows,
          " channels exceed the dispatch grid");
    KernelLaunch l;
    l.shader = shader;
    l.workgroup = tuning.shared_memory_tiles ? std::array<uint32_t, 3>{b.wg_n, b.wg_m, 1}
                                             : std::array<uint32_t, 3>{b.threads, 1, 1};
    l.constants = {b.tm, b.tn, pointwise ? 1u : 0u};
    if (tuning.shared_memory_tiles) l.constants.push_back(tiled_k_step(b.wg_m * b.tm, b.wg_n * b.tn));
    l.args = std::move(args);
    l.groups = {std::min<uint32_t>(blocks, 65535), row_blocks, s.attrs.groups};
    Push p = make_push(s);
    p.pixels = static_cast<uint32_t>(columns);
    p.blocks = blocks;
    p.chunk_rows = chunk_rows;
    p.wg_n = b.wg_n;
    p.wg_m = b.wg_m;
    l.set_push(p);
    return l;
}

} // namespace

KernelLaunch conv2d_forward_launch(const Conv2dShape& s, const GemmTuning& tuning) {
    std::vector<Access> args = {Access::Read, Access::Read, Access::Write};
    if (s.bias) args.insert(args.begin() + 2, Access::Read);
    return gemm_launch(s.bias ? "conv2d_forward_bias" : "conv2d_forward",
                       s.bias ? "conv2d_forward_bias_tiled" : "conv2d_forward_tiled", s, s.cout_g(),
                       s.y_size() / s.c_out, tuning, is_pointwise(s), std::move(args));
}

KernelLaunch conv2d_backward_data_launch(const Conv2dShape& s, const GemmTuning& tuning) {
    return gemm_launch("conv2d_backward_data", "conv2d_backward_data_tiled", s, s.cin_g(), s.x_size() / s.c_in,
                       tuning, is_pointwise(s), {Access::Read, Access::Read, Access::Write});
}

namespace {

// The backward weight kernel reduces over rows (image, oh) of OW pixels; a
// pointwise convolution reads an image as one row of OH * OW pixels.
uint64_t weight_rows(const Conv2dShape& s) { return uint64_t{s.n} * (is_pointwise(s) ? 1 : s.oh); }
uint64_t weight_row_width(const Conv2dShape& s) { return is_pointwise(s) ? uint64_t{s.oh} * s.ow : s.ow; }

// Rows per chunk when the reduction is cut into `split` chunks (the last may be shorter, trailing ones empty).
uint32_t chunk_rows(const Conv2dShape& s, uint32_t split) {
    return static_cast<uint32_t>((weight_rows(s) + split - 1) / split);
}

// The sum pass's launch shape: grid_stride_launch's 256 x 4096 invocations at most.
constexpr uint64_t kSumInvocations = 256 * 4096;

// Chunks live in the grid's z (65535 at most, shared with the groups), the
// partials are indexed in 32 bits, and lavapipe ends an invocation's loops
// after 65535 back-edges in total (shaders/conv2d_common.glsl): the sum pass
// takes split + 1 per element it owns.
bool split_fits(const Conv2dShape& s, uint64_t split) {
    return split >= 1 && split <= 65535 / s.attrs.groups && split * s.w_size() <= 0xFFFFFFFFull &&
           (s.w_size() + kSumInvocations - 1) / kSumInvocations * (split + 1) < 65535;
}

void check_split(const Conv2dShape& s, uint32_t split) {
    check(split_fits(s, split), "conv2d_backward_weight: split ", split, " does not fit weight (", s.c_out, ", ",
          s.cin_g(), ", ", s.kh, ", ", s.kw, ") with groups ", s.attrs.groups,
          ": expected 1 to 65535 / groups chunks, at most 2^32 - 1 partials");
}

} // namespace

uint32_t conv2d_backward_weight_split(const Conv2dShape& s, const GemmTuning& tuning) {
    // Enough workgroups to fill a device's cores (a GPU has tens of them,
    // lavapipe its LP_NUM_THREADS) ...
    constexpr uint64_t kTargetWorkgroups = 128;
    // ... but each chunk long enough that writing and summing the partials
    // (one store and one load per weight element and chunk) stays small next
    // to the chunk's products.
    constexpr uint64_t kMinChunkTerms = 512;
    const uint64_t cols = uint64_t{s.cin_g()} * s.kh * s.kw;
    const Blocking b = launch_blocking(s.cout_g(), cols, tuning);
    const uint64_t workgroups = std::min<uint64_t>(groups_for(cols, b.wg_n * b.tn), 65535) *
                                groups_for(s.cout_g(), b.wg_m * b.tm) * s.attrs.groups;
    if (workgroups >= kTargetWorkgroups) return 1;
    const uint64_t rows = weight_rows(s), terms = rows * weight_row_width(s);
    uint64_t split = std::min({(kTargetWorkgroups + workgroups - 1) / workgroups,
                               std::max<uint64_t>(terms / kMinChunkTerms, 1), rows,
                               uint64_t{65535} / s.attrs.groups});
    // Balanced chunks with none empty: the split that the chunk length gives.
    const uint64_t per_chunk = (rows + split - 1) / split;
    split = (rows + per_chunk - 1) / per_chunk;
    while (split > 1 && !split_fits(s, split)) split /= 2; // huge weights are not split anyway
    return static_cast<uint32_t>(split);
}

size_t conv2d_backward_weight_partials_size(const Conv2dShape& s, uint32_t split) {
    return split > 1 ? size_t{split} * s.w_size() : 0;
}

KernelLaunch conv2d_backward_weight_launch(const Conv2dShape& s, const GemmTuning& tuning, uint32_t split) {
    check_split(s, split);
    KernelLaunch l = gemm_launch("conv2d_backward_weight", "conv2d_backward_weight_tiled", s, s.cout_g(),
                                 uint64_t{s.cin_g()} * s.kh * s.kw, tuning, is_pointwise(s),
                                 {Access::Read, Access::Read, Access::Write}, chunk_rows(s, split));
    l.groups[2] *= split; // z = chunk * groups + group
    return l;
}

KernelLaunch conv2d_backward_weight_sum_launch(const Conv2dShape& s, uint32_t split) {
    check_split(s, split);
    struct SumPush {
        uint32_t n, chunks;
    };
    KernelLaunch l = grid_stride_launch("conv2d_backward_weight_sum", s.w_size(), {Access::Read, Access::Write});
    l.set_push(SumPush{static_cast<uint32_t>(s.w_size()), split});
    return l;
}

KernelLaunch conv2d_backward_bias_launch(const Conv2dShape& s) {
    KernelLaunch l;
    l.shader = "conv2d_backward_bias";
    l.workgroup = {64, 1, 1}; // a power of two: the shader's tree reduction halves it
    l.args = {Access::Read, Access::Write};
    l.groups = {std::min<uint32_t>(s.c_out, 65535), 1, 1}; // one workgroup per channel, grid-stride beyond
    l.set_push(make_push(s));
    return l;
}

} // namespace vkcnn::ops
