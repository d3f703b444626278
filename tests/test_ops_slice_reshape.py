"""SLICE, DYNAMIC_UPDATE_SLICE, EXPAND_DIMS, RANK and BITCAST against LiteRT (bit-exact).

LiteRT's SLICE checks a declared output shape against the one it computes, so SLICE models here
declare the right one. Random SLICE specs are a hypothesis property test.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gpulite
from oplib import (ALL, BOOL, C64, F16, F32, F64, I8, I16, I32, I64, SHAPE4, STR, U8, U16, U32, U64,
                   In, build, check_outputs, data, prepare_fails, run_ours)

# -- SLICE ------------------------------------------------------------------------------------

def _slice(shape, begin, size, dtype=F32, index_dtype=I32, litert=True):
    x = data(shape, dtype)
    expect = x[tuple(slice(b, d if s == -1 else b + s) for b, s, d in zip(begin, size, shape))]
    content = build("SLICE", [In(shape, dtype), np.array(begin, index_dtype),
                              np.array(size, index_dtype)], out_shapes=[expect.shape])
    return check_outputs(content, [x], [expect], litert=litert)[0]


@pytest.mark.parametrize("dtype", ALL + [STR])
def test_slice_dtypes(dtype):
    _slice(SHAPE4, [1, 0, 2, 3], [1, 2, -1, 3], dtype)


@pytest.mark.parametrize("shape, begin, size", [
    ([7], [2], [4]),
    ([7], [0], [-1]),
    ([3, 5], [1, 1], [2, 3]),
    ([2, 3, 5], [0, 1, 0], [2, -1, 5]),
    (SHAPE4, [0, 0, 0, 0], [-1, -1, -1, -1]),
    (SHAPE4, [1, 2, 4, 6], [1, 1, 1, 1]),
    (SHAPE4, [0, 3, 0, 0], [2, 0, 5, 7]),  # begin == dim with size 0: empty
    (SHAPE4, [0, 3, 0, 0], [2, -1, 5, 7]),  # ...or size -1
    ([2, 3, 4, 5, 6], [0, 1, 1, 2, 3], [1, 2, 3, 3, -1]),  # 5-D
    ([2, 3, 2, 2, 2, 3], [1, 0, 1, 0, 1, 1], [1, 2, 1, -1, 1, 2]),  # 6-D
    ([], [], []),  # a scalar
])
def test_slice_shapes(shape, begin, size):
    _slice(shape, begin, size)


def test_slice_int64():
    _slice(SHAPE4, [1, 0, 2, 3], [-1, 2, 3, 4], index_dtype=I64)


def test_slice_runtime_begin():
    # begin fed at run time: SLICE is prepared during invoke. (LiteRT also insists that the
    # declared output shape matches what it computes, so the size here is fixed.)
    x = data(SHAPE4, F32)
    content = build("SLICE", [In(SHAPE4, F32), In([4], I32), np.array([1, 2, 2, 3], I32)],
                    out_shapes=[[1, 2, 2, 3]], out_dtype=F32)
    for begin in ([0, 0, 0, 0], [1, 1, 3, 4]):
        b = np.array(begin, I32)
        check_outputs(content, [x, b],
                      [x[b[0]:b[0] + 1, b[1]:b[1] + 2, b[2]:b[2] + 2, b[3]:b[3] + 3]])


def test_slice_runtime_begin_out_of_range_fails_cleanly():
    """A begin fed at run time that runs past the input: a clear error from invoke, and the
    interpreter keeps working with a good begin."""
    x = data(SHAPE4, F32)
    content = build("SLICE", [In(SHAPE4, F32), In([4], I32), np.array([1, 2, 2, 3], I32)],
                    out_shapes=[[1, 2, 2, 3]], out_dtype=F32)
    it = gpulite.Interpreter(model_content=content, device="cpu")
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.set_tensor(it.get_input_details()[1]["index"], np.array([0, 2, 0, 0], I32))
    with pytest.raises(ValueError, match=r"SLICE .*begin \[0, 2, 0, 0\] \+ size \[1, 2, 2, 3\] "
                                         r"is out of range for axis 1"):
        it.invoke()
    it.set_tensor(it.get_input_details()[1]["index"], np.array([1, 1, 0, 0], I32))
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]),
                                  x[1:2, 1:3, 0:2, 0:3])


@pytest.mark.parametrize("begin, size, match", [
    ([-1, 0, 0, 0], [1, 1, 1, 1], "begin .* out of range"),
    ([0, 4, 0, 0], [1, 0, 1, 1], "begin .* out of range"),
    ([0, 0, 0, 0], [1, -2, 1, 1], "negative size"),
    ([0, 2, 0, 0], [1, 2, 1, 1], "runs past axis 1"),
    ([0, 0, 0], [1, 1, 1], "begin has 3 entries"),
])
def test_slice_errors(begin, size, match):
    content = build("SLICE", [In(SHAPE4, F32), np.array(begin, I32), np.array(size, I32)])
    prepare_fails(content, f"SLICE.*{match}")


@st.composite
def _slice_spec(draw):
    rank = draw(st.integers(1, 5))
    shape = draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank))
    begin = [draw(st.integers(0, d)) for d in shape]
    size = [draw(st.sampled_from([-1, draw(st.integers(0, d - b))])) for b, d in zip(begin, shape)]
    return shape, begin, size


@settings(max_examples=50, deadline=None)
@given(_slice_spec(), st.sampled_from([F32, I8, I64, BOOL]), st.sampled_from([I32, I64]))
def test_slice_random_vs_litert(spec, dtype, index_dtype):
    shape, begin, size = spec
    _slice(shape, begin, size, dtype, index_dtype)


# -- DYNAMIC_UPDATE_SLICE ---------------------------------------------------------------------

def _dus_ref(x, u, idx):
    y = x.copy()
    start = [min(max(int(i), 0), d - e) for i, d, e in zip(idx, x.shape, u.shape)]
    y[tuple(slice(s, s + e) for s, e in zip(start, u.shape))] = u
    return y


def _dus(shape, ushape, idx, dtype=F32, index_dtype=I32, runtime=True, litert=True):
    x, u = data(shape, dtype), data(ushape, dtype, seed=1)
    idx = np.array(idx, index_dtype)
    if runtime:
        content = build("DYNAMIC_UPDATE_SLICE", [In(shape, dtype), In(ushape, dtype),
                                                 In([len(shape)], index_dtype)],
                        out_shapes=[shape], out_dtype=dtype)
        feeds = [x, u, idx]
    else:
        content = build("DYNAMIC_UPDATE_SLICE", [In(shape, dtype), In(ushape, dtype), idx],
                        out_shapes=[shape])
        feeds = [x, u]
    return check_outputs(content, feeds, [_dus_ref(x, u, idx)], litert=litert)[0]


@pytest.mark.parametrize("dtype", ALL)
def test_dynamic_update_slice_dtypes(dtype):
    _dus(SHAPE4, [1, 2, 3, 4], [1, 1, 2, 3], dtype)


@pytest.mark.parametrize("runtime", [True, False])
@pytest.mark.parametrize("idx", [
    [0, 0, 0, 0], [1, 1, 2, 3], [1, 2, 3, 4],  # the last one is clamped on every axis
    [-5, -1, 0, -100], [100, 3, 9, 2**31 - 1], [-2**31, 0, 2, 3],
])
def test_dynamic_update_slice_clamps(idx, runtime):
    _dus(SHAPE4, [1, 2, 3, 4], idx, runtime=runtime)


def test_dynamic_update_slice_int64_indices():
    _dus(SHAPE4, [2, 1, 5, 2], [0, 2, 0, 2**40], index_dtype=I64)
    _dus(SHAPE4, [2, 1, 5, 2], [0, 2, 0, 3], index_dtype=I64, runtime=False)


@pytest.mark.parametrize("shape, ushape, idx", [
    ([7], [3], [5]), ([3, 5], [3, 5], [1, 1]), ([3, 5], [0, 2], [1, 1]), ([3, 0], [2, 0], [1, 0]),
    ([2, 3, 5], [2, 1, 5], [0, 1, 0]),
])
def test_dynamic_update_slice_shapes(shape, ushape, idx):
    _dus(shape, ushape, idx)


def test_dynamic_update_slice_scalar():
    # rank 0: the update replaces the operand
    content = build("DYNAMIC_UPDATE_SLICE", [In([], F32), In([], F32), np.zeros([0], I32)],
                    out_shapes=[[]])
    check_outputs(content, [np.float32(1.5), np.float32(-2.5)], [np.float32(-2.5)])


def test_dynamic_update_slice_quantized_passes_through():
    q = {"scale": 0.5, "zero_point": 3}
    x, u = data([3, 5], I8), data([2, 2], I8, seed=1)
    content = build("DYNAMIC_UPDATE_SLICE", [In([3, 5], I8, q), In([2, 2], I8, q),
                                             In([2], I32)], out_shapes=[[3, 5]], out_dtype=I8)
    check_outputs(content, [x, u, np.array([2, 2], I32)], [_dus_ref(x, u, [2, 2])])


def test_dynamic_update_slice_repeated_invokes():
    # the same interpreter with new indices each time (the KV-cache pattern)
    content = build("DYNAMIC_UPDATE_SLICE", [In([6, 4], F32), In([1, 4], F32), In([2], I32)],
                    out_shapes=[[6, 4]], out_dtype=F32)
    ours = gpulite.Interpreter(model_content=content, device="cpu")
    ours.allocate_tensors()
    x, u = data([6, 4], F32), data([1, 4], F32, seed=1)
    ins = [d["index"] for d in ours.get_input_details()]
    for step in range(8):
        for i, v in zip(ins, (x, u, np.array([step, 0], I32))):
            ours.set_tensor(i, v)
        ours.invoke()
        got = ours.get_tensor(ours.get_output_details()[0]["index"])
        np.testing.assert_array_equal(got, _dus_ref(x, u, [step, 0]))


@pytest.mark.parametrize("ushape, idx_shape, match", [
    ([1, 6], [2], "fit inside"), ([1], [1], "operand's rank"), ([1, 2], [3], "vector of 2"),
])
def test_dynamic_update_slice_errors(ushape, idx_shape, match):
    content = build("DYNAMIC_UPDATE_SLICE", [In([3, 5], F32), In(ushape, F32),
                                             In(idx_shape, I32)], out_dtype=F32)
    prepare_fails(content, f"DYNAMIC_UPDATE_SLICE.*{match}")


def test_dynamic_update_slice_string_fails():
    content = build("DYNAMIC_UPDATE_SLICE", [In([3], STR), In([1], STR),
                                             np.array([0], I32)])
    prepare_fails(content, "DYNAMIC_UPDATE_SLICE.*STRING")


# -- EXPAND_DIMS ------------------------------------------------------------------------------

def _expand(shape, axis, dtype=F32, axis_dtype=I32):
    x = data(shape, dtype)
    content = build("EXPAND_DIMS", [In(shape, dtype), np.array(axis, axis_dtype)])
    return check_outputs(content, [x], [np.expand_dims(x, int(np.reshape(axis, -1)[0]))])[0]


@pytest.mark.parametrize("dtype", ALL + [STR])
def test_expand_dims_dtypes(dtype):
    _expand([2, 3, 5], 1, dtype)


@pytest.mark.parametrize("shape, axis", [
    ([2, 3, 5], 0), ([2, 3, 5], 3), ([2, 3, 5], -1), ([2, 3, 5], -4), ([2, 3, 5], [2]),
    ([], 0), ([], -1), ([0, 3], 1),
])
def test_expand_dims_axes(shape, axis):
    _expand(shape, axis)


def test_expand_dims_int64_axis():
    _expand([2, 3, 5], -2, axis_dtype=I64)


def test_expand_dims_runtime_axis():
    x = data([2, 3, 5], F32)
    content = build("EXPAND_DIMS", [In([2, 3, 5], F32), In([], I32)], out_dtype=F32)
    for axis in (1, -1):
        check_outputs(content, [x, np.array(axis, I32)], [np.expand_dims(x, axis)])


@pytest.mark.parametrize("axis, match", [
    (4, "axis 4 is out of range"), (-5, "axis -5 is out of range"),
    ([1, 2], "one value"), (np.float32(1), "INT32 or INT64"),
])
def test_expand_dims_errors(axis, match):
    content = build("EXPAND_DIMS", [In([2, 3, 5], F32), np.array(axis)])
    prepare_fails(content, f"EXPAND_DIMS.*{match}")


# -- RANK -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [[], [4], [2, 3], SHAPE4, [2, 0, 3]])
@pytest.mark.parametrize("dtype", [F32, I8, BOOL, STR])
def test_rank(shape, dtype):
    content = build("RANK", [In(shape, dtype)], out_dtype=I32, out_shapes=[[]])
    y = check_outputs(content, [data(shape, dtype)], [np.array(len(shape), I32)])[0]
    assert y.dtype == np.int32


def test_rank_is_a_constant_at_prepare():
    content = build("RANK", [In(SHAPE4, F32)], out_dtype=I32, out_shapes=[[]])
    ours = gpulite.Interpreter(model_content=content, device="cpu")
    ours.allocate_tensors()
    assert ours._runtime.executor(0).steps == []  # published at prepare, nothing to run
    assert ours.get_tensor(ours.get_output_details()[0]["index"]) == 4


def test_rank_int64_output():
    # LiteRT forces an int32 output; gpulite keeps the declared INT64 type (same value).
    content = build("RANK", [In([2, 3], F32)], out_dtype=I64, out_shapes=[[]])
    y = run_ours(content, [data([2, 3], F32)])[0]
    assert y.dtype == np.int64 and y == 2


# -- BITCAST ----------------------------------------------------------------------------------

def _bitcast(shape, in_dtype, out_dtype, litert=True):
    x = data(shape, in_dtype)
    content = build("BITCAST", [In(shape, in_dtype)], out_dtype=out_dtype)
    flat = np.ascontiguousarray(x).reshape(-1).view(out_dtype)
    n_in, n_out = np.dtype(in_dtype).itemsize, np.dtype(out_dtype).itemsize
    if n_in > n_out:
        expect = flat.reshape(list(shape) + [n_in // n_out])
    elif n_in < n_out:
        expect = flat.reshape(shape[:-1])
    else:
        expect = flat.reshape(shape)
    return check_outputs(content, [x], [expect], litert=litert)[0]


@pytest.mark.parametrize("in_dtype, out_dtype, shape", [
    (F32, I32, [2, 3, 5]), (I32, F32, [2, 3, 5]), (F32, U8, [2, 3]), (U8, F32, [3, 4]),
    (I64, I16, [5]), (I16, I64, [2, 3, 4]), (F32, I8, []), (I8, I16, [2]), (BOOL, I8, [3, 5]),
    (I8, BOOL, [3, 5]), (F64, C64, [2, 3]), (C64, F32, [2, 3]), (F16, I16, [2, 3]),
    (I8, F64, [3, 8]), (U64, I32, [3]), (F32, F32, [2, 3]), (I8, U8, [0, 3]),
])
def test_bitcast(in_dtype, out_dtype, shape):
    _bitcast(shape, in_dtype, out_dtype)


def test_bitcast_quantized_passes_through():
    q = {"scale": 0.5, "zero_point": 1}
    x = data([2, 4], I8)
    content = build("BITCAST", [In([2, 4], I8, q)], out_dtype=I32, out_quant={})
    check_outputs(content, [x], [x.view(I32).reshape(2)])


@pytest.mark.parametrize("in_dtype, out_dtype, shape, match", [
    (U8, F32, [2, 3], "last dimension must be 4"),
    (I8, I32, [], "last dimension must be 4"),
    (U16, I16, [2], "UINT16"),
    (F32, U32, [2], "UINT32"),
    (STR, I32, [2], "STRING"),
])
def test_bitcast_errors(in_dtype, out_dtype, shape, match):
    prepare_fails(build("BITCAST", [In(shape, in_dtype)], out_dtype=out_dtype),
                  f"BITCAST.*{match}")
