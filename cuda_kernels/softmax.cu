// SOFTMAX and LOG_SOFTMAX (float32) over the last axis, the tensor seen as [rows][cols] row-major.
// The steps are TFLite's float kernels' (and gpulite's CPU op's, cpu_fallback/softmax.py):
//
//   softmax:      d = (x - max(row)) * beta;   e = exp(d);   out = e / sum(e)
//   log_softmax:  d = x - max(row);            out = d - log(sum(exp(d)))      (no beta)
//
// The row maximum starts at -inf and propagates NaN like NumPy's max: a row holding a NaN, a row
// of -inf, or a row with +inf gives NaN where the CPU does. x - max and * beta are rounded once
// each (__fsub_rn / __fmul_rn), exp and log are expf / logf (no fast math), the sum is per-thread
// partial sums added in a tree, then a true division: within a few float32 ulp of the CPU.
//
// Two launch shapes, both 256-thread blocks and a grid-stride loop over rows:
//   softmax_block / log_softmax_block: one block per row, for long rows; each thread keeps up to
//     GL_SOFTMAX_BLOCK_CACHE of its elements in registers (rows up to 2048 are read once; the
//     rest of a longer row is read again in each pass).
//   softmax_warp / log_softmax_warp: one warp (32 threads) per row, 8 rows per block, for short
//     rows; each lane keeps up to GL_SOFTMAX_WARP_CACHE elements (rows up to 1024 read once).
// Reductions go through shared memory with __syncthreads, which every thread of a block reaches
// (groups past the last row take part with no elements), so no warp shuffles are needed.
// Nothing is allocated (graph-capturable), and `out` may be `x` itself (each element is read by
// the thread that writes it, before it writes it).
#include "common.cuh"

#define GL_SOFTMAX_BLOCK_CACHE 8
#define GL_SOFTMAX_WARP_CACHE 32
#define GL_NEG_INF (-1.0f / 0.0f)  // -inf, a constant NVRTC and g++ both fold

// max that returns NaN when either side is NaN (NumPy's max; fmaxf would skip it)
__device__ __forceinline__ float gl_nanmax(float a, float b) {
    return (a > b || a != a) ? a : b;
}

// The max (IS_MAX) or the sum of v over the WIDTH consecutive threads of a group; every thread
// of the block must call it (it holds three kinds of barriers).
template <int WIDTH, bool IS_MAX>
__device__ __forceinline__ float gl_group_reduce(float* red, float v) {
    const int t = threadIdx.x, lane = t % WIDTH;
    red[t] = v;
    __syncthreads();
#pragma unroll
    for (int s = WIDTH / 2; s > 0; s >>= 1) {
        if (lane < s) {
            const float a = red[t], b = red[t + s];
            red[t] = IS_MAX ? gl_nanmax(a, b) : __fadd_rn(a, b);
        }
        __syncthreads();
    }
    const float r = red[t - lane];
    __syncthreads();  // red is written again by the next reduction
    return r;
}

template <bool LOG>
__device__ __forceinline__ float gl_softmax_exp(float v, float m, float beta) {
    const float d = __fsub_rn(v, m);
    return expf(LOG ? d : __fmul_rn(d, beta));
}

// Rows [first + group] for first = blockIdx.x * GROUPS, step gridDim.x * GROUPS; each group of
// WIDTH threads owns a row and its lanes take the columns lane, lane + WIDTH, ...
template <int WIDTH, int CACHE, bool LOG>
__device__ __forceinline__ void gl_softmax_rows(const float* x, float* out, long long rows,
                                                int cols, float beta) {
    constexpr int GROUPS = GL_THREADS / WIDTH;
    __shared__ float red[GL_THREADS];
    const int lane = threadIdx.x % WIDTH, group = threadIdx.x / WIDTH;
    const int cached = CACHE * WIDTH;
    for (long long first = (long long)blockIdx.x * GROUPS; first < rows;
         first += (long long)gridDim.x * GROUPS) {
        const long long row = first + group;
        const bool active = row < rows;
        const int n = active ? cols : 0;  // an idle group still reaches every barrier
        const long long base = active ? row * cols : 0;
        const float* xr = x + base;
        float* orow = out + base;

        float v[CACHE];
        float m = GL_NEG_INF;
#pragma unroll
        for (int j = 0; j < CACHE; ++j) {
            const int c = lane + j * WIDTH;
            v[j] = c < n ? xr[c] : GL_NEG_INF;
            m = gl_nanmax(m, v[j]);
        }
        for (int c = cached + lane; c < n; c += WIDTH) m = gl_nanmax(m, xr[c]);
        m = gl_group_reduce<WIDTH, true>(red, m);

        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < CACHE; ++j) {
            if (lane + j * WIDTH < n) {
                const float e = gl_softmax_exp<LOG>(v[j], m, beta);
                if (!LOG) v[j] = e;
                s = __fadd_rn(s, e);
            }
        }
        for (int c = cached + lane; c < n; c += WIDTH)
            s = __fadd_rn(s, gl_softmax_exp<LOG>(xr[c], m, beta));
        s = gl_group_reduce<WIDTH, false>(red, s);

        if (LOG) {
            const float ls = logf(s);
#pragma unroll
            for (int j = 0; j < CACHE; ++j) {
                const int c = lane + j * WIDTH;
                if (c < n) orow[c] = __fsub_rn(__fsub_rn(v[j], m), ls);
            }
            for (int c = cached + lane; c < n; c += WIDTH)
                orow[c] = __fsub_rn(__fsub_rn(xr[c], m), ls);
        } else {
#pragma unroll
            for (int j = 0; j < CACHE; ++j) {
                const int c = lane + j * WIDTH;
                if (c < n) orow[c] = v[j] / s;
            }
            for (int c = cached + lane; c < n; c += WIDTH)
                orow[c] = gl_softmax_exp<LOG>(xr[c], m, beta) / s;
        }
    }
}

extern "C" __global__ void __launch_bounds__(GL_THREADS)
softmax_block(const float* x, float* out, long long rows, int cols, float beta) {
    gl_softmax_rows<GL_THREADS, GL_SOFTMAX_BLOCK_CACHE, false>(x, out, rows, cols, beta);
}

extern "C" __global__ void __launch_bounds__(GL_THREADS)
softmax_warp(const float* x, float* out, long long rows, int cols, float beta) {
    gl_softmax_rows<32, GL_SOFTMAX_WARP_CACHE, false>(x, out, rows, cols, beta);
}

extern "C" __global__ void __launch_bounds__(GL_THREADS)
log_softmax_block(const float* x, float* out, long long rows, int cols) {
    gl_softmax_rows<GL_THREADS, GL_SOFTMAX_BLOCK_CACHE, true>(x, out, rows, cols, 1.0f);
}

extern "C" __global__ void __launch_bounds__(GL_THREADS)
log_softmax_warp(const float* x, float* out, long long rows, int cols) {
    gl_softmax_rows<32, GL_SOFTMAX_WARP_CACHE, true>(x, out, rows, cols, 1.0f);
}
