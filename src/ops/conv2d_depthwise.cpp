// Depthwise convolutions on the CPU (see conv2d_depthwise.h).
//
// Every input plane is first copied into a zero-padded buffer split into
// stride_h x stride_w phases: padded pixel (row, col) goes to phase
// (row % sh, col % sw) at (row / sh, col / sw). Tap (r, t) of output
// (oh, ow) then reads phase ((r * dh) % sh, (t * dw) % sw) at row
// oh + (r * dh) / sh, column ow + (t * dw) / sw: consecutive outputs read
// consecutive values whatever the stride. The rows run on into each other:
// output (oh, ow) sits at oh * wq + ow of a "wide" plane whose rows are a
// phase's wq long, so each tap is one multiply-add over (OH - 1) * wq + OW
// values (a 7x7 plane is one run of 61, not 7 of 7). The wq - OW columns
// between rows are scratch: computed, never written out.
#include "vkcnn/ops/conv2d_depthwise.h"

#include <algorithm>
#include <vector>

namespace vkcnn::ops {

bool conv2d_is_depthwise(const Conv2dShape& s) { return s.attrs.groups > 1 && s.cin_g() == 1; }

namespace {

struct Geometry {
    size_t sh = 1, sw = 1;   // phases: the strides
    size_t hq = 0, wq = 0;   // a phase's rows and columns (the wide plane's row length)
    size_t phase_size = 0;   // hq * wq
    size_t run = 0;          // outputs per tap: (OH - 1) * wq + OW
    size_t taps = 0;         // kH * kW
    size_t wide = 0;         // OH * wq: the wide plane

    explicit Geometry(const Conv2dShape& s) {
        const Conv2dAttrs& a = s.attrs;
        sh = a.stride_h, sw = a.stride_w;
        hq = (size_t{s.h} + a.pad_top + a.pad_bottom + sh - 1) / sh;
        wq = (size_t{s.w} + a.pad_left + a.pad_right + sw - 1) / sw;
        phase_size = hq * wq;
        run = (size_t{s.oh} - 1) * wq + s.ow;
        taps = size_t{s.kh} * s.kw;
        wide = size_t{s.oh} * wq;
    }
    size_t padded_size() const { return sh * sw * phase_size; }
    // Where padded (row, col) lies in the phases.
    size_t padded_index(size_t row, size_t col) const {
        return (row % sh * sw + col % sw) * phase_size + row / sh * wq + col / sw;
    }
    // Where tap (r, t) of output (0, 0) reads.
    size_t tap_offset(const Conv2dShape& s, size_t tap) const {
        return padded_index(tap / s.kw * s.attrs.dilation_h, tap % s.kw * s.attrs.dilation_w);
    }
};

// A thread's scratch, grown on demand and kept: the pool's workers persist,
// so after the first step nothing is allocated.
float* scratch(std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

// The input plane (H, W) into the zero-padded phases: each row's columns
// of one phase are every sw-th, from the first that falls in it.
void pad_plane(const Conv2dShape& s, const Geometry& g, const float* plane, float* padded) {
    std::fill(padded, padded + g.padded_size(), 0.0f);
    const size_t pt = s.attrs.pad_top, pl = s.attrs.pad_left;
    for (size_t ih = 0; ih < s.h; ++ih) {
        const float* in = plane + ih * s.w;
        for (size_t iw0 = 0; iw0 < std::min<size_t>(g.sw, s.w); ++iw0) {
            float* out = padded + g.padded_index(ih + pt, iw0 + pl);
            for (size_t iw = iw0; iw < s.w; iw += g.sw) *out++ = in[iw];
        }
    }
}

// The interior of the padded phases back to a plane (H, W).
void unpad_plane(const Conv2dShape& s, const Geometry& g, const float* padded, float* plane) {
    const size_t pt = s.attrs.pad_top, pl = s.attrs.pad_left;
    for (size_t ih = 0; ih < s.h; ++ih) {
        float* out = plane + ih * s.w;
        for (size_t iw0 = 0; iw0 < std::min<size_t>(g.sw, s.w); ++iw0) {
            const float* in = padded + g.padded_index(ih + pt, iw0 + pl);
            for (size_t iw = iw0; iw < s.w; iw += g.sw) out[iw] = *in++;
        }
    }
}

// to[i] += v * from[i]: the one loop every direction is made of.
inline void multiply_add(float* __restrict to, const float* __restrict from, float v, size_t n) {
    for (size_t i = 0; i < n; ++i) to[i] += v * from[i];
}
// to[i] += a[i] * b[i].
inline void multiply_add(float* __restrict to, const float* __restrict a, const float* __restrict b, size_t n) {
    for (size_t i = 0; i < n; ++i) to[i] += a[i] * b[i];
}

// body(begin, end) over n items, on the pool when there is enough work.
template <typename Body>
void split(cpu::ThreadPool& pool, size_t n, size_t work, const Body& body) {
    if (work < (size_t{1} << 15) || pool.size() == 1) body(0, n);
    else pool.parallel_for(n, body);
}

} // namespace

void conv2d_depthwise_forward_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> x,
                                  std::span<const float> w, std::span<const float> b, std::span<float> y) {
    const Geometry g(s);
    const size_t m = s.cout_g(), plane_in = size_t{s.h} * s.w, plane_out = size_t{s.oh} * s.ow;
    // One item per input plane (image, channel): its m output channels.
    split(pool, size_t{s.n} * s.c_in, s.y_size() * g.taps, [&](size_t begin, size_t end) {
        thread_local std::vector<float> padded_buffer, wide_buffer;
        float* padded = scratch(padded_buffer, g.padded_size());
        float* wide = scratch(wide_buffer, g.wide);
        for (size_t item = begin; item < end; ++item) {
            const size_t n = item / s.c_in, ci = item % s.c_in;
            pad_plane(s, g, x.data() + item * plane_in, padded);
            for (size_t j = 0; j < m; ++j) {
                const size_t co = ci * m + j;
                // Each output: the bias, then the taps in (r, t) order, as the reference.
                std::fill(wide, wide + g.wide, s.bias ? b[co] : 0.0f);
                for (size_t tap = 0; tap < g.taps; ++tap) {
                    const float v = w[co * g.taps + tap];
                    multiply_add(wide, padded + g.tap_offset(s, tap), v, g.run);
                }
                float* out = y.data() + (n * s.c_out + co) * plane_out;
                for (size_t oh = 0; oh < s.oh; ++oh) std::copy_n(wide + oh * g.wq, s.ow, out + oh * s.ow);
            }
        }
    });
}

void conv2d_depthwise_backward_data_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> w,
                                        std::span<const float> dy, std::span<float> dx) {
    const Geometry g(s);
    const size_t m = s.cout_g(), plane_out = size_t{s.oh} * s.ow;
    // One item per input plane: the padded dx gathers every tap of its m
    // output channels (each a scatter of the wide dy plane), then its
    // interior is dx. The wide plane's scratch columns hold zeros, and the
    // padded sums start at +0, so what they add changes nothing.
    split(pool, size_t{s.n} * s.c_in, s.y_size() * g.taps, [&](size_t begin, size_t end) {
        thread_local std::vector<float> padded_buffer, wide_buffer;
        float* padded = scratch(padded_buffer, g.padded_size());
        float* wide = scratch(wide_buffer, g.wide);
        std::fill(wide, wide + g.wide, 0.0f);
        for (size_t item = begin; item < end; ++item) {
            const size_t n = item / s.c_in, ci = item % s.c_in;
            std::fill(padded, padded + g.padded_size(), 0.0f);
            for (size_t j = 0; j < m; ++j) {
                const size_t co = ci * m + j;
                const float* in = dy.data() + (n * s.c_out + co) * plane_out;
                for (size_t oh = 0; oh < s.oh; ++oh) std::copy_n(in + oh * s.ow, s.ow, wide + oh * g.wq);
                for (size_t tap = 0; tap < g.taps; ++tap) {
                    const float v = w[co * g.taps + tap];
                    multiply_add(padded + g.tap_offset(s, tap), wide, v, g.run);
                }
            }
            unpad_plane(s, g, padded, dx.data() + item * size_t{s.h} * s.w);
        }
    });
}

void conv2d_depthwise_backward_weight_cpu(cpu::ThreadPool& pool, const Conv2dShape& s, std::span<const float> x,
                                          std::span<const float> dy, std::span<float> dw) {
    const Geometry g(s);
    const size_t m = s.cout_g(), plane_in = size_t{s.h} * s.w, plane_out = size_t{s.oh} * s.ow;
    // One item per input channel, its m output channels' taps summed over the
    // whole batch: tap k of output channel co accumulates lane by lane
    // (lane i: run position i of every image, in order), and
    // dw[co, k] is then the lanes' sum in lane order. A channel is one
    // thread's, so the order is the same for any pool size.
    split(pool, s.c_in, s.y_size() * g.taps, [&](size_t begin, size_t end) {
        thread_local std::vector<float> padded_buffer, wide_buffer, lanes_buffer;
        float* padded = scratch(padded_buffer, g.padded_size());
        float* wide = scratch(wide_buffer, g.wide);
        float* lanes = scratch(lanes_buffer, m * g.taps * g.run);
        std::fill(wide, wide + g.wide, 0.0f);
        for (size_t ci = begin; ci < end; ++ci) {
            std::fill(lanes, lanes + m * g.taps * g.run, 0.0f);
            for (size_t n = 0; n < s.n; ++n) {
                pad_plane(s, g, x.data() + (n * s.c_in + ci) * plane_in, padded);
                for (size_t j = 0; j < m; ++j) {
                    const float* in = dy.data() + (n * s.c_out + ci * m + j) * plane_out;
                    for (size_t oh = 0; oh < s.oh; ++oh) std::copy_n(in + oh * s.ow, s.ow, wide + oh * g.wq);
                    for (size_t tap = 0; tap < g.taps; ++tap) {
                        multiply_add(lanes + (j * g.taps + tap) * g.run, wide, padded + g.tap_offset(s, tap), g.run);
                    }
                }
            }
            for (size_t k = 0; k < m * g.taps; ++k) {
                const float* lane = lanes + k * g.run;
                float acc = 0.0f;
                for (size_t i = 0; i < g.run; ++i) acc += lane[i];
                dw[ci * m * g.taps + k] = acc;
            }
        }
    });
}

} // namespace vkcnn::ops
