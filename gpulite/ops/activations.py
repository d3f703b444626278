"""Float activations: RELU family, LOGISTIC, TANH, HARD_SWISH, PRELU, LEAKY_RELU, ELU, GELU.

Float32 only, as in TFLite, except LOGISTIC, TANH and GELU, which TFLite also runs on float16
(computed here in float32 and rounded once). Quantised forms come later and are refused.

Agreement with LiteRT's builtin kernels (measured over 400k points in -20..20, +-inf, nan):
  RELU*, LEAKY_RELU, PRELU, HARD_SWISH  bit-exact (HARD_SWISH: see its vector/tail split)
  ELU (expm1)                           <= 2 ulp
  LOGISTIC                              <= 6 ulp (LiteRT's Eigen exp is a few ulp off)
  TANH                                  <= 5 ulp: LiteRT uses Eigen's rational approximation,
                                        which saturates to +-1 from |x| >= 7.9074
  GELU exact (erfc)                     <= 10 ulp
  GELU approximate (tanh)               <= 1e-6 absolute; where 1 + tanh cancels (x < -4) the
                                        relative gap is large, from LiteRT's tanh near -1
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from .base import FLOAT
from .elementwise import broadcast_shape

F32 = np.float32
_FLOAT_OR_HALF = frozenset({0, 1})


def _unary(body, allowed=FLOAT):
    """An elementwise op from `body(ctx) -> f(xp, x, out)`; f computes float32 into `out`."""
    def prepare(ctx):
        x, out = ctx.input(0), ctx.output(0)
        if x.type in (3, 7, 9):  # uint8 / int16 / int8: the quantized kernels
            from . import quantized_activations
            return quantized_activations.prepare(ctx)
        ctx.check_types(allowed)
        ctx.require(not x.quantization.is_quantized, "quantized inputs are not supported yet")
        ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                        f"{dtypes.type_name(x.type)}")
        ctx.set_output_shape(0, x.shape)
        f, xp = body(ctx), ctx.xp
        if x.type == 1:  # float16: compute in float32, round once
            def run_half(ins, outs):
                tmp = xp.empty(outs[0].shape, xp.float32)
                f(xp, ins[0].astype(xp.float32), tmp)
                outs[0][...] = tmp
            return run_half

        def run(ins, outs):
            f(xp, ins[0], outs[0])
        return run
    return prepare


def _clamp(lo, hi):
    def body(ctx):
        def f(xp, x, out):
            xp.clip(x, lo, hi, out=out)  # clip keeps nan, as TFLite does
        return f
    return body


# elements per pass of LOGISTIC's float64 scratch (a cache-sized block)
_LOGISTIC_BLOCK = 1 << 16


def _logistic(ctx):
    # 1 / (1 + exp(-x)) in float64, rounded once to float32: exp(-x) cannot overflow for any
    # float32 x (so results down in float32's denormals survive, as in LiteRT), and four
    # in-place passes over a preallocated scratch cost less than a float32 form that has to
    # split x < 0 from x >= 0 to stay accurate.
    xp = ctx.xp
    n = ctx.input(0).size
    scratch = xp.empty(min(n, _LOGISTIC_BLOCK), xp.float64)
    one = np.float64(1)

    def f(xp, x, out):
        if x.size <= scratch.size:
            blocks = ((x, out, scratch[:x.size].reshape(x.shape)),)
        else:
            xf, of = x.reshape(-1), out.reshape(-1)
            blocks = ((xf[k:k + _LOGISTIC_BLOCK], of[k:k + _LOGISTIC_BLOCK],
                       scratch[:min(_LOGISTIC_BLOCK, x.size - k)])
                      for k in range(0, x.size, _LOGISTIC_BLOCK))
        for xb, ob, t in blocks:
            xp.negative(xb, out=t)
            xp.exp(t, out=t)
            xp.add(t, one, out=t)
            xp.divide(one, t, out=ob)
    return f


def _tanh(ctx):
    def f(xp, x, out):
        xp.tanh(x, out=out)
    return f


def _hard_swish(ctx):
    sixth, three = F32(1.0 / 6.0), F32(3)
    n = ctx.input(0).size
    head = n - n % 4

    def f(xp, x, out):
        # TFLite's float kernel, bit for bit: groups of 4 compute (x * (1/6)) * relu6(x + 3);
        # the last size % 4 values (its scalar loop) compute (x * relu6(x + 3)) * (1/6).
        t = xp.add(x, three)
        xp.clip(t, 0, 6, out=t)
        xp.multiply(x, sixth, out=out)
        xp.multiply(out, t, out=out)
        if head < n:
            x_, t_, o_ = x.reshape(-1)[head:], t.reshape(-1)[head:], out.reshape(-1)[head:]
            xp.multiply(x_, t_, out=o_)
            xp.multiply(o_, sixth, out=o_)
    return f


def _leaky_relu(ctx):
    alpha = F32(ctx.options.get("alpha", 0.0))

    def f(xp, x, out):
        out[...] = xp.where(x > 0, x, x * alpha)
    return f


def _elu(ctx):
    def f(xp, x, out):
        # expm1 of min(x, 0): no overflow for large x, the where picks x there anyway
        out[...] = xp.where(x < 0, xp.expm1(xp.minimum(x, 0)), x)
    return f


def _gelu(ctx):
    half = F32(0.5)
    if ctx.options.get("approximate", False):
        k, c = F32(math.sqrt(2.0 / math.pi)), F32(0.044715)

        def f_tanh(xp, x, out):
            # 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), TFLite's order
            t = x * x
            t *= x
            t *= c
            t += x
            t *= k
            xp.tanh(t, out=t)
            t += 1
            xp.multiply(x, half, out=out)
            out *= t
        return f_tanh
    erfc = _erfc_for(ctx.xp)
    minus_sqrt_half = F32(-math.sqrt(0.5))

    def f_erf(xp, x, out):
        # 0.5 * x * erfc(-x / sqrt(2)): no cancellation for large negative x (TFLite's form)
        e = erfc(x * minus_sqrt_half)
        xp.multiply(x, half, out=out)
        out *= e
    return f_erf


def _erfc_for(xp):
    """float32 array -> float32 erfc: CuPy has it; for NumPy a float64 evaluation below."""
    if xp is np:
        return lambda v: _erfc_f64(v.astype(np.float64)).astype(np.float32)
    from cupyx.scipy.special import erfc  # CuPy's own namespace, only on the GPU backend
    return erfc


# erfc(a) = g(a) * exp(-a^2) for a >= 0, with g = erfcx smooth and slowly varying (1 at 0,
# ~1/(a sqrt(pi)) for large a): g is tabulated as a piecewise cubic (Hermite, from math.erfc and
# g' = 2a g - 2/sqrt(pi)) on a 1/64 grid. Past _ERFC_TABLE_END, erfc < 1e-49: far below float32.
_ERFC_STEPS = 64
_ERFC_TABLE_END = 10.5


def _erfc_cubics():
    """Per-interval cubic coefficients (c0, c1, c2, c3) of g in t = a*64 - i, t in [0, 1)."""
    nodes = np.arange(int(_ERFC_TABLE_END * _ERFC_STEPS) + 2) / _ERFC_STEPS
    g = np.array([math.erfc(v) * math.exp(v * v) for v in nodes])
    dg = (2 * nodes * g - 2 / math.sqrt(math.pi)) / _ERFC_STEPS  # per unit of t
    g0, g1, d0, d1 = g[:-1], g[1:], dg[:-1], dg[1:]
    return g0, d0, 3 * (g1 - g0) - 2 * d0 - d1, 2 * (g0 - g1) + d0 + d1


_ERFC_C0, _ERFC_C1, _ERFC_C2, _ERFC_C3 = _erfc_cubics()
_ERFC_LAST = float(len(_ERFC_C0) - 1)


def _erfc_f64(z: np.ndarray) -> np.ndarray:
    """erfc in float64 (NumPy has no erf; no SciPy): within 2e-9 relative of math.erfc for
    |z| <= 10.5 (a float32 result is then correctly rounded or one ulp off); for larger z the
    result is below 1e-49 (0 in float32), and erfc(-a) = 2 - erfc(a). About 20 array passes."""
    a = np.abs(z, dtype=np.float64)
    s = a * _ERFC_STEPS
    np.fmin(s, _ERFC_LAST, out=s)  # fmin: NaN and inf land on the last node, a carries them
    i = s.astype(np.intp)
    t = s - i
    p = np.take(_ERFC_C3, i)
    for c in (_ERFC_C2, _ERFC_C1, _ERFC_C0):
        p *= t
        p += np.take(c, i)
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    p *= np.exp(a, out=a)
    return np.where(z < 0, 2.0 - p, p)


def _prelu(ctx):
    x, alpha, out = ctx.input(0), ctx.input(1), ctx.output(0)
    if x.type in (3, 7, 9):  # uint8 / int16 / int8: the quantized kernel
        from . import quantized_activations
        return quantized_activations.prepare_prelu(ctx)
    ctx.check_types(FLOAT, 0, 1)
    ctx.require(not x.quantization.is_quantized, "quantized inputs are not supported yet")
    ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                    f"{dtypes.type_name(x.type)}")
    ctx.set_output_shape(0, broadcast_shape(ctx, x, alpha))
    xp = ctx.xp

    def run(ins, outs):
        x_, a = ins
        outs[0][...] = xp.where(x_ >= 0, x_, x_ * a)  # TFLite: x >= 0 ? x : x * alpha
    return run


KERNELS = {
    "RELU": _unary(_clamp(0.0, np.inf)),
    "RELU6": _unary(_clamp(0.0, 6.0)),
    "RELU_N1_TO_1": _unary(_clamp(-1.0, 1.0)),
    "RELU_0_TO_1": _unary(_clamp(0.0, 1.0)),
    "LOGISTIC": _unary(_logistic, _FLOAT_OR_HALF),
    "TANH": _unary(_tanh, _FLOAT_OR_HALF),
    "HARD_SWISH": _unary(_hard_swish),
    "LEAKY_RELU": _unary(_leaky_relu),
    "ELU": _unary(_elu),
    "GELU": _unary(_gelu, _FLOAT_OR_HALF),
    "PRELU": _prelu,
}
