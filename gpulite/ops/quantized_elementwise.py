"""Quantised binary arithmetic: ADD, SUB, MUL, SQUARED_DIFFERENCE (uint8, int8, int16), with
NumPy broadcasting and fused activations, bit-exact with TFLite.

ADD / SUB (TFLite's "general" path): both inputs are centred on their zero points, shifted left
(20 bits for 8-bit types, 15 for int16), rescaled to a common scale (twice the larger input
scale), added, and rescaled to the output:

    a = R((x1 - zp1) << ls, m1, s1);  b = R((x2 - zp2) << ls, m2, s2)
    y = clamp(R(a +- b, mo, so) + zp_out)

with R = gemmlowp's `MultiplyByQuantizedMultiplierSmallerThanOneExp`. Each input takes one of
at most 65536 values, so its rescaled value is a lookup table built at prepare.
int16 ADD/SUB with power-of-two scales and `pot_scale_int16` (the LSTM path) shift instead.

MUL: y = clamp(MultiplyByQuantizedMultiplier((x1 - zp1) * (x2 - zp2), m, s) + zp_out), the
multiplier computed in float32 (s1 * s2 / s_out) as TFLite does.

SQUARED_DIFFERENCE (int8): like SUB with a 7-bit shift, the difference squared, then rescaled.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from .. import fixed_point as fp
from . import quantized_common as qc
from .base import AbsorbableAdd

UINT8, INT8, INT16 = qc.UINT8, qc.INT8, qc.INT16


def _broadcast(ctx, a, b):
    try:
        return tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        ctx.fail(f"input shapes {list(a.shape)} and {list(b.shape)} do not broadcast")


def _common(ctx, allowed):
    a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(len(ctx.inputs) == 2, f"takes 2 inputs, the model gives {len(ctx.inputs)}")
    ctx.require(a.type in allowed, f"input 0 is {dtypes.type_name(a.type)}; quantized forms: "
                + ", ".join(dtypes.type_name(t) for t in sorted(allowed)))
    ctx.require(a.type == b.type, f"inputs have different types ({dtypes.type_name(a.type)} vs "
                                  f"{dtypes.type_name(b.type)})")
    ctx.require(out.type == a.type, f"output is {dtypes.type_name(out.type)}; expected "
                                    f"{dtypes.type_name(a.type)}")
    params = []
    for t, what in ((a, "input 0"), (b, "input 1"), (out, "output")):
        scale, zp = qc.scale_zp(ctx, t, what)
        qc.check_zero_point(ctx, t, zp, what)
        params.append((scale, zp))
    ctx.set_output_shape(0, _broadcast(ctx, a, b))
    return a, b, out, params


def _lut(t, fn):
    """A table (NumPy) of fn(q) over every value q of t's integer type, indexed by
    q - type_min."""
    lo, hi = fp.TYPE_RANGES[t.type]
    q = np.arange(lo, hi + 1, dtype=np.int64)
    return fn(q).astype(np.int64), lo


def _lookup(xp, table, offset, x):
    idx = x.astype(xp.int64)
    if offset:
        idx -= offset
    return xp.take(table, idx)


_PAIRS = 1 << 16  # (x1, x2) pairs of two 8-bit inputs


def _elementwise_run(ctx, a, out, paths, make_value, absorbable=False):
    """The op's run function from make_value(mod) -> value(qa, qb, path): the clamped int64
    outputs for input values qa, qb (arrays of module `mod`, broadcast together) on code path
    `path` (qc.ELEMENTWISE / SCALAR_BROADCAST / SCALAR per element; None where the op has
    one path). `paths` (NumPy, over the output shape, or None) gives each output's path.

    16-bit inputs evaluate value() per invoke. 8-bit inputs take only 2**16 value pairs, so
    value() runs once at prepare over every pair on every path in use, and invoke looks the
    outputs up: index = path * 2**16 + (x1 as uint8) * 256 + (x2 as uint8), one take."""
    xp = ctx.xp
    if a.type == INT16:
        value = make_value(xp)
        path_d = None if paths is None else xp.asarray(paths.astype(np.int64))

        def run(ins, outs):
            outs[0][...] = value(ins[0], ins[1], path_d)
        return run
    value = make_value(np)
    in_dtype = dtypes.storage_dtype(a.type)
    codes = np.arange(_PAIRS)
    qa = (codes >> 8).astype(np.uint8).view(in_dtype)
    qb = (codes & 0xFF).astype(np.uint8).view(in_dtype)
    used = [qc.ELEMENTWISE] if paths is None else sorted(int(p) for p in np.unique(paths))
    table = np.zeros(len(qc.PATH_CODES) * _PAIRS, dtypes.storage_dtype(out.type))
    for p in used:
        path = None if paths is None else np.full(_PAIRS, p, np.int64)
        table[p * _PAIRS:(p + 1) * _PAIRS] = value(qa, qb, path)
    table_d = xp.asarray(table)
    out_shape = tuple(ctx.output(0).shape)
    idx = xp.empty(out_shape, np.intp)
    path_offsets = None if len(used) == 1 else xp.asarray(paths.astype(np.intp) * _PAIRS)
    base = used[0] * _PAIRS
    if absorbable:  # an ADD: the kernel producing an operand may look the table up itself
        ctx.absorbable_add = AbsorbableAdd("pair_table", table=table_d,
                                           paths=None if len(used) == 1 else paths,
                                           base=used[0])

    def run(ins, outs):
        idx[...] = ins[0].view(np.uint8)  # widened (and broadcast) in place
        xp.left_shift(idx, 8, out=idx)
        xp.bitwise_or(idx, ins[1].view(np.uint8), out=idx)
        if path_offsets is not None:
            xp.add(idx, path_offsets, out=idx)
        elif base:
            xp.add(idx, base, out=idx)
        qc.take_into(xp, table_d, idx, outs[0])
    return run


def _is_pot(scale) -> tuple:
    """TFLite's CheckedLog2: (is a power of two within 1e-3 in log2, rounded log2)."""
    log2 = np.log2(float(scale))
    rounded = int(np.round(log2))
    return abs(log2 - rounded) < 1e-3, rounded


# (elementwise chunk, its input formula, scalar-broadcast chunk) of TFLite's optimized ADD
# kernels under NEON_2_SSE; every other path (SUB, int16, the reference broadcast) is scalar.
# int16 ADD (equal shapes) runs its NEON loop 16 at a time; int16 broadcasts run the reference
# kernel (no scalar-broadcast loop).
_ADD_NEON = {INT8: (16, "E", 8), UINT8: (8, "B", 8), INT16: (16, "E", None)}


def _input_rescale(formula, left_shift, zp, m, s):
    """One input's rescaled value, as each code path computes it (q -> int64 array):
    S (scalar tail): RoundingDivideByPOT(SRDHM((q - zp) << ls, m), -s), ties away;
    E (int8 NEON elementwise): SRDHM(vshl(q - zp, ls + s), m) - the shift folded in first;
    B (NEON broadcast / uint8): vshl(SRDHM((q - zp) << ls, m), s) - a flooring right shift."""
    def f(q):
        c = q - zp
        if formula == "S":
            return fp.multiply_by_quantized_multiplier_smaller_than_one_exp(
                np, c << left_shift, m, s)
        if formula == "E":
            return fp.saturating_rounding_doubling_high_mul(
                np, qc.neon_vshl(c, left_shift + s), m)
        return qc.neon_vshl(fp.saturating_rounding_doubling_high_mul(np, c << left_shift, m), s)
    return f


def _add_sub(sign: int):
    def prepare(ctx):
        a, b, out, ((s1, z1), (s2, z2), (so, zo)) = _common(ctx, qc.QUANT_TYPES)
        xp = ctx.xp
        lo, hi = qc.activation_range(ctx, out)
        if a.type == INT16:
            ctx.require(z1 == 0 and z2 == 0 and zo == 0, "int16 ADD/SUB need zero points of 0")
            # a missing options table reads as zeros in TFLite (pot_scale_int16 false)
            general = not ctx.options.get("pot_scale_int16", False)
            if not general:
                pots = [_is_pot(s) for s in (s1, s2, so)]
                general = not all(p for p, _ in pots)
            if not general:
                return _int16_pot(ctx, sign, pots, lo, hi)
        left_shift = 15 if a.type == INT16 else 20
        twice_max = 2.0 * float(max(s1, s2))
        m1, sh1 = fp.quantize_multiplier_smaller_than_one_exp(float(s1) / twice_max)
        m2, sh2 = fp.quantize_multiplier_smaller_than_one_exp(float(s2) / twice_max)
        real_out = twice_max / ((1 << left_shift) * float(so))
        if sign > 0:
            mo, sho = fp.quantize_multiplier_smaller_than_one_exp(real_out)
        else:
            mo, sho = (fp.quantize_multiplier_greater_than_one(real_out) if real_out > 1
                       else fp.quantize_multiplier_smaller_than_one_exp(real_out))
            ctx.require(sho <= 0, f"SUB output multiplier {real_out} > 1 is not supported "
                                  f"(TFLite's kernel shifts by a negative amount)")
        out_shape = ctx.output(0).shape
        if sign > 0 and a.type in _ADD_NEON:
            e_chunk, e_formula, b_chunk = _ADD_NEON[a.type]
            if b_chunk is None and tuple(a.shape) != tuple(b.shape):
                paths = np.full(out_shape, qc.SCALAR, np.int8)
            else:
                paths = qc.broadcast_paths(a.shape, b.shape, out_shape, e_chunk, b_chunk)
            formulas = (e_formula, "B", "S")
        else:
            paths, formulas = None, ("S",)
        t1, off1, width1 = _path_luts(a, left_shift, z1, m1, sh1, formulas)
        t2, off2, width2 = _path_luts(b, left_shift, z2, m2, sh2, formulas)
        # int16's NEON loop keeps int32 until the clamp: no int16 narrowing to emulate
        neon = paths is not None and a.type != INT16 and bool(np.any(paths != qc.SCALAR))
        mo_d, sho_d = np.int64(mo), np.int64(sho)

        def make_value(mod):
            t1m, t2m = mod.asarray(t1), mod.asarray(t2)

            def value(qa, qb, path):
                ia = qa.astype(mod.int64) - off1
                ib = qb.astype(mod.int64) - off2
                if path is not None:
                    ia = ia + path * width1
                    ib = ib + path * width2
                va, vb = mod.take(t1m, ia), mod.take(t2m, ib)
                raw = va + vb if sign > 0 else va - vb
                r = fp.multiply_by_quantized_multiplier_smaller_than_one_exp(
                    mod, raw, mo_d, sho_d)
                r = _narrow(mod, r, zo, neon, path, ("wrap", "wrap"), out.type)
                return mod.clip(r, lo, hi, out=r)
            return value
        return _elementwise_run(ctx, a, out, paths, make_value, absorbable=sign > 0)
    return prepare


def _narrow(xp, r, zo, neon, path_d, modes, type_code):
    """r + zo as each path stores it. The NEON loops narrow r to int16 first ("wrap": vmovn,
    "sat": vqmovn; `modes` for the elementwise and the broadcast loop), add the zero point in
    int16 (wrapping) and saturate to the output type; the scalar tail adds in int32. They
    differ only when |r| + |zo| reaches 2**15."""
    if not neon or not r.size or int(xp.abs(r).max()) + abs(zo) < 1 << 15:
        r += zo
        return r
    type_lo, type_hi = fp.TYPE_RANGES[type_code]

    def neon_value(mode):
        n16 = ((r + (1 << 15)) & 0xFFFF) - (1 << 15) if mode == "wrap" else \
            xp.clip(r, -(1 << 15), (1 << 15) - 1)
        n16 = ((n16 + zo + (1 << 15)) & 0xFFFF) - (1 << 15)
        return xp.clip(n16, type_lo, type_hi)
    out = xp.where(path_d == qc.ELEMENTWISE, neon_value(modes[0]), r + zo)
    if modes[1] != modes[0]:
        out = xp.where(path_d == qc.SCALAR_BROADCAST, neon_value(modes[1]), out)
    else:
        out = xp.where(path_d == qc.SCALAR_BROADCAST, neon_value(modes[0]), out)
    return out


def _path_luts(t, left_shift, zp, m, s, formulas):
    """Concatenated lookup tables (NumPy), one per code path: value q on path p is at
    p * width + (q - type_min)."""
    lo, hi = fp.TYPE_RANGES[t.type]
    q = np.arange(lo, hi + 1, dtype=np.int64)
    tables = [_input_rescale(f, left_shift, zp, m, s)(q) for f in formulas]
    return np.concatenate(tables).astype(np.int64), lo, q.size


def _int16_pot(ctx, sign, pots, lo, hi):
    """TFLite's int16 ADD/SUB for power-of-two scales (the LSTM path): the input whose scale
    is smaller than the output's is shifted right (rounding, gemmlowp), then a saturating
    int16 add/sub."""
    (_, l1), (_, l2), (_, lo_) = pots
    sh1, sh2 = l1 - lo_, l2 - lo_
    ctx.require((sh1 == 0 or sh2 == 0) and sh1 <= 0 and sh2 <= 0,
                "int16 ADD/SUB with power-of-two scales can rescale only one input, down")
    xp = ctx.xp

    def run(ins, outs):
        va = ins[0].astype(xp.int64)
        vb = ins[1].astype(xp.int64)
        if sh1:
            va = fp.rounding_divide_by_pot(xp, va, -sh1)
        if sh2:
            vb = fp.rounding_divide_by_pot(xp, vb, -sh2)
        r = va + vb if sign > 0 else va - vb
        xp.clip(r, -32768, 32767, out=r)  # gemmlowp's saturating int16 add
        xp.clip(r, lo, hi, out=r)
        outs[0][...] = r
    return run


# (elementwise chunk, its int16 narrowing, broadcast chunk, its narrowing) of TFLite's
# optimized MUL under NEON_2_SSE; int16 runs the reference kernel (scalar).
_MUL_NEON = {INT8: (16, "sat", 16, "sat"), UINT8: (8, "sat", 8, "wrap")}


def prepare_mul(ctx):
    a, b, out, ((s1, z1), (s2, z2), (so, zo)) = _common(ctx, qc.QUANT_TYPES)
    if a.type == INT16:
        ctx.require(z1 == 0 and z2 == 0 and zo == 0, "int16 MUL needs zero points of 0")
    lo, hi = qc.activation_range(ctx, out)
    # TFLite: double real_multiplier = s1 * s2 / s_out, evaluated in float32
    real = float(np.float32(np.float32(s1 * s2) / so))
    m, s = fp.quantize_multiplier_scalar(real)
    m_d, s_d = np.int64(m), np.int64(s)
    paths, modes = None, None
    if a.type in _MUL_NEON:
        e_chunk, e_mode, b_chunk, b_mode = _MUL_NEON[a.type]
        modes = (e_mode, b_mode)
        paths = qc.broadcast_paths(a.shape, b.shape, ctx.output(0).shape, e_chunk, b_chunk)
        if not np.any(paths != qc.SCALAR):
            paths = None

    def make_value(mod):
        def value(qa, qb, path):
            va = qa.astype(mod.int64)
            if z1:
                va -= z1
            vb = qb.astype(mod.int64)
            if z2:
                vb -= z2
            # the NEON loop and the scalar tail rescale alike (gemmlowp double rounding)
            r = fp.multiply_by_quantized_multiplier(mod, fp.wrap_int32(mod, va * vb), m_d, s_d)
            r = _narrow(mod, r, zo, paths is not None, path, modes, out.type)
            return mod.clip(r, lo, hi, out=r)
        return value
    return _elementwise_run(ctx, a, out, paths, make_value)


def prepare_squared_difference(ctx):
    a, b, out, ((s1, z1), (s2, z2), (so, zo)) = _common(ctx, {INT8})
    left_shift = 7
    twice_max = 2.0 * float(max(s1, s2))
    m1, sh1 = fp.quantize_multiplier_smaller_than_one_exp(float(s1) / twice_max)
    m2, sh2 = fp.quantize_multiplier_smaller_than_one_exp(float(s2) / twice_max)
    mo, sho = fp.quantize_multiplier_smaller_than_one_exp(
        twice_max * twice_max / ((1 << (2 * left_shift)) * float(so)))
    xp = ctx.xp

    def scaled(zp, m, s):
        return lambda q: fp.multiply_by_quantized_multiplier_smaller_than_one_exp(
            np, (q - zp) << left_shift, m, s)
    t1, off1 = _lut(a, scaled(z1, m1, sh1))
    t2, off2 = _lut(b, scaled(z2, m2, sh2))
    mo_d, sho_d = np.int64(mo), np.int64(sho)

    def make_value(mod):
        t1m, t2m = mod.asarray(t1), mod.asarray(t2)

        def value(qa, qb, path):
            d = _lookup(mod, t1m, off1, qa) - _lookup(mod, t2m, off2, qb)
            d *= d
            r = fp.multiply_by_quantized_multiplier_smaller_than_one_exp(
                mod, fp.wrap_int32(mod, d), mo_d, sho_d)
            r += zo
            return mod.clip(r, -128, 127, out=r)
        return value
    return _elementwise_run(ctx, a, out, None, make_value)


def prepare_comparison(ctx, ufunc_name: str):
    """TFLite's quantised comparison (`ComparisonWithScaling`): each input centred, shifted
    left 8 bits and rescaled by its own scale (MultiplyByQuantizedMultiplierSmallerThanOneExp),
    then the rescaled integers compared. Each rescale is a lookup table over the input type."""
    a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(a.type == b.type, f"inputs have different types ({dtypes.type_name(a.type)} vs "
                                  f"{dtypes.type_name(b.type)})")
    ctx.require(out.type == 6, f"output is {dtypes.type_name(out.type)}; comparisons write BOOL")
    tables = []
    for t, what in ((a, "input 0"), (b, "input 1")):
        scale, zp = qc.scale_zp(ctx, t, what)
        ctx.require(0 < float(scale) < 1, f"{what} scale {scale} must be in (0, 1) (TFLite's "
                                          f"comparison rescale)")
        m, s = fp.quantize_multiplier_smaller_than_one_exp(float(scale))
        tables.append(_lut(t, lambda q, zp=zp, m=m, s=s:
                           fp.multiply_by_quantized_multiplier_smaller_than_one_exp(
                               np, (q - zp) << 8, m, s)))
    ctx.set_output_shape(0, _broadcast(ctx, a, b))
    xp = ctx.xp
    (t1, off1), (t2, off2) = ((xp.asarray(t), off) for t, off in tables)
    ufunc = getattr(xp, ufunc_name)

    def run(ins, outs):
        ufunc(_lookup(xp, t1, off1, ins[0]), _lookup(xp, t2, off2, ins[1]), out=outs[0])
    return run


prepare_add = _add_sub(+1)
prepare_sub = _add_sub(-1)

PREPARE = {
    "ADD": prepare_add,
    "SUB": prepare_sub,
    "MUL": prepare_mul,
    "SQUARED_DIFFERENCE": prepare_squared_difference,
}


def prepare(ctx):
    """Dispatch by op name (for the float modules' one-line hand-over)."""
    return PREPARE[ctx.op.name](ctx)
