"""Dynamic-range ("hybrid") CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and BATCH_MATMUL: float
activations, int8 weights, float outputs, bit-exact with TFLite's x86 kernels.

At every invoke the float input is quantised to int8 per batch (per row for FULLY_CONNECTED)
with TFLite's `AsymmetricQuantizeFloats` / `SymmetricQuantizeFloats` (their NEON versions, as
the x86 build runs them through NEON_2_SSE: blocks of 8 values rounded as trunc(v +- 0.5) in
float32, the tail with roundf; the asymmetric scale is the float32 difference rmax - rmin
divided by 255 in double), the integer dot products are exact (float BLAS,
`cpu_fallback.int_gemm`), and the result is rescaled in float32 with TFLite's products in
TFLite's order:

- CONV_2D per-channel and FULLY_CONNECTED per-channel: acc * (input scale * channel scale) + bias
  (acc already minus input offset * row sum for the asymmetric inputs);
- CONV_2D / FULLY_CONNECTED per-tensor: scaling factor * filter scale once, acc * that + bias;
- DEPTHWISE_CONV_2D: (acc * channel scale) * input scale + bias for the channels in whole groups
  of 4 (the NEON store loop), (acc * input scale) * channel scale + bias for the last
  output_depth % 4 (the scalar loop);

then the fused activation as a float clamp. BATCH_MATMUL (no activation): see
`prepare_batch_matmul` (per-column scales: (input scale * channel scale) * acc).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..cpu_fallback import int_gemm
from . import quantized_common as qc
from .base import activation_range
from .conv import conv_geometry, dilations, strides
from .fully_connected import output_shape


def _kernel(ctx, name):
    """The backend's exact-integer kernel factory when it has one (a CUDA backend), else the
    NumPy one in cpu_fallback.int_gemm."""
    return getattr(ctx.backend.kernels, name, None) or getattr(int_gemm, name)

FLOAT32, INT8 = 0, 9


def neon_round(xp, v):
    """neon_tensor_utils' RoundToNearest on x86 (no vcvta): trunc(v +- 0.5), the sum in float32."""
    half = xp.where(v < 0, xp.float32(-0.5), xp.float32(0.5))
    return xp.trunc((v + half).astype(xp.float32))


def c_roundf(xp, v):
    """C roundf: half away from zero, exact."""
    a = xp.abs(v)
    f = xp.floor(a)
    return xp.copysign(f + (a - f >= 0.5), v)


def _round_blocks(xp, v, block):
    """Per row of v [rows, n]: the NEON rounding on the first n - n % block values, roundf on
    the rest; returns float values."""
    n = v.shape[-1]
    head = n - n % block
    r = xp.empty_like(v)
    if head:
        r[:, :head] = neon_round(xp, v[:, :head])
    if head < n:
        r[:, head:] = c_roundf(xp, v[:, head:])
    return r


def quantize_rows_asymmetric(xp, rows):
    """NeonAsymmetricQuantizeFloats over each row of a float32 [R, n] array.
    Returns (q - zero_point as int16 [R, n], scaling factor float32 [R], zero point [R])."""
    rmin32 = xp.minimum(rows.min(axis=1), xp.float32(0))
    rmax32 = xp.maximum(rows.max(axis=1), xp.float32(0))
    same = rmin32 == rmax32
    rmin, rmax = rmin32.astype(xp.float64), rmax32.astype(xp.float64)
    # (rmax - rmin) / (qmax_double - qmin_double): a float32 difference, a double quotient
    scale = xp.where(same, 1.0, (rmax32 - rmin32).astype(xp.float64) / 255.0)
    zp_from_min = -128.0 - rmin / scale
    zp_from_max = 127.0 - rmax / scale
    err_min = 128.0 + xp.abs(rmin / scale)
    err_max = 127.0 + xp.abs(rmax / scale)
    zp_double = xp.where(err_min < err_max, zp_from_min, zp_from_max)
    a = xp.abs(zp_double)
    fl = xp.floor(a)
    rounded = xp.copysign(fl + (a - fl >= 0.5), zp_double)  # C round()
    zp = xp.where(zp_double <= -128.0, -128, xp.where(zp_double >= 127.0, 127, rounded))
    zp = xp.where(same, 0, zp).astype(xp.int64)
    sf = scale.astype(xp.float32)
    inv = (1.0 / sf.astype(xp.float64)).astype(xp.float32)  # 1.0 / *scaling_factor
    v = rows * inv[:, None]  # float32
    n = rows.shape[1]
    head = n - n % 8
    q = xp.empty(rows.shape, xp.int64)
    if head:
        q[:, :head] = neon_round(xp, v[:, :head]).astype(xp.int64) + zp[:, None]
    if head < n:
        # (int32)(offset + roundf(inv * x)): the sum is a float
        rt = c_roundf(xp, v[:, head:])
        q[:, head:] = (rt + zp[:, None].astype(xp.float32)).astype(xp.int64)
    q = xp.clip(q, -128, 127)
    q = xp.where(same[:, None], 0, q)
    return (q - zp[:, None]).astype(xp.int16), sf, zp


def quantize_rows_symmetric(xp, rows):
    """NeonSymmetricQuantizeFloats over each row: (q int16 [R, n], scaling factor float32 [R])."""
    rng = xp.maximum(xp.abs(rows.min(axis=1)), xp.abs(rows.max(axis=1)))  # float32
    zero = rng == 0
    safe = xp.where(zero, xp.float32(1), rng)
    sf = xp.where(zero, xp.float32(1), safe / xp.float32(127))
    inv = xp.float32(127) / safe
    v = rows * inv[:, None]
    q = _round_blocks(xp, v, 8)
    q = xp.clip(q, -127, 127).astype(xp.int16)
    q = xp.where(zero[:, None], 0, q)
    return q, sf


def _float_stage(ctx):
    """The fused activation as a float clamp (None when there is none)."""
    clamp = activation_range(ctx)
    return clamp


def _apply_clamp(xp, out, clamp):
    if clamp is not None:
        xp.clip(out, clamp[0], clamp[1], out=out)


def _filter_scales(ctx, w, channels, axis):
    scales, zps = qc.per_channel_scales(ctx, w, channels, axis)
    ctx.require(not np.any(zps), "hybrid int8 weights must have zero points of 0")
    return scales


def _bias_value(ctx, pos, channels):
    bias = ctx.optional_input(pos)
    if bias is None:
        return None, None
    ctx.require(bias.type == FLOAT32, f"bias is {dtypes.type_name(bias.type)}; hybrid ops take "
                                      f"a FLOAT32 bias")
    ctx.require(bias.size == channels, f"bias has {bias.size} values for {channels} channels")
    return (None if bias.value is None else np.asarray(bias.value, np.float32).reshape(-1)), pos


def prepare_conv2d(ctx):
    x, w, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(out.type == FLOAT32, f"a hybrid CONV_2D produces FLOAT32, output is "
                                     f"{dtypes.type_name(out.type)}")
    w_val = ctx.const_value(1, "filter")
    ctx.require(x.rank == 4 and w.rank == 4, f"needs 4-D input and filter, got input "
                f"{list(x.shape)} and filter {list(w.shape)}")
    n, h, wd, cin = x.shape
    cout, kh, kw, cpg = w.shape
    ctx.require(cpg > 0 and cin % cpg == 0 and cout % (cin // cpg or 1) == 0,
                f"input has {cin} channels, filter {list(w.shape)} expects a multiple of {cpg}")
    scales = _filter_scales(ctx, w, cout, 0)
    bias_const, bias_pos = _bias_value(ctx, 2, cout)
    stride, dil = strides(ctx), dilations(ctx)
    out_hw, pad_tl = conv_geometry(ctx, (h, wd), (kh, kw), stride, dil)
    ctx.set_output_shape(0, (n, *out_hw, cout))
    clamp = _float_stage(ctx)
    per_channel = bool(np.any(scales != scales[0])) or cin // cpg != 1
    make = _kernel(ctx, "make_int_conv2d")
    kernel = make(x.shape, np.asarray(w_val, np.int64), stride, dil, pad_tl,
                  out_hw, 255 if per_channel else 127, 0)
    return _run_conv_like(ctx, kernel, scales, per_channel, bias_const, bias_pos, clamp, n)


def prepare_depthwise_conv2d(ctx):
    x, w, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(out.type == FLOAT32, f"a hybrid DEPTHWISE_CONV_2D produces FLOAT32, output is "
                                     f"{dtypes.type_name(out.type)}")
    w_val = ctx.const_value(1, "filter")
    ctx.require(x.rank == 4 and w.rank == 4 and w.shape[0] == 1,
                f"needs a 4-D input and a [1, KH, KW, C] filter, got input {list(x.shape)} and "
                f"filter {list(w.shape)}")
    n, h, wd, cin = x.shape
    _, kh, kw, cout = w.shape
    ctx.require(cin > 0 and cout % cin == 0, f"filter has {cout} channels, not a multiple of "
                f"the input's {cin}")
    ctx.require(w.quantization.scales.size == cout, f"a hybrid DEPTHWISE_CONV_2D needs "
                f"per-channel filter scales ({cout}), got {w.quantization.scales.size}")
    scales = _filter_scales(ctx, w, cout, 3)
    bias_const, bias_pos = _bias_value(ctx, 2, cout)
    stride, dil = strides(ctx), dilations(ctx)
    out_hw, pad_tl = conv_geometry(ctx, (h, wd), (kh, kw), stride, dil)
    ctx.set_output_shape(0, (n, *out_hw, cout))
    clamp = _float_stage(ctx)
    make = _kernel(ctx, "make_int_depthwise_conv2d")
    kernel = make(x.shape, np.asarray(w_val, np.int64), stride,
                  dil, pad_tl, out_hw, 255, 0)
    return _run_conv_like(ctx, kernel, scales, True, bias_const, bias_pos, clamp, n,
                          depthwise=True)


def _run_conv_like(ctx, kernel, scales, per_channel, bias_const, bias_pos, clamp, batch,
                   depthwise=False):
    """Per-batch quantisation of the input, exact integer accumulation, float rescale.

    The float32 products are TFLite's, in its order:
    - CONV_2D per-channel (EvalHybridPerChannel): acc * (input scale * channel scale) + bias;
    - CONV_2D per-tensor (EvalHybrid): scaling factor *= filter scale once, acc * factor + bias;
    - DEPTHWISE_CONV_2D (optimized DepthwiseConvHybridGeneral): channels in whole groups of 4
      take the NEON store loop, (acc * channel scale) * input scale + bias; the last
      output_depth % 4 channels the scalar loop, (acc * input scale) * channel scale + bias.
    """
    xp = ctx.xp
    scales_d = xp.asarray(scales.astype(np.float32))
    scalar_scale = np.float32(scales[0])
    bias_d = None if bias_const is None else xp.asarray(bias_const)
    cout = scales.size
    vec = cout - cout % 4 if depthwise else 0

    def run(ins, outs):
        x = ins[0]
        rows = x.reshape(x.shape[0], -1)
        o = outs[0]
        if depthwise:
            qv, sf, _ = quantize_rows_asymmetric(xp, rows)
            acc = kernel(qv.reshape(x.shape)).astype(xp.float32)
            sfb = sf.reshape(-1, 1, 1, 1)
            if vec:
                xp.multiply(acc[..., :vec], scales_d[:vec], out=o[..., :vec])
                o[..., :vec] *= sfb
            if vec < cout:
                xp.multiply(acc[..., vec:], sfb, out=o[..., vec:])
                o[..., vec:] *= scales_d[vec:]
        else:
            if per_channel:
                qv, sf, _ = quantize_rows_asymmetric(xp, rows)
                factor = sf[:, None] * scales_d[None, :]  # float32: input scale * channel scale
            else:
                qv, sf = quantize_rows_symmetric(xp, rows)
                factor = (sf * scalar_scale)[:, None]  # scaling_factors[b] *= filter scale
            acc = kernel(qv.reshape(x.shape))
            o[...] = acc.astype(xp.float32) * factor.reshape(x.shape[0], 1, 1, -1)
        b = bias_d if bias_d is not None else (
            ins[bias_pos] if bias_pos is not None and len(ins) > bias_pos else None)
        if b is not None:
            o += b
        _apply_clamp(xp, o, clamp)
    return run


def prepare_fully_connected(ctx):
    x, w, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(out.type == FLOAT32, f"a hybrid FULLY_CONNECTED produces FLOAT32, output is "
                                     f"{dtypes.type_name(out.type)}")
    ctx.require(ctx.options.get("weights_format", 0) == 0,
                "shuffled weight formats are not supported")
    ctx.require(w.rank == 2, f"weights must be 2-D [units, depth], got {list(w.shape)}")
    w_val = ctx.const_value(1, "weights")
    units, depth = w.shape
    rows, out_shape = output_shape(ctx, x, units, depth)
    ctx.set_output_shape(0, out_shape)
    q = w.quantization
    per_channel = q.scales.size > 1
    scales = _filter_scales(ctx, w, units, 0)
    bias_const, bias_pos = _bias_value(ctx, 2, units)
    clamp = _float_stage(ctx)
    asymmetric = bool(ctx.options.get("asymmetric_quantize_inputs", False))
    make = _kernel(ctx, "make_int_matmul")
    matmul = make(np.asarray(w_val, np.int64).T, 255 if asymmetric else 127)
    xp = ctx.xp
    scales_d = xp.asarray(scales.astype(np.float32))
    scalar_scale = np.float32(q.scales[0])
    bias_d = None if bias_const is None else xp.asarray(bias_const)

    def run(ins, outs):
        v = ins[0].reshape(rows, depth)
        o = outs[0].reshape(rows, units)
        b = bias_d if bias_d is not None else (
            ins[bias_pos] if bias_pos is not None and len(ins) > bias_pos else None)
        if not bool(xp.any(v != 0)):  # TFLite's zero-input shortcut: bias (+ activation)
            o[...] = 0 if b is None else b
            _apply_clamp(xp, o, clamp)
            return
        if asymmetric:
            qv, sf, _ = quantize_rows_asymmetric(xp, v)
        else:
            qv, sf = quantize_rows_symmetric(xp, v)
        if not per_channel:
            sf = sf * scalar_scale
        acc = matmul(qv).astype(xp.float32)
        if per_channel:
            o[...] = acc * (sf[:, None] * scales_d[None, :])
        else:
            o[...] = acc * sf[:, None]
        if b is not None:
            o += b
        _apply_clamp(xp, o, clamp)
    return run


def prepare_batch_matmul(ctx):
    """Hybrid BATCH_MATMUL (TFLite's EvalHybrid): float32 lhs, constant int8 rhs (zero points
    0; one scale, or one per output column n), float32 output.

    Each lhs row (length K, after adj_x) is quantised on its own, symmetric or asymmetric
    (`asymmetric_quantize_inputs`), with the FULLY_CONNECTED quantisers above. TFLite then
    accumulates raw products in int32, subtracts row_sum(rhs column) * input offset in float32
    (truncating back to int32), and adds scaling factor * total to a zeroed output, the scaling
    factor being input scale * filter scale (per-tensor, a float32 product formed once) or
    input scale * channel scale (per-channel), both float32 products times the total.
    Scales on any axis other than the output's n axis are rejected."""
    lhs, rhs, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(out.type == FLOAT32, f"a hybrid BATCH_MATMUL produces FLOAT32, output is "
                                     f"{dtypes.type_name(out.type)}")
    from .batch_matmul import matmul_geometry
    asymmetric = bool(ctx.options.get("asymmetric_quantize_inputs", False))
    adj_x, adj_y, ls, rs, _m, k, n = matmul_geometry(ctx, lhs, rhs)
    w = np.asarray(ctx.const_value(1, "rhs"), np.int64).reshape(rs)
    w_kn = np.swapaxes(w, -1, -2) if adj_y else w  # [..., K, N]
    q = rhs.quantization
    per_channel = q.scales.size > 1
    n_axis = rhs.rank - (2 if adj_y else 1)
    scales = _filter_scales(ctx, rhs, n, n_axis)
    xp = ctx.xp
    ft = int_gemm.exact_float_type(k, 255 if asymmetric else 127, 128)
    w_d = xp.asarray(w_kn.astype(ft))
    row_sums = xp.asarray(w_kn.sum(axis=-2)[..., None, :].astype(np.float32))  # [..., 1, N]
    scales_d = xp.asarray(scales.astype(np.float32))
    scalar_scale = np.float32(q.scales[0]) if q.scales.size else np.float32(1)
    out_shape = tuple(ctx.output(0).shape)

    def run(ins, outs):
        a = ins[0].reshape(ls)
        if adj_x:
            a = xp.swapaxes(a, -1, -2)
        rows = xp.ascontiguousarray(a).reshape(-1, k)
        if asymmetric:
            qv, sf, zp = quantize_rows_asymmetric(xp, rows)
        else:
            qv, sf = quantize_rows_symmetric(xp, rows)
        lead = a.shape[:-1] + (1,)
        acc = xp.matmul(qv.astype(ft).reshape(a.shape), w_d)  # exact sum w * (q - zp)
        if asymmetric:
            # TFLite: int32 raw sum, minus row_sum * offset in float32, truncated to int32
            zpf = zp.astype(xp.float32).reshape(lead)
            raw = (acc.astype(xp.int64) + zp.reshape(lead) * row_sums.astype(xp.int64))
            acc = xp.trunc(raw.astype(xp.float32) - row_sums * zpf)
        acc = acc.astype(xp.float32)
        sfr = sf.reshape(lead)
        o = outs[0].reshape(out_shape)
        if per_channel:
            xp.multiply(sfr * scales_d, acc, out=o)
        else:
            xp.multiply(sfr * scalar_scale, acc, out=o)
        o += xp.float32(0)  # TFLite adds into a zeroed output: -0 becomes +0
    return run
