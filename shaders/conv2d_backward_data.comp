// conv2d backward data, dx = the transposed convolution of dy, as a gather:
// an implicit GEMM per group, dx_g (Cin/g, N*H*W) = w_g^T (Cin/g, Cout/g*kH*kW)
// * the dy taps that read each input pixel. Each dx element is owned by one
// invocation: no atomics, fixed order. Writes (=) dx.
#version 450
#include "conv2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Wt { float wt[]; };  // (Cout, Cin/groups, kH, kW)
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };  // (N, Cout, OH, OW)
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; }; // (N, Cin, H, W)

// This invocation's block and the addresses of the current tap.
float acc[TM * TN];
uint wbase[TM]; // weight of each input channel for output channel 0 of the group (+ co * wstep + tap)
uint off[TN];   // dy element that reads each input pixel through the current tap (+ co * OH * OW)
bool hit[TN];   // some output reads the pixel through this tap (else it adds 0)

// acc += w[co, rows, tap] * dy[co, the output of each pixel]: one output channel.
void accumulate(int co, uint tap, uint ohw, uint wstep) {
    float dv[TN], wv[TM];
    for (uint j = 0; j < TN; ++j) {
        const float v = dy[off[j] + uint(co) * ohw];
        dv[j] = hit[j] ? v : 0.0;
    }
    for (uint i = 0; i < TM; ++i) wv[i] = wt[wbase[i] + uint(co) * wstep + tap];
    for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] += wv[i] * dv[j];
}

// Every output channel of group g at one tap, in order, UNROLL per loop step.
void accumulate_channels(uint tap, uint ohw, uint wstep) {
    for (int c0 = 0; c0 < pc.cout_g; c0 += int(UNROLL)) {
        [[unroll]] for (int u = 0; u < int(UNROLL); ++u)
            if (c0 + u < pc.cout_g) accumulate(c0 + u, tap, ohw, wstep);
    }
}

void main() {
    if (idle_lane()) return;
    const int g = int(gl_WorkGroupID.z);
    const int taps = pc.kh * pc.kw;
    const uint hw = uint(pc.h * pc.w), ohw = uint(pc.oh * pc.ow);
    const uint wstep = uint(pc.cin_g * taps); // from one output channel's weights to the next

    // Rows: input channels of group g (clamped at the tile edge, not stored).
    int m[TM];
    for (uint i = 0; i < TM; ++i) {
        m[i] = int(gl_WorkGroupID.y * pc.wg_m * TM + i * pc.wg_m + lane_m());
        wbase[i] = uint(g * pc.cout_g) * wstep + uint(min(m[i], pc.cin_g - 1) * taps);
    }

    for (uint blk = gl_WorkGroupID.x; blk < pc.blocks; blk += gl_NumWorkGroups.x) {
        // Columns: input pixels (n, ih, iw).
        uint pix[TN], dybase[TN];
        int th0[TN], tw0[TN]; // ih + pad_top, iw + pad_left: where tap (0, 0) of an output would sit
        for (uint j = 0; j < TN; ++j) {
            pix[j] = blk * pc.wg_n * TN + j * pc.wg_n + lane_n();
            const uint q = min(pix[j], pc.pixels - 1), img = q / hw, p = q % hw;
            dybase[j] = (img * uint(pc.c_out) + uint(g * pc.cout_g)) * ohw;
            if (POINTWISE) dybase[j] += p;
            th0[j] = int(p) / pc.w + pc.pad_top;
            tw0[j] = int(p) % pc.w + pc.pad_left;
        }

        for (uint k = 0; k < TM * TN; ++k) acc[k] = 0.0;

        if (POINTWISE) {
            for (uint j = 0; j < TN; ++j) off[j] = dybase[j], hit[j] = true;
            accumulate_channels(0u, ohw, wstep);
        } else {
            for (int r = 0; r < pc.kh; ++r) {
                for (int t = 0; t < pc.kw; ++t) {
                    // Output (oh, ow) reads this pixel through tap (r, t) when
                    // oh * stride_h = ih + pad_top - r * dilation_h, same for w.
                    bool any_hit = false;
                    for (uint j = 0; j < TN; ++j) {
                        const int a = th0[j] - r * pc.dilation_h, c = tw0[j] - t * pc.dilation_w;
                        const int oh = a / pc.stride_h, ow = c / pc.stride_w;
                        hit[j] = a >= 0 && c >= 0 && oh * pc.stride_h == a && ow * pc.stride_w == c && oh < pc.oh &&
                                 ow < pc.ow;
                        off[j] = hit[j] ? dybase[j] + uint(oh * pc.ow + ow) : 0u; // 0: a safe address to read
                        any_hit = any_hit || hit[j];
                    }
                    if (!any_hit) continue; // with stride s, most taps miss a given pixel
                    accumulate_channels(uint(r * pc.kw + t), ohw, wstep);
                }
            }
        }

        for (uint i = 0; i < TM; ++i) {
            if (m[i] >= pc.cin_g) continue;
            for (uint j = 0; j < TN; ++j) {
                if (pix[j] >= pc.pixels) continue;
                const uint img = pix[j] / hw, p = pix[j] % hw;
                dx[(img * uint(pc.c_in) + uint(g * pc.cin_g + m[i])) * hw + p] = acc[i * TN + j];
            }
        }
    }
}
