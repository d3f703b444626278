// Helpers shared by gpulite's CUDA kernels.
//
// Sources here include nothing from the CUDA toolkit: NVRTC compiles them as they are (no include
// paths), and gpulite.cuda_compile inlines `#include "x.cuh"` lines itself before compiling.
// Conventions:
//   * tensors are dense, C-contiguous NHWC (NDHWC) float32; element offsets that can pass 2^31
//     are computed in 64 bits (`long long`);
//   * scalar arguments are `int` (np.int32), `long long` (np.int64) or `float` (np.float32);
//   * an optional bias is a null pointer when absent;
//   * the fused-activation clamp is (lo, hi), +-inf for an open side (TFLite's
//     min(max(v, lo), hi): NaN stays NaN).
#pragma once

// the integer element types of the quantised kernels' specialisations
typedef signed char gl_s8;
typedef unsigned char gl_u8;
typedef short gl_s16;

#define GL_FLT_LOWEST (-3.402823466e+38f)
#define GL_THREADS 256

// A grid-stride loop over [0, n): launches cap the grid, so any n works.
#define GL_GRID_LOOP(i, n)                                                        \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

__device__ __forceinline__ float gl_clamp(float v, float lo, float hi) {
    v = (v < lo) ? lo : v;    // std::max(v, lo) as TFLite writes it
    return (hi < v) ? hi : v; // std::min(v, hi)
}

__device__ __forceinline__ int gl_imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int gl_imax(int a, int b) { return a > b ? a : b; }

// The coordinates of flat index i in a C-contiguous [N, (D,) H, W, C] tensor (the
// one-thread-per-output kernels' grid-stride index).
struct GlNhwc {
    long long n;
    int z, y, x, c;
};

__device__ __forceinline__ GlNhwc gl_ndhwc(long long i, int D, int H, int W, int C) {
    GlNhwc r;
    r.c = (int)(i % C);
    long long p = i / C;
    r.x = (int)(p % W);
    p /= W;
    r.y = (int)(p % H);
    p /= H;
    r.z = (int)(p % D);
    r.n = p / D;
    return r;
}

__device__ __forceinline__ GlNhwc gl_nhwc(long long i, int H, int W, int C) {
    return gl_ndhwc(i, 1, H, W, C);
}

// 0 <= v < n, in one unsigned comparison
__device__ __forceinline__ bool gl_inside(int v, int n) { return (unsigned)v < (unsigned)n; }

// The epilogue of a kernel that absorbs the ADD reading its output (gpulite.fusion): v, already
// clamped to the op's own activation, plus the residual r[at], clamped to the ADD's activation.
// These are the float operations the ADD would do on the stored value, so fusing is exact.
// r is null when nothing was fused.
__device__ __forceinline__ float gl_residual(float v, const float* __restrict__ r, long long at,
                                             float rlo, float rhi) {
    return r ? gl_clamp(v + r[at], rlo, rhi) : v;
}
