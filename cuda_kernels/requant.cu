// TFLite's integer output stage in one pass: out = clamp(rescale(acc + bias) + zp, lo, hi),
// from the int64 accumulators of int_conv.cu's kernels (gpulite/backends/cuda_requant.py
// launches it). It computes, bit for bit, what gpulite.ops.quantized_common.make_output_stage
// computes on the CPU for the roundings below (that function documents which TFLite kernel
// uses which).
//
// Specialisation (gpulite.cuda_compile.SPECIALISATIONS):
//   OUT_T  the output element type: gl_s8 (int8), gl_u8 (uint8) or gl_s16 (int16).
//
// Per output channel c = i % channels: mult[c] and shift[c] (int32), as QuantizeMultiplier gives
// them (shift > 0: a left shift), except in the int64 mode (below). `mode`:
//   0 "up"    ruy / NEON 4-rows: floor((a*m + 2^30 + 2^(30+r)) / 2^(31+r)), r = max(-shift, 0);
//   1 "away"  gemmlowp: RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(a, m), r), ties
//             away from zero;
//   2 "mixed" "away", except that the final rounding ties up for the elements a NEON loop
//             handles: channel c < up_channels and flat index i < up_elements;
//   3 "int64" the 16x8 form: (a*mult + 2^(shift-1)) >> shift, truncated to int32, where the
//             host passes the reduced 16-bit multiplier and shift = 15 - QuantizeMultiplier's.
// a = acc + bias[c] (bias null: none); with `wrap_input`, a = int32(a << max(shift, 0)) first
// (modes 0-2, as the CPU does whenever some channel shifts left).
// One thread per output, 1-D grid-stride; nothing allocated (graph-capturable).
#include "common.cuh"

typedef signed char gl_s8;
typedef unsigned char gl_u8;
typedef short gl_s16;

#ifndef OUT_T
#error "requant.cu needs OUT_T (gl_s8, gl_u8 or gl_s16)"
#endif

#define GL_INT32_MIN (-2147483647LL - 1)
#define GL_INT32_MAX 2147483647LL

// int64 -> int32 two's-complement wrap (C's int32 overflow)
__device__ __forceinline__ long long gl_wrap32(long long v) { return (long long)(int)v; }

// gemmlowp's SaturatingRoundingDoublingHighMul on int32 values held in int64: the nudged
// product divided by 2^31 with C's truncating division
__device__ __forceinline__ long long gl_srdhm(long long a, long long b) {
    if (a == GL_INT32_MIN && b == GL_INT32_MIN) return GL_INT32_MAX;
    long long ab = a * b;
    long long s = ab + (ab >= 0 ? (1LL << 30) : 1LL - (1LL << 30));
    return s >= 0 ? (s >> 31) : -((-s) >> 31);
}

extern "C" __global__ void __launch_bounds__(GL_THREADS)
requantize(const long long* __restrict__ acc, const long long* __restrict__ bias,
           const int* __restrict__ mult, const int* __restrict__ shift,
           unsigned char* __restrict__ outb, long long total, int channels, int mode, int wrap_input,
           int out_zp, int lo, int hi, int up_channels, long long up_elements) {
    OUT_T* out = (OUT_T*)outb;  // the output's bytes: one signature for every OUT_T
    GL_GRID_LOOP(i, total) {
        int c = (int)(i % channels);
        long long a = acc[i];
        if (bias) a += bias[c];
        long long m = mult[c];
        int sh = shift[c];
        long long r;
        if (mode == 3) {
            r = gl_wrap32((a * m + (1LL << (sh - 1))) >> sh);
        } else {
            int left = sh > 0 ? sh : 0;
            int right = sh < 0 ? -sh : 0;
            if (wrap_input) a = gl_wrap32(a << left);
            if (mode == 0) {
                long long nudge = (1LL << 30) + (right > 0 ? (1LL << (30 + right)) : 0LL);
                r = (a * m + nudge) >> (31 + right);
            } else {
                long long t = gl_srdhm(a, m);
                long long mask = (1LL << right) - 1;
                bool ties_up = mode == 2 && c < up_channels && i < up_elements;
                long long threshold = (mask >> 1) + ((t < 0 && !ties_up) ? 1 : 0);
                r = (t >> right) + ((t & mask) > threshold ? 1 : 0);
            }
        }
        r += out_zp;
        r = r < lo ? lo : (r > hi ? hi : r);
        out[i] = (OUT_T)r;
    }
}
