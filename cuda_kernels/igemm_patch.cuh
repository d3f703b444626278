// The patch side of the implicit-GEMM convolutions (conv2d.cu, int_conv.cu): where a row and a
// column of the never-stored im2col matrix read the NHWC input.
//
//   row m = (n*OH + oy)*OW + ox, column k = (ky*KW + kx)*Cpg + ci,
//   patch(m, k) = x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, g*Cpg + ci], nothing outside.
#pragma once
#include "common.cuh"

// A patch row: the offset of its image (and group g's first channel) in x, and the input
// position of its filter window's top-left tap. `ok` is false past the last row (M).
struct GlPatchRow {
    long long base;
    int y, x;
    bool ok;
};

__device__ __forceinline__ GlPatchRow gl_patch_row(int m, int M, int H, int W, int Cin, int OH,
                                                   int OW, int g, int Cpg, int SH, int SW,
                                                   int PT, int PL) {
    GlPatchRow r;
    r.ok = m < M;
    const int mm = r.ok ? m : 0;
    const int ox = mm % OW, q = mm / OW;
    const int oy = q % OH, n = q / OH;
    r.base = (long long)n * H * W * Cin + (long long)g * Cpg;
    r.y = oy * SH - PT;
    r.x = ox * SW - PL;
    return r;
}

// A patch column: its channel within the group and its tap's offset from the window's corner.
// `ok` is false past the last column (K).
struct GlPatchCol {
    int ci, dy, dx;
    bool ok;
};

__device__ __forceinline__ GlPatchCol gl_patch_col(int k, int K, int Cpg, int KW, int DH,
                                                   int DW) {
    GlPatchCol c = {0, 0, 0, k < K};
    if (c.ok) {
        c.ci = k % Cpg;
        const int r = k / Cpg;
        c.dx = (r % KW) * DW;
        c.dy = (r / KW) * DH;
    }
    return c;
}

// The offset of patch element (row, col) in x, or -1 where it is padding or out of range.
__device__ __forceinline__ long long gl_patch_offset(const GlPatchRow& r, const GlPatchCol& c,
                                                     int H, int W, int Cin) {
    const int iy = r.y + c.dy, ix = r.x + c.dx;
    if (!(r.ok && c.ok && gl_inside(iy, H) && gl_inside(ix, W))) return -1;
    return r.base + ((long long)iy * W + ix) * Cin + c.ci;
}
