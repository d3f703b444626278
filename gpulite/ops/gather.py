"""Indexing ops: GATHER, GATHER_ND, SCATTER_ND and EMBEDDING_LOOKUP, with TFLite's semantics.

TFLite checks indices while it copies (gather.cc, gather_nd.cc, scatter_nd.cc,
embedding_lookup.cc and reference_ops.h): a negative or out-of-range index fails the invoke.
Here every run() checks all indices with array ops *before* it writes anything, so a bad index
raises a clear error and leaves the output (and the interpreter) as it was.

Prepare reduces each op to a few flat extents (outer / axis / inner sizes, row strides), so the
eval is one `take` (or one `add.at`) on reshaped views. String tensors are host object arrays on
every backend; their gathers run on the host.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes

_F32, _F16, _I32, _U8, _I64, _STR, _BOOL, _I16, _I8, _INT4 = 0, 1, 2, 3, 4, 5, 6, 7, 9, 17
_INDEX_TYPES = frozenset({_I16, _I32, _I64})
_GATHER_TYPES = frozenset({_F32, _F16, _U8, _I8, _I16, _I32, _I64, _BOOL, _STR})
_SCATTER_TYPES = frozenset({_F32, _U8, _BOOL, _I8, _I32, _I64})


def _prod(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def check_indices(xp, idx, limit, what: str, negatives_only: bool = False) -> None:
    """Raise IndexError when an index is negative or >= `limit`: an int, or a backend int64
    array of per-column limits that broadcasts against the last axis of `idx`."""
    if idx.size == 0:
        return
    scalar = isinstance(limit, (int, np.integer))
    if scalar and xp is np and idx.size <= 8:
        # a few host indices (a loop's step): Python compares cost less than array reductions
        values = idx.reshape(-1).tolist()
        if min(values) >= 0 and (negatives_only or max(values) < limit):
            return
    bad = idx < 0
    if not negatives_only:
        bad = bad | (idx >= (np.int64(limit) if scalar else limit))
    if bool(bad.any()):
        first = int(xp.argmax(bad.reshape(-1)))
        value = int(idx.reshape(-1)[first])
        if scalar:
            bound = f"[0, {int(limit)})"
        else:  # per-column limits: name the column the first bad index sits in
            col = first % idx.shape[-1]
            bound = f"[0, {int(limit.reshape(-1)[col])}) of dimension {col}"
        raise IndexError(f"{what} {value} is out of range {bound}")


def _same_type(ctx, i: int, allowed, what: str):
    t, y = ctx.input(i), ctx.output(0)
    if t.type not in allowed:
        names = ", ".join(dtypes.type_name(a) for a in sorted(allowed))
        ctx.fail(f"{what} (input {i}) is {dtypes.type_name(t.type)}; supported: {names}")
    ctx.require(y.type == t.type, f"output is {dtypes.type_name(y.type)} but {what} is "
                                  f"{dtypes.type_name(t.type)}; they must match")
    return t


def _index_type(ctx, i: int, allowed, what: str):
    t = ctx.input(i)
    if t.type not in allowed:
        names = ", ".join(dtypes.type_name(a) for a in sorted(allowed))
        ctx.fail(f"{what} (input {i}) is {dtypes.type_name(t.type)}; supported: {names}")
    return t


def _num_inputs(ctx, n: int, names: str) -> None:
    if len(ctx.inputs) != n:
        ctx.fail(f"takes {n} inputs ({names}), the model gives {len(ctx.inputs)}")


# -- GATHER -----------------------------------------------------------------------------------

def prepare_gather(ctx):
    _num_inputs(ctx, 2, "params, indices")
    x = _same_type(ctx, 0, _GATHER_TYPES, "params")
    pos = _index_type(ctx, 1, _INDEX_TYPES, "indices")
    axis = ctx.options.get("axis", 0)
    batch_dims = ctx.options.get("batch_dims", 0)
    a = axis + x.rank if axis < 0 else axis
    ctx.require(0 <= a < x.rank, f"axis {axis} is out of range for params of rank {x.rank}")
    b = batch_dims + pos.rank if batch_dims < 0 else batch_dims
    ctx.require(0 <= b <= pos.rank and b < x.rank,
                f"batch_dims {batch_dims} is out of range for indices of rank {pos.rank} and "
                f"params of rank {x.rank}")
    ctx.require(b <= a, f"batch_dims {batch_dims} must not be greater than axis {axis}")
    ctx.require(x.shape[:b] == pos.shape[:b],
                f"the first {b} (batch) dimensions of params {list(x.shape)} and indices "
                f"{list(pos.shape)} must be equal")
    if x.type == _STR:
        ctx.require(x.rank == 1, f"string params must be a vector; got shape {list(x.shape)}")
    ctx.set_output_shape(0, x.shape[:a] + pos.shape[b:] + x.shape[a + 1:])

    nb, outer, size, inner = (_prod(x.shape[:b]), _prod(x.shape[b:a]), x.shape[a],
                              _prod(x.shape[a + 1:]))
    count = _prod(pos.shape[b:])
    # TFLite rejects negative indices always, but checks the upper bound only while copying,
    # so with no rows to copy a too-large index passes.
    negatives_only = nb * outer == 0
    xp = ctx.xp

    if x.type == _STR:  # host object arrays: index on the host
        backend = ctx.backend

        def run_strings(ins, outs):
            idx = np.asarray(backend.to_host(ins[1]))
            check_indices(np, idx, size, "GATHER index", negatives_only)
            outs[0][...] = ins[0][idx]
        return run_strings

    if nb == 1:
        def run(ins, outs):
            idx = ins[1].reshape(count)
            check_indices(xp, idx, size, "GATHER index", negatives_only)
            xp.take(ins[0].reshape(outer, size, inner), idx, axis=1,
                    out=outs[0].reshape(outer, count, inner))
        return run

    batch = ctx.backend.constant(np.arange(nb, dtype=np.int64).reshape(nb, 1))

    def run_batched(ins, outs):
        idx = ins[1].reshape(nb, count)
        check_indices(xp, idx, size, "GATHER index", negatives_only)
        # advanced indices around a slice put their broadcast (nb, count) axes first
        picked = ins[0].reshape(nb, outer, size, inner)[batch, :, idx]
        outs[0].reshape(nb, outer, count, inner)[...] = picked.transpose(0, 2, 1, 3)
    return run_batched


# -- GATHER_ND --------------------------------------------------------------------------------

def _row_strides(shape, nd):
    """Strides (in rows of the trailing slice) of the first `nd` axes of `shape`."""
    strides, acc = [], 1
    for d in reversed(shape[:nd]):
        strides.append(acc)
        acc *= d
    return np.array(strides[::-1], dtype=np.int64)


def prepare_gather_nd(ctx):
    _num_inputs(ctx, 2, "params, indices")
    x = _same_type(ctx, 0, _GATHER_TYPES, "params")
    ind = _index_type(ctx, 1, _INDEX_TYPES, "indices")
    ctx.require(x.rank >= 1, "params must be at least a vector")
    ctx.require(ind.rank >= 1, "indices must be at least a vector")
    nd = ind.shape[-1]
    ctx.require(nd <= x.rank, f"the last dimension of indices ({nd}) must not exceed the rank "
                              f"of params ({x.rank})")
    ctx.set_output_shape(0, ind.shape[:-1] + x.shape[nd:])
    n = _prod(ind.shape[:-1])
    rows, width = _prod(x.shape[:nd]), _prod(x.shape[nd:])
    limits_host = np.array(x.shape[:nd], dtype=np.int64)
    strides_host = _row_strides(x.shape, nd)
    # TFLite refuses to gather from empty params unless there is nothing to gather.
    empty_params = x.size == 0 and ind.size > 0
    xp = ctx.xp

    if x.type == _STR:
        backend = ctx.backend

        def run_strings(ins, outs):
            if n == 0:
                return
            if empty_params:
                raise IndexError("GATHER_ND cannot gather from empty params")
            idx = np.asarray(backend.to_host(ins[1])).reshape(n, nd).astype(np.int64)
            check_indices(np, idx, limits_host, "GATHER_ND index")
            flat = (idx * strides_host).sum(axis=1)
            outs[0].reshape(n, width)[...] = ins[0].reshape(rows, width)[flat]
        return run_strings

    limits = ctx.backend.constant(limits_host)
    strides = ctx.backend.constant(strides_host)

    def run(ins, outs):
        if n == 0:
            return
        if empty_params:
            raise IndexError("GATHER_ND cannot gather from empty params")
        idx = ins[1].reshape(n, nd)
        check_indices(xp, idx, limits, "GATHER_ND index")
        flat = (idx.astype(xp.int64) * strides).sum(axis=1)
        xp.take(ins[0].reshape(rows, width), flat, axis=0, out=outs[0].reshape(n, width))
    return run


# -- SCATTER_ND -------------------------------------------------------------------------------

def prepare_scatter_nd(ctx):
    _num_inputs(ctx, 3, "indices, updates, shape")
    ind = _index_type(ctx, 0, frozenset({_I32}), "indices")
    upd = _same_type(ctx, 1, _SCATTER_TYPES, "updates")
    shp = ctx.input(2)
    ctx.require(shp.type == ind.type, f"shape is {dtypes.type_name(shp.type)} but indices are "
                                      f"{dtypes.type_name(ind.type)}; they must match")
    ctx.require(ind.rank >= 1 and upd.rank >= 1 and shp.rank == 1,
                f"indices {list(ind.shape)} and updates {list(upd.shape)} must be at least "
                f"vectors and shape {list(shp.shape)} a vector")
    shape = () if shp.size == 0 else \
        tuple(int(v) for v in np.asarray(ctx.const_value(2, "shape")).reshape(-1))
    outer = ind.rank - 1
    nd = ind.shape[-1]
    ctx.require(ind.shape[:outer] == upd.shape[:outer],
                f"the leading dimensions of indices {list(ind.shape)} and updates "
                f"{list(upd.shape)} must match")
    ctx.require(upd.rank - outer == len(shape) - nd and upd.shape[outer:] == shape[nd:],
                f"updates {list(upd.shape)} do not fit indices {list(ind.shape)} scattered "
                f"into shape {list(shape)}")
    ctx.set_output_shape(0, shape)

    n = _prod(ind.shape[:-1])
    rows, width = _prod(shape[:nd]), _prod(shape[nd:])
    limits = ctx.backend.constant(np.array(shape[:nd], dtype=np.int64))
    strides = ctx.backend.constant(_row_strides(shape, nd))
    xp = ctx.xp

    def run(ins, outs):
        idx = ins[0].reshape(n, nd)
        check_indices(xp, idx, limits, "SCATTER_ND index")
        out = outs[0].reshape(rows, width)
        out[...] = 0
        if n:
            flat = (idx.astype(xp.int64) * strides).sum(axis=1)
            # duplicates accumulate in index order; integers wrap, booleans OR, as in TFLite
            xp.add.at(out, flat, ins[1].reshape(n, width))
    return run


# -- EMBEDDING_LOOKUP -------------------------------------------------------------------------

def prepare_embedding_lookup(ctx):
    _num_inputs(ctx, 2, "lookup ids, table")
    ids, table, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(ids.type == _I32, f"lookup ids (input 0) must be INT32, not "
                                  f"{dtypes.type_name(ids.type)}")
    ctx.require(ids.rank == 1, f"lookup ids must be a vector; got shape {list(ids.shape)}")
    ctx.require(table.rank >= 2, f"the table (input 1) must have rank >= 2; got shape "
                                 f"{list(table.shape)}")
    if table.type != y.type:
        ctx.fail(f"hybrid (dequantizing) lookup of a {dtypes.type_name(table.type)} table into "
                 f"a {dtypes.type_name(y.type)} output is not supported yet")
    if table.type in dtypes.NON_ARRAY_TYPES or table.type == _INT4:
        ctx.fail(f"a {dtypes.type_name(table.type)} table is not supported")
    if table.quantization.scales.size > 1:
        ctx.fail("a per-axis quantized table is only valid for a hybrid (dequantizing) lookup, "
                 "which is not supported yet")
    ctx.set_output_shape(0, (ids.shape[0],) + table.shape[1:])
    n, rows, width = ids.shape[0], table.shape[0], _prod(table.shape[1:])
    xp = ctx.xp

    def run(ins, outs):
        check_indices(xp, ins[0], rows, "EMBEDDING_LOOKUP id")
        xp.take(ins[1].reshape(rows, width), ins[0], axis=0, out=outs[0].reshape(n, width))
    return run


KERNELS = {
    "GATHER": prepare_gather,
    "GATHER_ND": prepare_gather_nd,
    "SCATTER_ND": prepare_scatter_nd,
    "EMBEDDING_LOOKUP": prepare_embedding_lookup,
}
