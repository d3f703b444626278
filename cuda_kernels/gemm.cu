// Float32 GEMM for FULLY_CONNECTED, BATCH_MATMUL and 1x1 convolutions, with a bias + clamp
// epilogue (and a fused residual ADD, gl_residual, read at C's offsets). Plain kernels (no
// cuBLAS), so they can be captured into a CUDA graph.
//
//   C[b][m][n] = clamp(sum_k A[b][m][k] * B[b][k][n] + bias[b*sbias + n], lo, hi)
//
// Every operand is addressed by element strides, so transposed views and broadcast batch
// dimensions (stride 0) need no copies. The flat batch index b in [0, batch) splits into
// (b0, b1, b2) with extents (batch / (bd1*bd2), bd1, bd2); the offset of batch b in A is
// b0*sa0 + b1*sa1 + b2*sa2 (likewise B and C). `bias` may be null.
//
// gemm_tiled:  64x64 tiles, grid (ceil(M/64), ceil(N/64), min(batch, 65535)); compiled with
//              GL_PRECISION 1 / 2 it runs on tensor cores in tf32 / fp16 (gemm_tile.cuh).
// gemm_smallm: few rows (M <= 16): one thread per column, the K loop split over 8 warps and
//              summed in shared memory; grid (ceil(N/32), ceil(M/4), min(batch, 65535)).
//              Always float32: it reads each weight once, tensor cores would not help.
// Both use 256 threads per block.
#include "common.cuh"
#include "gemm_tile.cuh"

// the parameters both kernels take (gpulite/backends/cuda.py _gemm_plan / _gemm_run)
#define GL_GEMM_PARAMS                                                                       \
    const float *__restrict__ A, const float *__restrict__ B, const float *__restrict__ bias, \
        float *__restrict__ C, int M, int N, int K, long long sam, long long sak,             \
        long long sbk, long long sbn, long long scm, long long scn, int batch, int bd1,       \
        int bd2, long long sa0, long long sa1, long long sa2, long long sb0, long long sb1,   \
        long long sb2, long long sc0, long long sc1, long long sc2, long long sbias, float lo, \
        float hi, const float *__restrict__ res, float rlo, float rhi

extern "C" __global__ void __launch_bounds__(GL_THREADS)
gemm_tiled(GL_GEMM_PARAMS) {
    __shared__ float As[GL_TK][GL_TM + 1];
    __shared__ float Bs[GL_TK][GL_TN + 1];
    const int t = threadIdx.x;
    const int m0 = blockIdx.x * GL_TM, n0 = blockIdx.y * GL_TN;
    const bool k_fast = (sak == 1);  // A row-major: 16 threads read 16 consecutive k

    for (int bi = blockIdx.z; bi < batch; bi += gridDim.z) {
        const int b2 = bi % bd2, rest = bi / bd2;
        const int b1 = rest % bd1, b0 = rest / bd1;
        const float* a = A + b0 * sa0 + b1 * sa1 + b2 * sa2;
        const float* b = B + b0 * sb0 + b1 * sb1 + b2 * sb2;
        float* c = C + b0 * sc0 + b1 * sc1 + b2 * sc2;

        float acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
        }
        for (int k0 = 0; k0 < K; k0 += GL_TK) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int mm = k_fast ? ((t >> 4) + 16 * i) : (t & 63);
                const int kk = k_fast ? (t & 15) : ((t >> 6) + 4 * i);
                const int m = m0 + mm, k = k0 + kk;
                As[kk][mm] = (m < M && k < K) ? a[m * sam + k * sak] : 0.0f;
            }
            gl_load_b_tile(Bs, b, K, N, k0, n0, sbk, sbn, t);
            __syncthreads();
            gl_tile_step(As, Bs, acc, t);
            __syncthreads();
        }
        const float* bb = bias ? bias + bi * sbias : nullptr;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int m = m0 + gl_acc_row(t, i, j), n = n0 + gl_acc_col(t, i, j);
                if (m >= M || n >= N) continue;
                float v = acc[i][j];
                if (bb) v += bb[n];
                const long long at = (c - C) + m * scm + n * scn;
                C[at] = gl_residual(gl_clamp(v, lo, hi), res, at, rlo, rhi);
            }
        }
    }
}

#define GL_SM_ROWS 4    // rows per block
#define GL_SM_SLICES 8  // K is split over the 8 warps of the block

extern "C" __global__ void __launch_bounds__(GL_THREADS)
gemm_smallm(GL_GEMM_PARAMS) {
    __shared__ float part[GL_SM_SLICES][GL_SM_ROWS][33];
    const int lane = threadIdx.x & 31, slice = threadIdx.x >> 5;
    const int n = blockIdx.x * 32 + lane;
    const int m0 = blockIdx.y * GL_SM_ROWS;
    const int rows = gl_imin(GL_SM_ROWS, M - m0);

    for (int bi = blockIdx.z; bi < batch; bi += gridDim.z) {
        const int b2 = bi % bd2, rest = bi / bd2;
        const int b1 = rest % bd1, b0 = rest / bd1;
        const float* a = A + b0 * sa0 + b1 * sa1 + b2 * sa2 + m0 * sam;
        const float* b = B + b0 * sb0 + b1 * sb1 + b2 * sb2;
        float* c = C + b0 * sc0 + b1 * sc1 + b2 * sc2;

        float acc[GL_SM_ROWS];
#pragma unroll
        for (int i = 0; i < GL_SM_ROWS; ++i) acc[i] = 0.0f;
        if (n < N) {
            for (int k = slice; k < K; k += GL_SM_SLICES) {
                const float bv = b[k * sbk + n * sbn];
#pragma unroll
                for (int i = 0; i < GL_SM_ROWS; ++i) {
                    if (i < rows) acc[i] = fmaf(a[i * sam + k * sak], bv, acc[i]);
                }
            }
        }
#pragma unroll
        for (int i = 0; i < GL_SM_ROWS; ++i) part[slice][i][lane] = acc[i];
        __syncthreads();
        if (slice < rows && n < N) {  // warp `slice` finishes row m0 + slice
            float v = 0.0f;
#pragma unroll
            for (int s = 0; s < GL_SM_SLICES; ++s) v += part[s][slice][lane];
            if (bias) v += bias[bi * sbias + n];
            const long long at = (c - C) + (m0 + slice) * scm + n * scn;
            C[at] = gl_residual(gl_clamp(v, lo, hi), res, at, rlo, rhi);
        }
        __syncthreads();
    }
}
