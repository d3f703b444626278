// TRANSPOSE_CONV (NHWC float32), computed as a gather: input pixel (iy, ix) scatters into
// out[iy*SH - PT + ky, ix*SW - PL + kx], so output (oy, ox) sums, over the taps (ky, kx) with
// oy + PT - ky = iy*SH for an iy in [0, H) (likewise x),
//
//   sum_ci x[n, iy, ix, ci] * w(ky, kx, ci, co)
//
// then adds bias[co] and clamps. The filter element is w[(ky*KW + kx)*ws_tap + ci*ws_ci +
// co*ws_co]: the rearranged constant filter [KH, KW, Cin, Cout] (Cin*Cout, Cout, 1) or the raw
// TFLite filter [Cout, KH, KW, Cin] (Cin, 1, KH*KW*Cin). One thread per output element, output
// channels fastest; 1-D grid-stride launch, 256 threads.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(GL_THREADS)
transpose_conv2d(const float* __restrict__ x, const float* __restrict__ w,
                 const float* __restrict__ bias, float* __restrict__ out, long long total,
                 int H, int W, int Cin, int OH, int OW, int Cout, int KH, int KW, int SH, int SW,
                 int PT, int PL, long long ws_tap, long long ws_ci, long long ws_co, float lo,
                 float hi) {
    GL_GRID_LOOP(i, total) {
        const GlNhwc o = gl_nhwc(i, OH, OW, Cout);
        const int co = o.c, ox = o.x, oy = o.y;
        const long long n = o.n;
        float acc = 0.0f;
        for (int ky = 0; ky < KH; ++ky) {
            const int ty = oy + PT - ky;
            if (ty < 0 || ty % SH != 0) continue;
            const int iy = ty / SH;
            if (iy >= H) continue;
            for (int kx = 0; kx < KW; ++kx) {
                const int tx = ox + PL - kx;
                if (tx < 0 || tx % SW != 0) continue;
                const int ix = tx / SW;
                if (ix >= W) continue;
                const float* xp = x + ((n * H + iy) * W + ix) * Cin;
                const float* wp = w + (ky * KW + kx) * ws_tap + co * ws_co;
                for (int ci = 0; ci < Cin; ++ci) acc = fmaf(xp[ci], wp[ci * ws_ci], acc);
            }
        }
        if (bias) acc += bias[co];
        out[i] = gl_clamp(acc, lo, hi);
    }
}
