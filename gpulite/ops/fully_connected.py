"""FULLY_CONNECTED (float32): out = x · Wᵀ + bias, with TFLite's shape rules."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from . import sparse
from .base import FLOAT, activation_range, clip_ufunc

FLOAT32, INT8 = 0, 9


def output_shape(ctx, x, units, depth):
    """(rows, output shape) of FULLY_CONNECTED in every form: the input split into rows of
    `depth`, the output [rows, units], or x's leading dims + [units] with keep_num_dims."""
    ctx.require(depth > 0 and x.size % depth == 0,
                f"input {list(x.shape)} cannot be split into rows of {depth} (the weights' "
                f"depth)")
    rows = x.size // depth
    if ctx.options.get("keep_num_dims", False):
        ctx.require(x.shape[-1] == depth, f"keep_num_dims needs the input's last dimension "
                    f"({x.shape[-1]}) to equal the weights' depth ({depth})")
        return rows, (*x.shape[:-1], units)
    return rows, (rows, units)


def prepare_fully_connected(ctx):
    _sparse_weights(ctx)
    if ctx.input(0).type in (3, 7, 9) or ctx.input(1).type in (3, 9):  # quantized, hybrid
        from . import quantized_fc
        return quantized_fc.prepare_fully_connected(ctx)
    x, w = ctx.input(0), ctx.input(1)
    ctx.check_types(FLOAT, 0, 1)
    ctx.require(not x.quantization.is_quantized and not w.quantization.is_quantized,
                "quantized and hybrid FULLY_CONNECTED are not supported yet")
    ctx.require(ctx.options.get("weights_format", 0) == 0,
                "shuffled weight formats apply to quantized weights only")
    ctx.require(w.rank == 2, f"weights must be 2-D [units, depth], got {list(w.shape)}")
    units, depth = w.shape
    rows, out_shape = output_shape(ctx, x, units, depth)
    bias = ctx.optional_input(2)
    if bias is not None:
        ctx.check_types(FLOAT, 2)
        ctx.require(bias.size == units, f"bias has {bias.size} values for {units} units")
    ctx.set_output_shape(0, out_shape)
    clamp = activation_range(ctx)
    xp = ctx.xp
    device_gemm = getattr(ctx.backend.kernels, "gemm", None)
    if device_gemm is not None:
        # the CUDA backend's own GEMM kernel, bias and clamp in its epilogue (cuBLAS, behind
        # xp.matmul, cannot be captured into a CUDA graph)
        w_dev = None if w.value is None else \
            ctx.backend.kernels.upload_float32(np.asarray(w.value).T)

        n_ins = len(ctx.inputs)

        def run_device(ins, outs, residual=None, add_clamp=None):
            wt = w_dev if w_dev is not None else ins[1].T
            bias_arr = ins[2] if n_ins > 2 else None
            device_gemm(ins[0].reshape(rows, depth), wt, outs[0].reshape(rows, units),
                        bias_arr, clamp, residual, add_clamp)

        def with_residual(add, _first):
            if add.kind != "float":
                return None

            def run_fused(ins, outs):  # ins: the op's own, then the ADD's other operand
                run_device(ins, outs, ins[n_ins].reshape(rows, units), add.clamp)
            return run_fused

        if getattr(ctx.backend.kernels, "fuses_residual_add", False):
            ctx.residual_epilogue = with_residual
        return run_device

    # transpose constant weights once so the GEMM reads them contiguously
    w_t = None if w.value is None else np.ascontiguousarray(np.asarray(w.value).T)
    clip = clip_ufunc(xp)
    lo, hi = (None, None) if clamp is None else (xp.asarray(clamp[0], xp.float32),
                                                 xp.asarray(clamp[1], xp.float32))

    def run(ins, outs):
        wt = w_t if w_t is not None else ins[1].T
        out2d = outs[0].reshape(rows, units)
        xp.matmul(ins[0].reshape(rows, depth), wt, out=out2d)
        if len(ins) > 2 and ins[2] is not None:
            xp.add(out2d, ins[2], out=out2d)
        if lo is not None:
            clip(out2d, lo, hi, out=out2d)
    return run


# Sparse weight layouts TFLite's FULLY_CONNECTED kernels compute correctly, as (traversal order,
# block_map, dim_metadata formats, block size): rows DENSE, columns SPARSE_CSR, optionally in
# 1xN column blocks. Its float kernel takes plain CSR and 1x4 blocks; the hybrid and int8
# kernels walk 1x16 blocks (the hybrid one without checking, so other layouts give garbage).
_CSR = ([0, 1], [], [0, 1], None)
_BLOCK = {4: ([0, 1, 2], [1], [0, 1, 0], 4), 16: ([0, 1, 2], [1], [0, 1, 0], 16)}


def _sparse_weights(ctx):
    """Sparse constant weights (no DENSIFY in front): check the layout is one TFLite's kernel
    handles for these types, then expand them once, here at prepare; every path (float, hybrid,
    integer) then sees ordinary dense constant weights."""
    x, w = ctx.input(0), ctx.input(1)
    t = ctx.executor.sg.tensors[w.index]
    if t.sparsity is None or t.raw is None:
        return
    sp = t.sparsity
    dims = sp["dim_metadata"]
    layout = (list(sp["traversal_order"]), list(sp.get("block_map") or []),
              [int(m["format"]) for m in dims],
              int(dims[2]["dense_size"]) if len(dims) == 3 else None)
    if x.type == FLOAT32 and w.type == FLOAT32:
        allowed, what = (_CSR, _BLOCK[4]), "float32 weights take CSR rows or 1x4 blocks"
    elif x.type == FLOAT32 and w.type == INT8 or x.type == INT8 and w.type == INT8:
        allowed, what = (_BLOCK[16],), "int8 weights take 1x16 blocks"
    else:
        ctx.fail(f"sparse {dtypes.type_name(w.type)} weights with a "
                 f"{dtypes.type_name(x.type)} input are not supported (TFLite's kernels take "
                 f"sparse float32 and int8 weights only)")
    ctx.require(w.rank == 2, f"weights must be 2-D [units, depth], got {list(w.shape)}")
    ctx.require(layout in allowed, f"unsupported sparse weight layout (traversal_order "
                f"{layout[0]}, block_map {layout[1]}, formats {layout[2]}, block "
                f"{layout[3]}): sparse {what} (rows DENSE, columns SPARSE_CSR)")
    if w.type == INT8:
        ctx.require(not np.any(w.quantization.zero_points),
                    "sparse int8 weights must be symmetric (zero points of 0)")
        # the hybrid kernel keeps block counts and indices in uint8 (its "ledger")
        ctx.require(w.shape[1] // 16 <= 255, f"sparse int8 weights of depth {w.shape[1]} have "
                                             f"more than 255 blocks of 16 per row")
    sparse.dense_constant(ctx, 1)


KERNELS = {"FULLY_CONNECTED": prepare_fully_connected}
