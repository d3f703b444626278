// MAX_POOL_2D / AVERAGE_POOL_2D / L2_POOL_2D (NHWC float32), as TFLite's reference kernels:
// each window is clipped to the image (padding is never read); max starts from the lowest
// finite float and skips NaN (fmaxf, like std::max(acc, v)); average and L2 add the window in
// (ky, kx) order from 0, divide by the number of in-image elements (1 when there are none),
// and L2 takes the square root. Sums use __fadd_rn/__fmul_rn so they are never contracted into
// FMAs: the results are bit-identical to the CPU kernels in cpu_fallback/pooling.py.
//
// Specialised by -D POOL_KIND = 0 (max), 1 (average), 2 (L2). One thread per output element,
// channels fastest; 1-D grid-stride launch, 256 threads.
#include "common.cuh"

#ifndef POOL_KIND
#error "pool.cu needs POOL_KIND (0 max, 1 average, 2 l2)"
#endif

extern "C" __global__ void __launch_bounds__(GL_THREADS)
pool2d(const float* __restrict__ x, float* __restrict__ out, long long total, int H, int W,
       int C, int OH, int OW, int KH, int KW, int SH, int SW, int PT, int PL, float lo,
       float hi) {
    GL_GRID_LOOP(i, total) {
        const GlNhwc o = gl_nhwc(i, OH, OW, C);
        const int c = o.c, ox = o.x, oy = o.y;
        const long long n = o.n;
        const int y0 = oy * SH - PT, x0 = ox * SW - PL;
        const int ys = gl_imax(y0, 0), ye = gl_imin(y0 + KH, H);
        const int xs = gl_imax(x0, 0), xe = gl_imin(x0 + KW, W);
        const float* xn = x + n * H * W * C + c;
#if POOL_KIND == 0
        float acc = GL_FLT_LOWEST;
        for (int y = ys; y < ye; ++y)
            for (int xx = xs; xx < xe; ++xx) acc = fmaxf(acc, xn[((long long)y * W + xx) * C]);
#else
        float acc = 0.0f;
        for (int y = ys; y < ye; ++y) {
            for (int xx = xs; xx < xe; ++xx) {
                const float v = xn[((long long)y * W + xx) * C];
#if POOL_KIND == 2
                acc = __fadd_rn(acc, __fmul_rn(v, v));
#else
                acc = __fadd_rn(acc, v);
#endif
            }
        }
        const int count = gl_imax(ye - ys, 0) * gl_imax(xe - xs, 0);
        acc = acc / (float)gl_imax(count, 1);
#if POOL_KIND == 2
        acc = sqrtf(acc);
#endif
#endif
        out[i] = gl_clamp(acc, lo, hi);
    }
}
