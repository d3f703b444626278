"""STRIDED_SLICE, SLICE and DYNAMIC_UPDATE_SLICE.

STRIDED_SLICE with TFLite's semantics, turned into one tuple of Python slices at prepare.

TFLite first expands ellipsis_mask and new_axis_mask into an "effective" input (the input with
size-1 axes inserted) with per-axis begin/end/stride and begin/end/shrink masks; then each axis
is clamped on its own (strided_slice.cc + reference/strided_slice.h). The eval is a NumPy/CuPy
basic-indexing expression, so it needs no per-invoke work beyond the copy.
"""

from __future__ import annotations

from .. import dtypes
from .base import same_type_io, takes_inputs

_INT32, _INT64 = 2, 4
# Any plain-array type: the kernel moves 8/16/32/64-bit elements (and strings) as raw bytes.
_TYPES = frozenset({0, 1, 2, 3, 4, 6, 7, 9, 10, 12, 15, 16, dtypes.STRING})
_INT32_MIN = -(2 ** 31)


def _bit(mask: int, i: int) -> bool:
    return bool(mask >> i & 1) if i >= 0 else False


def _effective_params(ctx, in_shape, begin, end, strides):
    """Expand ellipsis/new-axis into per-axis specs, as TFLite's BuildStridedSliceParams does.

    Returns a list of (axis_size, begin, end, stride, begin_masked, end_masked, shrink) over the
    effective axes (input axes plus inserted new axes)."""
    opt = ctx.options
    ellipsis, new_axis = opt.get("ellipsis_mask", 0), opt.get("new_axis_mask", 0)
    n = len(begin)
    rank = len(in_shape)
    num_add = sum(1 for i in range(n) if _bit(new_axis, i) and not _bit(ellipsis, i))
    eff_dims = rank + num_add

    # Which effective axes the ellipsis covers and which are new axes.
    eff_ellipsis, eff_new = set(), set()
    ellipsis_start, expanded = eff_dims, 0
    i = 0
    while i < eff_dims:
        if _bit(ellipsis, i):
            ellipsis_start = i
            stop = max(i + 1, min(i + 1 + num_add + rank - n, eff_dims))
            expanded = stop - ellipsis_start - 1
            eff_ellipsis.update(range(i, stop))
            i = stop
            continue
        if _bit(new_axis, i - expanded):
            eff_new.add(i)
        i += 1

    specs = []
    added_ellipsis = added_axes = 0

    def size_of(k):
        src = k - added_axes
        if not 0 <= src < rank:
            ctx.fail(f"masks (ellipsis {ellipsis}, new_axis {new_axis}) do not fit an input of "
                     f"rank {rank} with {n} begin values")
        return in_shape[src]

    for k in range(eff_dims):
        if k in eff_ellipsis:  # the ellipsis keeps whole axes
            added_ellipsis = max(0, k - ellipsis_start)
            specs.append((size_of(k), 0, 0, 1, True, True, False))
        elif k in eff_new:  # a new size-1 axis, taken whole
            specs.append((1, 0, 1, 1, False, False, False))
            added_axes += 1
        elif k >= n + expanded:  # axes past the given indices are kept whole
            specs.append((size_of(k), 0, 0, 1, True, True, False))
        else:
            j = k - added_ellipsis
            specs.append((size_of(k), int(begin[j]), int(end[j]), int(strides[j]),
                          _bit(opt.get("begin_mask", 0), j), _bit(opt.get("end_mask", 0), j),
                          _bit(opt.get("shrink_axis_mask", 0), j)))
    return specs


def _clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def _axis_range(size, b, e, s, b_masked, e_masked, shrink, offset):
    """(start, stop) for one axis, per TFLite's StartForAxis / EndForAxis."""
    start = b + size if b < 0 else b
    start = _clamp(start, 0, size) if s > 0 else _clamp(start, -1, size - 1)
    if b_masked:
        start = 0 if s > 0 else size - 1
    if shrink:
        return start, (start if start >= size else start + 1)
    stop = e + start if offset else e
    stop = stop + size if stop < 0 else stop
    stop = _clamp(stop, 0, size) if s > 0 else _clamp(stop, -1, size - 1)
    if e_masked:
        stop = size if s > 0 else -1
    return start, stop


def _ceil_len(extent: int, stride: int) -> int:
    """Elements in a strided run of `extent` positions, as TFLite's prepare rounds it."""
    if (extent < 0) != (stride < 0) or extent == 0:
        return 0
    if stride < 0:  # both operands <= 0: floor division equals C's truncation here
        return (extent + 1) // stride + 1
    return (extent - 1) // stride + 1


def prepare_strided_slice(ctx):
    takes_inputs(ctx, 4, "input, begin, end, strides")
    x, y = same_type_io(ctx, _TYPES)
    for i in (1, 2, 3):
        t = ctx.input(i)
        ctx.require(t.rank == 1, f"begin, end and strides must be vectors; input {i} has shape "
                                 f"{list(t.shape)}")
        ctx.require(t.type in (_INT32, _INT64), f"input {i} must be INT32 or INT64, not "
                                                f"{dtypes.type_name(t.type)}")
    begin = ctx.const_value(1, "begin")
    end = ctx.const_value(2, "end")
    strides = ctx.const_value(3, "strides")
    ctx.require(begin.size == end.size == strides.size,
                f"begin, end and strides have {begin.size}, {end.size} and {strides.size} "
                f"values; they must have the same number")
    offset = bool(ctx.options.get("offset", False))

    specs = _effective_params(ctx, x.shape, begin, end, strides)
    eff_shape, index, out_shape = [], [], []
    for k, (size, b, e, s, bm, em, shrink) in enumerate(specs):
        if s == 0 or s == _INT32_MIN:
            ctx.fail(f"stride {s} on axis {k} is not supported (strides must be non-zero and "
                     f"above INT32_MIN)")
        start, stop = _axis_range(size, b, e, s, bm, em, shrink, offset)
        eff_shape.append(size)
        if shrink:
            if not 0 <= start < size:
                ctx.fail(f"shrink axis {k}: index {b} is out of range for a dimension of "
                         f"size {size}")
            index.append(start)
            continue
        count = len(range(start, stop, s))
        if offset:  # TFLite sizes the output from `end` alone when offset is set
            tflite_count = _ceil_len(e, s)
            if tflite_count != count:
                ctx.fail(f"axis {k}: begin {b} + size {e} runs past a dimension of size "
                         f"{size}")
        # stop == -1 with a negative stride means "through index 0", which Python spells None
        # (and a start of -1 would mean the last element), so empty runs get an empty slice.
        index.append(slice(start, None if stop < 0 else stop, s) if count else slice(0, 0))
        out_shape.append(count)

    ctx.set_output_shape(0, out_shape)
    eff_shape, index, out_shape = tuple(eff_shape), tuple(index), tuple(out_shape)

    def run(ins, outs):
        outs[0][...] = ins[0].reshape(eff_shape)[index].reshape(out_shape)
    return run


_SLICE_TYPES = _TYPES | {8, 11}  # SLICE also takes complex64/complex128


def _index_vector_checks(ctx, i: int, what: str, rank: int) -> None:
    t = ctx.input(i)
    ctx.require(t.type in (_INT32, _INT64), f"{what} (input {i}) must be INT32 or INT64, not "
                                            f"{dtypes.type_name(t.type)}")
    ctx.require(t.rank == 1, f"{what} (input {i}) must be a vector, not shape {list(t.shape)}")
    ctx.require(t.shape[0] == rank, f"{what} has {t.shape[0]} entries but the input has rank "
                                    f"{rank}")


def _index_vector(ctx, i: int, what: str, rank: int) -> list:
    _index_vector_checks(ctx, i, what, rank)
    return [int(v) for v in ctx.const_value(i, what).reshape(-1)]


def _slice_at_runtime_begin(ctx, x, size):
    dims = tuple(x.shape)
    for k, (dim, s) in enumerate(zip(dims, size)):
        ctx.require(s <= dim, f"size {size} runs past axis {k} of shape {list(dims)}")
    ctx.set_output_shape(0, size)
    to_host = ctx.backend.to_host
    limits = [dim - s for dim, s in zip(dims, size)]

    def run(ins, outs):
        begin = to_host(ins[1]).reshape(-1).tolist()
        for k, (b, top) in enumerate(zip(begin, limits)):
            if not 0 <= b <= top:
                raise ValueError(f"begin {begin} + size {size} is out of range for axis {k} "
                                 f"of shape {list(dims)}")
        outs[0][...] = ins[0][tuple(slice(b, b + s) for b, s in zip(begin, size))]
    return run


def prepare_slice(ctx):
    """SLICE (slice.cc): begin and size per axis, size -1 meaning "to the end"."""
    takes_inputs(ctx, 3, "input, begin, size")
    x, y = same_type_io(ctx, _SLICE_TYPES)
    _index_vector_checks(ctx, 1, "begin", x.rank)
    size = _index_vector(ctx, 2, "size", x.rank)
    b_info = ctx.input(1)
    if b_info.value is None and b_info.runtime is None and all(s >= 0 for s in size):
        # begin computed at run time (a loop counter) with a fixed size: the output shape is
        # known now, so the op stays a plain step; begin is read and checked per call
        return _slice_at_runtime_begin(ctx, x, size)
    begin = _index_vector(ctx, 1, "begin", x.rank)
    index, out_shape = [], []
    for k, (dim, b, s) in enumerate(zip(x.shape, begin, size)):
        ctx.require(0 <= b <= dim, f"begin {begin} is out of range for axis {k} of shape "
                                   f"{list(x.shape)}")
        if s == -1:
            s = dim - b
        ctx.require(s >= 0, f"size {size} has a negative size other than -1 on axis {k}")
        ctx.require(b + s <= dim, f"begin {b} + size {s} runs past axis {k} of shape "
                                  f"{list(x.shape)}")
        index.append(slice(b, b + s))
        out_shape.append(s)
    ctx.set_output_shape(0, out_shape)
    index = tuple(index)

    def run(ins, outs):
        outs[0][...] = ins[0][index]
    return run


# DYNAMIC_UPDATE_SLICE copies raw elements of any plain array type, but not strings.
_FIXED_TYPES = _SLICE_TYPES - {dtypes.STRING}


def prepare_dynamic_update_slice(ctx):
    """DYNAMIC_UPDATE_SLICE (dynamic_update_slice.cc, XLA semantics): the output is the operand
    with `update` written at `start_indices`, each index clamped to [0, dim - update_dim]."""
    if len(ctx.inputs) != 3:
        ctx.fail(f"takes 3 inputs (operand, update, start_indices), the model gives "
                 f"{len(ctx.inputs)}")
    x, u, idx, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.check_types(_FIXED_TYPES, 0)
    for t, what in ((u, "update"), (y, "output")):
        ctx.require(t.type == x.type, f"{what} is {dtypes.type_name(t.type)} but the operand is "
                                      f"{dtypes.type_name(x.type)}")
    ctx.require(idx.type in (_INT32, _INT64), f"start_indices must be INT32 or INT64, not "
                                              f"{dtypes.type_name(idx.type)}")
    ctx.require(idx.rank == 1 and idx.shape[0] == x.rank,
                f"start_indices has shape {list(idx.shape)}; it must be a vector of {x.rank} "
                f"entries (the operand's rank)")
    ctx.require(u.rank == x.rank and all(a <= b for a, b in zip(u.shape, x.shape)),
                f"update shape {list(u.shape)} must have the operand's rank and fit inside "
                f"operand shape {list(x.shape)}")
    ctx.set_output_shape(0, x.shape)
    rank = x.rank
    xp = ctx.xp
    limits = [d - e for d, e in zip(x.shape, u.shape)]

    if u.size == 0:
        def run_copy(ins, outs):
            outs[0][...] = ins[0]
        return run_copy

    if idx.value is not None or rank == 0:
        starts = [int(v) for v in (idx.value.reshape(-1) if rank else [])]
        where = tuple(slice(min(max(s, 0), lim), min(max(s, 0), lim) + e)
                      for s, lim, e in zip(starts, limits, u.shape))

        def run_const(ins, outs):
            outs[0][...] = ins[0]
            outs[0][where] = ins[1]
        return run_const

    # Start indices fed at run time: clamp on the device and scatter through an open grid of
    # coordinates, so nothing waits for the indices to reach the host.
    lim = xp.asarray(limits, dtype=xp.int64)
    aranges = [xp.arange(e, dtype=xp.int64).reshape((1,) * k + (e,) + (1,) * (rank - k - 1))
               for k, e in enumerate(u.shape)]

    def run(ins, outs):
        starts = xp.minimum(xp.maximum(ins[2].astype(xp.int64), 0), lim)
        grid = tuple(starts[k] + aranges[k] for k in range(rank))
        outs[0][...] = ins[0]
        outs[0][grid] = ins[1]
    return run


KERNELS = {
    "STRIDED_SLICE": prepare_strided_slice,
    "SLICE": prepare_slice,
    "DYNAMIC_UPDATE_SLICE": prepare_dynamic_update_slice,
}
