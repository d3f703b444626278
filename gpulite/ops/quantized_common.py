"""Shared pieces of the integer-quantised op paths (uint8, int8, int16x8).

Quantisation parameters as TFLite's kernels read them (float32 scales, int zero points),
validation helpers, and the prepared output stages (rescale + zero point + clamp + cast) built
on `gpulite.fixed_point`.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from .. import fixed_point as fp
from .base import clip_ufunc

UINT8, INT8, INT16, INT32, INT64, FLOAT32 = 3, 9, 7, 2, 4, 0
QUANT_TYPES = frozenset({UINT8, INT8, INT16})


def is_quantized_tensor(t) -> bool:
    return t is not None and t.type in QUANT_TYPES


def scale_zp(ctx, t, what: str = "tensor") -> tuple:
    """(float32 scale, int zero point) of a per-tensor quantised tensor, as `params` in TFLite
    (the first entry when several are given)."""
    q = t.quantization
    if not q.is_quantized:
        ctx.fail(f"{what} {t.name!r} ({dtypes.type_name(t.type)}) has no quantization "
                 f"parameters")
    scale = np.float32(q.scales[0])
    zp = int(q.zero_points[0]) if q.zero_points.size else 0
    return scale, zp


def check_zero_point(ctx, t, zp: int, what: str) -> None:
    lo, hi = fp.TYPE_RANGES[t.type]
    ctx.require(lo <= zp <= hi, f"{what} zero point {zp} is outside the "
                                f"{dtypes.type_name(t.type)} range")


def per_channel_scales(ctx, w, channels: int, axis: int):
    """The filter's scales as float32 [channels] (a per-tensor scale is broadcast), and its zero
    points as int64 [channels]."""
    q = w.quantization
    ctx.require(q.is_quantized, f"filter {w.name!r} has no quantization parameters")
    scales = np.asarray(q.scales, np.float32)
    zps = np.asarray(q.zero_points, np.int64) if q.zero_points.size else np.zeros(1, np.int64)
    if scales.size > 1:
        ctx.require(scales.size == channels and q.quantized_dimension == axis,
                    f"filter has {scales.size} per-channel scales on dimension "
                    f"{q.quantized_dimension}; expected {channels} on dimension {axis}")
    scales = np.broadcast_to(scales, (channels,)).copy() if scales.size == 1 else scales
    zps = np.broadcast_to(zps, (channels,)).copy() if zps.size == 1 else zps
    ctx.require(zps.size == channels, f"filter has {zps.size} zero points for {channels} "
                                      f"channels")
    return scales, zps


def activation_range(ctx, out, code=None) -> tuple:
    code = ctx.options.get("fused_activation_function", 0) if code is None else code
    ctx.require(code in (0, 1, 2, 3, 4, 5), f"unknown fused activation {code}")
    scale, zp = scale_zp(ctx, out, "output")
    try:
        return fp.activation_range_quantized(code, out.type, float(scale), zp)
    except ValueError as exc:
        ctx.fail(f"fused activation range: {exc}")


def multipliers(real):
    """QuantizeMultiplier over an array of real multipliers -> (int64 m, int64 shift)."""
    return fp.quantize_multiplier(np.asarray(real, np.float64))


# -- output stages ----------------------------------------------------------------------------


def make_output_stage(xp, mult, shift, out_zp: int, lo: int, hi: int, rounding: str,
                      real=None, up_where=None):
    """fn(acc int64 array, out) -> out[...] = clamp(rescale(acc) + out_zp, lo, hi).

    `mult`/`shift` are scalars or [C] arrays along the last axis. `rounding` picks TFLite's
    form (see `fixed_point`):
      "away"   - `MultiplyByQuantizedMultiplier` (gemmlowp double rounding, ties away from 0);
      "up"     - the NEON 4-rows form / ruy's GEMM output stage (ties up);
      "mixed"  - "up" where `up_where` (a bool array broadcastable to acc) is true, else "away"
                 (a NEON main loop with a scalar tail);
      "int64"  - the 64-bit reduced-multiplier form (`acc` may exceed int32);
      "double" - the reference kernels that rescale in floating point:
                 (int32) round(double(acc) * real), ties away from zero.
    `acc` is consumed (modified in place where that saves a pass).
    """
    mult = np.asarray(mult, np.int64)
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    needs_left = bool(np.any(left > 0))
    if rounding == "mixed" and up_where is not None and np.all(up_where):
        rounding = "up"
    if rounding == "mixed" and up_where is not None and not np.any(up_where):
        rounding = "away"
    if rounding == "up":
        # floor((floor((p + 2^30) / 2^31) + 2^(r-1)) / 2^r) == floor((p + c) / 2^(31+r))
        nudge = (1 << 30) + np.where(right > 0, np.left_shift(1, 30 + right, dtype=np.int64), 0)
        m_d, nudge_d, total_d, left_d = (xp.asarray(v) for v in (mult, nudge, 31 + right, left))

        def rescale(acc):
            if needs_left:
                acc = fp.wrap_int32(xp, acc << left_d)
            acc *= m_d
            acc += nudge_d
            acc >>= total_d
            return acc
    elif rounding in ("away", "mixed"):
        m_d, left_d, right_d = (xp.asarray(v) for v in (mult, left, right))
        mask = np.left_shift(1, right, dtype=np.int64) - 1
        mask_d, half_d = xp.asarray(mask), xp.asarray(mask >> 1)
        away_d = None if rounding == "away" else xp.asarray(~np.asarray(up_where, bool))

        def rescale(acc):
            if needs_left:
                acc = fp.wrap_int32(xp, acc << left_d)
            t = fp.saturating_rounding_doubling_high_mul(xp, acc, m_d)
            neg = t < 0
            if away_d is not None:
                neg &= away_d
            threshold = half_d + neg
            r = t >> right_d
            r += (t & mask_d) > threshold
            return r
    elif rounding == "int64":
        red = fp.reduced_multiplier(mult)
        total = 15 - shift
        red_d, total_d = xp.asarray(red), xp.asarray(total)
        half_d = xp.asarray(np.left_shift(1, total - 1, dtype=np.int64))

        def rescale(acc):
            acc *= red_d
            acc += half_d
            acc >>= total_d
            return fp.wrap_int32(xp, acc)
    elif rounding == "double":
        real_d = xp.asarray(np.asarray(real, np.float64))

        def rescale(acc):
            r = acc.astype(xp.float64)
            r *= real_d
            return fp.round_half_away_xp(xp, r).astype(xp.int64)
    else:
        raise ValueError(f"unknown rounding {rounding!r}")

    def stage(acc, out):
        r = rescale(acc)
        if out_zp:
            r += out_zp
        xp.clip(r, lo, hi, out=r)
        out[...] = r
    # what make_float_up_stage needs, where the "up" form has no left shift
    stage.up_params = (mult, right, out_zp, lo, hi) if rounding == "up" and not needs_left \
        else None
    stage.fused = _fused_description(rounding, mult, shift, needs_left, out_zp, lo, hi,
                                     up_where)
    return stage


def offer_pair_add(ctx, call) -> None:
    """On a device backend whose integer kernel writes this op's 8-bit output in its epilogue:
    offer gpulite.fusion to absorb a quantised ADD of that output into the same epilogue.
    `call(ins, out, pair_add, residual)` runs the op's kernel with the ADD applied (the
    factories' `add=` argument, gpulite/backends/cuda_int.py)."""
    make = getattr(ctx.backend.kernels, "make_pair_add", None)
    if make is None or ctx.output(0).type not in (INT8, UINT8):
        return
    n_ins = len(ctx.inputs)

    def with_residual(add, first):
        if add.kind != "pair_table":
            return None
        pair = make(add.table, add.paths, add.base, first)

        def run_absorbing(ins, outs):  # ins: the op's own, then the ADD's other operand
            call(ins, outs[0], pair, ins[n_ins])
        return run_absorbing
    ctx.residual_epilogue = with_residual


def device_requant(ctx, stage, bias_const, bias_pos):
    """On a device backend: `stage` (with the constant bias, if any) as the CUDA backend's
    RequantSpec, which its integer kernels take as `requant=` to write the requantised output
    in their own epilogue. None on the CPU, with a bias computed at run time, or where the
    kernels lack the stage's form."""
    spec = getattr(ctx.backend.kernels, "requant_spec", None)
    fused = getattr(stage, "fused", None)
    if spec is None or fused is None or (bias_pos is not None and bias_const is None):
        return None
    out = ctx.output(0)
    return spec(fused, out.shape[-1], out.dtype, bias_const)


_NO_LIMIT = 2 ** 62


def _fused_description(rounding, mult, shift, needs_left, out_zp, lo, hi, up_where):
    """The stage as the CUDA backend computes it in a kernel's epilogue (cuda_kernels/
    requant.cuh, through `CudaKernels.requant_spec`), or None where it has no such form."""
    if rounding == "int64":
        total = 15 - shift
        if np.any(total < 1) or np.any(total > 62):
            return None
        return dict(mode="int64", mult=fp.reduced_multiplier(mult), shift=total,
                    wrap_input=False, out_zp=out_zp, lo=lo, hi=hi, up_channels=0,
                    up_elements=0)
    if rounding not in ("up", "away", "mixed") or np.any(shift > 31) or np.any(shift < -32):
        return None
    up_channels, up_elements = 0, 0
    if rounding == "mixed":
        # the kernel knows two forms of NEON loop coverage: the first k channels (a loop
        # over channel blocks), or the first k elements (a loop over the flat array)
        uw = np.asarray(up_where, bool)
        flat = uw.reshape(-1)
        k = int(flat.sum())
        if not np.array_equal(flat, np.arange(flat.size) < k):
            return None
        # (a scalar mask never gets here: make_output_stage turned it into "up" or "away")
        if uw.ndim == 1:
            up_channels, up_elements = k, _NO_LIMIT
        else:
            up_channels, up_elements = _NO_LIMIT, k
    return dict(mode=rounding, mult=mult, shift=shift, wrap_input=needs_left, out_zp=out_zp,
                lo=lo, hi=hi, up_channels=up_channels, up_elements=up_elements)


_CLIP = clip_ufunc(np)

# The float64 form of the "up" stage is exact while 31 + right shift <= this (see below).
_FLOAT_UP_MAX_TOTAL_SHIFT = 43
# elements per block of the float64 stage: its scratch and tiled constants stay in the L2 cache
_FLOAT_UP_BLOCK = 1 << 14


def make_float_up_stage(up_params, bias, channels: int):
    """The "up" output stage (+ a constant bias) from accumulators held as exact integers in a
    float array, computed in float64 in cache-sized blocks: fn(acc [..., C] float, out). None
    when it would not be exact (a right shift over 12).

    "up" is floor((v*m + nudge) / 2^T) + zp, clamped, with v = acc + bias, T = 31 + right and
    nudge = 2^30 + 2^(30+right). In float64 this is floor(v * (m / 2^T) + c) with
    c = nudge / 2^T + zp, and it is exact for every output the clamp keeps: there
    |v*m / 2^T| < 2^9, so v*m (an integer) is below 2^(9+T) <= 2^52 and the product is
    computed exactly (m / 2^T is exact: 31-bit m); the sum with c stays a multiple of 2^-T
    below 2^10, exact too, and so is floor. Where |v*m / 2^T| >= 2^9 the float product is
    within a relative 2^-53 of it, so beyond any int8/uint8/int16 clamp bound either way
    (int16 outputs use the "int64" form, not this one)."""
    mult, right, out_zp, lo, hi = up_params
    mult = np.broadcast_to(np.asarray(mult, np.int64), (channels,))
    right = np.broadcast_to(np.asarray(right, np.int64), (channels,))
    if hi - lo > 255 or int(right.max(initial=0)) + 31 > _FLOAT_UP_MAX_TOTAL_SHIFT:
        return None
    total = 31 + right
    scale = mult / np.exp2(total)
    # the clamp's lower bound moved to 0: after clamping to [0, hi - lo + 0.5] the cast to
    # uint8 truncates, which is floor there, and the bytes + lo (mod 256) are the output
    offset = (np.exp2(30 - total) + np.exp2(30 + right - total)) + (out_zp - lo)
    top = float(hi - lo) + 0.5
    lo_byte = np.uint8(lo & 0xFF)
    rows = max(1, _FLOAT_UP_BLOCK // max(channels, 1))
    # per-channel constants tiled to a block: every ufunc then runs one contiguous loop
    scale_t = np.tile(scale, (rows, 1))
    offset_t = np.tile(offset, (rows, 1))
    bias_t = None if bias is None else np.tile(np.asarray(bias, np.float64), (rows, 1))
    scratch = np.empty((rows, channels), np.float64)
    clip = _CLIP

    def stage(acc, out):
        acc2 = acc.reshape(-1, channels)
        out2 = out.reshape(-1, channels).view(np.uint8)
        for r in range(0, acc2.shape[0], rows):
            a = acc2[r:r + rows]
            n = a.shape[0]
            t = scratch[:n]
            t[...] = a
            if bias_t is not None:
                t += bias_t[:n]
            t *= scale_t[:n]
            t += offset_t[:n]
            clip(t, 0.0, top, out=t)
            o = out2[r:r + rows]
            o[...] = t
            if lo_byte:
                o += lo_byte  # wraps mod 256: the int8 bytes of floor + lo
    return stage


def take_into(xp, table, idx, out) -> None:
    """out[...] = table[idx] for indices known to be in range, with no temporary: NumPy's
    take buffers `out` unless told how to treat out-of-range indices ("wrap", never used)."""
    if xp is np:
        np.take(table, idx, out=out, mode="wrap")
    else:
        xp.take(table, idx, out=out)


def byte_lut_run(xp, table, lo: int, out_dtype):
    """The run function of an 8- or 16-bit lookup-table op: out = table[x - lo], `table` over
    every value of the input type in order. The table is reordered so that the input's bytes,
    read as unsigned, index it directly (no widening or offset pass per invoke)."""
    unsigned, signed = {256: (np.uint8, np.int8), 1 << 16: (np.uint16, np.int16)}[table.size]
    codes = np.arange(table.size).astype(unsigned)
    values = (codes.view(signed) if lo < 0 else codes).astype(np.int64)
    table_d = xp.asarray(np.asarray(table)[values - lo].astype(out_dtype))

    def run(ins, outs):
        take_into(xp, table_d, ins[0].view(unsigned), outs[0])
    return run


def neon_channel_split(channels: int, block: int = 8):
    """bool [C]: True for the channels a NEON loop over blocks of `block` channels handles
    (the rest go through the scalar tail)."""
    return np.arange(channels) < channels - channels % block


# -- NEON main loops vs scalar tails on broadcast binary ops -------------------------------------

ELEMENTWISE, SCALAR_BROADCAST, SCALAR = 0, 1, 2
PATH_CODES = (ELEMENTWISE, SCALAR_BROADCAST, SCALAR)


def broadcast_paths(shape1, shape2, out_shape, elementwise_chunk: int, broadcast_chunk: int):
    """Which code path TFLite's optimized binary kernels take for each output element.

    Mirrors `ProcessBroadcastShapes` + `BinaryBroadcastFiveFold`: equal shapes run the
    elementwise function over the whole flat size; a "fivefold" broadcast calls the elementwise
    function on runs of y4 outputs (or, when y4 == 1, the scalar-broadcast function on runs of
    y3); anything else runs the reference (scalar) kernel. Within each call the NEON loop covers
    whole chunks and the remainder goes through the scalar tail.
    Returns an int8 array over `out_shape` of ELEMENTWISE / SCALAR_BROADCAST / SCALAR.
    """
    n = int(np.prod(out_shape, dtype=np.int64))
    idx = np.arange(n, dtype=np.int64)

    def runs(length, chunk, code):
        j = idx % length if length else idx
        return np.where(j < length - length % chunk, code, SCALAR).astype(np.int8)

    dims = max(len(shape1), len(shape2))
    s0 = (1,) * (dims - len(shape1)) + tuple(shape1)
    s1 = (1,) * (dims - len(shape2)) + tuple(shape2)
    if s0 == s1:
        return runs(n, elementwise_chunk, ELEMENTWISE).reshape(out_shape)
    category = None
    for i in range(dims - 1, -1, -1):
        if s0[i] == s1[i]:
            continue
        if s0[i] == 1:
            category = "first"
        elif s1[i] == 1:
            category = "second"
        break
    if category is None:
        return np.full(out_shape, SCALAR, np.int8)
    a, b = (s1, s0) if category == "second" else (s0, s1)
    y = [1, 1, 1, 1, 1]
    i = dims - 1
    while i >= 0 and a[i] == b[i]:
        y[4] *= b[i]
        i -= 1
    while i >= 0 and a[i] == 1:
        y[3] *= b[i]
        i -= 1
    while i >= 0 and a[i] == b[i]:
        y[2] *= a[i]
        i -= 1
    while i >= 0 and b[i] == 1:
        y[1] *= a[i]
        i -= 1
    while i >= 0 and a[i] == b[i]:
        y[0] *= b[i]
        i -= 1
    if i >= 0:
        return np.full(out_shape, SCALAR, np.int8)
    if y[4] > 1:
        return runs(y[4], elementwise_chunk, ELEMENTWISE).reshape(out_shape)
    return runs(y[3], broadcast_chunk, SCALAR_BROADCAST).reshape(out_shape)


def neon_vshl(x, shift):
    """NEON_2_SSE's vshlq_s32 on int64-held int32 values: a left shift for shift >= 0 (wrapping),
    an arithmetic right shift (floor) for shift < 0, and 0 once |shift| >= 32."""
    x = np.asarray(x, np.int64)
    if shift >= 32 or shift <= -32:
        return np.zeros_like(x)
    if shift >= 0:
        return ((x << shift) + (1 << 31)) % (1 << 32) - (1 << 31)
    return x >> (-shift)
