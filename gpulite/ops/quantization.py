"""DEQUANTIZE (float16 and integer -> float32), QUANTIZE (float32 -> uint8/int8/int16, and
requantisation between integer types) and DENSIFY (sparse constant -> dense).

Both usually act on constant weights; the executor then runs them once at prepare and keeps
their outputs as constants, so fp16 and sparse models pay nothing per invoke.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..model import max_tensor_bytes
from . import quantized_common as qc
from . import sparse

FLOAT32, FLOAT16, INT8, UINT8, INT16 = 0, 1, 9, 3, 7

# TFLite's optimized per-tensor int8/uint8 dequantize works on groups of 8 values as
# q * scale + (-zero_point * scale), each product rounded to float32 on its own; the last
# size % 8 values take the scalar path, (q - zero_point) * scale rounded once. Both are matched
# bit for bit.
_VECTOR = 8


def _dequantize(ctx):
    x, out = ctx.input(0), ctx.output(0)
    ctx.require(out.type == FLOAT32, f"output is {dtypes.type_name(out.type)}; DEQUANTIZE "
                                     f"produces FLOAT32")
    ctx.check_types({FLOAT16, INT8, UINT8, INT16})
    ctx.set_output_shape(0, x.shape)
    xp = ctx.xp
    if x.type == FLOAT16:
        def run_fp16(ins, outs):
            outs[0][...] = ins[0]  # every float16 is exact in float32
        return run_fp16

    q = x.quantization
    ctx.require(q.is_quantized, f"{dtypes.type_name(x.type)} input has no quantization scale")
    scales = np.asarray(q.scales, np.float32)
    zps = np.asarray(q.zero_points, np.int64)
    if zps.size == 0:
        zps = np.zeros(1, np.int64)
    # real zero points lie in the storage range; far larger ones would overflow the int32 math
    ctx.require(np.all(np.abs(zps) <= 1 << 16), f"zero point(s) {zps[:4].tolist()} out of "
                                                f"range for {dtypes.type_name(x.type)}")
    if scales.size > 1:
        return _per_axis(ctx, x, scales, zps)
    scale, zp = scales[0], int(zps[0])
    if x.type == INT16:  # TFLite requires zero_point 0 here: one rounding, either formula
        return _per_axis(ctx, x, scales, zps)
    bias = np.float32(-zp * float(scale))  # C++: (float)(-zero_point * (double)scale)
    n = x.size
    head = n - n % _VECTOR

    def run(ins, outs):
        q_flat, o = ins[0].reshape(-1), outs[0].reshape(-1)
        xp.multiply(q_flat, scale, out=o, dtype=xp.float32)
        xp.add(o, bias, out=o)
        if head < n:
            tail = q_flat[head:].astype(xp.int32) - zp
            xp.multiply(tail.astype(xp.float32), scale, out=o[head:])
    return run


def _per_axis(ctx, x, scales, zps):
    """(q - zero_point[c]) * scale[c] along quantized_dimension, float32 math."""
    dim = x.quantization.quantized_dimension if scales.size > 1 else 0
    ctx.require(scales.size == 1 or (0 <= dim < x.rank and x.shape[dim] == scales.size),
                f"{scales.size} per-axis scales do not fit dimension {dim} of shape "
                f"{list(x.shape)}")
    ctx.require(zps.size in (1, scales.size), f"{zps.size} zero points for {scales.size} "
                                              f"scales")
    bshape = [1] * x.rank
    if scales.size > 1:
        bshape[dim] = scales.size
    xp = ctx.xp
    scale_b = ctx.backend.constant(scales.reshape(bshape if scales.size > 1 else ()))
    zp_b = ctx.backend.constant(zps.astype(np.int32).reshape(bshape if zps.size > 1 else ()))

    def run(ins, outs):
        centred = xp.subtract(ins[0], zp_b, dtype=xp.int32)  # exact: |q - zp| < 2**17
        xp.multiply(centred.astype(xp.float32), scale_b, out=outs[0])
    return run


def _densify(ctx):
    x, out = ctx.input(0), ctx.output(0)
    ctx.check_types({FLOAT32, FLOAT16, INT8})
    ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                    f"{dtypes.type_name(x.type)}; DENSIFY keeps the type")
    t = ctx.executor.sg.tensors[x.index]
    ctx.require(t.sparsity is not None, f"input {t.name!r} has no sparsity parameters")
    ctx.require(t.raw is not None, f"input {t.name!r} must be a constant")
    nbytes = dtypes.nbytes(x.type, x.shape)
    ctx.require(nbytes <= max_tensor_bytes(), f"dense shape {list(x.shape)} is {nbytes} bytes, "
                                            f"over the GPULITE_MAX_TENSOR_BYTES limit")
    item = dtypes.storage_dtype(x.type)
    ctx.require(len(t.raw) % item.itemsize == 0, f"sparse buffer of {len(t.raw)} bytes is not "
                                                 f"a whole number of {item} values")
    values = np.frombuffer(t.raw, item)
    try:
        dense = sparse.densify(values, x.shape, t.sparsity)
    except ValueError as exc:
        ctx.fail(f"malformed sparse tensor {t.name!r}: {exc}")
    ctx.set_output_shape(0, x.shape)
    # The input is a constant, so the executor folds this op: run() executes once, at prepare.
    dense_dev = ctx.backend.constant(dense)

    def run(ins, outs):
        outs[0][...] = dense_dev
    return run


def _c_int32(xp, v):
    """static_cast<int32_t>(floating) as x86 computes it: truncation, and INT32_MIN for NaN and
    for values outside the int32 range (cvttss2si / cvttsd2si)."""
    bad = ~(xp.abs(v) < 2.0 ** 31)
    t = xp.trunc(xp.where(bad, 0, v)).astype(xp.int64)
    return xp.where(bad, -(1 << 31), t)


def _wrap32(xp, v):
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _quantize(ctx):
    """QUANTIZE as TFLite's optimized kernel computes it (NEON code under NEON_2_SSE):

    float -> int, per tensor: 8 values at a time x * float32(1 / scale), rounded half to even
    (cvtps2dq: out of range and NaN give INT32_MIN), + zero point; the size % 8 tail computes
    round_half_away(double(x) / scale) in double. Per channel: round_half_away(x / scale[c]) in
    float32. Both then clamp to the output type.
    int8/uint8 -> int8/uint8: 16 values at a time with the NEON rescale (ties up), the tail with
    MultiplyByQuantizedMultiplier (ties away); other integer pairs: MultiplyByQuantizedMultiplier.
    """
    from .. import fixed_point as fp
    x, out = ctx.input(0), ctx.output(0)
    ctx.require(out.quantization.is_quantized, f"output {out.name!r} has no quantization "
                                               f"parameters")
    allowed = {FLOAT32: {UINT8, INT8, INT16}, INT16: {INT8, INT16, 2}, 2: {INT8, INT16},
               INT8: {UINT8, INT8, INT16}, UINT8: {UINT8, INT8, INT16}}
    ctx.require(x.type in allowed, f"input is {dtypes.type_name(x.type)}; QUANTIZE takes "
                                   f"FLOAT32, INT8, UINT8, INT16 or INT32")
    ctx.require(out.type in allowed[x.type], f"cannot quantize {dtypes.type_name(x.type)} to "
                                             f"{dtypes.type_name(out.type)}")
    ctx.set_output_shape(0, x.shape)
    xp = ctx.xp
    oq = out.quantization
    zps = np.asarray(oq.zero_points, np.int64) if oq.zero_points.size else np.zeros(1, np.int64)
    lo, hi = fp.TYPE_RANGES[out.type]
    n = x.size
    if x.type == FLOAT32:
        if oq.scales.size > 1:
            return _quantize_per_channel(ctx, x, out, lo, hi)
        scale = np.float32(oq.scales[0])
        zp = int(zps[0])
        ctx.require(scale != 0, "output scale is 0")
        rs = np.float32(1.0 / float(scale))  # vdupq_n_f32(1.0f / double(scale))
        head = n - n % 8

        # every rounded value this far inside the int32 range takes the float32 path: adding
        # the zero point cannot wrap, and float32 keeps the clamp's answer
        plain_limit = float(2 ** 31 - 2 * (1 << 16))
        # (NumPy only: the test reads two values back, a synchronisation on a GPU that would
        # also keep the invoke out of a CUDA graph)
        on_host = xp is np

        def exact_head(v, o):
            f = xp.multiply(v, rs, dtype=xp.float32)
            r = xp.rint(f)  # round half to even, like cvtps2dq
            ok = xp.abs(r) < 2.0 ** 31  # NaN and out of range give INT32_MIN
            q = xp.where(ok, xp.where(ok, r, 0).astype(xp.int64), -(1 << 31))
            o[...] = xp.clip(_wrap32(xp, q + zp), lo, hi)

        def run_float(ins, outs):
            v = ins[0].reshape(-1)
            o = outs[0].reshape(-1)
            if head and not on_host:
                exact_head(v[:head], o[:head])
            elif head:
                r = xp.multiply(v[:head], rs, dtype=xp.float32)
                xp.rint(r, out=r)
                # max/min propagate NaN, which fails the test: the exact path then runs
                if -plain_limit < float(r.min()) and float(r.max()) < plain_limit:
                    r += xp.float32(zp)
                    xp.clip(r, lo, hi, out=r)
                    o[:head] = r
                else:
                    exact_head(v[:head], o[:head])
            if head < n:
                d = v[head:].astype(xp.float64) / float(scale)
                q = _c_int32(xp, fp.round_half_away_xp(xp, d))
                o[head:] = xp.clip(_wrap32(xp, q + zp), lo, hi)
        return run_float
    # integer -> integer requantisation
    ctx.require(x.quantization.is_quantized, f"input {x.name!r} is {dtypes.type_name(x.type)} "
                                             f"without quantization parameters")
    in_scale, in_zp = float(np.float32(x.quantization.scales[0])), \
        int(x.quantization.zero_points[0]) if x.quantization.zero_points.size else 0
    out_scale, out_zp = float(np.float32(oq.scales[0])), int(zps[0])
    if x.type == INT16 and out.type == INT16:
        ctx.require(in_zp == 0 and out_zp == 0, "int16 -> int16 QUANTIZE needs zero points of 0")
    m, s = fp.quantize_multiplier_scalar(in_scale / out_scale)
    neon = x.type in (INT8, UINT8) and out.type in (INT8, UINT8)
    head = n - n % 16 if neon else 0

    def requantize(mod, v, upward):
        """clamp(rescale(v - in_zp) + out_zp): the NEON blocks round ties up, the tail away."""
        v = v.astype(mod.int64) - in_zp
        rescale = fp.multiply_by_quantized_multiplier_upward if upward else \
            fp.multiply_by_quantized_multiplier
        return mod.clip(rescale(mod, v, m, s) + out_zp, lo, hi)

    if x.type in (INT8, UINT8):
        # 256 input values: each path's outputs are a table, looked up by the input's bytes
        type_lo, type_hi = fp.TYPE_RANGES[x.type]
        values = np.arange(type_lo, type_hi + 1)
        out_dtype = dtypes.storage_dtype(out.type)
        run_head, run_tail = (
            qc.byte_lut_run(xp, requantize(np, values, upward), type_lo, out_dtype)
            for upward in (neon, False))

        def run_int8(ins, outs):
            v = ins[0].reshape(-1)
            o = outs[0].reshape(-1)
            if head:
                run_head((v[:head],), (o[:head],))
            if head < n:
                run_tail((v[head:],), (o[head:],))
        return run_int8

    def run_int(ins, outs):
        v = ins[0].reshape(-1)
        o = outs[0].reshape(-1)
        if head:
            o[:head] = requantize(xp, v[:head], True)
        if head < n:
            o[head:] = requantize(xp, v[head:], False)
    return run_int


def _quantize_per_channel(ctx, x, out, lo, hi):
    from .. import fixed_point as fp
    q = out.quantization
    dim = q.quantized_dimension
    ctx.require(0 <= dim < x.rank and x.shape[dim] == q.scales.size,
                f"{q.scales.size} per-channel scales do not fit dimension {dim} of "
                f"{list(x.shape)}")
    zps = np.asarray(q.zero_points, np.int64)
    zps = np.broadcast_to(zps if zps.size == q.scales.size else zps[:1], q.scales.shape)
    bshape = [1] * x.rank
    bshape[dim] = q.scales.size
    xp = ctx.xp
    scale_b = xp.asarray(np.asarray(q.scales, np.float32).reshape(bshape))
    zp_b = xp.asarray(zps.reshape(bshape))

    def run(ins, outs):
        f = xp.divide(ins[0], scale_b, dtype=xp.float32)
        r = _c_int32(xp, fp.round_half_away_xp(xp, f))
        outs[0][...] = xp.clip(_wrap32(xp, r + zp_b), lo, hi)
    return run


KERNELS = {
    "DEQUANTIZE": _dequantize,
    "QUANTIZE": _quantize,
    "DENSIFY": _densify,
}
