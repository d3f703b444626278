// The 64x64x16 GEMM step shared by gemm.cu and conv2d.cu, on float32 tiles in shared memory
// stored k-major: As[k][m], Bs[k][n]; the +1 column of padding keeps the k-fast stores of the
// loaders conflict-light. Each of the 256 threads accumulates 16 outputs, acc[i][j]; which
// outputs those are depends on the precision the kernel is compiled for (GL_PRECISION):
//
// 0 (float32, the default): exact float32 FMAs on CUDA cores. Thread (tx, ty) =
//   (t % 16, t / 16) owns rows ty + 16*i and columns tx + 16*j, so a warp reads consecutive
//   columns of Bs (no bank conflicts) and two rows of As (broadcasts).
// 1 (tf32) / 2 (fp16): tensor cores (tensor_core.cuh). The operands are rounded to tf32 (10-bit
//   mantissa, as cuBLAS's TF32 mode) or to fp16, products are summed in float32. Warp w owns
//   rows 16*(w % 4) .. +16 and columns 32*(w / 4) .. +32 of the tile: four 16x8 mma tiles,
//   acc[i] holding tile i's four accumulator registers.
// gl_acc_row / gl_acc_col give the tile coordinates of acc[i][j] in either layout.
#pragma once
#include "common.cuh"

#ifndef GL_PRECISION
#define GL_PRECISION 0
#endif
#if GL_PRECISION
#include "tensor_core.cuh"
#endif

#define GL_TM 64  // rows (M) per block
#define GL_TN 64  // columns (N) per block
#define GL_TK 16  // depth (K) per shared-memory tile

__device__ __forceinline__ void gl_tile_fma(const float (*As)[GL_TM + 1],
                                            const float (*Bs)[GL_TN + 1],
                                            float acc[4][4], int tx, int ty) {
#pragma unroll
    for (int k = 0; k < GL_TK; ++k) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
    }
}

// Loads the GL_TK x GL_TN tile of B starting at (k0, n0): element (k, n) is b[k*sbk + n*sbn].
// Coalesced along whichever of k and n has stride 1.
__device__ __forceinline__ void gl_load_b_tile(float (*Bs)[GL_TN + 1], const float* __restrict__ b,
                                               int K, int N, int k0, int n0, long long sbk,
                                               long long sbn, int t) {
    const bool n_fast = (sbn == 1);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int nn = n_fast ? (t & 63) : ((t >> 4) + 16 * i);
        const int kk = n_fast ? ((t >> 6) + 4 * i) : (t & 15);
        const int n = n0 + nn, k = k0 + kk;
        Bs[kk][nn] = (n < N && k < K) ? b[k * sbk + n * sbn] : 0.0f;
    }
}

#if GL_PRECISION == 0
__device__ __forceinline__ void gl_tile_step(const float (*As)[GL_TM + 1],
                                             const float (*Bs)[GL_TN + 1], float acc[4][4],
                                             int t) {
    gl_tile_fma(As, Bs, acc, t & 15, t >> 4);
}

__device__ __forceinline__ int gl_acc_row(int t, int i, int j) { return (t >> 4) + 16 * i; }
__device__ __forceinline__ int gl_acc_col(int t, int i, int j) { return (t & 15) + 16 * j; }
#else
__device__ __forceinline__ void gl_tile_step(const float (*As)[GL_TM + 1],
                                             const float (*Bs)[GL_TN + 1], float acc[4][4],
                                             int t) {
    const int lane = t & 31, w = t >> 5;
    const int g = lane >> 2, q = lane & 3;
    const int mw = 16 * (w & 3), nw = 32 * (w >> 2);
#if GL_PRECISION == 1
#pragma unroll
    for (int k = 0; k < GL_TK; k += 8) {
        const unsigned a[4] = {gl_to_tf32(As[k + q][mw + g]), gl_to_tf32(As[k + q][mw + g + 8]),
                               gl_to_tf32(As[k + q + 4][mw + g]),
                               gl_to_tf32(As[k + q + 4][mw + g + 8])};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int n = nw + 8 * i + g;
            const unsigned b[2] = {gl_to_tf32(Bs[k + q][n]), gl_to_tf32(Bs[k + q + 4][n])};
            gl_mma_tf32(acc[i], a, b);
        }
    }
#else  // fp16: GL_TK = 16 is one m16n8k16 step
    const int k = 2 * q;
    const unsigned a[4] = {gl_to_f16x2(As[k][mw + g], As[k + 1][mw + g]),
                           gl_to_f16x2(As[k][mw + g + 8], As[k + 1][mw + g + 8]),
                           gl_to_f16x2(As[k + 8][mw + g], As[k + 9][mw + g]),
                           gl_to_f16x2(As[k + 8][mw + g + 8], As[k + 9][mw + g + 8])};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int n = nw + 8 * i + g;
        const unsigned b[2] = {gl_to_f16x2(Bs[k][n], Bs[k + 1][n]),
                               gl_to_f16x2(Bs[k + 8][n], Bs[k + 9][n])};
        gl_mma_f16(acc[i], a, b);
    }
#endif
}

__device__ __forceinline__ int gl_acc_row(int t, int i, int j) {
    return 16 * ((t >> 5) & 3) + ((t & 31) >> 2) + 8 * (j >> 1);
}
__device__ __forceinline__ int gl_acc_col(int t, int i, int j) {
    return 32 * (t >> 7) + 8 * i + 2 * (t & 3) + (j & 1);
}
#endif
