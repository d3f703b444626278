"""Quantised CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV (NHWC), bit-exact with TFLite.

Forms (as TFLite's kernels accept them):
- int8 activations, int8 filter (per-channel or per-tensor scales, zero points 0), int32 bias;
- uint8 activations, uint8 filter (per-tensor, any zero points), int32 bias (legacy);
- int16 activations (zero point 0), int8 filter, int64 bias (or int32 with
  quantized_bias_type INT32) - "16x8".

The integer accumulators come from exact float BLAS (`cpu_fallback.int_gemm`), then TFLite's
output stage: + bias, rescale by input_scale*filter_scale/output_scale, + output zero point,
clamp to the fused activation's range. The rescaling's rounding is the one TFLite's x86 pip
build uses for each kernel (see `fixed_point`): `MultiplyByQuantizedMultiplier` (ties up) for
ruy's GEMM output stage, NEON main loops with scalar tails, the 64-bit form for 16x8 with an
int64 bias (see `_output_stage`).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..cpu_fallback import int_gemm
from . import quantized_common as qc
from .conv import (conv2d_shapes, depthwise_shapes, output_geometry, transpose_conv_geometry,
                   transpose_conv_shapes)


def _kernel(ctx, name):
    """The backend's exact-integer kernel factory when it has one (a CUDA backend), else the
    NumPy one in cpu_fallback.int_gemm."""
    return getattr(ctx.backend.kernels, name, None) or getattr(int_gemm, name)

UINT8, INT8, INT16, INT32, INT64 = qc.UINT8, qc.INT8, qc.INT16, qc.INT32, qc.INT64


def _check_io(ctx, x_pos, w_pos):
    x, w, out = ctx.input(x_pos), ctx.input(w_pos), ctx.output(0)
    ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                    f"{dtypes.type_name(x.type)}; they must match")
    want_w = UINT8 if x.type == UINT8 else INT8
    ctx.require(w.type == want_w, f"{dtypes.type_name(x.type)} input needs a "
                                  f"{dtypes.type_name(want_w)} filter, got "
                                  f"{dtypes.type_name(w.type)}")
    w_val = ctx.const_value(w_pos, "filter")
    in_scale, in_zp = qc.scale_zp(ctx, x, "input")
    out_scale, out_zp = qc.scale_zp(ctx, out, "output")
    qc.check_zero_point(ctx, x, in_zp, "input")
    qc.check_zero_point(ctx, out, out_zp, "output")
    if x.type == INT16:
        ctx.require(in_zp == 0 and out_zp == 0, f"int16 convolutions need zero points of 0 "
                                                f"(input {in_zp}, output {out_zp})")
    return x, w, out, w_val, (in_scale, in_zp), (out_scale, out_zp)


def _bias(ctx, pos, x, channels, int16_types=(INT32, INT64)):
    """(constant int64 bias or None, bias position or None, bias type), checked (also for the
    int16 kernels' quantized_bias_type, see _check_int16_bias_type)."""
    bias = ctx.optional_input(pos)
    if bias is None:
        return None, None, None
    if x.type == INT16 and int16_types == (INT64,):
        ctx.require(bias.type == INT64, f"bias is {dtypes.type_name(bias.type)}; int16 "
                                        f"depthwise convolutions take INT64")
    elif x.type == INT16:
        ctx.require(bias.type in (INT32, INT64), f"bias is {dtypes.type_name(bias.type)}; "
                                                 f"int16 convolutions take INT32 or INT64")
    else:
        ctx.require(bias.type == INT32, f"bias is {dtypes.type_name(bias.type)}; quantized "
                                        f"convolutions take INT32")
    ctx.require(bias.size == channels, f"bias has {bias.size} values for {channels} channels")
    if bias.quantization.is_quantized and bias.quantization.zero_points.size:
        ctx.require(not np.any(bias.quantization.zero_points), "bias zero point must be 0")
    value = None if bias.value is None else np.asarray(bias.value, np.int64).reshape(channels)
    _check_int16_bias_type(ctx, x, bias.type)
    return value, pos, bias.type


def _filter_params(ctx, x, w, channels, axis, in_scale, out_scale):
    """(per-channel multipliers, shifts, filter zero points [C])."""
    scales, zps = qc.per_channel_scales(ctx, w, channels, axis)
    if x.type == UINT8:
        ctx.require(w.quantization.scales.size == 1, "uint8 convolutions take a per-tensor "
                                                     "filter scale")
        # GetQuantizedConvolutionMultipler: the input*filter product is a float32 product
        product = float(np.float32(in_scale * scales[0]))
        real = np.full(channels, product / float(out_scale))
    else:
        ctx.require(not np.any(zps), f"int8 filters must have zero points of 0, got "
                                     f"{sorted(set(zps.tolist()))[:4]}")
        real = float(in_scale) * scales.astype(np.float64) / float(out_scale)
    m, s = qc.multipliers(real)
    return m, s, zps


def _uint8_bias_scale_check(ctx, bias_pos, in_scale, w_scale, out_scale):
    """TFLite refuses a uint8 conv whose bias scale strays from input*filter scale."""
    if bias_pos is None:
        return
    b = ctx.input(bias_pos)
    if not b.quantization.is_quantized:
        return
    product = float(np.float32(in_scale * w_scale))
    diff = abs(product - float(np.float32(b.quantization.scales[0])))
    ctx.require(diff / float(out_scale) <= 0.02, f"bias scale {b.quantization.scales[0]} is too "
                f"far from input scale * filter scale ({product})")


def _finish(ctx, kernel, stage, bias_const, bias_pos, x_pos, fused):
    xp = ctx.xp
    # NumPy with a constant (or no) bias: the accumulators stay floats and the "up" rescaling
    # runs in float64, exactly (qc.make_float_up_stage), instead of in int64 passes
    float_acc = getattr(kernel, "float_acc", None)
    up_params = getattr(stage, "up_params", None)
    if xp is np and float_acc is not None and up_params is not None \
            and (bias_pos is None or bias_const is not None):
        cout = ctx.output(0).shape[-1]
        float_stage = qc.make_float_up_stage(up_params, bias_const, cout)
        if float_stage is not None:
            def run_float(ins, outs):
                float_stage(float_acc(ins[x_pos]), outs[0])
            return run_float

    if fused:
        # a device backend's kernel whose epilogue applies the output stage (_make_kernel)
        def run_fused(ins, outs):
            kernel(ins[x_pos], outs[0])

        qc.offer_pair_add(ctx, lambda ins, out, pair, residual:
                          kernel(ins[x_pos], out, add=(pair, residual)))
        return run_fused

    bias_d = None if bias_const is None else xp.asarray(bias_const)  # on the device for CUDA

    def run(ins, outs):
        acc = kernel(ins[x_pos]).astype(xp.int64, copy=False)
        if bias_d is not None:
            acc += bias_d
        elif bias_pos is not None and len(ins) > bias_pos and ins[bias_pos] is not None:
            acc += ins[bias_pos].astype(xp.int64)
        stage(acc, outs[0])
    return run


def _make_kernel(ctx, name, args, stage, bias_const, bias_pos):
    """(kernel, fused): the backend's exact-integer kernel for `args`; on a device backend
    that can, with the output stage (and constant bias) fused into its epilogue, and then
    `fused` is True and kernel(x, out) writes the op's output."""
    make = _kernel(ctx, name)
    requant = qc.device_requant(ctx, stage, bias_const, bias_pos)
    if requant is None:
        return make(*args), False
    return make(*args, requant=requant), True


def _output_stage(ctx, kind, x, bias_type, m, s, out_zp, lo, hi, out_shape, groups=1):
    """TFLite's output stage for this kernel on the x86 pip build (NEON code via NEON_2_SSE;
    see `fixed_point`), probed on LiteRT 2.3 with exact ties:
    - 16x8 with an int64 bias: the 64-bit form (reference kernels);
    - CONV_2D: ruy's GEMM output stage (ties up); grouped: the reference kernel (ties away);
    - DEPTHWISE_CONV_2D uint8: gemmlowp (ties away); int8: `optimized_ops::Quantize` - blocks of
      8 channels in NEON (ties up), the remaining channels scalar (ties away);
    - TRANSPOSE_CONV int8 / int16: the same per-channel `Quantize`; uint8: the per-tensor one,
      16 values at a time in NEON, the tail (total size % 16) scalar."""
    xp = ctx.xp
    if x.type == INT16 and not (bias_type == INT32
                                and ctx.options.get("quantized_bias_type", 0) == INT32):
        return qc.make_output_stage(xp, m, s, out_zp, lo, hi, "int64")
    if kind == "conv":
        return qc.make_output_stage(xp, m, s, out_zp, lo, hi, "up" if groups == 1 else "away")
    if kind == "depthwise" and x.type == UINT8:
        return qc.make_output_stage(xp, m, s, out_zp, lo, hi, "away")
    if kind == "transpose" and x.type == UINT8:
        n = int(np.prod(out_shape))
        up = (np.arange(n) < n - n % 16).reshape(out_shape)
        return qc.make_output_stage(xp, m, s, out_zp, lo, hi, "mixed", up_where=up)
    up = qc.neon_channel_split(out_shape[-1], 8)
    return qc.make_output_stage(xp, m, s, out_zp, lo, hi, "mixed", up_where=up)


def _check_int16_bias_type(ctx, x, bias_type):
    if x.type == INT16 and bias_type == INT32:
        ctx.require(ctx.options.get("quantized_bias_type", 0) == INT32,
                    "an int16 convolution with an INT32 bias needs quantized_bias_type INT32 "
                    "(TFLite reads the bias as INT64 otherwise)")


def prepare_conv2d(ctx):
    if ctx.input(0).type == qc.FLOAT32:  # float input, int8 filter: dynamic range
        from . import quantized_hybrid
        return quantized_hybrid.prepare_conv2d(ctx)
    x, w, out, w_val, (in_scale, in_zp), (out_scale, out_zp) = _check_io(ctx, 0, 1)
    (n, h, wd, cin), (cout, kh, kw, cpg) = conv2d_shapes(ctx, x, w)
    bias_const, bias_pos, bias_type = _bias(ctx, 2, x, cout)
    m, s, w_zps = _filter_params(ctx, x, w, cout, 0, in_scale, out_scale)
    if x.type == UINT8:
        _uint8_bias_scale_check(ctx, bias_pos, in_scale, w.quantization.scales[0], out_scale)
    stride, dil, out_hw, pad_tl = output_geometry(ctx, n, (h, wd), (kh, kw), cout)
    lo, hi = qc.activation_range(ctx, out)
    w_centred = np.asarray(w_val, np.int64) - w_zps.reshape(cout, 1, 1, 1)
    # TFLite's 16x8 reference kernel ignores the input zero point (it must be 0 anyway)
    stage = _output_stage(ctx, "conv", x, bias_type, m, s, out_zp, lo, hi, out.shape,
                          groups=cin // cpg)
    kernel, fused = _make_kernel(ctx, "make_int_conv2d",
                          (x.shape, w_centred, stride, dil, pad_tl, out_hw,
                           int_gemm.input_absmax(x.dtype, in_zp), in_zp),
                          stage, bias_const, bias_pos)
    return _finish(ctx, kernel, stage, bias_const, bias_pos, 0, fused)


def prepare_depthwise_conv2d(ctx):
    if ctx.input(0).type == qc.FLOAT32:  # float input, int8 filter: dynamic range
        from . import quantized_hybrid
        return quantized_hybrid.prepare_depthwise_conv2d(ctx)
    x, w, out, w_val, (in_scale, in_zp), (out_scale, out_zp) = _check_io(ctx, 0, 1)
    (n, h, wd, cin), (_, kh, kw, cout) = depthwise_shapes(ctx, x, w)
    bias_const, bias_pos, bias_type = _bias(ctx, 2, x, cout, int16_types=(INT64,))
    m, s, w_zps = _filter_params(ctx, x, w, cout, 3, in_scale, out_scale)
    if x.type == UINT8:
        _uint8_bias_scale_check(ctx, bias_pos, in_scale, w.quantization.scales[0], out_scale)
    stride, dil, out_hw, pad_tl = output_geometry(ctx, n, (h, wd), (kh, kw), cout)
    lo, hi = qc.activation_range(ctx, out)
    w_centred = np.asarray(w_val, np.int64) - w_zps.reshape(1, 1, 1, cout)
    stage = _output_stage(ctx, "depthwise", x, bias_type, m, s, out_zp, lo, hi, out.shape)
    kernel, fused = _make_kernel(ctx, "make_int_depthwise_conv2d",
                          (x.shape, w_centred, stride, dil, pad_tl, out_hw,
                           int_gemm.input_absmax(x.dtype, in_zp), in_zp),
                          stage, bias_const, bias_pos)
    return _finish(ctx, kernel, stage, bias_const, bias_pos, 0, fused)


def prepare_transpose_conv(ctx):
    out_shape = ctx.const_value(0, "output_shape")
    x, w, out, w_val, (in_scale, in_zp), (out_scale, out_zp) = _check_io(ctx, 2, 1)
    _, (cout, kh, kw, _), full_out = transpose_conv_shapes(ctx, x, w, out_shape)
    bias_const, bias_pos, bias_type = _bias(ctx, 3, x, cout)
    m, s, w_zps = _filter_params(ctx, x, w, cout, 0, in_scale, out_scale)
    stride, pad_tl = transpose_conv_geometry(ctx, full_out, (kh, kw))
    lo, hi = qc.activation_range(ctx, out)
    w_centred = np.asarray(w_val, np.int64) - w_zps.reshape(cout, 1, 1, 1)
    stage = _output_stage(ctx, "transpose", x, bias_type, m, s, out_zp, lo, hi, out.shape)
    kernel, fused = _make_kernel(ctx, "make_int_transpose_conv2d",
                          (x.shape, w_centred, full_out, stride, pad_tl,
                           int_gemm.input_absmax(x.dtype, in_zp), in_zp),
                          stage, bias_const, bias_pos)
    return _finish(ctx, kernel, stage, bias_const, bias_pos, 2, fused)
