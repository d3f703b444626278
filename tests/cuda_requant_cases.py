"""Conformance cases of the requantisation kernel (cuda_kernels/requant.cu), shared by the CPU
emulator (tests/test_cuda_requant_emulated.py) and a real GPU (tests/test_cuda_int_gpu.py):
`make_requantize` against gpulite.ops.quantized_common.make_output_stage on the CPU, bit for bit,
for every rounding the stage knows, left and right shifts and every output type, on
accumulators that include exact rounding ties."""

import numpy as np
import pytest

from gpulite import fixed_point as fp
from gpulite.ops import quantized_common as qc

OUT = {np.int8: (-128, 127), np.uint8: (0, 255), np.int16: (-32768, 32767)}


def accumulators(rng, shape, right):
    """Random int32-range values, a third of them exact ties of a right shift by `right`."""
    acc = rng.integers(-2 ** 24, 2 ** 24, shape).astype(np.int64)
    ties = (rng.integers(-2 ** 10, 2 ** 10, shape) << max(right, 1)) + (1 << max(right - 1, 0))
    pick = rng.random(shape) < 0.33
    acc[pick] = ties[pick]
    acc.reshape(-1)[:4] = [2 ** 31 - 1, -2 ** 31, 0, -1]
    return acc


def stage_case(rounding, channels, out_dtype, shift_kind, rng):
    lo, hi = OUT[out_dtype]
    if out_dtype is np.int16:
        lo, hi = -32768, 32767
    real = rng.uniform(0.3, 0.9, channels) * {"right": 2.0 ** -9, "left": 4.0,
                                              "pow2": 2.0 ** -8}[shift_kind]
    if shift_kind == "pow2":
        real = np.full(channels, 0.5 * 2.0 ** -8)  # multiplier 2^30: every tie is exact
    mult, shift = fp.quantize_multiplier(real)
    out_zp = {np.int8: -3, np.uint8: 130, np.int16: 0}[out_dtype]
    return mult, shift, out_zp, lo, hi


CASES = [(r, t, s) for r in ("up", "away", "mixed-channels", "mixed-elements", "int64")
         for t in (np.int8, np.uint8, np.int16) for s in ("right", "left", "pow2")
         if not (r == "int64" and s == "left")]


@pytest.mark.parametrize("rounding,out_dtype,shift_kind", CASES,
                         ids=[f"{r}-{np.dtype(t).name}-{s}" for r, t, s in CASES])
@pytest.mark.parametrize("with_bias", [False, True])
def test_requantize_matches_the_cpu_stage(dev, kernels, rounding, out_dtype, shift_kind,
                                          with_bias):
    rng = np.random.default_rng(len(rounding) * 7 + len(shift_kind))
    channels, shape = 21, (2, 5, 3, 21)
    mult, shift, out_zp, lo, hi = stage_case(rounding, channels, out_dtype, shift_kind, rng)
    up_where = None
    mode = rounding
    if rounding == "mixed-channels":
        mode, up_where = "mixed", qc.neon_channel_split(channels, 8)
    elif rounding == "mixed-elements":
        n = int(np.prod(shape))
        mode, up_where = "mixed", (np.arange(n) < n - n % 16).reshape(shape)
    stage = qc.make_output_stage(np, mult, shift, out_zp, lo, hi, mode, up_where=up_where)
    assert stage.fused is not None
    right = int(max(-shift.min(), 0))
    acc = accumulators(rng, shape, right)
    bias = rng.integers(-5000, 5000, channels).astype(np.int64) if with_bias else None
    want = np.empty(shape, out_dtype)
    stage(acc + (0 if bias is None else bias), want)
    fn = kernels.make_requantize(stage.fused, channels, out_dtype)
    got = dev.empty(shape, out_dtype)
    fn(dev.upload_host(acc), None if bias is None else dev.upload_host(bias), got)
    diff = np.count_nonzero(dev.host(got) != want)
    assert diff == 0, f"{diff} of {want.size} outputs differ"


def test_int64_form_on_accumulators_past_int32(dev, kernels):
    """16x8 accumulators can pass 2^31; the rescaled value is truncated to int32 (C++), which
    can turn a huge value negative before the clamp."""
    rng = np.random.default_rng(3)
    channels, shape = 7, (40, 7)
    mult, shift = fp.quantize_multiplier(rng.uniform(0.3, 0.9, channels))
    stage = qc.make_output_stage(np, mult, shift, 0, -32768, 32767, "int64")
    acc = rng.integers(-2 ** 15, 2 ** 15, shape).astype(np.int64)
    acc[::2] = rng.integers(-2 ** 46, 2 ** 46, acc[::2].shape)
    want = np.empty(shape, np.int16)
    stage(acc.copy(), want)
    got = dev.empty(shape, np.int16)
    kernels.make_requantize(stage.fused, channels, np.int16)(dev.upload_host(acc), None, got)
    np.testing.assert_array_equal(dev.host(got), want)
    assert len(np.unique(want)) > 2  # not all clamped to one side


# -- the fused epilogue of int_conv.cu's kernels ----------------------------------------------------

def _fused_case(kind, out_dtype, rng):
    """(factory name, its arguments, the input, output channels) for one small problem."""
    from gpulite.cpu_fallback import padding
    x = rng.integers(-128, 128, (2, 7, 6, 5)).astype(np.int8)
    if kind == "matmul":
        w = rng.integers(-127, 128, (5, 9)).astype(np.int64)
        return "make_int_matmul", (w, 128, -3), x.reshape(-1, 5), 9
    if kind == "conv":
        w = rng.integers(-127, 128, (9, 3, 3, 5)).astype(np.int64)
        return "make_int_conv2d", (x.shape, w, (1, 1), (1, 1), (1, 1), (7, 6), 128, -3), x, 9
    if kind == "depthwise":
        w = rng.integers(-127, 128, (1, 3, 3, 10)).astype(np.int64)
        return ("make_int_depthwise_conv2d", (x.shape, w, (2, 2), (1, 1), (1, 1), (4, 3), 128,
                                              -3), x, 10)
    w = rng.integers(-127, 128, (9, 3, 3, 5)).astype(np.int64)
    pads = tuple(padding.transpose_conv_pad_before("SAME", o, 3, 2) for o in (14, 12))
    return "make_int_transpose_conv2d", (x.shape, w, (2, 14, 12, 9), (2, 2), pads, 128, -3), x, 9


@pytest.mark.parametrize("kind", ["matmul", "conv", "depthwise", "transpose"])
@pytest.mark.parametrize("rounding", ["up", "mixed", "int64"])
def test_fused_epilogue_matches_the_cpu_stage(dev, kernels, kind, rounding):
    """The integer kernels with `requant=` write what the CPU's accumulators through the CPU
    output stage give."""
    from gpulite.cpu_fallback import int_gemm
    rng = np.random.default_rng(len(kind) * 10 + len(rounding))
    name, args, x, channels = _fused_case(kind, np.int8, rng)
    out_dtype = np.int16 if rounding == "int64" else np.int8
    lo, hi = OUT[out_dtype]
    mult, shift = fp.quantize_multiplier(rng.uniform(0.2, 0.9, channels) * 2.0 ** -6)
    up_where = qc.neon_channel_split(channels, 8) if rounding == "mixed" else None
    stage = qc.make_output_stage(np, mult, shift, 7 if out_dtype is np.int8 else 0, lo, hi,
                                 rounding, up_where=up_where)
    bias = rng.integers(-3000, 3000, channels).astype(np.int64)
    acc = getattr(int_gemm, name)(*args)(x)
    want = np.empty(acc.shape, out_dtype)
    stage(acc + bias, want)
    spec = kernels.requant_spec(stage.fused, channels, out_dtype, bias)
    got = dev.empty(acc.shape, out_dtype)
    getattr(kernels, name)(*args, requant=spec)(dev.upload_host(x), got)
    np.testing.assert_array_equal(dev.host(got), want)


@pytest.mark.parametrize("kind", ["matmul", "conv", "depthwise", "transpose"])
@pytest.mark.parametrize("first", [True, False], ids=["output_first", "residual_first"])
def test_absorbed_add_looks_up_the_pair_table(dev, kernels, kind, first):
    """An 8-bit ADD absorbed into the epilogue (add=(make_pair_add(...), residual)): each
    output is the table entry of (requantised output, residual) on its element's code path.
    A random table and random paths make every index matter."""
    rng = np.random.default_rng(len(kind) + first)
    name, args, x, channels = _fused_case(kind, np.int8, rng)
    mult, shift = fp.quantize_multiplier(rng.uniform(0.2, 0.9, channels) * 2.0 ** -6)
    stage = qc.make_output_stage(np, mult, shift, 7, -128, 127, "up")
    spec = kernels.requant_spec(stage.fused, channels, np.int8)
    kernel = getattr(kernels, name)(*args, requant=spec)
    dx = dev.upload_host(x)
    plain = dev.empty(_out_shape(name, args, x), np.int8)
    kernel(dx, plain)
    plain = dev.host(plain)
    table = rng.integers(-128, 128, 3 << 16).astype(np.int8)
    residual = rng.integers(-128, 128, plain.shape).astype(np.int8)
    for paths, base in ((rng.integers(0, 3, plain.shape).astype(np.int8), 0), (None, 2)):
        pair = kernels.make_pair_add(dev.upload_host(table), paths, base, first)
        got = dev.empty(plain.shape, np.int8)
        kernel(dx, got, add=(pair, dev.upload_host(residual)))
        mine, other = plain.view(np.uint8).astype(np.int64), residual.view(np.uint8)
        index = (mine << 8 | other) if first else (other.astype(np.int64) << 8 | mine)
        index += (base if paths is None else paths.astype(np.int64)) << 16
        np.testing.assert_array_equal(dev.host(got), table[index])
    with pytest.raises(ValueError, match="other operand"):
        kernel(dx, got, add=(pair, dev.upload_host(residual[..., :1].copy())))


def _out_shape(name, args, x):
    if name == "make_int_matmul":
        return (x.shape[0], args[0].shape[1])
    if name == "make_int_transpose_conv2d":
        return args[2]
    out_hw = args[5]
    cout = args[1].shape[0] if name == "make_int_conv2d" else args[1].shape[-1]
    return (x.shape[0], *out_hw, cout)
