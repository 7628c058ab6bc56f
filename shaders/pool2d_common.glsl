// Shared by the max_pool2d and avg_pool2d shaders: the push-constant block
// (Pool2dPush in src/ops/pool2d_geometry.h) and window helpers. The avg_pool2d
// shaders also run adaptive_avg_pool2d (pc.adaptive = 1).

layout(push_constant) uniform Push {
    uint planes, h, w, oh, ow; // N*C, input and output plane sizes
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int count_include_pad; // avg_pool2d only
    int divisor;           // avg_pool2d: divisor_override, 0 = none
    int adaptive;          // avg_pool2d shaders: 1 = adaptive_avg_pool2d windows, kh..divisor unused
} pc;

// First output index o >= 0 with o * s >= a, for any sign of a.
int first_window_at_or_after(int a, int s) { return a <= 0 ? 0 : (a + s - 1) / s; }

// avg_pool2d's window (oy, ox) clipped to the input, [h0, h1) x [w0, w1), and
// its divisor (PyTorch's cpu_avg_pool: the padded size is the window clipped
// to the padded input). Adaptive: PyTorch's start_index / end_index,
// [floor(o * in / out), ceil((o + 1) * in / out)); the launch checks that
// these products fit in int.
struct AvgWindow {
    int h0, h1, w0, w1, divisor;
};

AvgWindow avg_window(int oy, int ox) {
    AvgWindow win;
    if (pc.adaptive != 0) {
        const int h = int(pc.h), w = int(pc.w), oh = int(pc.oh), ow = int(pc.ow);
        win.h0 = (oy * h) / oh;
        win.h1 = ((oy + 1) * h + oh - 1) / oh;
        win.w0 = (ox * w) / ow;
        win.w1 = ((ox + 1) * w + ow - 1) / ow;
        win.divisor = 0; // avg_divide divides by the height, then the width
        return win;
    }
    win.h0 = oy * pc.sh - pc.ph;
    win.w0 = ox * pc.sw - pc.pw;
    win.h1 = min(win.h0 + pc.kh, int(pc.h) + pc.ph);
    win.w1 = min(win.w0 + pc.kw, int(pc.w) + pc.pw);
    const int padded = (win.h1 - win.h0) * (win.w1 - win.w0);
    win.h0 = max(win.h0, 0);
    win.w0 = max(win.w0, 0);
    win.h1 = min(win.h1, int(pc.h));
    win.w1 = min(win.w1, int(pc.w));
    win.divisor = pc.divisor != 0 ? pc.divisor
                  : pc.count_include_pad != 0 ? padded
                                              : (win.h1 - win.h0) * (win.w1 - win.w0);
    return win;
}

// v over the window's divisor, as the CPU references divide: avg_pool2d once,
// adaptive_avg_pool2d by the height and then by the width (PyTorch's order).
float avg_divide(float v, AvgWindow win) {
    return pc.adaptive != 0 ? v / float(win.h1 - win.h0) / float(win.w1 - win.w0) : v / float(win.divisor);
}

// The output rows [oy0, oy1] and columns [ox0, ox1] whose avg windows cover
// input element (iy, ix).
void avg_windows_covering(int iy, int ix, out int oy0, out int oy1, out int ox0, out int ox1) {
    if (pc.adaptive != 0) {
        // start(o) <= i  <=>  o <= ceil((i + 1) * out / in) - 1;  end(o) > i  <=>  o >= floor(i * out / in).
        const int h = int(pc.h), w = int(pc.w), oh = int(pc.oh), ow = int(pc.ow);
        oy0 = (iy * oh) / h;
        oy1 = ((iy + 1) * oh + h - 1) / h - 1;
        ox0 = (ix * ow) / w;
        ox1 = ((ix + 1) * ow + w - 1) / w - 1;
        return;
    }
    // Windows o with o*s - p <= i < o*s - p + k (in-bounds taps are never clipped away).
    oy0 = first_window_at_or_after(iy + pc.ph - pc.kh + 1, pc.sh);
    oy1 = min((iy + pc.ph) / pc.sh, int(pc.oh) - 1);
    ox0 = first_window_at_or_after(ix + pc.pw - pc.kw + 1, pc.sw);
    ox1 = min((ix + pc.pw) / pc.sw, int(pc.ow) - 1);
}
