"""Convolutions: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV (float32, NHWC).

Prepare works out TFLite's output size and padding, then asks the backend for a kernel built
for that geometry (constant filters are rearranged once, there).
"""

from __future__ import annotations

from .base import FLOAT, activation_range

PADDING = {0: "SAME", 1: "VALID"}


def padding_name(ctx) -> str:
    code = ctx.options.get("padding", 0)
    ctx.require(code in PADDING, f"unknown padding code {code}")
    return PADDING[code]


def strides(ctx) -> tuple:
    sh, sw = ctx.options.get("stride_h", 1), ctx.options.get("stride_w", 1)
    ctx.require(sh >= 1 and sw >= 1, f"strides must be >= 1, got {sh}x{sw}")
    return sh, sw


def dilations(ctx) -> tuple:
    dh = ctx.options.get("dilation_h_factor", 1)
    dw = ctx.options.get("dilation_w_factor", 1)
    ctx.require(dh >= 1 and dw >= 1, f"dilations must be >= 1, got {dh}x{dw}")
    return dh, dw


def conv_geometry(ctx, in_hw, k_hw, stride, dilation):
    """(out_hw, pad_tl) for a forward convolution or pooling window."""
    from ..cpu_fallback import padding as pad
    name = padding_name(ctx)
    out_hw = tuple(pad.out_size(name, i, k, s, d) for i, k, s, d in
                   zip(in_hw, k_hw, stride, dilation))
    ctx.require(all(o > 0 for o in out_hw) or 0 in in_hw,
                f"a {k_hw[0]}x{k_hw[1]} window does not fit the {in_hw[0]}x{in_hw[1]} input "
                f"with {name} padding")
    pad_tl = tuple(pad.pad_before(i, k, s, d, o) for i, k, s, d, o in
                   zip(in_hw, k_hw, stride, dilation, out_hw))
    return out_hw, pad_tl


def conv2d_shapes(ctx, x, w):
    """CONV_2D's input [N, H, W, Cin] and filter [Cout, KH, KW, Cin / groups], checked;
    returns their shapes."""
    ctx.require(x.rank == 4 and w.rank == 4, f"needs 4-D input and filter, got input "
                f"{list(x.shape)} and filter {list(w.shape)}")
    cin, cout, cpg = x.shape[3], w.shape[0], w.shape[3]
    ctx.require(cpg > 0 and cin % cpg == 0 and cout % (cin // cpg or 1) == 0,
                f"input has {cin} channels, filter {list(w.shape)} expects a multiple of {cpg}")
    return x.shape, w.shape


def depthwise_shapes(ctx, x, w):
    """DEPTHWISE_CONV_2D's input [N, H, W, Cin] and filter [1, KH, KW, Cout] (Cout a multiple
    of Cin), checked; returns their shapes."""
    ctx.require(x.rank == 4 and w.rank == 4 and w.shape[0] == 1,
                f"needs a 4-D input and a [1, KH, KW, C] filter, got input {list(x.shape)} and "
                f"filter {list(w.shape)}")
    cin, cout = x.shape[3], w.shape[3]
    # TFLite derives the multiplier from the channel counts (the option can be stale)
    ctx.require(cin > 0 and cout % cin == 0, f"filter has {cout} channels, not a multiple of "
                f"the input's {cin}")
    return x.shape, w.shape


def transpose_conv_shapes(ctx, x, w, out_shape):
    """TRANSPOSE_CONV's input [N, H, W, Cin], filter [Cout, KH, KW, Cin] and output_shape
    value, checked; returns the input and filter shapes and the output shape as ints."""
    ctx.require(x.rank == 4 and w.rank == 4 and out_shape.size == 4,
                f"needs 4-D input, filter and output_shape, got {list(x.shape)}, "
                f"{list(w.shape)}, {out_shape.tolist()}")
    n, cin = x.shape[0], x.shape[3]
    cout, wcin = w.shape[0], w.shape[3]
    ctx.require(wcin == cin, f"filter {list(w.shape)} expects {wcin} input channels, input has "
                f"{cin}")
    on, oh, ow, oc = (int(v) for v in out_shape)
    ctx.require(on == n and oc == cout, f"output_shape {out_shape.tolist()} does not match "
                f"batch {n} / filter channels {cout}")
    return x.shape, w.shape, (on, oh, ow, oc)


def output_geometry(ctx, n, in_hw, k_hw, cout):
    """Strides and dilations from the options, then TFLite's output size and padding; sets
    output 0 to [N, OH, OW, Cout]. Returns (stride, dilation, out_hw, pad_tl)."""
    stride, dil = strides(ctx), dilations(ctx)
    out_hw, pad_tl = conv_geometry(ctx, in_hw, k_hw, stride, dil)
    ctx.set_output_shape(0, (n, *out_hw, cout))
    return stride, dil, out_hw, pad_tl


def transpose_conv_geometry(ctx, out_shape, k_hw):
    """Strides from the options and TFLite's padding for a transposed convolution with this
    output shape; sets output 0 to it. Returns (stride, pad_tl)."""
    from ..cpu_fallback import padding as pad
    stride = strides(ctx)
    name = padding_name(ctx)
    pad_tl = tuple(pad.transpose_conv_pad_before(name, o, k, s) for o, k, s in
                   zip(out_shape[1:3], k_hw, stride))
    ctx.set_output_shape(0, out_shape)
    return stride, pad_tl


def _float_inputs(ctx, n_required):
    ctx.check_types(FLOAT, *range(n_required))
    for i in range(n_required):
        ctx.require(not ctx.input(i).quantization.is_quantized or ctx.input(i).type == 0,
                    "quantized convolutions are not supported yet")
    bias = ctx.optional_input(n_required)
    if bias is not None:
        ctx.check_types(FLOAT, n_required)
    return bias


def _check_bias(ctx, bias, cout):
    if bias is not None:
        ctx.require(bias.size == cout, f"bias has {bias.size} values for {cout} channels")


def bind_kernel(ctx, kernel, w, x_pos, w_pos, bias_pos, residual=False):
    """run() calling `kernel(x, w, bias, out, clamp)`; constant filters were baked in.
    With `residual`, the kernel also takes residual= / residual_clip= and the op offers to
    absorb a following ADD (ctx.residual_epilogue)."""
    clamp = activation_range(ctx)
    const_w = w.value is not None
    n_ins = len(ctx.inputs)

    def run(ins, outs):
        kernel(ins[x_pos], None if const_w else ins[w_pos],
               ins[bias_pos] if n_ins > bias_pos else None, outs[0], clamp)

    def with_residual(add, _first):
        if add.kind != "float":
            return None

        def run_fused(ins, outs):  # ins: the op's own, then the ADD's other operand
            kernel(ins[x_pos], None if const_w else ins[w_pos],
                   ins[bias_pos] if n_ins > bias_pos else None, outs[0], clamp,
                   residual=ins[n_ins], residual_clip=add.clamp)
        return run_fused

    if residual:
        ctx.residual_epilogue = with_residual
    return run


# The converter's dynamic-range quantisation leaves filters under 1024 weights in float.
_IN_ORDER_MAX_WEIGHTS = 1024


def prepare_conv2d(ctx):
    if ctx.input(0).type in (3, 7, 9) or ctx.input(1).type in (3, 9):  # quantized, hybrid
        from . import quantized_conv
        return quantized_conv.prepare_conv2d(ctx)
    x, w = ctx.input(0), ctx.input(1)
    bias = _float_inputs(ctx, 2)
    (n, h, wd, cin), (cout, kh, kw, cpg) = conv2d_shapes(ctx, x, w)
    _check_bias(ctx, bias, cout)
    stride, dil, out_hw, pad_tl = output_geometry(ctx, n, (h, wd), (kh, kw), cout)
    make = ctx.backend.kernels.make_conv2d
    # dynamic-range models amplify last-bit differences (see Runtime.has_hybrid_ops): their
    # small float convolutions, the ones the converter leaves unquantised, sum in TFLite's order
    in_order = getattr(ctx.backend.kernels, "make_conv2d_in_order", None)
    if (in_order is not None and cpg == cin and w.size < _IN_ORDER_MAX_WEIGHTS
            and ctx.executor.runtime.has_hybrid_ops):
        make = in_order
    kernel = make(x.shape, w.shape, stride, dil, pad_tl, out_hw, weights=w.value)
    residual = make is not in_order and getattr(ctx.backend.kernels, "fuses_residual_add", False)
    return bind_kernel(ctx, kernel, w, 0, 1, 2, residual)


def prepare_depthwise_conv2d(ctx):
    if ctx.input(0).type in (3, 7, 9) or ctx.input(1).type in (3, 9):  # quantized, hybrid
        from . import quantized_conv
        return quantized_conv.prepare_depthwise_conv2d(ctx)
    x, w = ctx.input(0), ctx.input(1)
    bias = _float_inputs(ctx, 2)
    (n, h, wd, cin), (_, kh, kw, cout) = depthwise_shapes(ctx, x, w)
    mult = cout // cin
    _check_bias(ctx, bias, cout)
    stride, dil, out_hw, pad_tl = output_geometry(ctx, n, (h, wd), (kh, kw), cout)
    kernel = ctx.backend.kernels.make_depthwise_conv2d(x.shape, w.shape, stride, dil, pad_tl,
                                                       out_hw, mult, weights=w.value)
    return bind_kernel(ctx, kernel, w, 0, 1, 2)


def prepare_transpose_conv(ctx):
    if len(ctx.inputs) > 2 and ctx.input(2).type in (3, 7, 9):  # quantized kernels
        from . import quantized_conv
        return quantized_conv.prepare_transpose_conv(ctx)
    out_shape = ctx.const_value(0, "output_shape")
    w, x = ctx.input(1), ctx.input(2)
    ctx.check_types(FLOAT, 1, 2)
    bias = ctx.optional_input(3)
    _, (cout, kh, kw, _), out = transpose_conv_shapes(ctx, x, w, out_shape)
    _check_bias(ctx, bias, cout)
    stride, pad_tl = transpose_conv_geometry(ctx, out, (kh, kw))
    kernel = ctx.backend.kernels.make_transpose_conv2d(x.shape, w.shape, out, stride, pad_tl,
                                                       weights=w.value)
    return bind_kernel(ctx, kernel, w, 2, 1, 3)


KERNELS = {
    "CONV_2D": prepare_conv2d,
    "DEPTHWISE_CONV_2D": prepare_depthwise_conv2d,
    "TRANSPOSE_CONV": prepare_transpose_conv,
}
