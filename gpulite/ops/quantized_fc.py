"""Quantised FULLY_CONNECTED, bit-exact with TFLite's x86 kernels.

Forms:
- uint8 x uint8 -> uint8 (per-tensor, weight zero point allowed), and uint8 -> int16 output;
- int8 x int8 -> int8, per-tensor (weight zero point allowed) or per-channel (zero points 0);
- int16 x int8 -> int16 (zero points 0): with zero points 0 and an int32 bias TFLite runs ruy
  (`MultiplyByQuantizedMultiplier`); otherwise (int64 bias) its reference kernel rescales in
  double precision: (int32) round(double(acc) * in_scale * filter_scale / out_scale);
- int16 x int16 -> int16: 64-bit accumulators and the 64-bit rescale.

The weights must be constant; they are offset by their zero point and laid out for an exact
float BLAS GEMM once, at prepare.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..cpu_fallback import int_gemm
from . import quantized_common as qc
from .fully_connected import output_shape


def _kernel(ctx, name):
    """The backend's exact-integer kernel factory when it has one (a CUDA backend), else the
    NumPy one in cpu_fallback.int_gemm."""
    return getattr(ctx.backend.kernels, name, None) or getattr(int_gemm, name)

UINT8, INT8, INT16, INT32, INT64 = qc.UINT8, qc.INT8, qc.INT16, qc.INT32, qc.INT64


def prepare_fully_connected(ctx):
    if ctx.input(0).type == qc.FLOAT32:  # float input, int8 weights: dynamic range
        from . import quantized_hybrid
        return quantized_hybrid.prepare_fully_connected(ctx)
    if ctx.options.get("weights_format", 0) == 1:
        return _prepare_shuffled(ctx)
    x, w, out = ctx.input(0), ctx.input(1), ctx.output(0)
    combos = {(UINT8, UINT8, UINT8), (UINT8, UINT8, INT16), (INT8, INT8, INT8),
              (INT16, INT8, INT16), (INT16, INT16, INT16)}
    combo = (x.type, w.type, out.type)
    ctx.require(combo in combos, "quantized FULLY_CONNECTED takes input/weights/output "
                "uint8/uint8/uint8, uint8/uint8/int16, int8/int8/int8, int16/int8/int16 or "
                "int16/int16/int16, got " + "/".join(dtypes.type_name(t).lower() for t in combo))
    ctx.require(ctx.options.get("weights_format", 0) == 0,
                f"unknown weights_format {ctx.options.get('weights_format')}")
    ctx.require(w.rank == 2, f"weights must be 2-D [units, depth], got {list(w.shape)}")
    w_val = ctx.const_value(1, "weights")
    units, depth = w.shape
    rows, out_shape = output_shape(ctx, x, units, depth)
    ctx.set_output_shape(0, out_shape)

    in_scale, in_zp = qc.scale_zp(ctx, x, "input")
    out_scale, out_zp = qc.scale_zp(ctx, out, "output")
    qc.check_zero_point(ctx, x, in_zp, "input")
    qc.check_zero_point(ctx, out, out_zp, "output")
    scales, w_zps = qc.per_channel_scales(ctx, w, units, 0)
    per_channel = w.quantization.scales.size > 1
    if per_channel:
        ctx.require(x.type in (INT8, INT16), "per-channel weights need int8 or int16 inputs")
        w_zps = np.zeros_like(w_zps)  # TFLite's per-channel kernels assume symmetric weights
        real = float(in_scale) * scales.astype(np.float64) / float(out_scale)
    else:
        # GetQuantizedConvolutionMultipler: the input*filter product is a float32 product
        product = float(np.float32(in_scale * scales[0]))
        real = np.full(units, product / float(out_scale))
        _bias_scale_check(ctx, product, out_scale)
    if x.type == INT16:
        ctx.require(in_zp == 0 and out_zp == 0, f"int16 FULLY_CONNECTED needs zero points of 0 "
                                                f"(input {in_zp}, output {out_zp})")

    bias = ctx.optional_input(2)
    bias_const = None
    if bias is not None:
        allowed = (INT32, INT64) if x.type == INT16 else (INT32,)
        ctx.require(bias.type in allowed, f"bias is {dtypes.type_name(bias.type)}; expected "
                    + " or ".join(dtypes.type_name(t) for t in allowed))
        ctx.require(bias.size == units, f"bias has {bias.size} values for {units} units")
        if bias.value is not None:
            bias_const = np.asarray(bias.value, np.int64).reshape(units)
    qbt = ctx.options.get("quantized_bias_type", 0)
    if x.type == INT16 and qbt not in (0, INT32, INT64):
        ctx.fail(f"quantized_bias_type must be INT32 or INT64, got {qbt}")
    if x.type == INT16 and qbt in (INT32, INT64) and bias is not None:
        ctx.require(bias.type == qbt, f"bias is {dtypes.type_name(bias.type)} but "
                                      f"quantized_bias_type says {dtypes.type_name(qbt)}")

    m, s = qc.multipliers(real)
    lo, hi = qc.activation_range(ctx, out)
    if combo == (INT16, INT16, INT16):
        rounding = "int64"
    elif x.type == INT16:
        int64_bias = qbt == INT64 or (bias is not None and bias.type == INT64)
        # TFLite's FullyConnectedInt16 reads the bias as int64 unless quantized_bias_type is
        # INT32; an int32 bias with the type unset would be misread there, so refuse it
        if bias is not None and bias.type == INT32:
            ctx.require(qbt == INT32, "an int16 FULLY_CONNECTED with an INT32 bias needs "
                                      "quantized_bias_type INT32")
        rounding = "double" if int64_bias or w_zps.any() else "up"
    else:
        rounding = "up"

    w_centred = np.asarray(w_val, np.int64) - w_zps.reshape(units, 1)
    # the reference kernels' double rescale uses the double product of the scales
    real_double = float(in_scale) * scales.astype(np.float64) / float(out_scale)
    stage = qc.make_output_stage(ctx.xp, m, s, out_zp, lo, hi, rounding, real=real_double)
    make = _kernel(ctx, "make_int_matmul")
    matmul_args = (w_centred.T, int_gemm.input_absmax(x.dtype, in_zp), in_zp)
    xp = ctx.xp
    requant = qc.device_requant(ctx, stage, bias_const, None if bias is None else 2)
    if requant is not None:
        # a device backend: the GEMM's epilogue writes the requantised output
        fused = make(*matmul_args, requant=requant)

        def run_fused(ins, outs):
            fused(ins[0].reshape(rows, depth), outs[0].reshape(rows, units))

        qc.offer_pair_add(ctx, lambda ins, out, pair, residual: fused(
            ins[0].reshape(rows, depth), out.reshape(rows, units),
            add=(pair, residual.reshape(rows, units))))
        return run_fused
    matmul = make(*matmul_args)
    bias_d = None if bias_const is None else xp.asarray(bias_const)  # on the device for CUDA

    def run(ins, outs):
        acc = matmul(ins[0].reshape(rows, depth)).astype(xp.int64, copy=False)
        if bias_d is not None:
            acc += bias_d
        elif len(ins) > 2 and ins[2] is not None:
            acc += ins[2].astype(xp.int64)
        stage(acc, outs[0].reshape(rows, units))
    return run


def _prepare_shuffled(ctx):
    """FULLY_CONNECTED with weights_format SHUFFLED4x16INT8 (TFLite's ShuffledFullyConnected):
    uint8 input, uint8 weights stored shuffled and sign-flipped, int32 bias, int16 output, and a
    second output, the uint8 workspace the kernel writes the sign-flipped, shuffled input to.

    The weights [units, depth] are stored as blocks: for each group of 4 units, for each group of
    16 depth values, the 4x16 block row by row, every byte XOR 0x80 (so reading it as int8 gives
    the value minus 128). The kernel takes the input and weight zero points as 128 whatever the
    tensors say and adds no output zero point; it handles 1 or 4 rows only, depth a multiple of 16
    and units a multiple of 4. The rescale is MultiplyByQuantizedMultiplier with
    input_scale * weights_scale (a float32 product) / output_scale, saturated to int16; the fused
    activation is ignored, as in LiteRT's (optimized) kernel.
    """
    x, w, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(len(ctx.outputs) == 2, f"SHUFFLED4x16INT8 weights need 2 outputs (the result "
                                       f"and the input workspace), got {len(ctx.outputs)}")
    ctx.require(x.type == UINT8 and w.type == UINT8 and out.type == INT16,
                "SHUFFLED4x16INT8 weights take a uint8 input, uint8 weights and an int16 "
                "output, got " + "/".join(dtypes.type_name(t).lower()
                                          for t in (x.type, w.type, out.type)))
    ws = ctx.output(1)
    ctx.require(ws.type == UINT8, f"the shuffled input workspace (output 1) must be uint8, got "
                                  f"{dtypes.type_name(ws.type)}")
    ctx.require(w.rank == 2, f"weights must be 2-D [units, depth], got {list(w.shape)}")
    w_val = np.asarray(ctx.const_value(1, "weights"), np.uint8)
    units, depth = w.shape
    ctx.require(depth % 16 == 0 and units % 4 == 0, f"shuffled weights need a depth that is a "
                f"multiple of 16 and units a multiple of 4, got {list(w.shape)}")
    rows, out_shape = output_shape(ctx, x, units, depth)
    ctx.require(rows in (1, 4), f"shuffled FULLY_CONNECTED handles 1 or 4 input rows, got {rows}")
    ctx.set_output_shape(0, out_shape)
    ctx.require(ws.size >= rows * depth, f"the workspace (output 1) holds {ws.size} bytes; it "
                                         f"needs {rows * depth}")
    bias = ctx.optional_input(2)
    ctx.require(bias is not None, "shuffled FULLY_CONNECTED needs a bias")
    ctx.require(bias.type == INT32 and bias.size == units,
                f"bias must be int32 with {units} values, got {dtypes.type_name(bias.type)} "
                f"with {bias.size}")
    in_scale, _ = qc.scale_zp(ctx, x, "input")
    w_scale, _ = qc.scale_zp(ctx, w, "weights")
    out_scale, _ = qc.scale_zp(ctx, out, "output")
    product = float(np.float32(in_scale * w_scale))
    _bias_scale_check(ctx, product, out_scale)
    m, s = qc.multipliers(np.full(units, product / float(out_scale)))
    qc.activation_range(ctx, out)  # validated, but LiteRT's optimized kernel ignores it:
    lo, hi = -32768, 32767  # it saturates to int16 only (measured: RELU/RELU6 give negatives)

    # undo the layout: [units/4, depth/16, 4, 16] -> [units, depth], int8 view = value - 128
    signed = w_val.view(np.int8).astype(np.int64)
    w_plain = signed.reshape(units // 4, depth // 16, 4, 16).transpose(0, 2, 1, 3)
    w_plain = w_plain.reshape(units, depth)
    make = _kernel(ctx, "make_int_matmul")
    matmul = make(w_plain.T, int_gemm.input_absmax(np.uint8, 128), 128)
    stage = qc.make_output_stage(ctx.xp, m, s, 0, lo, hi, "away")
    bias_const = None if bias.value is None else np.asarray(bias.value, np.int64).reshape(units)
    xp = ctx.xp
    bias_d = None if bias_const is None else xp.asarray(bias_const)
    ws_size = ws.size

    def run(ins, outs):
        xin = ins[0].reshape(rows, depth)
        flat_ws = outs[1].reshape(ws_size)[:rows * depth]
        if rows == 1:
            xp.bitwise_xor(xin.reshape(depth), 0x80, out=flat_ws)
        else:  # 16-value chunks of the 4 rows interleaved
            blocks = xin.reshape(4, depth // 16, 16).transpose(1, 0, 2)
            xp.bitwise_xor(blocks, 0x80, out=flat_ws.reshape(depth // 16, 4, 16))
        acc = matmul(xin).astype(xp.int64, copy=False)
        acc += bias_d if bias_d is not None else ins[2].astype(xp.int64)
        stage(acc, outs[0].reshape(rows, units))
    return run


def _bias_scale_check(ctx, product, out_scale):
    """GetQuantizedConvolutionMultipler refuses a bias scale far from input*filter scale."""
    bias = ctx.optional_input(2)
    if bias is None or not bias.quantization.is_quantized:
        return
    diff = abs(product - float(np.float32(bias.quantization.scales[0])))
    ctx.require(diff / float(out_scale) <= 0.02, f"bias scale {bias.quantization.scales[0]} is "
                f"too far from input scale * filter scale ({product})")


# -- BATCH_MATMUL ---------------------------------------------------------------------------------


def prepare_batch_matmul(ctx):
    """Quantised BATCH_MATMUL as TFLite's reference kernel computes it: (lhs - zp) @ (rhs - zp)
    exactly (int32 accumulators for int8, int64 for int16), then MultiplyByQuantizedMultiplier
    (the int64 form for int16) with lhs_scale * rhs_scale (a float32 product) / out_scale,
    + output zero point, clamped to the type. int8 x int8 -> int32 writes the raw sums of raw
    products (TFLite ignores the zero points there).
    The hybrid form (float lhs, int8 rhs) is quantized_hybrid.prepare_batch_matmul."""
    lhs, rhs, out = ctx.input(0), ctx.input(1), ctx.output(0)
    combos = {(INT8, INT8, INT8), (INT8, INT8, INT32), (INT16, INT16, INT16),
              (INT16, INT8, INT16)}
    combo = (lhs.type, rhs.type, out.type)
    ctx.require(combo in combos, "quantized BATCH_MATMUL takes lhs/rhs/output int8/int8/int8, "
                "int8/int8/int32, int16/int16/int16 or int16/int8/int16, got " +
                "/".join(dtypes.type_name(t).lower() for t in combo))
    from .batch_matmul import matmul_geometry
    adj_x, adj_y, _ls, _rs, _m, k_lhs, _n = matmul_geometry(ctx, lhs, rhs)
    sl, zl = qc.scale_zp(ctx, lhs, "lhs")
    sr, zr = qc.scale_zp(ctx, rhs, "rhs")
    if lhs.type == INT16:
        ctx.require(zl == 0 and zr == 0, "int16 BATCH_MATMUL needs zero points of 0")
    xp = ctx.xp
    # exactness of float sums: products of centred values, K of them
    a_max = int_gemm.input_absmax(lhs.dtype, zl)
    b_max = int_gemm.input_absmax(rhs.dtype, zr)
    ft = int_gemm.exact_float_type(k_lhs, a_max, b_max)
    raw_out = out.type == INT32
    if raw_out:  # TFLite's int8 -> int32 kernel multiplies the raw values (no zero points)
        zl = zr = 0
    else:
        so, zo = qc.scale_zp(ctx, out, "output")
        if lhs.type == INT16:
            ctx.require(zo == 0, "int16 BATCH_MATMUL needs zero points of 0")
        real = float(np.float32(sl * sr)) / float(so)
        m_, s_ = qc.multipliers(real)
        lo, hi = fp_type_range(out.type)
        stage = qc.make_output_stage(xp, m_, s_, zo, lo, hi,
                                     "int64" if lhs.type == INT16 else "away")
    out_shape = tuple(ctx.output(0).shape)

    def run(ins, outs):
        a = xp.subtract(ins[0], zl, dtype=ft)
        b = xp.subtract(ins[1], zr, dtype=ft)
        if adj_x:
            a = xp.swapaxes(a, -1, -2)
        if adj_y:
            b = xp.swapaxes(b, -1, -2)
        acc = xp.matmul(a, b).astype(xp.int64).reshape(out_shape)
        if raw_out:
            outs[0][...] = acc
        else:
            stage(acc, outs[0])
    return run


def fp_type_range(type_code):
    from .. import fixed_point as fp
    return fp.TYPE_RANGES[type_code]
