// Exact integer accumulators of the quantised CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
// FULLY_CONNECTED kernels: the CUDA forms of cpu_fallback/int_gemm.py's factories
// (gpulite/backends/cuda_int.py launches them).
//
// Every kernel sums (x - zp) * w, where x is the raw integer input, zp its zero point and w the
// constant filter already minus its zero point (int32 on the device). Positions outside the input
// (padding) contribute nothing, as in TFLite, whose im2col pads with the zero point. The epilogue
// (gl_store) writes the int64 sums, or, fused, TFLite's output stage of them (requant.cuh: bias,
// multiplier, rounding, zero point, clamp) as the output type.
//
// Specialisations (gpulite.cuda_compile.SPECIALISATIONS):
//   IN_T   the input element type: gl_s8 (int8), gl_u8 (uint8) or gl_s16 (int16);
//   ACC_T  the accumulator: `int` or `long long`. The host picks `int` only when
//          max|x - zp| * max over outputs of sum|w| < 2^31, so no partial sum of any order can
//          overflow (products and sums are then exact in int32); `long long` otherwise
//          (products are formed as 64-bit products of 32-bit values, never overflow);
//   OUT_T  what the epilogue stores: `long long` (the raw sums), or gl_s8 / gl_u8 / gl_s16 (the
//          requantised output: the output-stage parameters at the end of every signature).
// The input and the output arrive as their bytes (`unsigned char*`, read as IN_T, written as
// OUT_T) so every specialisation has the same signature and the host code does not depend on
// it.
//
// Kernels (256-thread blocks, nothing allocated, so they can be captured into CUDA graphs):
//   int_conv2d_igemm   implicit GEMM over NHWC (grouped, strided, dilated, padded), 64x64x16
//                      tiles in shared memory; FULLY_CONNECTED is the case H = W = KH = KW = 1.
//                      Grid (ceil(M/64), ceil(Cpo/64), groups).
//   int_gemm_smallm    x [M, K] @ w [K, N] for M <= 16: one thread per column, K split over the
//                      block's 8 warps and summed in shared memory. Grid (ceil(N/32), ceil(M/4)).
//   int_depthwise_conv2d  one thread per output, channel multiplier; 1-D grid-stride.
//   int_transpose_conv2d  gather form, one thread per output; 1-D grid-stride.
#include "common.cuh"
#include "igemm_patch.cuh"
#include "requant.cuh"

#ifndef IN_T
#error "int_conv.cu needs IN_T (gl_s8, gl_u8 or gl_s16)"
#endif
#ifndef ACC_T
#error "int_conv.cu needs ACC_T (int or long long)"
#endif
#ifndef OUT_T
#error "int_conv.cu needs OUT_T (long long, gl_s8, gl_u8 or gl_s16)"
#endif

// A quantised 8-bit ADD absorbed into the epilogue (gpulite.fusion): the ADD's output for the
// input pair (x1, x2) on the code path of element i is table[path_off[i] (or base) +
// 256 * (x1 as a byte) + (x2 as a byte)], the pair table the ADD itself looks up
// (ops/quantized_elementwise.py). This kernel's output is x1 when `first`, else x2; the other
// operand is res[i]. res is null when nothing was fused.
struct GlPairAdd {
    const unsigned char* res;
    const unsigned char* table;
    const int* path_off;
    int base, first;
};

// The epilogue: OUT_T long long stores the raw accumulators; gl_s8 / gl_u8 / gl_s16 store the
// output requantised in place (requant.cuh, parameters in q), then through an absorbed ADD
// (ra) when there is one. `c` is the output channel, `i` the flat output index.
__device__ __forceinline__ void gl_store(unsigned char* outb, long long i, long long acc, int c,
                                         const GlRequant& q, const GlPairAdd& ra) {
    if (sizeof(OUT_T) == sizeof(long long)) {
        ((long long*)outb)[i] = acc;
        return;
    }
    OUT_T v = (OUT_T)gl_requantize(acc, c, i, q);
    if (sizeof(OUT_T) == 1 && ra.res) {
        const unsigned mine = (unsigned char)v, other = ra.res[i];
        const unsigned pair = ra.first ? (mine << 8) | other : (other << 8) | mine;
        v = ((const OUT_T*)ra.table)[pair + (ra.path_off ? ra.path_off[i] : ra.base)];
    }
    ((OUT_T*)outb)[i] = v;
}

// the trailing parameters of every kernel: the output stage (requant.cuh's GlRequant, named
// rq_* to stay clear of the kernels' own parameters), unused for raw accumulators, then an
// absorbed ADD (GlPairAdd, ra_*), unused when ra_res is null
#define GL_REQUANT_PARAMS                                                                    \
    const long long *__restrict__ rq_bias, const int *__restrict__ rq_mult,                  \
        const int *__restrict__ rq_shift, int rq_mode, int rq_wrap_input, int rq_out_zp,     \
        int rq_lo, int rq_hi, int rq_up_channels, long long rq_up_elements,                  \
        const unsigned char *__restrict__ ra_res, const unsigned char *__restrict__ ra_table, \
        const int *__restrict__ ra_path_off, int ra_base, int ra_first
#define GL_REQUANT_INIT                                                                      \
    const GlRequant q = {rq_bias,   rq_mult, rq_shift, rq_mode,        rq_wrap_input,       \
                         rq_out_zp, rq_lo,   rq_hi,    rq_up_channels, rq_up_elements};     \
    const GlPairAdd ra = {ra_res, ra_table, ra_path_off, ra_base, ra_first}

#define GL_ITM 64  // rows (M) per block
#define GL_ITN 64  // columns (output channels) per block
#define GL_ITK 16  // depth (K) per shared-memory tile

// (x - zp) * w added to an ACC_T accumulator: a 32-bit multiply-add for `int`, a widening
// 32x32->64-bit multiply-add for `long long`.
__device__ __forceinline__ ACC_T gl_imac(ACC_T acc, int a, int b) {
    return acc + (ACC_T)a * (ACC_T)b;
}

// CONV_2D as an implicit GEMM:
//
//   out[m][g*Cpo + co] = sum_k (patch(m, k) - zp) * wg[k][co]
//
// m = (n*OH + oy)*OW + ox, k = (ky*KW + kx)*Cpg + ci, patch(m, k) =
// x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, g*Cpg + ci] (its term is 0 outside the image),
// w the filter rearranged to [groups][K][Cpo]. out is [M][Cout], Cout = groups * Cpo.
extern "C" __global__ void __launch_bounds__(GL_THREADS)
int_conv2d_igemm(const unsigned char* __restrict__ xb, const int* __restrict__ w,
                 unsigned char* __restrict__ outb, int zp, int M, int H, int W, int Cin,
                 int OH, int OW, int Cout, int KH, int KW, int Cpg, int Cpo, int SH, int SW,
                 int DH, int DW, int PT, int PL, GL_REQUANT_PARAMS) {
    GL_REQUANT_INIT;
    __shared__ int As[GL_ITK][GL_ITM + 1];  // (x - zp), k-major
    __shared__ int Bs[GL_ITK][GL_ITN + 1];
    const IN_T* __restrict__ x = reinterpret_cast<const IN_T*>(xb);
    const int t = threadIdx.x;
    const int tx = t & 15, ty = t >> 4;
    const int m0 = blockIdx.x * GL_ITM, n0 = blockIdx.y * GL_ITN;
    const int g = blockIdx.z;
    const int K = KH * KW * Cpg;
    const int* __restrict__ wg = w + (long long)g * K * Cpo;

    // the four rows of the A tile this thread gathers: rows t/16 + 16*i, column t % 16
    GlPatchRow rows[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
        rows[i] = gl_patch_row(m0 + ty + 16 * i, M, H, W, Cin, OH, OW, g, Cpg, SH, SW, PT, PL);
    const int kk = t & 15;

    ACC_T acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0;
    }
    for (int k0 = 0; k0 < K; k0 += GL_ITK) {
        const GlPatchCol col = gl_patch_col(k0 + kk, K, Cpg, KW, DH, DW);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const long long at = gl_patch_offset(rows[i], col, H, W, Cin);
            As[kk][ty + 16 * i] = at < 0 ? 0 : (int)x[at] - zp;
        }
        // B tile: 64 consecutive output channels per k row (coalesced)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int nn = t & 63, kr = (t >> 6) + 4 * i;
            const int n = n0 + nn, kb = k0 + kr;
            Bs[kr][nn] = (n < Cpo && kb < K) ? wg[(long long)kb * Cpo + n] : 0;
        }
        __syncthreads();
#pragma unroll
        for (int q = 0; q < GL_ITK; ++q) {
            int a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = As[q][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) b[j] = Bs[q][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = gl_imac(acc[i][j], a[i], b[j]);
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = m0 + ty + 16 * i;
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int co = n0 + tx + 16 * j;
            if (co >= Cpo) continue;
            gl_store(outb, (long long)m * Cout + g * Cpo + co, (long long)acc[i][j],
                     g * Cpo + co, q, ra);
        }
    }
}

#define GL_ISM_ROWS 4    // rows per block
#define GL_ISM_SLICES 8  // K is split over the 8 warps of the block

// out[m][n] = sum_k (x[m][k] - zp) * w[k][n] for few rows (FULLY_CONNECTED at batch <= 16).
extern "C" __global__ void __launch_bounds__(GL_THREADS)
int_gemm_smallm(const unsigned char* __restrict__ xb, const int* __restrict__ w,
                unsigned char* __restrict__ outb, int zp, int M, int N, int K,
                GL_REQUANT_PARAMS) {
    GL_REQUANT_INIT;
    __shared__ ACC_T part[GL_ISM_SLICES][GL_ISM_ROWS][33];
    const IN_T* __restrict__ x = reinterpret_cast<const IN_T*>(xb);
    const int lane = threadIdx.x & 31, slice = threadIdx.x >> 5;
    const int n = blockIdx.x * 32 + lane;
    const int m0 = blockIdx.y * GL_ISM_ROWS;
    const int rows = gl_imin(GL_ISM_ROWS, M - m0);
    const IN_T* __restrict__ xr = x + (long long)m0 * K;

    ACC_T acc[GL_ISM_ROWS];
#pragma unroll
    for (int i = 0; i < GL_ISM_ROWS; ++i) acc[i] = 0;
    if (n < N) {
        for (int k = slice; k < K; k += GL_ISM_SLICES) {
            const int wv = w[(long long)k * N + n];
#pragma unroll
            for (int i = 0; i < GL_ISM_ROWS; ++i) {
                if (i < rows) acc[i] = gl_imac(acc[i], (int)xr[(long long)i * K + k] - zp, wv);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < GL_ISM_ROWS; ++i) part[slice][i][lane] = acc[i];
    __syncthreads();
    if (slice < rows && n < N) {  // warp `slice` finishes row m0 + slice
        ACC_T v = 0;
#pragma unroll
        for (int s = 0; s < GL_ISM_SLICES; ++s) v += part[s][slice][lane];
        gl_store(outb, (long long)(m0 + slice) * N + n, (long long)v, n, q, ra);
    }
}

// DEPTHWISE_CONV_2D: out[n, oy, ox, c] = sum over the taps inside the image of
// (x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, c / mult] - zp) * w[ky][kx][c].
extern "C" __global__ void __launch_bounds__(GL_THREADS)
int_depthwise_conv2d(const unsigned char* __restrict__ xb, const int* __restrict__ w,
                     unsigned char* __restrict__ outb, int zp, long long total, int H,
                     int W, int Cin, int OH, int OW, int Cout, int mult, int KH, int KW,
                     int SH, int SW, int DH, int DW, int PT, int PL, GL_REQUANT_PARAMS) {
    GL_REQUANT_INIT;
    const IN_T* __restrict__ x = reinterpret_cast<const IN_T*>(xb);
    GL_GRID_LOOP(i, total) {
        const GlNhwc o = gl_nhwc(i, OH, OW, Cout);
        const int c = o.c, ox = o.x, oy = o.y;
        const long long n = o.n;
        const IN_T* __restrict__ xn = x + n * H * W * Cin + c / mult;
        const int y0 = oy * SH - PT, x0 = ox * SW - PL;
        ACC_T acc = 0;
        for (int ky = 0; ky < KH; ++ky) {
            const int iy = y0 + ky * DH;
            if (!gl_inside(iy, H)) continue;
            for (int kx = 0; kx < KW; ++kx) {
                const int ix = x0 + kx * DW;
                if (!gl_inside(ix, W)) continue;
                const int v = (int)xn[((long long)iy * W + ix) * Cin] - zp;
                acc = gl_imac(acc, v, w[(ky * KW + kx) * Cout + c]);
            }
        }
        gl_store(outb, i, (long long)acc, c, q, ra);
    }
}

// TRANSPOSE_CONV as a gather: input pixel (iy, ix) scatters into output
// (iy*SH - PT + ky, ix*SW - PL + kx), so output (oy, ox) sums, over the taps with
// oy + PT - ky = iy*SH for an iy in [0, H) (likewise x),
//   sum_ci (x[n, iy, ix, ci] - zp) * w[ky][kx][ci][co]          (w: [KH, KW, Cin, Cout])
// Only the taps ky = (oy + PT) mod SH (+ SH, + 2 SH, ...) can match, so the loops step by the
// stride. Outputs no tap reaches are 0.
extern "C" __global__ void __launch_bounds__(GL_THREADS)
int_transpose_conv2d(const unsigned char* __restrict__ xb, const int* __restrict__ w,
                     unsigned char* __restrict__ outb, int zp, long long total, int H,
                     int W, int Cin, int OH, int OW, int Cout, int KH, int KW, int SH, int SW,
                     int PT, int PL, GL_REQUANT_PARAMS) {
    GL_REQUANT_INIT;
    const IN_T* __restrict__ x = reinterpret_cast<const IN_T*>(xb);
    GL_GRID_LOOP(i, total) {
        const GlNhwc o = gl_nhwc(i, OH, OW, Cout);
        const int co = o.c, ox = o.x, oy = o.y;
        const long long n = o.n;
        const int ty = oy + PT, tx = ox + PL;
        int ky0 = ty % SH, kx0 = tx % SW;
        if (ky0 < 0) ky0 += SH;
        if (kx0 < 0) kx0 += SW;
        ACC_T acc = 0;
        for (int ky = ky0; ky < KH; ky += SH) {
            const int iy = (ty - ky) / SH;  // exact: ty - ky is a multiple of SH
            if (iy < 0) break;              // and only falls as ky grows
            if (iy >= H) continue;
            for (int kx = kx0; kx < KW; kx += SW) {
                const int ix = (tx - kx) / SW;
                if (ix < 0) break;
                if (ix >= W) continue;
                const IN_T* __restrict__ xp = x + ((n * H + iy) * W + ix) * Cin;
                const int* __restrict__ wp = w + (long long)(ky * KW + kx) * Cin * Cout + co;
                for (int ci = 0; ci < Cin; ++ci)
                    acc = gl_imac(acc, (int)xp[ci] - zp, wp[(long long)ci * Cout]);
            }
        }
        gl_store(outb, i, (long long)acc, co, q, ra);
    }
}
