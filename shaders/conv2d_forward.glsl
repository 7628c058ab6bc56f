// The forward kernel, compiled as conv2d_forward.comp and (CONV2D_BIAS 1)
// conv2d_forward_bias.comp: an implicit GEMM per group, y_g (Cout/g, N*OH*OW) =
// w_g (Cout/g, Cin/g*kH*kW) * im2col(x_g), never materialising im2col.
// Writes (=) y.
#include "conv2d_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };   // (N, Cin, H, W)
layout(std430, set = 0, binding = 1) readonly buffer Wt { float wt[]; }; // (Cout, Cin/groups, kH, kW)
#if CONV2D_BIAS
layout(std430, set = 0, binding = 2) readonly buffer B { float b[]; };   // (Cout)
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };  // (N, Cout, OH, OW)
#else
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };  // (N, Cout, OH, OW)
#endif

// This invocation's block and the addresses of the current tap.
float acc[TM * TN];
uint wbase[TM]; // weight row of each output channel (+ ci * taps + tap)
uint off[TN];   // x element of each output pixel at the current tap (+ ci * H * W)
bool inside[TN]; // the tap lies inside the input (else it reads 0)

// acc += w[rows, ci, tap] * x[ci, tap of each pixel]: one input channel.
void accumulate(int ci, uint tap, uint hw, uint taps) {
    float xv[TN], wv[TM];
    for (uint j = 0; j < TN; ++j) {
        const float v = x[off[j] + uint(ci) * hw];
        xv[j] = inside[j] ? v : 0.0;
    }
    for (uint i = 0; i < TM; ++i) wv[i] = wt[wbase[i] + uint(ci) * taps + tap];
    for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] += wv[i] * xv[j];
}

// Every input channel of group g at one tap, in order, UNROLL per loop step.
void accumulate_channels(uint tap, uint hw, uint taps) {
    for (int c0 = 0; c0 < pc.cin_g; c0 += int(UNROLL)) {
        [[unroll]] for (int u = 0; u < int(UNROLL); ++u)
            if (c0 + u < pc.cin_g) accumulate(c0 + u, tap, hw, taps);
    }
}

void main() {
    if (idle_lane()) return;
    const int g = int(gl_WorkGroupID.z);
    const int taps = pc.kh * pc.kw;
    const uint hw = uint(pc.h * pc.w), ohw = uint(pc.oh * pc.ow);

    // Rows: output channels of group g. Tile-edge rows read a clamped (valid)
    // weight row and are not stored, which keeps branches out of the inner loop.
    int m[TM];
    for (uint i = 0; i < TM; ++i) {
        m[i] = int(gl_WorkGroupID.y * pc.wg_m * TM + i * pc.wg_m + lane_m());
        wbase[i] = uint(g * pc.cout_g + min(m[i], pc.cout_g - 1)) * uint(pc.cin_g * taps);
    }

    for (uint blk = gl_WorkGroupID.x; blk < pc.blocks; blk += gl_NumWorkGroups.x) {
        // Columns: output pixels (n, oh, ow), clamped like the rows.
        uint pix[TN], xbase[TN];
        int ih0[TN], iw0[TN];
        for (uint j = 0; j < TN; ++j) {
            pix[j] = blk * pc.wg_n * TN + j * pc.wg_n + lane_n();
            const uint q = min(pix[j], pc.pixels - 1), img = q / ohw, p = q % ohw;
            xbase[j] = (img * uint(pc.c_in) + uint(g * pc.cin_g)) * hw;
            if (POINTWISE) xbase[j] += p;
            ih0[j] = int(p) / pc.ow * pc.stride_h - pc.pad_top;
            iw0[j] = int(p) % pc.ow * pc.stride_w - pc.pad_left;
        }

        for (uint i = 0; i < TM; ++i) {
#if CONV2D_BIAS
            const float init = b[g * pc.cout_g + min(m[i], pc.cout_g - 1)];
#else
            const float init = 0.0;
#endif
            for (uint j = 0; j < TN; ++j) acc[i * TN + j] = init;
        }

        if (POINTWISE) {
            for (uint j = 0; j < TN; ++j) off[j] = xbase[j], inside[j] = true;
            accumulate_channels(0u, hw, 1u);
        } else {
            // Taps outside, channels inside: the bounds test is paid once per tap.
            for (int r = 0; r < pc.kh; ++r) {
                for (int t = 0; t < pc.kw; ++t) {
                    for (uint j = 0; j < TN; ++j) {
                        const int ih = ih0[j] + r * pc.dilation_h, iw = iw0[j] + t * pc.dilation_w;
                        inside[j] = uint(ih) < uint(pc.h) && uint(iw) < uint(pc.w);
                        off[j] = inside[j] ? xbase[j] + uint(ih * pc.w + iw) : 0u; // 0: a safe address to read
                    }
                    accumulate_channels(uint(r * pc.kw + t), hw, uint(taps));
                }
            }
        }

        for (uint i = 0; i < TM; ++i) {
            if (m[i] >= pc.cout_g) continue;
            for (uint j = 0; j < TN; ++j) {
                if (pix[j] >= pc.pixels) continue;
                const uint img = pix[j] / ohw, p = pix[j] % ohw;
                y[(img * uint(pc.c_out) + uint(g * pc.cout_g + m[i])) * ohw + p] = acc[i * TN + j];
            }
        }
    }
}
