"""Quantised SOFTMAX, bit-exact with TFLite's x86 kernels.

uint8 / int8 inputs (TFLite's optimized float-table kernel): a 256-entry float32 table
exp(-input_scale * beta * d) for d = max - x, built with the C library's `expf` at prepare; per
row, the table values summed sequentially in float32 (a cumulative sum, so NumPy adds them in
TFLite's order), inv = 1 / (sum * output_scale), and each output round(table * inv) + zero_point
(int8 / int16 outputs: std::round; uint8 outputs: truncation of value + 0.5).

int16 (TFLite's reference kernel): fixed-point exp and 1 / (1 + x) lookup tables with 513
entries and linear interpolation between them, built at prepare exactly as `LUTPopulate` does
(in double precision), then the integer arithmetic of `SoftmaxInt16`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from .. import dtypes
from .. import fixed_point as fp
from . import quantized_common as qc

UINT8, INT8, INT16 = qc.UINT8, qc.INT8, qc.INT16


def _libm_expf():
    """The C library's expf (what TFLite calls); None when it cannot be loaded."""
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        f = libm.expf
        f.restype = ctypes.c_float
        f.argtypes = [ctypes.c_float]
        return f
    except (OSError, AttributeError):
        return None


_EXPF = _libm_expf()


def expf(x: np.float32) -> np.float32:
    if _EXPF is not None:
        return np.float32(_EXPF(float(x)))
    return np.float32(math.exp(float(x)))  # correctly rounded: agrees with expf almost always


def prepare_softmax(ctx):
    x, out = ctx.input(0), ctx.output(0)
    ctx.require(x.rank >= 1, "input must have at least one dimension")
    outs_for = {UINT8: (UINT8, INT16), INT8: (INT8, INT16), INT16: (INT16,)}
    ctx.require(out.type in outs_for[x.type], f"a {dtypes.type_name(x.type)} SOFTMAX cannot "
                f"produce {dtypes.type_name(out.type)}")
    in_scale, in_zp = qc.scale_zp(ctx, x, "input")
    out_scale, out_zp = qc.scale_zp(ctx, out, "output")
    if x.type == INT8 and out.type == INT8:
        ctx.require(out_zp == -128 and abs(float(out_scale) - 1 / 256) <= 0.001 / 256,
                    f"int8 SOFTMAX output must have scale 1/256 and zero point -128, got "
                    f"{out_scale} and {out_zp}")
    if x.type == INT16:
        ctx.require(out_zp == 0 and abs(float(out_scale) - 1 / 32768) <= 0.001 / 32768,
                    f"int16 SOFTMAX output must have scale 1/32768 and zero point 0, got "
                    f"{out_scale} and {out_zp}")
        ctx.require(in_zp == 0, "int16 SOFTMAX input zero point must be 0")
    ctx.set_output_shape(0, x.shape)
    beta = np.float32(ctx.options.get("beta", 0.0))
    if x.size == 0:
        return lambda ins, outs: None
    if x.type == INT16:
        return _softmax_int16(ctx, x, in_scale, beta)
    return _softmax_8bit(ctx, x, out, in_scale, beta, out_scale, out_zp)


def _softmax_8bit(ctx, x, out, in_scale, beta, out_scale, out_zp):
    xp = ctx.xp
    scale = np.float32(-in_scale * beta)
    # table[d] = expf(scale * d), d = max - x in [0, 255]
    table = np.array([expf(np.float32(scale * np.float32(d))) for d in range(256)], np.float32)
    table_d = xp.asarray(table)
    depth = x.shape[-1]
    rows = x.size // depth
    out_scale = np.float32(out_scale)
    lo, hi = fp.TYPE_RANGES[out.type]
    truncate = out.type == UINT8

    def quantize(p):
        """float32 probabilities -> output integers, as TFLite rounds them."""
        if truncate:
            q = (p + xp.float32(0.5)).astype(xp.int64)
        else:
            q = fp.round_half_away_xp(xp, p).astype(xp.int64)
        q += out_zp
        return xp.clip(q, lo, hi, out=q)

    if depth <= _COLUMN_LOOP_DEPTH:
        return _softmax_8bit_columns(xp, rows, depth, table_d, out_scale, quantize)

    def run(ins, outs):
        v = ins[0].reshape(rows, depth).astype(xp.int32)
        d = v.max(axis=1, keepdims=True) - v
        e = xp.take(table_d, d)
        total = xp.cumsum(e, axis=1, dtype=xp.float32)[:, -1:]  # sequential, as TFLite sums
        inv = xp.float32(1.0) / (total * out_scale)
        outs[0].reshape(rows, depth)[...] = quantize(e * inv)
    return run


# rows this short run a loop over their columns: NumPy's reductions along a tiny last axis
# cost far more per element than whole-column ufuncs (a [4096, 2] softmax: 0.26 -> 0.08 ms)
_COLUMN_LOOP_DEPTH = 8


def _softmax_8bit_columns(xp, rows, depth, table_d, out_scale, quantize):
    """The 8-bit softmax of short rows, one column at a time (the same float32 operations in
    the same order: the row sum is still e0 + e1 + ... left to right)."""
    def run(ins, outs):
        v = ins[0].reshape(rows, depth)
        top = v[:, 0].astype(xp.int32)
        for j in range(1, depth):
            xp.maximum(top, v[:, j], out=top)
        e = [xp.take(table_d, top - v[:, j]) for j in range(depth)]
        total = e[0].copy()
        for j in range(1, depth):
            total += e[j]
        total *= out_scale
        inv = xp.float32(1.0) / total
        o = outs[0].reshape(rows, depth)
        for j in range(depth):
            e[j] *= inv
            o[:, j] = quantize(e[j])
    return run


# -- int16 ---------------------------------------------------------------------------------------


def lut_populate_int16(transform, input_scale, input_zero_point, output_scale,
                       output_zero_point, float_type=float):
    """TFLite's `LUTPopulateInt16`: 513 int16 entries for linear interpolation. `float_type`
    is `float` (C double, the deprecated double overload) or np.float32 (the float one)."""
    F = float_type
    i16min, i16max = -32768, 32767
    input_min = F(F(input_scale) * F(i16min - input_zero_point))
    input_max = F(F(input_scale) * F(i16max - input_zero_point))
    output_min = F(F(output_scale) * F(i16min - output_zero_point))
    output_max = F(F(output_scale) * F(i16max - output_zero_point))
    nb_steps = 512
    step = F(F(input_max - input_min) / F(nb_steps))
    half_step = F(step / F(2))
    scaling_inv = F(F(i16max - i16min + 1) / F(output_max - output_min))

    def rnd(v):
        return F(fp.round_half_away(np.asarray(v, np.float64 if F is float else np.float32)))

    lut = np.zeros(nb_steps + 1, np.int16)
    for i in range(nb_steps):
        val = F(transform(F(input_min + F(F(i) * step))))
        val_mid = F(transform(F(F(input_min + F(F(i) * step)) + half_step)))
        val_next = F(transform(F(input_min + F(F(i + 1) * step))))
        sample_val = rnd(F(val * scaling_inv))
        midpoint_interp = rnd(F(F(F(val_next * scaling_inv) + rnd(F(val * scaling_inv))) /
                                F(2)))
        midpoint_val = rnd(F(val_mid * scaling_inv))
        midpoint_err = F(midpoint_interp - midpoint_val)
        bias = rnd(F(midpoint_err / F(2)))
        lut[i] = int(min(max(F(sample_val - bias), F(i16min)), F(i16max)))
    last = rnd(F(F(transform(input_max)) * scaling_inv))
    lut[nb_steps] = int(min(max(last, F(i16min)), F(i16max)))
    return lut


def lut_lookup_int16(xp, value, lut_d):
    """TFLite's int16 `LUTLookup`: the 9 high bits index, the 7 low bits interpolate."""
    v = value.astype(xp.int32)
    index = 256 + (v >> 7)
    offset = v & 0x7F
    base = xp.take(lut_d, index).astype(xp.int32)
    slope = xp.take(lut_d, index + 1).astype(xp.int32) - base
    r = base + ((slope * offset + 64) >> 7)
    return ((r + 32768) & 0xFFFF) - 32768  # static_cast<int16_t>


def _softmax_int16(ctx, x, in_scale, beta):
    xp = ctx.xp
    rng = 32767 - (-32768)
    exp_lut = lut_populate_int16(math.exp, 10.0 / rng, 32767, 2.0 / rng, 0)
    recip_lut = lut_populate_int16(lambda v: 1.0 / (1.0 + v), 1.0 / rng, -32768, 2.0 / rng, 0)
    # double input_scale_beta_rescale = input->params.scale * params->beta / (10.0 / 65535.0)
    real = float(np.float32(in_scale * beta)) / (10.0 / 65535.0)
    m, s = fp.quantize_multiplier_scalar(real)
    exp_d, recip_d = xp.asarray(exp_lut), xp.asarray(recip_lut)
    depth = x.shape[-1]
    rows = x.size // depth

    def run(ins, outs):
        v = ins[0].reshape(rows, depth).astype(xp.int64)
        diff = v - v.max(axis=1, keepdims=True)
        scaled = fp.multiply_by_quantized_multiplier(xp, diff, m, s) + 32767
        e = lut_lookup_int16(xp, xp.clip(scaled, -32768, 32767), exp_d).astype(xp.int64)
        total = e.sum(axis=1, keepdims=True)
        # CountLeadingZeros of the (positive) uint32 sum: 32 - its bit length (frexp's
        # exponent, exact for integers below 2**53)
        headroom = 32 - xp.frexp(total.astype(xp.float64))[1].astype(xp.int64)
        shifted = ((total << (headroom - 1)) + (1 << 13)) >> 14
        sym = xp.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767)
        recip = lut_lookup_int16(xp, sym, recip_d).astype(xp.int64)
        right = 31 - headroom
        r = (e * recip + (xp.int64(1) << (right - 1))) >> right
        outs[0].reshape(rows, depth)[...] = xp.clip(r, 0, 32767)
    return run
