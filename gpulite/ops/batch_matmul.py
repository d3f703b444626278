"""BATCH_MATMUL (float32): out[..., m, n] = sum_k lhs[..., m, k] * rhs[..., k, n].

As TFLite's batch_matmul.cc: both inputs have rank 2 to 5; the shorter shape is extended with
leading 1s and the batch dims broadcast (equal, or one of them 1); `adj_x` / `adj_y` swap the
last two dims of lhs / rhs before multiplying. The product is one xp.matmul on (transposed)
views, written straight into the output; TFLite sums in a blocked GEMM, so float results agree
within rounding, not bit for bit.

The int8/int16 quantized forms live in quantized_fc, the hybrid float x int8 form in
quantized_hybrid.
"""

from __future__ import annotations

from .. import dtypes


def matmul_geometry(ctx, lhs, rhs):
    """TFLite's BATCH_MATMUL shape rules, shared by the float, integer and hybrid forms: ranks
    2..5, shapes padded with leading 1s, batch dims broadcast, adj_x/adj_y swap the last two
    dims. Sets the output shape; returns (adj_x, adj_y, lhs shape, rhs shape (both padded),
    m, k, n)."""
    for i, t in ((0, lhs), (1, rhs)):
        ctx.require(2 <= t.rank <= 5, f"input {i} has rank {t.rank}; BATCH_MATMUL takes rank 2 "
                                      f"to 5")
    adj_x = bool(ctx.options.get("adj_x", False))
    adj_y = bool(ctx.options.get("adj_y", False))
    rank = max(lhs.rank, rhs.rank)
    ls = (1,) * (rank - lhs.rank) + tuple(lhs.shape)
    rs = (1,) * (rank - rhs.rank) + tuple(rhs.shape)
    batch = []
    for a, b in zip(ls[:-2], rs[:-2]):
        if a != b and a != 1 and b != 1:
            ctx.fail(f"batch dims do not broadcast: lhs {list(lhs.shape)}, rhs "
                     f"{list(rhs.shape)}")
        batch.append(b if a == 1 else a)
    m, k_lhs = (ls[-1], ls[-2]) if adj_x else (ls[-2], ls[-1])
    k_rhs, n = (rs[-1], rs[-2]) if adj_y else (rs[-2], rs[-1])
    ctx.require(k_lhs == k_rhs, f"inner dims differ: lhs {list(lhs.shape)} (adj_x={adj_x}) "
                                f"and rhs {list(rhs.shape)} (adj_y={adj_y}) give {k_lhs} vs "
                                f"{k_rhs}")
    ctx.set_output_shape(0, batch + [m, n])
    return adj_x, adj_y, ls, rs, m, k_lhs, n


def prepare(ctx):
    lhs, rhs, out = ctx.input(0), ctx.input(1), ctx.output(0)
    if lhs.type in (7, 9):  # int16 / int8: the quantized kernel
        from . import quantized_fc
        return quantized_fc.prepare_batch_matmul(ctx)
    if lhs.type == 0 and rhs.type == 9:  # float32 x int8: the hybrid kernel
        from . import quantized_hybrid
        return quantized_hybrid.prepare_batch_matmul(ctx)
    for i, t in ((0, lhs), (1, rhs)):
        if t.type in (7, 9):
            ctx.fail(f"quantized BATCH_MATMUL (input {i} is {dtypes.type_name(t.type)}) is not "
                     f"supported yet")
    ctx.check_types({0}, 0, 1)
    ctx.require(out.type == 0, f"output is {dtypes.type_name(out.type)}; it must be FLOAT32")
    adj_x, adj_y, _ls, _rs, _m, _k, _n = matmul_geometry(ctx, lhs, rhs)
    xp = ctx.xp
    # the CUDA backend's own GEMM kernel (cuBLAS, behind xp.matmul, cannot be captured into
    # a CUDA graph); NumPy's matmul on the CPU
    matmul = getattr(ctx.backend.kernels, "gemm", None) or \
        (lambda a, b, out: xp.matmul(a, b, out=out))

    def run(ins, outs):
        a = xp.swapaxes(ins[0], -1, -2) if adj_x else ins[0]
        b = xp.swapaxes(ins[1], -1, -2) if adj_y else ins[1]
        matmul(a, b, outs[0])
    return run


KERNELS = {"BATCH_MATMUL": prepare}
