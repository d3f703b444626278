// TFLite's integer output stage in one pass over int64 accumulators (requant.cuh has the
// arithmetic), launched by gpulite/backends/cuda_requant.py's make_requantize. The ops use
// int_conv.cu's fused epilogue instead; this kernel runs the arithmetic on chosen accumulators
// for the conformance cases (tests/cuda_requant_cases.py).
//
// Specialisation (gpulite.cuda_compile.SPECIALISATIONS):
//   OUT_T  the output element type: gl_s8 (int8), gl_u8 (uint8) or gl_s16 (int16).
// One thread per output, 1-D grid-stride; nothing allocated (graph-capturable). The output
// arrives as its bytes, so every specialisation has the same signature.
#include "common.cuh"
#include "requant.cuh"

#ifndef OUT_T
#error "requant.cu needs OUT_T (gl_s8, gl_u8 or gl_s16)"
#endif

extern "C" __global__ void __launch_bounds__(GL_THREADS)
requantize(const long long* __restrict__ acc, const long long* __restrict__ bias,
           const int* __restrict__ mult, const int* __restrict__ shift,
           unsigned char* __restrict__ outb, long long total, int channels, int mode,
           int wrap_input, int out_zp, int lo, int hi, int up_channels, long long up_elements) {
    const GlRequant q = {bias, mult, shift, mode, wrap_input, out_zp, lo, hi, up_channels,
                         up_elements};
    OUT_T* out = (OUT_T*)outb;
    GL_GRID_LOOP(i, total) {
        out[i] = (OUT_T)gl_requantize(acc[i], (int)(i % channels), i, q);
    }
}
