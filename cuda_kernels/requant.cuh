// TFLite's integer output stage for one accumulator, shared by requant.cu and the fused epilogue
// of int_conv.cu: out = clamp(rescale(acc + bias) + zp, lo, hi), computing, bit for bit, what
// gpulite.ops.quantized_common.make_output_stage computes on the CPU (which documents which
// TFLite kernel uses which rounding).
//
// Per output channel c: mult[c] and shift[c] (int32), as QuantizeMultiplier gives them
// (shift > 0: a left shift), except in the int64 mode (below). `mode`:
//   0 "up"    ruy / NEON 4-rows: floor((a*m + 2^30 + 2^(30+r)) / 2^(31+r)), r = max(-shift, 0);
//   1 "away"  gemmlowp: RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(a, m), r), ties
//             away from zero;
//   2 "mixed" "away", except that the final rounding ties up for the elements a NEON loop
//             handles: channel c < up_channels and flat index i < up_elements;
//   3 "int64" the 16x8 form: (a*mult + 2^(shift-1)) >> shift, truncated to int32, where the
//             host passes the reduced 16-bit multiplier and shift = 15 - QuantizeMultiplier's.
// a = acc + bias[c] (bias null: none); with `wrap_input`, a = int32(a << max(shift, 0)) first
// (modes 0-2, as the CPU does whenever some channel shifts left).
#pragma once

#define GL_INT32_MIN (-2147483647LL - 1)
#define GL_INT32_MAX 2147483647LL

struct GlRequant {
    const long long* bias;
    const int* mult;
    const int* shift;
    int mode, wrap_input, out_zp, lo, hi, up_channels;
    long long up_elements;
};

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

// the clamped output value of accumulator `a` at flat index i, channel c
__device__ __forceinline__ long long gl_requantize(long long a, int c, long long i,
                                                   const GlRequant& q) {
    if (q.bias) a += q.bias[c];
    long long m = q.mult[c];
    int sh = q.shift[c];
    long long r;
    if (q.mode == 3) {
        r = gl_wrap32((a * m + (1LL << (sh - 1))) >> sh);
    } else {
        int left = sh > 0 ? sh : 0;
        int right = sh < 0 ? -sh : 0;
        if (q.wrap_input) a = gl_wrap32(a << left);
        if (q.mode == 0) {
            long long nudge = (1LL << 30) + (right > 0 ? (1LL << (30 + right)) : 0LL);
            r = (a * m + nudge) >> (31 + right);
        } else {
            long long t = gl_srdhm(a, m);
            long long mask = (1LL << right) - 1;
            bool ties_up = q.mode == 2 && c < q.up_channels && i < q.up_elements;
            long long threshold = (mask >> 1) + ((t < 0 && !ties_up) ? 1 : 0);
            r = (t >> right) + ((t & mask) > threshold ? 1 : 0);
        }
    }
    r += q.out_zp;
    return r < q.lo ? q.lo : (r > q.hi ? q.hi : r);
}
