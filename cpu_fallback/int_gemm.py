"""Exact integer GEMM and convolutions through floating-point BLAS.

Quantised kernels accumulate products of small integers (int8 x int8, uint8 x uint8 with zero
points, int16 x int8). Every partial sum is an integer; a floating-point type represents each
exactly while its magnitude stays below 2**mantissa_bits (2**24 for float32, 2**53 for float64),
and then every BLAS addition is exact whatever order (or FMA) BLAS uses. So

    sum_k a[m, k] * b[k, n]  with  K * max|a| * max|b| < 2**24  -> sgemm is exact,
                                                      < 2**53  -> dgemm is exact,

and the integer accumulators come out exactly, at BLAS speed (NumPy's integer matmul does not
use BLAS and is ~50x slower).

The bound that matters is on partial sums, so it is taken per output column: max |a| times the
column's L1 norm. float32 GEMMs run several times faster than float64 ones, so when a column's
L1 norm is too large the K dimension is cut into chunks that each stay exact in float32, and the
chunk results (exact integers) are added in int64; float64 is used only when even one row of
products can leave float32's exact range (int16 x int16).

The factories below are called once at prepare with the static geometry and the constant
weights (already offset by their zero point); each returns `fn(x) -> acc`, where `x` is the raw
integer input and `acc` an int64 array of the exact accumulators laid out as the output,
[N, OH, OW, Cout] (or [M, N] for `make_int_matmul`). The input zero point is subtracted on the
way in, so padding contributes nothing, as in TFLite (whose im2col pads with the zero point).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .conv import col2im, make_depthwise_conv2d, transpose_conv_taps
from .padding import effective_filter_size
from .taps import tap_windows

_F32_LIMIT = 1 << 24
_F64_LIMIT = 1 << 53


def exact_float_type(terms: int, a_absmax: int, b_absmax: int):
    """The cheapest float type in which sums of `terms` products |a*b| are all exact."""
    bound = int(terms) * int(a_absmax) * int(b_absmax)
    if bound < _F32_LIMIT:
        return np.float32
    if bound < _F64_LIMIT:
        return np.float64
    raise ValueError(f"integer dot products of {terms} terms bounded by {a_absmax}*{b_absmax} "
                     f"are not exact in float64")


def input_absmax(dtype, zero_point) -> int:
    """max |x - zero_point| over the integer input type."""
    info = np.iinfo(dtype)
    return int(max(abs(int(info.min) - int(zero_point)), abs(int(info.max) - int(zero_point))))


class ExactGemm:
    """cols [.., M, K] (float, exact integers) @ constant integer weights [G, K, N] -> int64,
    exactly, through float32 BLAS calls on K-chunks (float64 only when it must)."""

    def __init__(self, w_gkn, a_absmax: int):
        w = np.asarray(w_gkn, np.int64)
        self.groups, k, self.n = w.shape
        absw = np.abs(w)
        a_absmax = max(int(a_absmax), 1)
        self.exact_in_float64 = a_absmax * int(absw.sum(axis=1).max(initial=0)) < _F64_LIMIT
        if a_absmax * int(absw.max(initial=0)) >= _F32_LIMIT:
            # one product already leaves float32's exact range: float64, no chunks
            bound = a_absmax * int(absw.sum(axis=1).max(initial=0))
            if bound >= _F64_LIMIT:
                raise ValueError("integer dot products are not exact in float64")
            self.float_type = np.float64
            self.chunks = [(0, k)]
        else:
            self.float_type = np.float32
            self.chunks = []
            start, running = 0, np.zeros((self.groups, self.n), np.int64)
            limit = (_F32_LIMIT - 1) // a_absmax
            for i in range(k):
                row = absw[:, i, :]
                if i > start and np.any(running + row > limit):
                    self.chunks.append((start, i))
                    start, running = i, np.zeros_like(running)
                running += row
            self.chunks.append((start, k))
        self.weights = [np.ascontiguousarray(w[:, a:b, :], dtype=self.float_type)
                        for a, b in self.chunks]

    def floats(self, cols):
        """The same accumulators as __call__, left in a float array (float32 from one chunk,
        else the chunks summed in float64: exact while the whole sum stays below 2**53, which
        `exact_in_float64` says)."""
        if cols.ndim == 2:
            cols = cols[None]
        acc = None
        for (a, b), wc in zip(self.chunks, self.weights):
            part = np.matmul(cols[:, :, a:b], wc)
            if acc is None:
                acc = part
            else:
                if acc.dtype != np.float64:
                    acc = acc.astype(np.float64)
                acc += part
        m = cols.shape[1]
        if self.groups == 1:
            return acc.reshape(m, self.n)
        return acc.transpose(1, 0, 2).reshape(m, self.groups * self.n)

    def __call__(self, cols):
        """cols: [G, M, K] (or [M, K] when G == 1) in self.float_type -> int64 [M, G*N]
        (group g's columns at g*N:(g+1)*N)."""
        if cols.ndim == 2:
            cols = cols[None]
        m = cols.shape[1]
        out = np.empty((m, self.groups, self.n), np.int64)
        view = out.transpose(1, 0, 2)
        for idx, ((a, b), wc) in enumerate(zip(self.chunks, self.weights)):
            part = np.matmul(cols[:, :, a:b], wc)
            if idx == 0:
                np.copyto(view, part, casting="unsafe")
            else:
                view += part.astype(np.int64)
        return out.reshape(m, self.groups * self.n)


class _Centred:
    """x - zero_point as floats in a zero-bordered buffer kept between calls."""

    def __init__(self, in_hwc, pads, zero_point, ftype):
        (self.h, self.w, self.c) = in_hwc
        (self.top, self.bottom, self.left, self.right) = pads
        self.zp = ftype(zero_point)
        self.ftype = ftype
        self.buf = None

    def __call__(self, x):
        n = x.shape[0]
        if self.buf is None or self.buf.shape[0] != n:
            self.buf = np.zeros((n, self.top + self.h + self.bottom,
                                 self.left + self.w + self.right, self.c), self.ftype)
        inner = self.buf[:, self.top:self.top + self.h, self.left:self.left + self.w]
        np.subtract(x, self.zp, out=inner, dtype=self.ftype)
        return self.buf


def make_int_matmul(weights_kn, a_absmax: int, a_zero_point: int = 0):
    """x [M, K] (integers) -> exact int64 (x - a_zero_point) @ weights_kn [K, N].

    `weights_kn` holds the constant weights already minus their zero point.
    """
    gemm = ExactGemm(np.asarray(weights_kn)[None], a_absmax)
    ft = gemm.float_type
    zp = ft(a_zero_point)

    def matmul(x):
        xf = np.subtract(x, zp, dtype=ft) if a_zero_point else x.astype(ft)
        return gemm(xf)

    matmul.float_type = ft
    return matmul


def make_int_conv2d(input_shape, weights, stride_hw, dilation_hw, pad_tl, out_hw, in_absmax,
                    in_zero_point=0):
    """Exact CONV_2D accumulators: [N, OH, OW, Cout] of sum (x - zp_in) * weights.

    weights: constant [Cout, KH, KW, Cin/groups] integer filter minus its zero point (int64 or
    any integer type). Grouped convolutions when Cin is a multiple of the filter depth.
    """
    _, h, wd, cin = input_shape
    w = np.asarray(weights)
    cout, kh, kw, cpg = w.shape
    (sh, sw), (dh, dw), (pt, pl), (oh, ow) = stride_hw, dilation_hw, pad_tl, out_hw
    groups = cin // cpg
    cpo = cout // groups
    k = kh * kw * cpg
    # [groups, K, Cout/groups], rows in (ky, kx, ci) order to match the patches
    gemm = ExactGemm(w.reshape(groups, cpo, k).transpose(0, 2, 1), in_absmax)
    ft = gemm.float_type
    pb = max(0, (oh - 1) * sh + effective_filter_size(kh, dh) - h - pt)
    pr = max(0, (ow - 1) * sw + effective_filter_size(kw, dw) - wd - pl)
    pointwise = (kh, kw, sh, sw, pt, pl, pb, pr) == (1, 1, 1, 1, 0, 0, 0, 0) \
        and (oh, ow) == (h, wd)
    centred = _Centred((h, wd, cin), (pt, pb, pl, pr), in_zero_point, ft)
    zp = ft(in_zero_point)

    def columns(x):
        n = x.shape[0]
        m = n * oh * ow
        if pointwise:
            return np.subtract(x, zp, dtype=ft).reshape(m, groups, cpg).transpose(1, 0, 2)
        p = centred(x)
        s0, s1, s2, s3 = p.strides
        patches = as_strided(p, (groups, n, oh, ow, kh, kw, cpg),
                             (s3 * cpg, s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
                             writeable=False)
        return np.ascontiguousarray(patches).reshape(groups, m, k)

    def conv(x):
        return gemm(columns(x)).reshape(x.shape[0], oh, ow, cout)

    def float_acc(x):
        return gemm.floats(columns(x)).reshape(x.shape[0], oh, ow, cout)

    conv.float_type = ft
    # the accumulators as exact integers in a float array (see ExactGemm.floats)
    conv.float_acc = float_acc if gemm.exact_in_float64 else None
    return conv


def make_int_depthwise_conv2d(input_shape, weights, stride_hw, dilation_hw, pad_tl, out_hw,
                              in_absmax, in_zero_point=0):
    """Exact DEPTHWISE_CONV_2D accumulators [N, OH, OW, C*mult].

    weights: constant [1, KH, KW, C*mult] integer filter minus its zero point. Output channel
    c*mult + m reads input channel c. One vectorised multiply-add per filter tap; taps that fall
    in the padding are skipped (they would add (zp - zp) * w = 0).
    """
    _, h, wd, cin = input_shape
    w = np.asarray(weights)
    _, kh, kw, cout = w.shape
    mult = cout // cin
    ft = exact_float_type(kh * kw, in_absmax, int(np.max(np.abs(w))) if w.size else 0)
    if ft == np.float32:
        # every tap sum is exact in float32, so the float kernel (cache-blocked, zero padding =
        # TFLite's padding with the zero point once the input is centred) gives the exact sums
        return _depthwise_through_float_kernel(input_shape, w, stride_hw, dilation_hw, pad_tl,
                                               out_hw, in_zero_point)
    wt = np.ascontiguousarray(w[0], dtype=ft)
    taps = tap_windows(out_hw, (h, wd), stride_hw, dilation_hw, pad_tl, (kh, kw))
    taps.sort(key=lambda t: not t[4])
    zp = ft(in_zero_point)
    oh, ow = out_hw
    scratch = {}

    def float_acc(x):
        n = x.shape[0]
        out = np.empty((n, oh, ow, cout), ft)
        xf = np.subtract(x, zp, dtype=ft)
        if mult > 1:
            xf = np.repeat(xf, mult, axis=3)
        tmp = scratch.get(out.shape)
        if tmp is None:
            scratch.clear()
            tmp = scratch[out.shape] = np.empty(out.shape, ft)
        first = True
        for ky, kx, (oy, ox), (iy, ix), full in taps:
            src = xf[:, iy, ix]
            if first and full:
                np.multiply(src, wt[ky, kx], out=out)
            else:
                if first:
                    out.fill(0)
                t = tmp[:, oy, ox]
                np.multiply(src, wt[ky, kx], out=t)
                dst = out[:, oy, ox]
                np.add(dst, t, out=dst)
            first = False
        if first:
            out.fill(0)
        return out

    # exact: each tap sum fits `ft` (exact_float_type)
    return _int64_accumulators(float_acc, ft)


def _depthwise_through_float_kernel(input_shape, w, stride_hw, dilation_hw, pad_tl, out_hw,
                                   in_zero_point):
    wf = np.ascontiguousarray(w, dtype=np.float32)
    kernel = make_depthwise_conv2d(input_shape, wf.shape, stride_hw, dilation_hw, pad_tl, out_hw,
                                   weights=wf)
    zp = np.float32(in_zero_point)
    oh, ow = out_hw
    buffers = {}  # batch size -> (centred input, float accumulators), reused between calls

    def float_acc(x):
        n = x.shape[0]
        bufs = buffers.get(n)
        if bufs is None:
            buffers.clear()
            bufs = buffers[n] = (np.empty(x.shape, np.float32),
                                 np.empty((n, oh, ow, wf.shape[-1]), np.float32))
        xf, out = bufs
        np.subtract(x, zp, out=xf, dtype=np.float32)
        kernel(xf, wf, None, out)
        return out

    return _int64_accumulators(float_acc, np.float32)


def _int64_accumulators(float_acc, float_type):
    """The factory's fn(x) -> int64 accumulators from fn(x) -> the same exact integers in a
    `float_type` array, which it keeps as `.float_acc` for the float64 output stage."""
    def accumulators(x):
        return float_acc(x).astype(np.int64)

    accumulators.float_type = float_type
    accumulators.float_acc = float_acc
    return accumulators


def make_int_transpose_conv2d(input_shape, weights, output_shape, stride_hw, pad_tl, in_absmax,
                              in_zero_point=0):
    """Exact TRANSPOSE_CONV accumulators [N, OH, OW, Cout].

    weights: constant [Cout, KH, KW, Cin] integer filter minus its zero point. Input pixel
    (iy, ix) scatters w[:, ky, kx, :] @ (x - zp) to output (iy*sh - pad_top + ky, ...); what lands
    outside the output is dropped. One GEMM for every tap, then one strided add per tap.
    """
    _, h, wd, cin = input_shape
    w = np.asarray(weights)
    cout, kh, kw, _ = w.shape
    _, oh, ow, _ = output_shape
    (sh, sw), (pt, pl) = stride_hw, pad_tl
    # one exact GEMM for every tap (int64 out); col2im adds them in int64
    gemm = ExactGemm(w.transpose(3, 1, 2, 0).reshape(1, cin, kh * kw * cout), in_absmax)
    ft = gemm.float_type
    taps, tiles = transpose_conv_taps((h, wd), (oh, ow), (kh, kw), (sh, sw), (pt, pl))
    zp = ft(in_zero_point)

    def transpose_conv(x):
        n = x.shape[0]
        out = np.empty((n, oh, ow, cout), np.int64)
        xf = np.subtract(x, zp, dtype=ft).reshape(n * h * wd, cin)
        col2im(gemm(xf).reshape(n, h, wd, kh, kw, cout), out, taps, tiles)
        return out

    transpose_conv.float_type = ft
    return transpose_conv
