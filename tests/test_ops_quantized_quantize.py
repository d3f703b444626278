"""QUANTIZE (float -> int, and integer requantisation) and DEQUANTIZE round trips against
LiteRT's own kernels, exact equality. TFLite's optimized QUANTIZE runs NEON code (through
NEON_2_SSE) on blocks of 8 (float) or 16 (8-bit requantisation) values and a scalar tail that
rounds differently, so sizes are chosen with tails and values with exact ties."""

import numpy as np
import pytest

from gpulite.writer import ModelBuilder
from quant_util import assert_exact, q, qrand

F32, I8, U8, I16, I32 = np.float32, np.int8, np.uint8, np.int16, np.int32


def quantize_model(shape, in_dtype, out_dtype, in_q=None, out_q=None):
    b = ModelBuilder()
    x = b.add_input(shape, in_dtype, quantization=in_q)
    y = b.add_output(shape, out_dtype, quantization=out_q)
    b.add_operator("QUANTIZE", [x], [y])
    return b.build()


def float_values(rng, n, scale):
    ties = (np.arange(n) - n // 2).astype(F32) * F32(scale) * F32(0.5)  # k/2 steps: exact ties
    v = np.where(rng.random(n) < 0.5, ties, rng.normal(0, 200 * scale, n).astype(F32))
    special = np.array([np.nan, np.inf, -np.inf, 3e9, -3e9, 0.0], F32)
    v[-min(n, 6):] = special[:min(n, 6)]  # in the scalar tail
    if n >= 14:
        v[:6] = special  # and in the NEON blocks
    return v.astype(F32)


@pytest.mark.parametrize("out_dtype,scale,zp", [
    (I8, 0.05, -3), (I8, 0.25, 0), (I8, 1 / 3, 127), (U8, 0.05, 128), (U8, 0.125, 0),
    (I16, 2 ** -10, 0), (I16, 3.7e-4, 0), (U8, 0.1, 255), (I8, 0.1, -128)])
@pytest.mark.parametrize("n", [1, 7, 8, 29, 1001])
def test_quantize_float(out_dtype, scale, zp, n):
    rng = np.random.default_rng(n)
    content = quantize_model((n,), F32, out_dtype, out_q=q(scale, zp))
    assert_exact(content, [float_values(rng, n, scale)])


@pytest.mark.parametrize("out_dtype,scale,zp", [
    (I8, 0.05, -3), (I8, 1 / 3, 127), (U8, 0.05, 128), (I16, 3.7e-4, 0), (I8, 0.1, -128)])
@pytest.mark.parametrize("n", [8, 29, 1001])
def test_quantize_finite_float(out_dtype, scale, zp, n):
    """Finite values of moderate size: the NEON blocks take the float32 fast path."""
    rng = np.random.default_rng(n + 1)
    v = float_values(rng, n + 12, scale)[6:n + 6]  # past the special values at both ends
    v[:2] = F32(scale) * F32(2.0 ** 30), -F32(scale) * F32(2.0 ** 30)  # clamp, far in range
    assert_exact(quantize_model((n,), F32, out_dtype, out_q=q(scale, zp)), [v])


@pytest.mark.parametrize("zp", [-128, 0, 127])
@pytest.mark.parametrize("r", [2.0 ** 31 - 2 ** 17, 2.0 ** 31 - 2 ** 7, 2.0 ** 31])
def test_quantize_near_the_int32_limit(zp, r):
    """Rounded values near +-2^31, where zero point addition wraps in int32 (and beyond, where
    the conversion gives INT32_MIN)."""
    v = np.full(16, F32(r) * F32(0.5), F32)
    v[1::2] *= -1
    assert_exact(quantize_model((16,), F32, I8, out_q=q(0.5, zp)), [v])


@pytest.mark.parametrize("out_dtype", [I8, U8, I16])
def test_quantize_float_per_channel(out_dtype):
    rng = np.random.default_rng(0)
    shape = (3, 5, 4)
    scales = [0.1, 0.25, 0.03, 0.5]
    zps = [0, 0, 0, 0] if out_dtype == I16 else ([3, -4, 0, 7] if out_dtype == I8 else
                                                 [128, 100, 0, 255])
    content = quantize_model(shape, F32, out_dtype, out_q=q(scales, zps, dim=2))
    x = (rng.integers(-40, 40, shape) * 0.125).astype(F32)
    assert_exact(content, [x])


REQUANT = [
    (I8, U8, (0.05, -3), (0.05, 125)), (U8, I8, (0.05, 130), (0.05, 2)),
    (I8, U8, (0.05, -1), (0.02, 127)), (U8, I8, (0.02, 128), (0.05, 0)),
    (I8, I8, (0.05, -3), (0.1, 4)), (I8, I8, (0.25, 0), (0.5, 0)),
    (U8, U8, (0.1, 100), (0.05, 128)), (I8, U8, (0.25, 0), (0.125, 128)),
    (I16, I16, (1e-4, 0), (2.7e-4, 0)), (I16, I16, (2 ** -12, 0), (2 ** -11, 0)),
    (I16, I8, (1e-4, 0), (0.02, -5)), (I8, I16, (0.05, 3), (1e-3, 0)),
    (U8, I16, (0.05, 128), (1e-3, 0)), (I32, I8, (1e-4, 0), (0.02, 5)),
    (I16, I32, (1e-4, 0), (1e-5, 0)),
]


@pytest.mark.parametrize("src,dst,qin,qout", REQUANT,
                         ids=[f"{np.dtype(a).name}-{np.dtype(b).name}-{i}"
                              for i, (a, b, _, _) in enumerate(REQUANT)])
@pytest.mark.parametrize("n", [16 * 17 + 5, 256])
def test_requantize(src, dst, qin, qout, n):
    rng = np.random.default_rng(n)
    if src in (I8, U8):
        lo = -128 if src == I8 else 0
        x = (np.arange(n) % 256 + lo).astype(src)
    else:
        x = qrand(rng, (n,), src, -40000 if src == I32 else None, 40000 if src == I32 else None)
    content = quantize_model((n,), src, dst, in_q=q(*qin), out_q=q(*qout))
    assert_exact(content, [x])


def test_quantize_dequantize_round_trip():
    rng = np.random.default_rng(3)
    b = ModelBuilder()
    x = b.add_input((3, 37), F32)
    t = b.add_tensor((3, 37), I8, quantization=q(0.05, -7))
    y = b.add_output((3, 37), F32)
    b.add_operator("QUANTIZE", [x], [t])
    b.add_operator("DEQUANTIZE", [t], [y])
    assert_exact(b.build(), [rng.normal(0, 3, (3, 37)).astype(F32)])


def test_quantize_rejects_bad_pairs():
    import gpulite
    for src, dst in [(I16, U8), (F32, I32)]:
        it = gpulite.Interpreter(model_content=quantize_model(
            (4,), src, dst, in_q=q(0.1, 0) if src != F32 else None, out_q=q(0.1, 0)),
            device="cpu")
        with pytest.raises(ValueError, match="QUANTIZE|quantize"):
            it.allocate_tensors()
