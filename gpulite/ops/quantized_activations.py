"""Quantised activations, bit-exact with TFLite's x86 kernels.

Every activation here is, in TFLite, a pure function of the input value (scalar kernels, or
tables TFLite builds itself), so prepare evaluates TFLite's formula once for every value of the
input type (256, or 65536 for int16) and run() is a table lookup:
- HARD_SWISH (uint8 / int8): the reference fixed-point kernel (x86 never takes its NEON path:
  that one is guarded by __ARM_NEON), int16 gemmlowp arithmetic.
- LOGISTIC / TANH (uint8 / int8): TFLite's own 256-entry table (`LUTPopulate`): dequantise in
  float32, the C library's expf / tanhf, round half away from zero, clamp.
- LOGISTIC / TANH (int16, zero points 0): TFLite's generic kernel - gemmlowp's int16 fixed-point
  logistic / tanh for a 2^-12 (TANH: also 2^-11) input scale, otherwise the interpolated
  256-entry sigmoid(i / 24) table (generated here from its formula, see sigmoid_table_uint16).
- RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1 (uint8 / int8 / int16): rescale with
  MultiplyByQuantizedMultiplier (in_scale / out_scale), clamp to the quantised bounds
  (zero_point + roundf(bound / out_scale)).
- LEAKY_RELU (uint8 / int8 / int16): separate multipliers for x >= 0 and x < 0 (the alpha one
  computed in float32, as TFLite does).
- ELU (int8), GELU (uint8 / int8): TFLite's 256-entry tables of expm1f / erfcf / tanhf formulas
  in float32; GELU int16: TFLite's 513-entry interpolated table (`LUTPopulateInt16<float>`).
- PRELU (uint8 / int8 / int16 with int8 alpha): elementwise with broadcasting (not a table).
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from .. import fixed_point as fp
from . import quantized_common as qc

UINT8, INT8, INT16 = qc.UINT8, qc.INT8, qc.INT16
I16_MIN, I16_MAX = -32768, 32767


# -- int16 gemmlowp helpers on Python ints (prepare time) ----------------------------------------

def _wrap16(v: int) -> int:
    return ((v + 32768) & 0xFFFF) - 32768


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm16(a: int, b: int) -> int:
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul."""
    if a == b == I16_MIN:
        return I16_MAX
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    return _wrap16(_c_div(ab + nudge, 1 << 15))


def sdhm16(a: int, b: int) -> int:
    """TFLite's SaturatingDoublingHighMul (int16, truncating)."""
    if a == b == I16_MIN:
        return I16_MAX
    return _wrap16(_c_div(a * b, 1 << 15))


def rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def saturating_left_shift16(v: int, amount: int) -> int:
    return max(I16_MIN, min(I16_MAX, v * (1 << amount)))


def downscale_to_int16_multiplier(m: int) -> int:
    if m >= (1 << 31) - 1 - (1 << 15):
        return I16_MAX
    return (m + (1 << 15)) >> 16


# -- HARD_SWISH ----------------------------------------------------------------------------------

def hard_swish_table(in_scale, in_zp, out_scale, out_zp, type_code):
    """TFLite's reference quantised HardSwish for every input value of the type."""
    in_scale, out_scale = np.float32(in_scale), np.float32(out_scale)
    hires_scale = np.float32(np.float32(1.0 / 128.0) * in_scale)
    out_mult = np.float32(hires_scale / out_scale)
    m, out_exp = fp.quantize_multiplier_scalar(float(out_mult))
    out_m16 = downscale_to_int16_multiplier(m)
    relu_mult = np.float32(hires_scale / np.float32(3.0 / 32768.0))
    m, relu_exp = fp.quantize_multiplier_scalar(float(relu_mult))
    relu_m16 = downscale_to_int16_multiplier(m)
    lo, hi = fp.TYPE_RANGES[type_code]
    table = []
    for q in range(lo, hi + 1):
        value = _wrap16(q - in_zp)
        hires = _wrap16(value * 128)
        preshift = srdhm16(hires, out_m16)
        reluish = hires
        if relu_exp > 0:
            reluish = saturating_left_shift16(reluish, relu_exp - 1)
        reluish = srdhm16(reluish, relu_m16)
        if relu_exp > 0:
            reluish = saturating_left_shift16(reluish, 1)
        if relu_exp < 0:
            reluish = rdbpot(reluish, -relu_exp)
        reluish = _wrap16((reluish + (1 << 15)) >> 1)
        out = sdhm16(reluish, preshift)
        out = _wrap16(rdbpot(out, -out_exp) + out_zp)
        table.append(min(max(out, lo), hi))
    return np.array(table, np.int64), out_exp


def _lut_run(ctx, table, lo):
    return qc.byte_lut_run(ctx.xp, table, lo, dtypes.storage_dtype(ctx.output(0).type))


def _unary_io(ctx, allowed):
    x, out = ctx.input(0), ctx.output(0)
    ctx.require(x.type in allowed, f"input is {dtypes.type_name(x.type)}; quantized forms: "
                + ", ".join(dtypes.type_name(t) for t in sorted(allowed)))
    ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                    f"{dtypes.type_name(x.type)}; they must match")
    ctx.set_output_shape(0, x.shape)
    in_scale, in_zp = qc.scale_zp(ctx, x, "input")
    out_scale, out_zp = qc.scale_zp(ctx, out, "output")
    return x, out, (in_scale, in_zp), (out_scale, out_zp)


def prepare_hard_swish(ctx):
    x, out, (si, zi), (so, zo) = _unary_io(ctx, {UINT8, INT8})
    table, out_exp = hard_swish_table(si, zi, so, zo, x.type)
    ctx.require(out_exp <= 0, "HARD_SWISH output multiplier must be below 1 "
                              "(input scale / 128 / output scale)")
    return _lut_run(ctx, table, fp.TYPE_RANGES[x.type][0])


# -- table builders over every input value ------------------------------------------------------

def _all_values(type_code):
    lo, hi = fp.TYPE_RANGES[type_code]
    return np.arange(lo, hi + 1, dtype=np.int64), lo


def _libm(name):
    import ctypes
    import ctypes.util
    try:
        f = getattr(ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6"), name)
        f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
        return f
    except (OSError, AttributeError):
        return None


_EXPF, _TANHF = _libm("expf"), _libm("tanhf")
_EXPM1F, _ERFCF = _libm("expm1f"), _libm("erfcf")


def _expf(v):
    return np.float32(_EXPF(float(v))) if _EXPF else np.float32(np.exp(np.float64(v)))


def _tanhf(v):
    return np.float32(_TANHF(float(v))) if _TANHF else np.float32(np.tanh(np.float64(v)))


def _call_f32(f, fallback, v):
    return np.float32(f(float(v))) if f else np.float32(fallback(float(v)))


def _elu_f(v):
    # [](float value) { return value < 0.0f ? std::expm1(value) : value; }
    return _call_f32(_EXPM1F, math.expm1, v) if v < 0 else np.float32(v)


_SQRT1_2 = np.float32(-0.70710678118654752440)  # static_cast<float>(-M_SQRT1_2)
_SQRT2_PI = np.float32(1.12837916709551257390 * 0.70710678118654752440)  # kSqrt2dPi


def _gelu_f(v):
    """reference_ops::GeluTransform: 0.5f * x * erfcf(x * -M_SQRT1_2), in float32."""
    v = np.float32(v)
    return np.float32(np.float32(np.float32(0.5) * v) *
                      _call_f32(_ERFCF, math.erfc, np.float32(v * _SQRT1_2)))


def _gelu_approx_f(v):
    """GeluTransformApproximate: 0.5f * x * (1 + tanhf(sqrt(2/pi) * (x + 0.044715f x^3)))."""
    v = np.float32(v)
    cube = np.float32(np.float32(np.float32(np.float32(0.044715) * v) * v) * v)
    inner = np.float32(_SQRT2_PI * np.float32(v + cube))
    t = _call_f32(_TANHF, math.tanh, inner)
    return np.float32(np.float32(np.float32(0.5) * v) * np.float32(np.float32(1.0) + t))


def _sigmoidf(v):
    # [](float value) { return 1.0f / (1.0f + std::exp(-value)); }
    return np.float32(np.float32(1.0) / np.float32(np.float32(1.0) + _expf(np.float32(-v))))


def lut_populate_int8(transform, in_scale, in_zp, out_scale, out_zp, type_code):
    """TFLite's `LUTPopulateInt8` (float version), indexed by q - type_min."""
    in_scale, out_scale = np.float32(in_scale), np.float32(out_scale)
    inverse_scale = np.float32(np.float32(1.0) / out_scale)
    lo, hi = fp.TYPE_RANGES[type_code]
    out = []
    for q in range(lo, hi + 1):
        dequantized = np.float32(in_scale * np.float32(q - in_zp))
        transformed = transform(dequantized)
        rescaled = fp.round_half_away(np.float32(transformed * inverse_scale))
        quantized = int(np.float32(rescaled + np.float32(out_zp)))
        out.append(min(max(quantized, lo), hi))
    return np.array(out, np.int64)


def _prepare_lut_8bit(transform, name):
    def prepare(ctx):
        x, out, (si, zi), (so, zo) = _unary_io(ctx, {UINT8, INT8})
        if name == "LOGISTIC":
            ctx.require(float(so) == 1.0 / 256, f"LOGISTIC output scale must be 1/256, got {so}")
        table = lut_populate_int8(transform, si, zi, so, zo, x.type)
        return _lut_run(ctx, table, fp.TYPE_RANGES[x.type][0])
    return prepare


# -- int16 LOGISTIC / TANH ------------------------------------------------------------------------
# TFLite's generic kernel takes two routes for int16 (zero points 0, output scale 2^-15):
# - an input scale of 2^-12 (LOGISTIC) or 2^-12 / 2^-11 (TANH), to within 1e-3 in log2: gemmlowp's
#   fixed-point logistic / tanh on FixedPoint<int16_t, 3> (optimized_ops; TANH doubles the input
#   first, saturating, for 2^-11);
# - any other scale: reference_integer_ops' 256-entry uint16 sigmoid table (sigmoid(i / 24) in
#   0.16 format) with linear interpolation, after rescaling the input to 1 / (3 * 4096) units.


def _w16(v):
    return ((v + 32768) & 0xFFFF) - 32768


def _mul16(a, b):
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul, vectorised (prepare time, NumPy)."""
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    q = np.fix((ab + nudge) / (1 << 15)).astype(np.int64)  # C division (exact in float64)
    return np.where((a == I16_MIN) & (b == I16_MIN), I16_MAX, _w16(q))


def _rdbpot16(x, e):
    mask = (1 << e) - 1
    return (x >> e) + ((x & mask) > ((mask >> 1) + (x < 0))).astype(np.int64)


def _sat_shl16(x, e):
    return np.clip(x * (1 << e), I16_MIN, I16_MAX)


def _const16(raw32):
    """gemmlowp's RescaleConstantInitializer: a Q0.31 int32 constant rounded to Q0.15."""
    return int(_rdbpot16(np.int64(raw32), 16))


def _exp_quarter16(a):
    """exp(x) for x in [-1/4, 0): gemmlowp's Taylor expansion around -1/8, int16."""
    ct, third = _const16(1895147668), _const16(715827883)
    x = _w16(a + (1 << 12))
    x2 = _mul16(x, x)
    x3 = _mul16(x2, x)
    x4 = _mul16(x2, x2)
    poly = _rdbpot16(_w16(_mul16(_w16(_rdbpot16(x4, 2) + x3), third) + x2), 1)
    return np.clip(ct + _mul16(ct, _w16(x + poly)), I16_MIN, I16_MAX)


def _exp_on_negative16(a, int_bits):
    """gemmlowp's exp_on_negative_values for FixedPoint<int16_t, int_bits> raw values."""
    frac = 15 - int_bits
    quarter = 1 << (frac - 2)
    a_mod = _w16((a & (quarter - 1)) - quarter)
    result = _exp_quarter16(_sat_shl16(a_mod, int_bits))
    remainder = _w16(a_mod - a)
    # Q0.31 exp(-2^k) constants, k = -2 .. 4 (the barrel shifter)
    for k, mult in ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
                    (2, 39332535), (3, 720401), (4, 242)):
        if int_bits > k:
            bit = (remainder >> (frac + k)) & 1
            result = np.where(bit != 0, _mul16(result, _const16(mult)), result)
    return np.where(a == 0, I16_MAX, result)


def _newton_reciprocal16(a):
    """x ~ 1 / ((1 + a) / 2) in Q2.13 (gemmlowp's Newton-Raphson with 48/17, -32/17)."""
    s = a + I16_MAX
    half_den = np.fix((s + np.where(s >= 0, 1, -1)) / 2).astype(np.int64)  # RoundingHalfSum
    x = _w16(_const16(1515870810) + _mul16(half_den, _const16(-1010580540)))
    for _ in range(3):
        one_minus = _w16((1 << 13) - _mul16(half_den, x))
        x = _w16(x + _sat_shl16(_mul16(x, one_minus), 2))
    return x


def gemmlowp_logistic16(a):
    """gemmlowp::logistic, FixedPoint<int16_t, 3> raw -> FixedPoint<int16_t, 0> raw."""
    a = np.asarray(a, np.int64)
    pos = a > 0
    abs_in = np.where(pos, a, _w16(-a))
    r_pos = _sat_shl16(_newton_reciprocal16(_exp_on_negative16(_w16(-abs_in), 3)), 1)
    return np.where(a == 0, 1 << 14, np.where(pos, r_pos, _w16(I16_MAX - r_pos)))


def gemmlowp_tanh16(a):
    """gemmlowp::tanh, FixedPoint<int16_t, 3> raw -> FixedPoint<int16_t, 0> raw."""
    a = np.asarray(a, np.int64)
    neg = a < 0
    n = np.where(neg, a, _w16(-a))
    t = _sat_shl16(_w16(_newton_reciprocal16(_exp_on_negative16(n, 4)) - (1 << 13)), 2)
    return np.where(a == 0, 0, np.where(neg, _w16(-t), t))


def sigmoid_table_uint16():
    """The 256-entry table of sigmoid(i / 24) in 0.16 format, generated here: each sample is
    raised by half the chord error of its segment, f(i) + (f(i + 1/2) - (f(i) + f(i + 1)) / 2)
    / 2 (so linear interpolation errs on both sides), rounded; the last entry is the
    saturation value 65535. Checked bit-exact against LiteRT over every int16 input."""
    i = np.arange(256, dtype=np.float64)

    def f(v):
        return 65536.0 / (1.0 + np.exp(-v / 24.0))
    t = np.floor(f(i) + (f(i + 0.5) - (f(i) + f(i + 1)) / 2) / 2 + 0.5)
    t[255] = 65535
    return np.minimum(t, 65535).astype(np.int64)


def checked_log2(x):
    """TFLite's CheckedLog2 (float32): (rounded log2, whether within 1e-3 of it)."""
    lg = np.float32(np.float32(np.log(np.float32(x))) *
                    np.float32(np.float32(1.0) / np.float32(np.log(np.float32(2.0)))))
    r = float(fp.round_half_away(lg))
    return int(r), abs(float(np.float32(lg - np.float32(r)))) < 1e-3


def _sigmoid_table_kernel16(op, q, multiplier, shift, table):
    """reference_integer_ops::Logistic / Tanh (int16) for the int16 values `q`."""
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    d = q * multiplier  # int16 * int32 in C: wraps in int32
    d = (((d + rnd + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)) >> shift
    a = np.abs(d) & 0xFFFFFFFF  # uint32_t abs(input_data)
    t = np.append(table, 0)
    bits = 9 if op == "LOGISTIC" else 8
    uh, ut = a >> bits, a & ((1 << bits) - 1)
    ua = t[np.minimum(uh, 254)]
    ub = t[np.minimum(uh, 254) + 1]
    if op == "LOGISTIC":
        r = np.where(uh >= 255, 0x7FFF << 10, (ua << 9) + ut * (ub - ua))
        r = np.where(d >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1) & 0xFFFFFFFF
        r = r >> 10
    else:
        r = np.where(uh >= 255, 0xFFFF << 8, (ua << 8) + ut * (ub - ua))
        r = np.where(d >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
        r = _w32(r) >> 8
    return _w16(r)


def _w32(v):
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def int16_logistic_tanh_table(op, in_scale):
    """Output for every int16 input (index q + 32768), as TFLite's generic kernel computes it."""
    q = np.arange(I16_MIN, I16_MAX + 1, dtype=np.int64)
    log2, pot = checked_log2(in_scale)
    left_shift = 12 + log2
    if pot and left_shift in ((0,) if op == "LOGISTIC" else (0, 1)):
        if op == "LOGISTIC":
            return gemmlowp_logistic16(q)
        return gemmlowp_tanh16(_sat_shl16(q, left_shift))
    multiplier, shift = float(in_scale) * 4096.0 * 3.0, 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    return _sigmoid_table_kernel16(op, q, int(multiplier), shift, sigmoid_table_uint16())


def _prepare_logistic_tanh16(ctx):
    x, out, (si, zi), (so, zo) = _unary_io(ctx, {INT16})
    ctx.require(zi == 0 and zo == 0, f"int16 {ctx.op.name} needs zero points of 0")
    if ctx.op.name == "LOGISTIC":
        ctx.require(float(so) == 1.0 / 32768, f"LOGISTIC output scale must be 1/32768, got {so}")
    log2, pot = checked_log2(so)
    ctx.require(pot and log2 == -15, f"int16 {ctx.op.name} output scale must be 2^-15, got {so}")
    return _lut_run(ctx, int16_logistic_tanh_table(ctx.op.name, si), I16_MIN)


def _prepare_logistic_tanh(transform, name):
    prepare8 = _prepare_lut_8bit(transform, name)

    def prepare(ctx):
        if ctx.input(0).type == INT16:
            return _prepare_logistic_tanh16(ctx)
        return prepare8(ctx)
    return prepare


_RELU_BOUNDS = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0),
                "RELU_0_TO_1": (0.0, 1.0)}


def prepare_relu(ctx):
    # TFLite has no int16 RELU_N1_TO_1 / RELU_0_TO_1
    allowed = {UINT8, INT8, INT16} if ctx.op.name in ("RELU", "RELU6") else {UINT8, INT8}
    x, out, (si, zi), (so, zo) = _unary_io(ctx, allowed)
    act_min, act_max = _RELU_BOUNDS[ctx.op.name]
    lo, hi = fp.TYPE_RANGES[x.type]

    def quantized_bound(v):  # zero_point + (int32) roundf(v / scale)
        return zo + int(fp.round_half_away(np.float32(np.float32(v) / np.float32(so))))
    qmin = max(lo, quantized_bound(act_min))
    qmax = hi if act_max is None else min(hi, quantized_bound(act_max))
    m, s = fp.quantize_multiplier_scalar(float(si) / float(so))
    q, _ = _all_values(x.type)
    table = np.clip(zo + fp.multiply_by_quantized_multiplier(np, q - zi, m, s), qmin, qmax)
    return _lut_run(ctx, table, lo)


def prepare_leaky_relu(ctx):
    x, out, (si, zi), (so, zo) = _unary_io(ctx, {UINT8, INT8, INT16})
    if x.type == INT16:
        ctx.require(zi == 0 and zo == 0, "int16 LEAKY_RELU needs zero points of 0")
    alpha = np.float32(ctx.options.get("alpha", 0.0))
    m_alpha, s_alpha = fp.quantize_multiplier_scalar(float(np.float32(np.float32(si * alpha) / so)))
    m_id, s_id = fp.quantize_multiplier_scalar(float(np.float32(si / so)))
    lo, hi = fp.TYPE_RANGES[x.type]
    q, _ = _all_values(x.type)
    v = q - zi
    identity = fp.multiply_by_quantized_multiplier(np, v, m_id, s_id)
    if x.type == INT16 or m_alpha >= 0:
        scaled = fp.multiply_by_quantized_multiplier(np, v, m_alpha, s_alpha)
    else:  # the reference kernel multiplies by |alpha| and negates
        scaled = -fp.multiply_by_quantized_multiplier(np, v, -m_alpha, s_alpha)
    table = np.clip(zo + np.where(v >= 0, identity, scaled), lo, hi)
    return _lut_run(ctx, table, lo)


def prepare_elu(ctx):
    x, out, (si, zi), (so, zo) = _unary_io(ctx, {INT8})
    return _lut_run(ctx, lut_populate_int8(_elu_f, si, zi, so, zo, x.type), -128)


def prepare_gelu(ctx):
    x, out, (si, zi), (so, zo) = _unary_io(ctx, {UINT8, INT8, INT16})
    f = _gelu_approx_f if ctx.options.get("approximate", False) else _gelu_f
    if x.type != INT16:
        return _lut_run(ctx, lut_populate_int8(f, si, zi, so, zo, x.type),
                        fp.TYPE_RANGES[x.type][0])
    from .quantized_softmax import lut_lookup_int16, lut_populate_int16
    lut_d = ctx.xp.asarray(lut_populate_int16(f, si, zi, so, zo, float_type=np.float32))
    xp = ctx.xp

    def run(ins, outs):
        outs[0][...] = lut_lookup_int16(xp, ins[0], lut_d)
    return run


def prepare_prelu(ctx):
    """PRELU (reference kernel): x - zp >= 0 ? R1(x - zp) : R2((x - zp) * (alpha - alpha_zp)),
    + output zero point, clamped; R1, R2 = MultiplyByQuantizedMultiplier with in/out and
    in*alpha/out scales (float32 products, as TFLite computes them)."""
    x, alpha, out = ctx.input(0), ctx.input(1), ctx.output(0)
    want_alpha = {UINT8: UINT8, INT8: INT8, INT16: INT8}
    ctx.require(x.type in want_alpha, f"input is {dtypes.type_name(x.type)}")
    ctx.require(alpha.type == want_alpha[x.type], f"a {dtypes.type_name(x.type)} PRELU needs "
                f"a {dtypes.type_name(want_alpha[x.type])} alpha, got "
                f"{dtypes.type_name(alpha.type)}")
    ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                    f"{dtypes.type_name(x.type)}; they must match")
    try:
        shape = tuple(np.broadcast_shapes(x.shape, alpha.shape))
    except ValueError:
        ctx.fail(f"input {list(x.shape)} and alpha {list(alpha.shape)} do not broadcast")
    ctx.set_output_shape(0, shape)
    si, zi = qc.scale_zp(ctx, x, "input")
    sa, za = qc.scale_zp(ctx, alpha, "alpha")
    so, zo = qc.scale_zp(ctx, out, "output")
    m1, s1 = fp.quantize_multiplier_scalar(float(np.float32(si / so)))
    m2, s2 = fp.quantize_multiplier_scalar(float(np.float32(np.float32(si * sa) / so)))
    lo, hi = fp.TYPE_RANGES[out.type]
    xp = ctx.xp

    def run(ins, outs):
        v = ins[0].astype(xp.int64) - zi
        a = ins[1].astype(xp.int64) - za
        pos = fp.multiply_by_quantized_multiplier(xp, v, m1, s1)
        neg = fp.multiply_by_quantized_multiplier(xp, fp.wrap_int32(xp, v * a), m2, s2)
        r = xp.where(v >= 0, pos, neg) + zo
        outs[0][...] = xp.clip(r, lo, hi)
    return run


PREPARE = {"HARD_SWISH": prepare_hard_swish, "PRELU": prepare_prelu,
           "LOGISTIC": _prepare_logistic_tanh(_sigmoidf, "LOGISTIC"),
           "TANH": _prepare_logistic_tanh(_tanhf, "TANH"),
           "RELU": prepare_relu, "RELU6": prepare_relu, "RELU_N1_TO_1": prepare_relu,
           "RELU_0_TO_1": prepare_relu, "LEAKY_RELU": prepare_leaky_relu,
           "ELU": prepare_elu, "GELU": prepare_gelu}


def prepare(ctx):
    if ctx.op.name not in PREPARE:
        ctx.fail(f"quantized {dtypes.type_name(ctx.input(0).type)} {ctx.op.name} is not "
                 f"supported yet")
    return PREPARE[ctx.op.name](ctx)
