"""SOFTMAX (with beta) and LOG_SOFTMAX over the last axis, any rank >= 1.

Same steps as TFLite's float kernels: subtract the row maximum (stability), scale by beta,
exp, sum, divide; LOG_SOFTMAX is (x - max) - log(sum(exp(x - max))). float32 runs the
backend's `kernels.make_softmax` (NumPy in cpu_fallback/softmax.py, cuda_kernels/softmax.cu on
a GPU) when it has one; SOFTMAX also runs on float16 here (in float32, rounded once).
Agreement with LiteRT: <= 6 ulp (its exp is Eigen's).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes


def _prepare(ctx, allowed, log: bool):
    x, out = ctx.input(0), ctx.output(0)
    if not log and x.type in (3, 7, 9):  # uint8 / int16 / int8: the quantized kernels
        from . import quantized_softmax
        return quantized_softmax.prepare_softmax(ctx)
    if log and x.type in (3, 9):  # uint8 / int8
        from .quantized_misc import prepare_log_softmax
        return prepare_log_softmax(ctx)
    ctx.check_types(allowed)
    ctx.require(not x.quantization.is_quantized, "quantized inputs are not supported yet")
    ctx.require(out.type == x.type, f"output is {dtypes.type_name(out.type)}, input "
                                    f"{dtypes.type_name(x.type)}")
    ctx.require(x.rank >= 1, "input must have at least one dimension")
    ctx.set_output_shape(0, x.shape)
    xp = ctx.xp
    if x.size == 0:
        return lambda ins, outs: None
    # TFLite reads beta from SoftmaxOptions; a missing table means 0 (its params start zeroed)
    beta = None if log else np.float32(ctx.options.get("beta", 0.0))
    half = x.type == 1
    make = None if half else getattr(getattr(ctx.backend, "kernels", None), "make_softmax", None)
    if make is not None:  # float32: the backend's kernel (cpu_fallback/softmax.py, softmax.cu)
        cols = x.shape[-1]
        kernel = make(x.size // cols, cols, beta, log)

        def run_kernel(ins, outs):
            kernel(ins[0], outs[0])
        return run_kernel

    def run(ins, outs):
        v = ins[0].astype(xp.float32) if half else ins[0]
        o = xp.empty(v.shape, xp.float32) if half else outs[0]
        xp.subtract(v, xp.max(v, axis=-1, keepdims=True), out=o)
        if log:
            s = xp.sum(xp.exp(o), axis=-1, keepdims=True)
            o -= xp.log(s, out=s)
        else:
            if beta != 1:
                o *= beta
            xp.exp(o, out=o)
            o /= xp.sum(o, axis=-1, keepdims=True)
        if half:
            outs[0][...] = o
    return run


KERNELS = {
    "SOFTMAX": lambda ctx: _prepare(ctx, frozenset({0, 1}), log=False),
    "LOG_SOFTMAX": lambda ctx: _prepare(ctx, frozenset({0}), log=True),
}
