// Tensor-core primitives for the reduced-precision GEMM step (gemm_tile.cuh, GL_PRECISION 1/2),
// as inline PTX (sm_80 and later). Fragment layouts are the PTX ISA's "matrix fragments for
// mma.m16n8k8 (.tf32)" and "mma.m16n8k16 (.f16)": lane = 4 * g + q,
//   tf32 A 16x8:  a[r] = A[g + 8*(r & 1)][q + 4*(r >> 1)]       B 8x8:  b[r] = B[q + 4*r][g]
//   f16  A 16x16: a[r] = A[g + 8*(r & 1)][2q + 8*(r >> 1) + {0,1}] (low half first)
//                 B 16x8: b[r] = B[2q + 8*r + {0,1}][g]
//   C/D 16x8 (both): d[r] = D[g + 8*(r >> 1)][2q + (r & 1)]
// tests/cuda_emulator.h defines GL_EMULATOR and these four functions for the CPU emulator,
// exchanging the fragments between the 32 lanes of a warp as the hardware does.
#pragma once

#ifndef GL_EMULATOR
// float -> tf32 (10-bit mantissa), round to nearest, ties away from zero
__device__ __forceinline__ unsigned gl_to_tf32(float x) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}

// two floats -> packed f16x2, round to nearest even; `lo` goes to the low 16 bits
__device__ __forceinline__ unsigned gl_to_f16x2(float lo, float hi) {
    unsigned short l, h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(l) : "f"(lo));
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(hi));
    return (unsigned)l | ((unsigned)h << 16);
}

// d += A.B for one tile, float32 accumulation; `form` is the instruction's shape and types
#define GL_MMA_SYNC(form, d, a, b)                                                         \
    asm volatile("mma.sync.aligned." form " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "      \
                 "{%0,%1,%2,%3};\n"                                                        \
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                          \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]))

// one 16x8x8 tf32 tile
__device__ __forceinline__ void gl_mma_tf32(float d[4], const unsigned a[4], const unsigned b[2]) {
    GL_MMA_SYNC("m16n8k8.row.col.f32.tf32.tf32.f32", d, a, b);
}

// one 16x8x16 f16 tile
__device__ __forceinline__ void gl_mma_f16(float d[4], const unsigned a[4], const unsigned b[2]) {
    GL_MMA_SYNC("m16n8k16.row.col.f32.f16.f16.f32", d, a, b);
}
#endif
