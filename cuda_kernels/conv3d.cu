// CONV_3D and CONV_3D_TRANSPOSE (NDHWC float32), one thread per output element, output
// channels fastest; 1-D grid-stride launches, 256 threads.
//
// conv3d: out[n, oz, oy, ox, co] = clamp(sum x[n, iz, iy, ix, ci] * w[kd, kh, kw, ci, co]
//         + bias[co]) with iz = oz*SD - PF + kd*DD (likewise y, x); taps outside are skipped.
//         w is the TFLite filter [KD, KH, KW, Cin, Cout] as it is.
// conv3d_transpose: input voxel (iz, iy, ix) scatters into out[iz*SD - PF + kd*DD, ...];
//         gathered per output over the taps with oz + PF - kd*DD = iz*SD, iz in [0, D).
//         The filter element (tap, ci, co) is w[tap*Cin*Cout + ci*ws_ci + co*ws_co]: the
//         rearranged constant [KD, KH, KW, Cin, Cout] (ws_ci = Cout, ws_co = 1) or the raw
//         TFLite filter [KD, KH, KW, Cout, Cin] (ws_ci = 1, ws_co = Cin).
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(GL_THREADS)
conv3d(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
       float* __restrict__ out, long long total, int D, int H, int W, int Cin, int OD, int OH,
       int OW, int Cout, int KD, int KH, int KW, int SD, int SH, int SW, int DD, int DH, int DW,
       int PF, int PT, int PL, float lo, float hi) {
    GL_GRID_LOOP(i, total) {
        const GlNhwc o = gl_ndhwc(i, OD, OH, OW, Cout);
        const int co = o.c, ox = o.x, oy = o.y, oz = o.z;
        const long long n = o.n;
        float acc = 0.0f;
        for (int kd = 0; kd < KD; ++kd) {
            const int iz = oz * SD - PF + kd * DD;
            if (!gl_inside(iz, D)) continue;
            for (int kh = 0; kh < KH; ++kh) {
                const int iy = oy * SH - PT + kh * DH;
                if (!gl_inside(iy, H)) continue;
                for (int kw = 0; kw < KW; ++kw) {
                    const int ix = ox * SW - PL + kw * DW;
                    if (!gl_inside(ix, W)) continue;
                    const float* xp = x + (((n * D + iz) * H + iy) * W + ix) * Cin;
                    const float* wp =
                        w + (long long)((kd * KH + kh) * KW + kw) * Cin * Cout + co;
                    for (int ci = 0; ci < Cin; ++ci)
                        acc = fmaf(xp[ci], wp[(long long)ci * Cout], acc);
                }
            }
        }
        if (bias) acc += bias[co];
        out[i] = gl_clamp(acc, lo, hi);
    }
}

extern "C" __global__ void __launch_bounds__(GL_THREADS)
conv3d_transpose(const float* __restrict__ x, const float* __restrict__ w,
                 const float* __restrict__ bias, float* __restrict__ out, long long total, int D,
                 int H, int W, int Cin, int OD, int OH, int OW, int Cout, int KD, int KH, int KW,
                 int SD, int SH, int SW, int DD, int DH, int DW, int PF, int PT, int PL,
                 long long ws_ci, long long ws_co, float lo, float hi) {
    GL_GRID_LOOP(i, total) {
        const GlNhwc o = gl_ndhwc(i, OD, OH, OW, Cout);
        const int co = o.c, ox = o.x, oy = o.y, oz = o.z;
        const long long n = o.n;
        float acc = 0.0f;
        for (int kd = 0; kd < KD; ++kd) {
            const int tz = oz + PF - kd * DD;
            if (tz < 0 || tz % SD != 0) continue;
            const int iz = tz / SD;
            if (iz >= D) continue;
            for (int kh = 0; kh < KH; ++kh) {
                const int ty = oy + PT - kh * DH;
                if (ty < 0 || ty % SH != 0) continue;
                const int iy = ty / SH;
                if (iy >= H) continue;
                for (int kw = 0; kw < KW; ++kw) {
                    const int tx = ox + PL - kw * DW;
                    if (tx < 0 || tx % SW != 0) continue;
                    const int ix = tx / SW;
                    if (ix >= W) continue;
                    const float* xp = x + (((n * D + iz) * H + iy) * W + ix) * Cin;
                    const float* wp =
                        w + (long long)((kd * KH + kh) * KW + kw) * Cin * Cout + co * ws_co;
                    for (int ci = 0; ci < Cin; ++ci) acc = fmaf(xp[ci], wp[ci * ws_ci], acc);
                }
            }
        }
        if (bias) acc += bias[co];
        out[i] = gl_clamp(acc, lo, hi);
    }
}
