"""Math ops against LiteRT's builtin kernels: activations, reductions, softmax, DEQUANTIZE,
DENSIFY. Single-op models built with gpulite's writer; every dimension a different extent."""

import math
import os

import numpy as np
import pytest

import gpulite
from gpulite import dtypes
from gpulite.model import load
from gpulite.ops import sparse
from gpulite.ops.activations import _erfc_f64
from gpulite.writer import ModelBuilder
from oplib import F16, F32, dtype_name, rng, unary_model
from oracle import assert_outputs_match, ref_interpreter, run_both

SHAPES = [(7,), (3, 5), (2, 3, 5), (2, 3, 4, 5)]
TOL = dict(rtol=1e-5, atol=1e-6)


def folded_away(ours, *names):
    """True when no op named in `names` is left to run per invoke (it was folded at prepare)."""
    return not [op.name for *_, op in ours._executor(0).steps if op.name in names]


# ------------------------------------------------------------------------------ activations

ACTIVATIONS = [
    ("RELU", None, True), ("RELU6", None, True), ("RELU_N1_TO_1", None, True),
    ("RELU_0_TO_1", None, True), ("HARD_SWISH", None, True),
    ("LEAKY_RELU", {"alpha": 0.2}, True), ("LEAKY_RELU", {"alpha": -0.7}, True),
    ("LEAKY_RELU", {"alpha": 1.5}, True),
    ("LOGISTIC", None, False), ("TANH", None, False), ("ELU", None, False),
    ("GELU", {"approximate": False}, False), ("GELU", {"approximate": True}, False),
]
ACT_IDS = [f"{op}-{opts}" if opts else op for op, opts, _ in ACTIVATIONS]


@pytest.mark.parametrize("op,options,exact", ACTIVATIONS, ids=ACT_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_activation(op, options, exact, shape):
    x = rng().uniform(-9, 9, shape).astype(F32)
    assert_outputs_match(unary_model(op, shape, options=options), [x], exact=exact, **TOL)


# Wide range plus the values where formulas break down: overflow, underflow, inf, nan, -0.
SPECIAL = np.concatenate([np.linspace(-20, 20, 4001, dtype=F32), np.array(
    [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 88, -88, 100, -100,
     1e30, -1e30, 1e-3], F32)])  # 4017 values: HARD_SWISH's scalar tail is covered too


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf * 0 and friends, as in C
@pytest.mark.parametrize("op,options,exact", ACTIVATIONS, ids=ACT_IDS)
def test_activation_special_values(op, options, exact):
    ours, ref = run_both(unary_model(op, SPECIAL.shape, options=options), [SPECIAL])
    a = ours.get_tensor(ours.get_output_details()[0]["index"])
    b = ref.get_tensor(ref.get_output_details()[0]["index"])
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, **TOL)


@pytest.mark.parametrize("op,options", [("LOGISTIC", None), ("TANH", None),
                                        ("GELU", {"approximate": False}),
                                        ("GELU", {"approximate": True})])
def test_activation_float16(op, options):
    x = rng(1).uniform(-6, 6, (2, 3, 5)).astype(F16)
    assert_outputs_match(unary_model(op, x.shape, F16, options), [x], rtol=2e-3, atol=1e-3)


@pytest.mark.parametrize("alpha_shape", [(5,), (4, 5), (3, 1, 5), (1, 1, 1, 5), (3, 4, 1)],
                         ids=str)
def test_prelu(alpha_shape):
    shape = (2, 3, 4, 5)
    alpha = rng(2).uniform(-1, 1, alpha_shape).astype(F32)
    b = ModelBuilder()
    x = b.add_input(shape)
    a = b.add_constant(alpha)
    y = b.add_output(shape)
    b.add_operator("PRELU", [x, a], [y])
    assert_outputs_match(b.build(), [rng().uniform(-5, 5, shape).astype(F32)], exact=True)


def test_erfc_f64_accuracy():
    # against math.erfc: 2e-9 relative inside the table (|z| <= 10.5), where a float32 result
    # has 6e-8 relative ulps; beyond it erfc(|z|) < 1e-49, 0 once rounded to float32
    z = np.concatenate([np.linspace(-10.5, 10.5, 40001), np.linspace(1.9, 2.1, 2001),
                        [-np.inf, np.inf, 0.0, -0.0]])
    expected = np.array([math.erfc(v) for v in z])
    got = _erfc_f64(z)
    np.testing.assert_allclose(got, expected, rtol=2e-9, atol=0)
    far = np.array([10.6, 12.0, 27.0, 1e30])
    assert np.all(_erfc_f64(far) < 1e-49) and np.all(_erfc_f64(far).astype(np.float32) == 0)
    np.testing.assert_array_equal(_erfc_f64(-far), 2.0)
    assert np.isnan(_erfc_f64(np.array([np.nan])))[0]


@pytest.mark.parametrize("op,dtype,quant", [
    ("TANH", np.int32, None), ("HARD_SWISH", F16, None), ("LOGISTIC", np.int64, None)])
def test_activation_rejects(op, dtype, quant):
    it = gpulite.Interpreter(model_content=unary_model(op, (2, 3), dtype, quantization=quant),
                             device="cpu")
    with pytest.raises(ValueError, match=op):
        it.allocate_tensors()


# ---------------------------------------------------------------------------- reductions

def reduce_model(op, shape, axes, keep_dims, dtype=F32, axis_dtype=np.int32, axis_input=False):
    b = ModelBuilder()
    x = b.add_input(shape, dtype)
    if axis_input:
        a = b.add_input((len(axes),), axis_dtype)
    else:
        a = b.add_constant(np.array(axes, axis_dtype).reshape(len(axes)))
    rank = len(shape)
    red = {int(v) % rank for v in axes}
    out = [1 if d in red else shape[d] for d in range(rank)] if keep_dims else \
        [shape[d] for d in range(rank) if d not in red]
    y = b.add_output(out, dtype)
    b.add_operator(op, [x, a], [y], {"keep_dims": keep_dims})
    return b.build()


def reduce_input(op, shape, dtype, seed=0):
    r = rng(seed)
    if op == "REDUCE_PROD":
        return (r.uniform(0.8, 1.25, shape) if dtype == F32
                else r.integers(-2, 3, shape)).astype(dtype)
    return (r.standard_normal(shape) * 3 + 1 if dtype == F32
            else r.integers(-1000, 1000, shape)).astype(dtype)


REDUCERS = ["MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN"]
AXES = [[1], [-1], [3], [0, 2], [2, 0], [1, -3], [0, 1, 2, 3], [1, 2], []]


@pytest.mark.parametrize("keep_dims", [False, True])
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("dtype", [F32, np.int32, np.int64], ids=dtype_name)
@pytest.mark.parametrize("op", REDUCERS)
def test_reduce(op, dtype, axes, keep_dims):
    shape = (2, 3, 4, 5)
    assert_outputs_match(reduce_model(op, shape, axes, keep_dims, dtype),
                         [reduce_input(op, shape, dtype)], **TOL)


@pytest.mark.parametrize("op,shape,axes,keep_dims", [
    ("SUM", (3, 50, 7), [1], False), ("SUM", (3, 50, 7), [0, 2], True),
    ("MEAN", (3, 50, 7), [0, 2], False), ("MEAN", (1, 33, 47, 16), [1, 2], True),
    ("MEAN", (1, 33, 47, 16), [2, 1], False), ("REDUCE_PROD", (6, 40, 3), [1], False),
    ("SUM", (30, 1000), [0, 1], False), ("MEAN", (12000,), [0], True),
    ("MEAN", (1, 7, 9, 1), [1, 2], True), ("REDUCE_PROD", (2, 3, 4, 5), [3, 0, 1, 2], False)])
def test_reduce_float_sequential_is_bit_exact(op, shape, axes, keep_dims):
    """TFLite sums float32 in row-major order of the reduced elements; so does gpulite."""
    x = reduce_input(op, shape, F32, seed=3)
    assert_outputs_match(reduce_model(op, shape, axes, keep_dims), [x], exact=True)


@pytest.mark.parametrize("shape,axes", [((4, 20000), [1]), ((4, 20000), [-1]),
                                        ((3, 4, 5000), [1, 2]), ((2, 3, 4, 5), [1, 2, 3])])
def test_mean_trailing_axes(shape, axes):
    """A trailing block of reduced dims takes TFLite's vectorised sum: close, not bit-exact."""
    x = (rng(4).standard_normal(shape) * 3 + 1).astype(F32)
    assert_outputs_match(reduce_model("MEAN", shape, axes, False), [x], rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("op", REDUCERS)
@pytest.mark.parametrize("dtype", [F32, np.int32], ids=dtype_name)
def test_reduce_empty(op, dtype):
    """Reducing nothing: 0, 1, lowest, highest, and NaN for a float MEAN, as TFLite fills."""
    x = np.zeros((3, 0, 4), dtype)
    assert_outputs_match(reduce_model(op, x.shape, [1], False, dtype), [x])


def test_reduce_int64_axis_and_errors():
    x = rng().standard_normal((2, 3, 4)).astype(F32)
    it = gpulite.Interpreter(model_content=reduce_model("SUM", x.shape, [-1, 0], False,
                                                        axis_dtype=np.int64), device="cpu")
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    np.testing.assert_allclose(it.get_tensor(it.get_output_details()[0]["index"]),
                               x.sum(axis=(0, 2)), rtol=1e-6)
    with pytest.raises(ValueError, match="out of range"):
        gpulite.Interpreter(model_content=reduce_model("MEAN", (2, 3), [2], False),
                            device="cpu").allocate_tensors()
    # axes computed at run time: MEAN is prepared during invoke, and follows the axes given
    x2 = rng(1).standard_normal((2, 3)).astype(F32)
    content = reduce_model("MEAN", (2, 3), [1], False, axis_input=True)
    for axes in ([1], [0]):
        assert_outputs_match(content, [x2, np.array(axes, np.int32)], **TOL)


# ------------------------------------------------------------------------------- softmax

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("op,options", [("SOFTMAX", {"beta": 1.0}), ("SOFTMAX", {"beta": 0.37}),
                                        ("SOFTMAX", {"beta": 2.5}), ("SOFTMAX", None),
                                        ("LOG_SOFTMAX", None)])
def test_softmax(op, options, shape):
    x = (rng(5).standard_normal(shape) * 4).astype(F32)
    assert_outputs_match(unary_model(op, shape, options=options), [x], **TOL)


@pytest.mark.parametrize("op", ["SOFTMAX", "LOG_SOFTMAX"])
def test_softmax_large_inputs_stay_finite(op):
    x = (rng(6).standard_normal((3, 40)) * 200).astype(F32)  # exp(x) alone would overflow
    ours, _ = assert_outputs_match(unary_model(op, x.shape, options={"beta": 1.0}
                                               if op == "SOFTMAX" else None), [x], **TOL)
    assert np.all(np.isfinite(ours.get_tensor(ours.get_output_details()[0]["index"])))


def test_softmax_float16():
    x = (rng(7).standard_normal((2, 3, 9)) * 3).astype(F16)
    assert_outputs_match(unary_model("SOFTMAX", x.shape, F16, {"beta": 1.0}), [x],
                         rtol=2e-3, atol=1e-3)


# ---------------------------------------------------------------------------- DEQUANTIZE

def dequantize_add_model(w, quantization=None, constant=True):
    """DEQUANTIZE(w) + x: a constant weight dequantised once, then used by a real op."""
    b = ModelBuilder()
    w_in = b.add_constant(w, quantization=quantization) if constant else \
        b.add_input(w.shape, w.dtype, quantization=quantization)
    x = b.add_input(w.shape)
    d = b.add_tensor(w.shape, F32)
    y = b.add_output(w.shape, F32)
    b.add_operator("DEQUANTIZE", [w_in], [d])
    b.add_operator("ADD", [d, x], [y])
    return b.build(), d


def check_dequantize(w, quantization=None, constant=True):
    content, d = dequantize_add_model(w, quantization, constant)
    x = rng(8).standard_normal(w.shape).astype(F32)
    inputs = [x] if constant else [w, x]
    ours, ref = assert_outputs_match(content, inputs, exact=True)
    np.testing.assert_array_equal(ours.get_tensor(d), ref.get_tensor(d))  # bit-exact
    if constant:
        assert folded_away(ours, "DEQUANTIZE")
    return ours.get_tensor(d)


def test_dequantize_float16_constant():
    w = (rng(9).standard_normal((3, 5, 4)) * 10).astype(F16)
    got = check_dequantize(w)
    np.testing.assert_array_equal(got, w.astype(F32))


# sizes 105 and 27 are not multiples of 8: TFLite's vector loop and its scalar tail round
# differently for per-tensor int8/uint8, and both are matched.
@pytest.mark.parametrize("dtype,scale,zp", [(np.int8, 0.0123, -3), (np.int8, 0.05, 7),
                                            (np.uint8, 0.37, 128), (np.uint8, 0.011, 0),
                                            (np.int16, 1.7e-4, 0)])
@pytest.mark.parametrize("shape", [(3, 5, 7), (3, 9), (2, 4)], ids=str)
@pytest.mark.parametrize("constant", [True, False], ids=["const", "input"])
def test_dequantize_per_tensor(dtype, scale, zp, shape, constant):
    info = np.iinfo(dtype)
    w = rng(10).integers(info.min, info.max + 1, shape).astype(dtype)
    got = check_dequantize(w, {"scale": [scale], "zero_point": [zp]}, constant)
    # TFLite's q * scale + (-zp * scale) cancels: it is off by up to one ulp of zp * scale
    np.testing.assert_allclose(got, (w.astype(np.float64) - zp) * np.float32(scale),
                               rtol=1e-6, atol=abs(zp * scale) * 2.0 ** -23)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("constant", [True, False], ids=["const", "input"])
def test_dequantize_per_channel(axis, constant):
    shape = (3, 5, 7)
    w = rng(11).integers(-128, 128, shape).astype(np.int8)
    n = shape[axis]
    scales = rng(12).uniform(0.001, 0.5, n).astype(F32)
    zps = rng(13).integers(-10, 10, n)
    got = check_dequantize(w, {"scale": scales, "zero_point": zps, "quantized_dimension": axis},
                           constant)
    bshape = [1, 1, 1]
    bshape[axis] = n
    expected = (w - zps.reshape(bshape)).astype(F32) * scales.reshape(bshape)
    np.testing.assert_array_equal(got, expected)


def test_dequantize_rejects_unquantized_int8():
    content, _ = dequantize_add_model(np.ones((2, 3), np.int8))
    with pytest.raises(ValueError, match="quantization"):
        gpulite.Interpreter(model_content=content, device="cpu").allocate_tensors()


# ------------------------------------------------------------------------------ DENSIFY

def encode_sparse(dense, order, formats, block_map=(), block_size=(), index_type="Int32Vector"):
    """Dense -> (stored values, schema sparsity dict), independently of gpulite: a node of a
    SPARSE_CSR level is kept when its subtree holds a nonzero; DENSE levels keep every node."""
    rank = dense.ndim
    # expanded tensor: blocked dims, then block dims, then put in traversal order
    exp_shape = [s // block_size[block_map.index(d)] if d in block_map else s
                 for d, s in enumerate(dense.shape)]
    split = []
    for d in range(rank):
        split += [exp_shape[d], block_size[block_map.index(d)]] if d in block_map \
            else [exp_shape[d]]
    e = dense.reshape(split)
    # axes of `split` -> expanded-dim ids: original d at its slot, its block part at rank + b
    ids = []
    for d in range(rank):
        ids.append(d)
        if d in block_map:
            ids.append(rank + block_map.index(d))
    t = e.transpose([ids.index(o) for o in order])
    nodes = [()]
    metadata = []
    for level, fmt in enumerate(formats):
        n = t.shape[level]
        if fmt == 0:
            nodes = [p + (i,) for p in nodes for i in range(n)]
            metadata.append({"format": 0, "dense_size": n})
            continue
        segments, indices, kept = [0], [], []
        for p in nodes:
            for i in range(n):
                if np.any(t[p + (i,)] != 0):
                    indices.append(i)
                    kept.append(p + (i,))
            segments.append(len(indices))
        nodes = kept
        metadata.append({"format": 1, "dense_size": 0,
                         "array_segments_type": index_type,
                         "array_segments": {"values": segments},
                         "array_indices_type": index_type,
                         "array_indices": {"values": indices}})
    values = np.array([t[p] for p in nodes], dense.dtype)
    sp = {"traversal_order": list(order), "dim_metadata": metadata}
    if block_map:
        sp["block_map"] = list(block_map)
    return values, sp


def sparse_matrix(shape, dtype=F32, density=0.3, block=None, seed=14):
    r = rng(seed)
    if block is None:
        mask = r.random(shape) < density
    else:  # whole blocks zero or not
        grid = r.random([s // b for s, b in zip(shape, block)]) < density + 0.2
        mask = np.kron(grid, np.ones(block, bool))
    vals = r.uniform(0.5, 4, shape) * r.choice([-1, 1], shape)
    if np.dtype(dtype).kind == "i":
        vals = r.integers(1, 120, shape) * r.choice([-1, 1], shape)
    return np.where(mask, vals, 0).astype(dtype)


def densify_model(values, dense_shape, sp, dtype):
    """DENSIFY(sparse constant) then a real use: + x for float32, DEQUANTIZE + x for float16,
    and the dense tensor itself as output for int8."""
    b = ModelBuilder()
    s = b.add_tensor(dense_shape, dtype, raw=values.tobytes(), sparsity=sp)
    if dtype == np.int8:
        d = b.add_output(dense_shape, dtype)
        b.add_operator("DENSIFY", [s], [d])
        return b.build(), d, []
    x = b.add_input(dense_shape)
    d = b.add_tensor(dense_shape, dtype)
    b.add_operator("DENSIFY", [s], [d])
    if dtype == F16:
        d32 = b.add_tensor(dense_shape, F32)
        b.add_operator("DEQUANTIZE", [d], [d32])
    else:
        d32 = d
    y = b.add_output(dense_shape)
    b.add_operator("ADD", [d32, x], [y])
    return b.build(), d, [rng(15).standard_normal(dense_shape).astype(F32)]


SPARSE_CASES = {  # name: (shape, traversal order, formats, block_map, block_size, index type)
    "csr": ((4, 6), [0, 1], [0, 1], (), (), "Int32Vector"),
    "csr-uint8": ((4, 6), [0, 1], [0, 1], (), (), "Uint8Vector"),
    "csc": ((4, 6), [1, 0], [0, 1], (), (), "Uint16Vector"),
    "dcsr": ((5, 6), [0, 1], [1, 1], (), (), "Int32Vector"),
    "3d": ((2, 5, 6), [0, 1, 2], [0, 1, 1], (), (), "Int32Vector"),
    "block2x3": ((4, 6), [0, 1, 2, 3], [0, 1, 0, 0], (0, 1), (2, 3), "Int32Vector"),
    "block-cols": ((3, 8), [0, 1, 2], [0, 1, 0], (1,), (4,), "Uint8Vector"),
    "block-3d": ((3, 4, 6), [0, 1, 2, 3], [0, 0, 1, 0], (2,), (2,), "Int32Vector"),
}


@pytest.mark.parametrize("dtype", [F32, F16, np.int8], ids=dtype_name)
@pytest.mark.parametrize("case", SPARSE_CASES)
def test_densify(case, dtype):
    shape, order, formats, block_map, block_size, index_type = SPARSE_CASES[case]
    block = [1] * len(shape)
    for d, s in zip(block_map, block_size):
        block[d] = s
    dense = sparse_matrix(shape, dtype, block=block if block_map else None)
    values, sp = encode_sparse(dense, order, formats, block_map, block_size, index_type)
    assert values.size < dense.size  # really sparse
    content, d, inputs = densify_model(values, shape, sp, dtype)
    ours, ref = assert_outputs_match(content, inputs, exact=True)
    np.testing.assert_array_equal(ours.get_tensor(d), dense)
    np.testing.assert_array_equal(ref.get_tensor(d), dense)
    assert folded_away(ours, "DENSIFY", "DEQUANTIZE")


def corrupt(sp, level, field, values):
    sp = {**sp, "dim_metadata": [dict(m) for m in sp["dim_metadata"]]}
    sp["dim_metadata"][level][field] = {"values": values}
    return sp


def corrupted(name):
    """(values, sparsity) of a 4x6 CSR matrix with one kind of damage."""
    values, sp = encode_sparse(sparse_matrix((4, 6)), [0, 1], [0, 1])
    seg = sp["dim_metadata"][1]["array_segments"]["values"]
    idx = sp["dim_metadata"][1]["array_indices"]["values"]
    if name == "index out of range":
        sp = corrupt(sp, 1, "array_indices", idx[:-1] + [6])
    elif name == "negative index":
        sp = corrupt(sp, 1, "array_indices", [-1] + idx[1:])
    elif name == "segments fall":
        sp = corrupt(sp, 1, "array_segments", [0, seg[-1], 0] + seg[3:])
    elif name == "segments short":
        sp = corrupt(sp, 1, "array_segments", seg[:-1])
    elif name == "segments overshoot":
        sp = corrupt(sp, 1, "array_segments", seg[:-1] + [seg[-1] + 3])
    elif name == "values missing":
        values = values[:-1]
    elif name == "extra values":
        values = np.concatenate([values, values[:2]])
    elif name == "bad traversal":
        sp = {**sp, "traversal_order": [1, 1]}
    elif name == "block does not divide":
        values, sp = encode_sparse(sparse_matrix((4, 6), block=(2, 3)), [0, 1, 2, 3],
                                   [0, 1, 0, 0], (0, 1), (2, 3))
        sp["dim_metadata"][3]["dense_size"] = 4  # 6 % 4 != 0
    elif name == "dense size wrong":
        sp = {**sp, "dim_metadata": [{"format": 0, "dense_size": 5}] + sp["dim_metadata"][1:]}
    return values, sp


@pytest.mark.parametrize("name,message", [
    ("index out of range", "array_indices outside"), ("negative index", "array_indices outside"),
    ("segments fall", "without decreasing"), ("segments short", "parent node"),
    ("segments overshoot", "rise from 0"), ("values missing", "stored values"),
    ("extra values", "stored values"), ("bad traversal", "traversal_order"),
    ("block does not divide", "does not divide"), ("dense size wrong", "DENSE of size 5")])
def test_densify_rejects_corrupt_metadata(name, message):
    """A damaged sparse tensor is a ValueError naming the problem, never an IndexError: from
    the model reader or from DENSIFY's prepare, and from the densify routine itself."""
    values, sp = corrupted(name)
    content, _, _ = densify_model(values, (4, 6), sp, F32)
    with pytest.raises(ValueError) as info:
        gpulite.Interpreter(model_content=content, device="cpu").allocate_tensors()
    assert not isinstance(info.value, IndexError)
    meta = []  # the schema dict as the reader gives it: index vectors as arrays
    for m in sp["dim_metadata"]:
        m = dict(m)
        for key in ("array_segments", "array_indices"):
            m[key] = np.array(m[key]["values"]) if key in m else None
        meta.append(m)
    with pytest.raises(ValueError, match=message):
        sparse.densify(values, (4, 6), {**sp, "block_map": sp.get("block_map", []),
                                        "dim_metadata": meta})


def test_densify_unknown_format_direct():
    with pytest.raises(ValueError, match="unknown format"):
        sparse.densify(np.ones(4, F32), (2, 2), {"traversal_order": [0, 1], "dim_metadata": [
            {"format": 0, "dense_size": 2}, {"format": 2, "dense_size": 2}]})


def test_densify_mediapipe_sparse_model(models_dir):
    """All 46 DENSIFY ops of a real sparse model, against LiteRT's densified tensors."""
    path = os.path.join(models_dir, "mediapipe", "face_detection_full_range_sparse.tflite")
    if not os.path.exists(path):
        pytest.skip(f"{path} not in the model zoo")
    ref = ref_interpreter(path=path, preserve=True)
    ref.allocate_tensors()
    d = ref.get_input_details()[0]
    ref.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    ref.invoke()
    sg = load(path).subgraphs[0]
    ops = [op for op in sg.operators if op.name == "DENSIFY"]
    assert len(ops) == 46
    for op in ops:
        t = sg.tensors[op.inputs[0]]
        dense = sparse.densify(np.frombuffer(t.raw, dtypes.storage_dtype(t.type)), t.shape,
                               t.sparsity)
        expected = ref.get_tensor(op.outputs[0])
        assert dense.dtype == expected.dtype and dense.shape == expected.shape
        np.testing.assert_array_equal(dense.view(np.uint8), expected.view(np.uint8),
                                      err_msg=t.name)
