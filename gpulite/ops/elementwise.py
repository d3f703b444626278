"""Binary arithmetic with broadcasting: ADD, SUB, MUL, DIV (with fused activations), FLOOR_DIV,
FLOOR_MOD, POW, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, ATAN2, BITWISE_XOR, RIGHT_SHIFT, ADD_N.

Types are what LiteRT 2.3's own kernels take (checked by running it), and so are the edge cases:

  - Broadcasting is NumPy's (TFLite's CalculateShapeForBroadcast agrees, zero-size dims included),
    at any rank: LiteRT's kernels broadcast 8-D tensors too.
  - Float ADD/SUB/MUL/DIV always clamp to the fused activation's range, and with no activation
    to [lowest, max] of the type: an infinite result becomes +-FLT_MAX (+-65504 for float16); NaN
    stays NaN. Activations other than RELU, RELU6 and RELU_N1_TO_1 (TANH, SIGN_BIT) are ignored,
    as TFLite's CalculateActivationRange does. Integer results wrap (int16 too), then clamp; the
    clamp bounds are cast to the type, so RELU_N1_TO_1 on uint32 MUL gives 1 everywhere, as in
    TFLite (min(max(x, 0xFFFFFFFF), 1)).
  - Integer DIV truncates toward zero; a zero divisor raises at invoke; INT_MIN / -1 = INT_MAX.
  - FLOOR_DIV computes floor(double(a) / double(b)) and casts back; any zero divisor raises at
    invoke, for floats too. MIN // -1 wraps for int32 and saturates for int8/int16 (LiteRT's
    vectorised loop saturates; its scalar tail, the last few elements, would wrap).
  - FLOOR_MOD: the result has the divisor's sign (C fmod or %, then + divisor when the signs
    differ); integer zero divisors raise, float ones give NaN. LiteRT crashes (SIGFPE) on
    INT_MIN % -1; gpulite gives 0.
  - POW: int32 rejects negative exponents at invoke. When only the exponent is broadcast and it
    is one value within 1e-5 of an integer k >= 1, TFLite multiplies by repeated squaring (float
    products clamped to +-FLT_MAX after each step, int32 products wrapping); otherwise it calls
    std::pow per element (an int32 result outside the int32 range becomes INT_MIN). Both kept.
  - MAXIMUM / MINIMUM: `a > b ? a : b` (and `<`): a NaN in the second input propagates, a NaN in
    the first does not; int8/uint8/int16 compare raw values (quantised inputs allowed: the op
    selects, it does not rescale).
  - RIGHT_SHIFT clamps the shift to [0, bits - 1] (arithmetic shift for signed types).
  - ATAN2 needs equal shapes (LiteRT reads out of bounds otherwise); float16 computes in float32.
Quantised uint8/int8/int16 ADD, SUB, MUL and int8 SQUARED_DIFFERENCE are handed to
`quantized_elementwise`; quantised DIV and FLOOR_DIV / FLOOR_MOD are rejected for now.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from .base import AbsorbableAdd

F32, F16, I32, U8, I64, STR, BOOL, I16, C64, I8, F64, U32, U16 = \
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16
_SMALL_INTS = frozenset({I8, U8, I16})


def broadcast_shape(ctx, a, b, *more) -> tuple:
    """NumPy/TFLite broadcasting of tensor shapes, with a clear error when they don't broadcast."""
    shapes = [a.shape, b.shape] + [t.shape for t in more]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        ctx.fail(f"input shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast")


def _names(types) -> str:
    return ", ".join(dtypes.type_name(t) for t in sorted(types))


def check_binary(ctx, allowed, quantized_ok=frozenset(), out_type=None, broadcast=True):
    """Validate a two-input op; set and return the output shape. `quantized_ok`: the types whose
    quantised tensors this op handles as plain values (the op moves or compares raw values)."""
    ctx.require(len(ctx.inputs) == 2, f"takes 2 inputs, the model gives {len(ctx.inputs)}")
    a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
    if a.type not in allowed:
        ctx.fail(f"input 0 is {dtypes.type_name(a.type)}; supported: {_names(allowed)}")
    ctx.require(a.type == b.type, f"inputs have different types ({dtypes.type_name(a.type)} vs "
                                  f"{dtypes.type_name(b.type)})")
    want = a.type if out_type is None else out_type
    ctx.require(out.type == want, f"output is {dtypes.type_name(out.type)}; expected "
                                  f"{dtypes.type_name(want)}")
    if a.type not in quantized_ok:
        for i, t in enumerate((a, b)):
            if t.quantization.is_quantized and t.type not in (F32, F16, F64):
                ctx.fail(f"quantized {dtypes.type_name(t.type)} input {i} is not supported yet")
    if broadcast:
        shape = broadcast_shape(ctx, a, b)
    else:
        ctx.require(a.shape == b.shape, f"inputs must have the same shape, got {list(a.shape)} "
                                        f"and {list(b.shape)}")
        shape = a.shape
    ctx.set_output_shape(0, shape)
    return shape


def _activation_bounds(ctx, dtype: np.dtype):
    """TFLite's CalculateActivationRange<T>: (lo, hi) as values of `dtype`, or None when the clamp
    can change nothing (integers with no activation)."""
    code = ctx.options.get("fused_activation_function", 0)
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    if code == 1:
        lo, hi = 0, info.max
    elif code == 3:
        lo, hi = 0, 6
    elif code == 2:
        lo, hi = -1, 1
    else:  # NONE, and TANH / SIGN_BIT, which TFLite's arithmetic kernels ignore
        if dtype.kind != "f":
            return None
        lo, hi = info.min, info.max
    # C++ converts the bounds to T: -1 wraps for unsigned types
    return (np.array(lo).astype(dtype)[()], np.array(hi).astype(dtype)[()])


def _clamper(xp, bounds):
    if bounds is None:
        return lambda out: None
    lo, hi = bounds

    def clamp(out):  # std::min(std::max(x, lo), hi): NaN stays NaN; lo > hi gives hi
        xp.clip(out, lo, hi, out=out)
    return clamp


def quietly(prepare):
    """Wrap an op so its run() computes like C: inf, NaN and overflow without NumPy warnings."""
    def wrapped_prepare(ctx):
        run = prepare(ctx)

        def run_quietly(ins, outs):
            with np.errstate(all="ignore"):
                run(ins, outs)
        # the executor's invoke loop already runs every step with NumPy's warnings off, so a
        # step it binds calls `run` itself and skips this wrapper's per-call errstate
        run_quietly.gpulite_quiet_inner = run
        return run_quietly
    return wrapped_prepare


def _raise_zero_division(xp, b, what="division by zero"):
    if b.size and bool(xp.any(b == 0)):
        raise ZeroDivisionError(f"{what}: the divisor (input 1) has a zero element")


# -- ADD, SUB, MUL, DIV ------------------------------------------------------------------------

_ARITH_TYPES = {
    "ADD": frozenset({F32, F16, I32, I64, I16}),
    "SUB": frozenset({F32, I32, I64}),
    "MUL": frozenset({F32, F16, I32, I64, I16, U32, C64}),
    "DIV": frozenset({F32, I32}),
}


def _arith(op: str, ufunc_name: str):
    allowed = _ARITH_TYPES[op]

    def prepare(ctx):
        a = ctx.input(0)
        if op != "DIV" and a.type in _SMALL_INTS and (a.type != I16 or a.quantization.is_quantized):
            from . import quantized_elementwise  # uint8/int8/int16 quantized kernels
            return quantized_elementwise.prepare(ctx)
        if a.type in _SMALL_INTS and (a.type not in allowed or a.quantization.is_quantized):
            if not a.quantization.is_quantized:  # LiteRT aborts on these
                ctx.fail(f"{dtypes.type_name(a.type)} {op} needs quantization parameters")
            ctx.fail(f"quantized {dtypes.type_name(a.type)} {op} is not supported yet")
        check_binary(ctx, allowed)
        xp, dtype = ctx.xp, a.dtype
        if a.type == C64:
            ctx.require(ctx.options.get("fused_activation_function", 0) == 0,
                        "no fused activation is allowed for COMPLEX64 inputs")
            clamp = _clamper(xp, None)
        else:
            clamp = _clamper(xp, _activation_bounds(ctx, dtype))
        if op == "DIV" and a.type == I32:
            return _int32_divide(ctx, xp)
        if a.type == C64:
            def run_complex(ins, outs):
                complex_multiply(xp, ins[0], ins[1], outs[0])
            return run_complex
        ufunc = getattr(xp, ufunc_name)
        bounds = _activation_bounds(ctx, dtype)
        if op == "ADD" and dtype == np.float32:  # a producer's epilogue may do this ADD
            ctx.absorbable_add = AbsorbableAdd("float", clamp=bounds)
        if xp is np and dtype.kind == "f" and bounds is not None and _CLIP_UFUNC is not None:
            # the float hot path: NumPy's clip ufunc with 0-d bounds of the output's type
            # (np.clip adds a few microseconds of Python per call)
            lo, hi = (np.array(v, dtype) for v in bounds)

            def run_float(ins, outs):
                out = outs[0]
                ufunc(ins[0], ins[1], out=out)
                _CLIP_UFUNC(out, lo, hi, out=out)
            return run_float

        def run(ins, outs):
            ufunc(ins[0], ins[1], out=outs[0])
            clamp(outs[0])
        return run
    return prepare


def _find_clip_ufunc():
    for name in ("numpy._core.umath", "numpy.core.umath"):
        try:
            fn = getattr(__import__(name, fromlist=["clip"]), "clip", None)
        except ImportError:
            continue
        if isinstance(fn, np.ufunc):
            return fn
    return None


_CLIP_UFUNC = _find_clip_ufunc()


def _int32_divide(ctx, xp):
    # C++ `/` truncates toward zero. The quotient of two int32 values is exact in float64, so
    # trunc(double(a) / double(b)) is it; clamping before the cast gives INT_MIN / -1 = INT_MAX
    # (what LiteRT returns) and applies the fused activation.
    bounds = _activation_bounds(ctx, np.dtype(np.int32)) or (-2 ** 31, 2 ** 31 - 1)
    lo, hi = float(bounds[0]), float(bounds[1])

    def run(ins, outs):
        a, b = ins
        _raise_zero_division(xp, b)
        q = xp.trunc(xp.true_divide(a.astype(xp.float64), b.astype(xp.float64)))
        xp.clip(q, lo, hi, out=q)
        outs[0][...] = q.astype(xp.int32)
    return run


def complex_multiply(xp, a, b, out):
    """std::complex<float> multiplication as compiled into LiteRT: four float32 products, one
    add and one subtract (no fused multiply-add, unlike NumPy's loop), and C99 Annex G's
    recovery of infinities when both parts come out NaN (__mulsc3)."""
    ar, ai, br, bi = a.real, a.imag, b.real, b.imag
    ac, bd, ad, bc = ar * br, ai * bi, ar * bi, ai * br
    x, y = ac - bd, ad + bc
    both = xp.isnan(x) & xp.isnan(y)
    if both.size and bool(xp.any(both)):
        isinf, isnan, copysign, where = xp.isinf, xp.isnan, xp.copysign, xp.where
        one, zero, inf = ar.dtype.type(1), ar.dtype.type(0), ar.dtype.type(np.inf)

        def box(v):  # infinities to +-1, finite values to +-0
            return copysign(where(isinf(v), one, zero), v)

        def unnan(v, cond):
            return where(cond & isnan(v), copysign(zero, v), v)

        inf_z = isinf(ar) | isinf(ai)
        inf_w = isinf(br) | isinf(bi)
        p, q = where(inf_z, box(ar), ar), where(inf_z, box(ai), ai)
        r, s = unnan(br, inf_z), unnan(bi, inf_z)
        r, s = where(inf_w, box(r), r), where(inf_w, box(s), s)
        p, q = unnan(p, inf_w), unnan(q, inf_w)
        over = ~(inf_z | inf_w) & (isinf(ac) | isinf(bd) | isinf(ad) | isinf(bc))
        p, q, r, s = unnan(p, over), unnan(q, over), unnan(r, over), unnan(s, over)
        redo = both & (inf_z | inf_w | over)
        x = where(redo, inf * (p * r - q * s), x)
        y = where(redo, inf * (p * s + q * r), y)
    out.real[...] = x
    out.imag[...] = y


# -- FLOOR_DIV, FLOOR_MOD ----------------------------------------------------------------------

def _floor_div(ctx):
    check_binary(ctx, frozenset({F32, I32, I16, I8}))
    xp, dtype = ctx.xp, ctx.input(0).dtype

    if dtype.kind == "f":
        def run(ins, outs):
            a, b = ins
            _raise_zero_division(xp, b)
            q = xp.floor(xp.true_divide(a.astype(xp.float64), b.astype(xp.float64)))
            outs[0][...] = q.astype(dtype)
        return run

    info = np.iinfo(dtype)
    lo, hi = (info.min, info.max) if dtype.itemsize < 4 else (None, None)

    def run_int(ins, outs):
        # floor(double(a) / double(b)) is exact floor division for these widths. The only
        # overflow is MIN // -1: int32 wraps (x86's conversion gives INT_MIN); int8 and int16
        # saturate, as LiteRT's vectorised loop does (its scalar tail, the last few elements of
        # a tensor, would wrap instead)
        a, b = ins
        _raise_zero_division(xp, b)
        q = xp.floor_divide(a.astype(xp.int64), b.astype(xp.int64))
        if lo is not None:
            xp.clip(q, lo, hi, out=q)
        outs[0][...] = q.astype(dtype)
    return run_int


def _floor_mod(ctx):
    check_binary(ctx, frozenset({F32, I32, I64, I16, I8}))
    xp, dtype = ctx.xp, ctx.input(0).dtype

    if dtype.kind == "f":
        def run(ins, outs):
            a, b = ins
            r = xp.fmod(a, b)  # exact; b == 0 gives NaN
            fix = (r != 0) & ((b < 0) != (r < 0))
            outs[0][...] = xp.where(fix, r + b, r)
        return run

    def run_int(ins, outs):
        a, b = ins
        _raise_zero_division(xp, b)
        # NumPy's integer remainder already has the divisor's sign, and gives 0 for
        # INT_MIN % -1 (where C++ traps)
        xp.remainder(a, b, out=outs[0])
    return run_int


# -- POW -----------------------------------------------------------------------------------

def _pow(ctx):
    check_binary(ctx, frozenset({F32, I32}))
    a, b = ctx.input(0), ctx.input(1)
    xp, dtype = ctx.xp, a.dtype
    is_int = dtype.kind == "i"
    # TFLite's optimized BroadcastPow4D: only when the shapes differ and the exponent is one value
    scalar_exponent = a.shape != b.shape and b.size == 1
    flt_max = np.finfo(np.float32).max

    def integer_power(base, k, out):
        # IntegerExponentPow: k == 1 copies; else square the k // 2 power, times base if k odd
        r = base
        for bit in bin(k)[3:]:
            r = r * r
            if not is_int:
                xp.clip(r, -flt_max, flt_max, out=r)
            if bit == "1":
                r = base * r
                if not is_int:
                    xp.clip(r, -flt_max, flt_max, out=r)
        out[...] = r.reshape(out.shape)

    def exponent_k(e: float) -> int:
        """k >= 1 when TFLite takes the repeated-squaring path for exponent e, else 0."""
        if not math.isfinite(e) or abs(e) >= 2 ** 31:
            return 0
        k = int(math.floor(abs(e) + 0.5)) * (1 if e >= 0 else -1)  # std::round
        if is_int:
            return k if k >= 1 else 0
        close = abs(np.float32(e) - np.float32(k)) < np.float32(1e-5)
        return k if close and k >= 1 else 0

    half, inf, zero = np.float32(0.5), np.float32(np.inf), np.float32(0)

    def elementwise(x, y, out):
        if is_int:
            r = xp.power(x.astype(xp.float64), y.astype(xp.float64))
            bad = (r >= 2.0 ** 31) | (r < -2.0 ** 31)  # double -> int32 overflow gives INT_MIN
            r = xp.where(bad, -2.0 ** 31, r)
            out[...] = r.astype(xp.int32)
        else:
            xp.power(x, y, out=out)
            if y.size == 1:
                # NumPy computes a broadcast exponent 0.5 as sqrt: C's pow(-inf, 0.5) is +inf
                # and pow(-0, 0.5) is +0
                out[...] = xp.where((y == half) & ((x == -inf) | (x == zero)), xp.abs(x), out)

    def run(ins, outs):
        x, y = ins
        if is_int and y.size and bool(xp.any(y < 0)):
            raise ValueError("POW does not support negative exponents for int32")
        if scalar_exponent:
            k = exponent_k(float(y.reshape(-1)[0]))
            if k >= 1:
                integer_power(x, k, outs[0])
                return
        elementwise(x, y, outs[0])
    return run


# -- MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, ATAN2 -------------------------------------------------

_MINMAX_TYPES = frozenset({F32, F16, U8, I8, I16, I32, I64})


def _minmax(take_first_if: str):
    def prepare(ctx):
        check_binary(ctx, _MINMAX_TYPES, quantized_ok=_SMALL_INTS)
        a, b = ctx.input(0), ctx.input(1)
        xp = ctx.xp
        compare = getattr(xp, take_first_if)
        if a.size == 0 or b.size == 0:
            return lambda ins, outs: None  # TFLite returns before writing anything

        def run(ins, outs):
            x, y = ins
            outs[0][...] = xp.where(compare(x, y), x, y)
        return run
    return prepare


def _squared_difference(ctx):
    a = ctx.input(0)
    if a.type == I8:
        from . import quantized_elementwise  # the quantized int8 kernel
        return quantized_elementwise.prepare_squared_difference(ctx)
    check_binary(ctx, frozenset({F32, I32}))
    xp = ctx.xp

    def run(ins, outs):
        d = xp.subtract(ins[0], ins[1])
        xp.multiply(d, d, out=outs[0])
    return run


def _atan2(ctx):
    check_binary(ctx, frozenset({F32, F16, F64}), broadcast=False)
    xp, dtype = ctx.xp, ctx.input(0).dtype

    if dtype == np.float16:
        def run16(ins, outs):
            y, x = (t.astype(xp.float32) for t in ins)
            outs[0][...] = xp.arctan2(y, x).astype(xp.float16)
        return run16

    def run(ins, outs):
        xp.arctan2(ins[0], ins[1], out=outs[0])
    return run


# -- BITWISE_XOR, RIGHT_SHIFT --------------------------------------------------------------------

_BIT_TYPES = frozenset({I8, U8, I16, U16, I32, U32})


def _bitwise_xor(ctx):
    check_binary(ctx, _BIT_TYPES, quantized_ok=_BIT_TYPES)
    xp = ctx.xp

    def run(ins, outs):
        xp.bitwise_xor(ins[0], ins[1], out=outs[0])
    return run


def _right_shift(ctx):
    check_binary(ctx, _BIT_TYPES, quantized_ok=_BIT_TYPES)
    xp, dtype = ctx.xp, ctx.input(0).dtype
    top = dtype.type(dtype.itemsize * 8 - 1)
    zero = dtype.type(0)

    def run(ins, outs):
        x, y = ins
        xp.right_shift(x, xp.clip(y, zero, top), out=outs[0])
    return run


# -- ADD_N -----------------------------------------------------------------------------------

def _add_n(ctx):
    n = len(ctx.inputs)
    ctx.require(n >= 2, f"needs at least 2 inputs, the model gives {n}")
    first = ctx.input(0)
    allowed = frozenset({F32, I32})
    if first.type not in allowed:
        ctx.fail(f"input 0 is {dtypes.type_name(first.type)}; supported: {_names(allowed)}")
    for i in range(1, n):
        t = ctx.input(i)
        ctx.require(t.type == first.type, f"input {i} is {dtypes.type_name(t.type)}, input 0 "
                                          f"{dtypes.type_name(first.type)}")
        ctx.require(t.shape == first.shape, f"input {i} has shape {list(t.shape)}, input 0 "
                                            f"{list(first.shape)}; all must be equal")
    out = ctx.output(0)
    ctx.require(out.type == first.type, f"output is {dtypes.type_name(out.type)}; expected "
                                        f"{dtypes.type_name(first.type)}")
    ctx.set_output_shape(0, first.shape)
    xp = ctx.xp

    def run(ins, outs):  # summed in input order, like TFLite's single-threaded AddN
        xp.add(ins[0], ins[1], out=outs[0])
        for x in ins[2:]:
            xp.add(outs[0], x, out=outs[0])
    return run


KERNELS = {
    "ADD": quietly(_arith("ADD", "add")),
    "SUB": quietly(_arith("SUB", "subtract")),
    "MUL": quietly(_arith("MUL", "multiply")),
    "DIV": quietly(_arith("DIV", "true_divide")),
    "FLOOR_DIV": quietly(_floor_div),
    "FLOOR_MOD": quietly(_floor_mod),
    "POW": quietly(_pow),
    "MAXIMUM": _minmax("greater"),
    "MINIMUM": _minmax("less"),
    "SQUARED_DIFFERENCE": quietly(_squared_difference),
    "ATAN2": quietly(_atan2),
    "BITWISE_XOR": _bitwise_xor,
    "RIGHT_SHIFT": _right_shift,
    "ADD_N": quietly(_add_n),
}
