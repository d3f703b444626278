"""Quantised RESIZE_BILINEAR (int8, int16, uint8), bit-exact with TFLite's kernels.

TFLite resizes int8 and int16 with `ResizeBilinearInteger`: source coordinates in 10-bit fixed
point, the four neighbours weighted by products of 10-bit fractions (a 20-bit result), rounded
half away from zero. The raw integers are interpolated (input and output share quantisation).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from . import quantized_common as qc
from .resize import resize_geometry

INT8, INT16, UINT8 = qc.INT8, qc.INT16, qc.UINT8


def _c_div(a, b):
    """C integer division (truncates toward zero), on NumPy int arrays."""
    q = np.abs(a) // abs(b)
    return np.where((a >= 0) == (b > 0), q, -q)


def _axis(out_size, in_size, align, half):
    """(lower index, upper index, 10-bit position) per output coordinate, as
    ComputeInterpolationValuesInteger computes them."""
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    v = np.arange(out_size, dtype=np.int64)
    scaled = v * scale + (scale // 2 - (1 << 9) if half else 0)
    lower = np.maximum(_c_div(scaled, 1 << 10), 0)
    upper = np.minimum(_c_div(scaled + (1 << 10) - 1, 1 << 10), in_size - 1)
    return lower, upper, scaled - (1 << 10) * lower


def _axis_float(out_size, in_size, align, half):
    """(lower, upper, float32 fraction) per output coordinate, as TFLite's float
    ComputeInterpolationValues computes them with the optimized kernel's float32 scale."""
    f32 = np.float32
    if align and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    v = np.arange(out_size, dtype=np.float32)
    pos = (v + f32(0.5)) * scale - f32(0.5) if half else v * scale
    pos = pos.astype(np.float32)
    lower = np.maximum(np.floor(pos).astype(np.int64), 0)
    upper = np.minimum(np.ceil(pos).astype(np.int64), in_size - 1)
    return lower, upper, (pos - lower.astype(np.float32)).astype(np.float32)


def _prepare_uint8(ctx, x):
    """uint8: TFLite's optimized ResizeBilinearGenericSmallChannel, in float32: the four
    weights (1 - dy) * (1 - dx), (1 - dy) * dx, dy * (1 - dx), dy * dx per output pixel, the
    sum v00*w0 + v01*w1 + v10*w2 + v11*w3 + 0.5 taken left to right, truncated. (Its 8x
    half-pixel special case, ResizeBilinear888Uint8, is exact 8.8 fixed point that gives the
    same values: every weight there is a multiple of 1/16, exact in float32 too.)"""
    (oh, ow), align, half = resize_geometry(ctx, x)
    _, h, w, _ = x.shape
    y0, y1, fy = _axis_float(oh, h, align, half)
    x0, x1, fx = _axis_float(ow, w, align, half)
    one = np.float32(1)
    gy0, gy1 = (one - fy).reshape(oh, 1), fy.reshape(oh, 1)
    gx0, gx1 = (one - fx).reshape(1, ow), fx.reshape(1, ow)
    weights = [(a * b).astype(np.float32)[None, :, :, None]
               for a, b in ((gy0, gx0), (gy0, gx1), (gy1, gx0), (gy1, gx1))]
    xp = ctx.xp
    w00, w01, w10, w11 = (xp.asarray(a) for a in weights)
    y0d, y1d, x0d, x1d = (xp.asarray(a) for a in (y0, y1, x0, x1))
    half_f = xp.float32(0.5)

    def run(ins, outs):
        v = ins[0].astype(xp.float32)
        top, bottom = v[:, y0d], v[:, y1d]
        acc = top[:, :, x0d] * w00
        acc += top[:, :, x1d] * w01
        acc += bottom[:, :, x0d] * w10
        acc += bottom[:, :, x1d] * w11
        acc += half_f
        outs[0][...] = xp.clip(xp.trunc(acc), 0, 255)
    return run


def prepare_resize_bilinear(ctx):
    x, out = ctx.input(0), ctx.output(0)
    ctx.require(x.type in (INT8, INT16, UINT8), f"quantized {dtypes.type_name(x.type)} "
                                                f"RESIZE_BILINEAR is not supported")
    if x.type == UINT8:
        ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                        f"{dtypes.type_name(x.type)}; they must match")
        return _prepare_uint8(ctx, x)
    ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                    f"{dtypes.type_name(x.type)}; they must match")
    (oh, ow), align, half = resize_geometry(ctx, x)
    _, h, w, _ = x.shape
    y0, y1, fy = _axis(oh, h, align, half)
    x0, x1, fx = _axis(ow, w, align, half)
    xp = ctx.xp
    one = 1 << 10
    # int8: |value * weights| < 2^29 (a weight can pass 2^10 by half where half-pixel centres
    # clamp the lower index), so int32 holds every sum exactly; int16 needs int64
    acc_t = np.int32 if x.type == INT8 else np.int64
    wy0, wy1 = (one - fy).reshape(1, oh, 1, 1), fy.reshape(1, oh, 1, 1)
    wx0, wx1 = (one - fx).reshape(1, 1, ow, 1), fx.reshape(1, 1, ow, 1)
    consts = [xp.asarray(a.astype(acc_t)) for a in (y0, y1, x0, x1, wy0, wy1, wx0, wx1)]
    y0d, y1d, x0d, x1d, wy0d, wy1d, wx0d, wx1d = consts
    sign_shift = np.dtype(acc_t).itemsize * 8 - 1
    half_unit = 1 << 19

    def run(ins, outs):
        # In integers the order of the sums is free: TFLite's
        # (top0*wx0 + top1*wx1)*wy0 + (bottom0*wx0 + bottom1*wx1)*wy1 is computed as one
        # horizontal pass over the input rows, then one vertical pass.
        v = ins[0]
        rows = xp.take(v, x0d, axis=2).astype(acc_t)
        rows *= wx0d
        term = xp.take(v, x1d, axis=2).astype(acc_t)
        term *= wx1d
        rows += term
        acc = xp.take(rows, y0d, axis=1)
        acc *= wy0d
        term = xp.take(rows, y1d, axis=1)
        term *= wy1d
        acc += term
        # (acc +- 2^19) / 2^20 in C rounds half away from zero: floor((acc + 2^19 - 1) / 2^20)
        # for negative acc, floor((acc + 2^19) / 2^20) otherwise
        acc += acc >> sign_shift
        acc += half_unit
        acc >>= 20
        outs[0][...] = acc
    return run
