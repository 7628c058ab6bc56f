// conv2d backward weight: an implicit GEMM per group, dw_g (Cout/g, Cin/g*kH*kW)
// = dy_g (Cout/g, N*OH*OW) * im2col(x_g)^T, reduced over N*OH*OW. The
// reduction runs over rows (image, oh), split into chunks of pc.chunk_rows
// rows: grid z = chunk * groups + group. Each element of a chunk's dw is
// owned by one invocation, which sums in a fixed order: no atomics. Writes
// (=) dw[chunk]; with one chunk that is dw itself, with more,
// conv2d_backward_weight_sum.comp adds the chunks in order (a small weight
// alone gives too few workgroups to fill a device).
#version 450
#include "conv2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };    // (N, Cin, H, W)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };  // (N, Cout, OH, OW)
layout(std430, set = 0, binding = 2) writeonly buffer DW { float dw[]; }; // (chunks, Cout, Cin/groups, kH, kW)

// This invocation's block and the addresses of the current output row.
float acc[TM * TN];
uint dyrow[TM];   // dy of each output channel at (img, oh, 0)
uint rowbase[TN]; // x of each tap's channel at (img, ih, 0); the channel's first row when ih is outside
bool row_in[TN];  // ih lies inside the input
int toff[TN];     // iw = ow * stride_w + toff

// acc += dy[rows, ow] * x[tap of each column at ow]: one output pixel of the row.
void accumulate(int ow) {
    float xv[TN], dv[TM];
    for (uint j = 0; j < TN; ++j) {
        const int iw = ow * pc.stride_w + toff[j];
        const bool inside = POINTWISE || (row_in[j] && uint(iw) < uint(pc.w));
        const float v = x[rowbase[j] + uint(inside ? iw : 0)]; // column 0: a safe address to read
        xv[j] = inside ? v : 0.0;
    }
    for (uint i = 0; i < TM; ++i) dv[i] = dy[dyrow[i] + uint(ow)];
    for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] += dv[i] * xv[j];
}

void main() {
    if (idle_lane()) return;
    const int g = int(gl_WorkGroupID.z % uint(pc.groups));
    const uint chunk = gl_WorkGroupID.z / uint(pc.groups);
    const int taps = pc.kh * pc.kw;
    const uint hw = uint(pc.h * pc.w), ohw = uint(pc.oh * pc.ow);
    const uint cols = uint(pc.cin_g * taps);
    // A pointwise convolution reads x as it is: one "row" of OH*OW pixels per image.
    const int rows = POINTWISE ? 1 : pc.oh, width = POINTWISE ? int(ohw) : pc.ow;
    // This chunk's rows [first, last) of the N * rows, in (image, oh) order.
    const uint total_rows = uint(pc.n * rows);
    const uint first = min(chunk * pc.chunk_rows, total_rows), last = min(first + pc.chunk_rows, total_rows);
    const uint dw_base = chunk * uint(pc.c_out) * cols;

    // Rows: output channels of group g (clamped at the tile edge, not stored).
    int m[TM];
    uint dybase[TM];
    for (uint i = 0; i < TM; ++i) {
        m[i] = int(gl_WorkGroupID.y * pc.wg_m * TM + i * pc.wg_m + lane_m());
        dybase[i] = uint(g * pc.cout_g + min(m[i], pc.cout_g - 1)) * ohw;
    }

    for (uint blk = gl_WorkGroupID.x; blk < pc.blocks; blk += gl_NumWorkGroups.x) {
        // Columns: weight taps (ci, r, t) of group g.
        uint col[TN], xbase[TN];
        int roff[TN]; // ih = oh * stride_h + roff
        for (uint j = 0; j < TN; ++j) {
            col[j] = blk * pc.wg_n * TN + j * pc.wg_n + lane_n();
            const int q = int(min(col[j], cols - 1)), ci = q / taps, r = q / pc.kw % pc.kh, t = q % pc.kw;
            xbase[j] = uint(g * pc.cin_g + ci) * hw;
            roff[j] = r * pc.dilation_h - pc.pad_top;
            toff[j] = t * pc.dilation_w - pc.pad_left;
        }

        for (uint k = 0; k < TM * TN; ++k) acc[k] = 0.0;

        for (uint row = first; row < last; ++row) {
            const int img = int(row / uint(rows)), oh = int(row) - img * rows;
            const uint ximg = uint(img * pc.c_in) * hw, dyimg = uint(img * pc.c_out) * ohw;
            for (uint j = 0; j < TN; ++j) {
                const int ih = oh * pc.stride_h + roff[j];
                row_in[j] = POINTWISE || uint(ih) < uint(pc.h);
                rowbase[j] = ximg + xbase[j] + uint(row_in[j] && !POINTWISE ? ih * pc.w : 0);
            }
            for (uint i = 0; i < TM; ++i) dyrow[i] = dyimg + dybase[i] + uint(oh * pc.ow);
            // The pixels of the row in order, UNROLL per loop step.
            for (int ow0 = 0; ow0 < width; ow0 += int(UNROLL)) {
                [[unroll]] for (int u = 0; u < int(UNROLL); ++u)
                    if (ow0 + u < width) accumulate(ow0 + u);
            }
        }

        for (uint i = 0; i < TM; ++i) {
            if (m[i] >= pc.cout_g) continue;
            for (uint j = 0; j < TN; ++j)
                if (col[j] < cols) dw[dw_base + uint(g * pc.cout_g + m[i]) * cols + col[j]] = acc[i * TN + j];
        }
    }
}
