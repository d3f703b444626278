// CONV_2D (NHWC float32, grouped when Cin = groups * Cpg) as an implicit GEMM:
//
//   out[m][g*Cpo + co] = clamp(sum_k patch(m, k) * Wg[k][co] + bias[g*Cpo + co], lo, hi)
//
// (plus a fused residual ADD when `res` is not null, gl_residual)
// with m = (n*OH + oy)*OW + ox, k = (ky*KW + kx)*Cpg + ci (the im2col order), and
// patch(m, k) = x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, g*Cpg + ci], zero outside the image
// (TFLite's SAME padding). The patch matrix is never stored: each 64x16 tile is gathered
// straight from the input into shared memory.
//
// The filter element (k, co) of group g is w[g*K*Cpo + k*wsk + co*wsn], which covers both the
// rearranged constant filter [groups, K, Cpo] (wsk = Cpo, wsn = 1) and the raw TFLite filter
// [Cout, KH, KW, Cpg] (wsk = 1, wsn = K). Grid (ceil(M/64), ceil(Cpo/64), groups), 256 threads.
// 1x1 stride-1 unpadded convolutions use gemm_tiled (gemm.cu) instead.
#include "common.cuh"
#include "gemm_tile.cuh"
#include "igemm_patch.cuh"

extern "C" __global__ void __launch_bounds__(GL_THREADS)
conv2d_igemm(const float* __restrict__ x, const float* __restrict__ w,
             const float* __restrict__ bias, float* __restrict__ out, int M, int H, int W,
             int Cin, int OH, int OW, int Cout, int KH, int KW, int Cpg, int Cpo, int SH, int SW,
             int DH, int DW, int PT, int PL, long long wsk, long long wsn, float lo, float hi,
             const float* __restrict__ res, float rlo, float rhi) {
    __shared__ float As[GL_TK][GL_TM + 1];
    __shared__ float Bs[GL_TK][GL_TN + 1];
    const int t = threadIdx.x;
    const int m0 = blockIdx.x * GL_TM, n0 = blockIdx.y * GL_TN;
    const int g = blockIdx.z;
    const int K = KH * KW * Cpg;
    const float* wg = w + (long long)g * K * Cpo;

    // The four rows of the A tile this thread gathers: rows (t / 16) + 16*i, column t % 16.
    GlPatchRow rows[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
        rows[i] = gl_patch_row(m0 + (t >> 4) + 16 * i, M, H, W, Cin, OH, OW, g, Cpg, SH, SW, PT,
                               PL);
    const int kk = t & 15;

    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
    }
    for (int k0 = 0; k0 < K; k0 += GL_TK) {
        const GlPatchCol col = gl_patch_col(k0 + kk, K, Cpg, KW, DH, DW);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const long long at = gl_patch_offset(rows[i], col, H, W, Cin);
            As[kk][(t >> 4) + 16 * i] = at < 0 ? 0.0f : x[at];
        }
        gl_load_b_tile(Bs, wg, K, Cpo, k0, n0, wsk, wsn, t);
        __syncthreads();
        gl_tile_step(As, Bs, acc, t);
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int m = m0 + gl_acc_row(t, i, j), co = n0 + gl_acc_col(t, i, j);
            if (m >= M || co >= Cpo) continue;
            const int c = g * Cpo + co;
            float v = acc[i][j];
            if (bias) v += bias[c];
            const long long at = (long long)m * Cout + c;
            out[at] = gl_residual(gl_clamp(v, lo, hi), res, at, rlo, rhi);
        }
    }
}

// CONV_2D summed in TFLite's reference order, for the small float convolutions of
// dynamic-range models (gpulite/ops/conv.py: a last-bit difference there changes how the next
// op quantises its input). One thread per output: acc = 0, then for (ky, kx, ci) in order
// acc += x * w as two rounded operations (padding contributes 0 * w), then + bias, then the
// clamp; bit for bit cpu_fallback/conv_in_order.py. Filter in TFLite's [Cout, KH, KW, Cin]
// layout, ungrouped. Grid-stride over the N*OH*OW*Cout outputs.
extern "C" __global__ void __launch_bounds__(GL_THREADS)
conv2d_in_order(const float* __restrict__ x, const float* __restrict__ w,
                const float* __restrict__ bias, float* __restrict__ out, long long total, int H,
                int W, int Cin, int OH, int OW, int Cout, int KH, int KW, int SH, int SW,
                int DH, int DW, int PT, int PL, float lo, float hi) {
    GL_GRID_LOOP(i, total) {
        const GlNhwc p = gl_nhwc(i, OH, OW, Cout);
        float acc = 0.0f;
        for (int ky = 0; ky < KH; ++ky) {
            const int iy = p.y * SH - PT + ky * DH;
            for (int kx = 0; kx < KW; ++kx) {
                const int ix = p.x * SW - PL + kx * DW;
                const bool inside = gl_inside(iy, H) && gl_inside(ix, W);
                const long long xrow = inside ? ((p.n * H + iy) * W + ix) * (long long)Cin : 0;
                const float* wr = w + ((long long)(p.c * KH + ky) * KW + kx) * Cin;
                for (int c = 0; c < Cin; ++c)
                    acc = __fadd_rn(acc, __fmul_rn(inside ? x[xrow + c] : 0.0f, wr[c]));
            }
        }
        if (bias) acc = __fadd_rn(acc, bias[p.c]);
        out[i] = gl_clamp(acc, lo, hi);
    }
}
