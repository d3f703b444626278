// DEPTHWISE_CONV_2D (NHWC float32): output channel c reads input channel c / mult.
//
//   out[n, oy, ox, c] = clamp(bias[c] + sum_{ky,kx} x[n, iy, ix, c / mult] * w[ky, kx, c])
//   iy = oy*SH - PT + ky*DH, ix = ox*SW - PL + kx*DW; taps outside the image are skipped.
//
// Summed as TFLite's kernel sums: the bias first, then the taps in (ky, kx) order, each a
// rounded multiply and a rounded add (no FMA), so results are bit for bit the CPU path's and
// LiteRT's (dynamic-range models need that: a last-bit difference changes how the next op
// quantises its input).
// w is the TFLite filter [1, KH, KW, C] (its layout is already [KH][KW][C]). One thread per
// output element, channels fastest, so a warp reads consecutive channels. 1-D grid-stride
// launch, 256 threads.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(GL_THREADS)
depthwise_conv2d(const float* __restrict__ x, const float* __restrict__ w,
                 const float* __restrict__ bias, float* __restrict__ out, long long total,
                 int H, int W, int Cin, int OH, int OW, int C, int mult, int KH, int KW, int SH,
                 int SW, int DH, int DW, int PT, int PL, float lo, float hi) {
    GL_GRID_LOOP(i, total) {
        const GlNhwc o = gl_nhwc(i, OH, OW, C);
        const int c = o.c, ox = o.x, oy = o.y;
        const long long n = o.n;
        const float* xn = x + n * H * W * Cin + c / mult;
        const int iy0 = oy * SH - PT, ix0 = ox * SW - PL;
        float acc = bias ? bias[c] : 0.0f;
        for (int ky = 0; ky < KH; ++ky) {
            const int iy = iy0 + ky * DH;
            if (!gl_inside(iy, H)) continue;
            for (int kx = 0; kx < KW; ++kx) {
                const int ix = ix0 + kx * DW;
                if (!gl_inside(ix, W)) continue;
                acc = __fadd_rn(acc, __fmul_rn(xn[((long long)iy * W + ix) * Cin],
                                               w[(ky * KW + kx) * C + c]));
            }
        }
        out[i] = gl_clamp(acc, lo, hi);
    }
}
