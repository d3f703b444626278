"""WHILE, IF, CALL and the dynamic tensors they produce, against LiteRT."""

import os

import numpy as np
import pytest

import gpulite
from gpulite.writer import ModelBuilder
from oplib import outputs
from oracle import allocate_and_invoke, compare_all_tensors, make_pair, run_both

F32, I32 = np.float32, np.int32


def run_and_compare(content, inputs, preserve=True):
    ours, ref = run_both(content, inputs, preserve=preserve)
    for a, b in zip(outputs(ours), outputs(ref)):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    for a, b in zip(ours.get_output_details(), ref.get_output_details()):
        np.testing.assert_array_equal(a["shape"], b["shape"])
    return ours, ref


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("n", [0, 1, 4])
def test_zoo_control_flow_matches_litert(models_dir, batch, n):
    with open(os.path.join(models_dir, "zoo/control_flow.tflite"), "rb") as f:
        content = f.read()
    x = np.random.default_rng(batch * 10 + n).normal(size=(batch, 3)).astype(F32)
    ours, ref = run_and_compare(content, [x, np.array(n, I32)])
    compare_all_tensors(ours, ref)


def test_zoo_control_flow_reused_across_invokes_and_resizes(models_dir):
    with open(os.path.join(models_dir, "zoo/control_flow.tflite"), "rb") as f:
        content = f.read()
    ours, ref = make_pair(content, preserve=False)
    rng = np.random.default_rng(0)
    for batch, n in [(2, 3), (2, 5), (4, 1), (1, 0), (4, 2)]:
        x = rng.normal(size=(batch, 3)).astype(F32)
        for it in (ours, ref):
            allocate_and_invoke(it, [x, np.array(n, I32)])
        np.testing.assert_allclose(outputs(ours)[0], outputs(ref)[0], rtol=1e-6)


def _counting_loop(grow: bool):
    """while i < n: i += 1; x = concat(x, x) if grow else x * 2."""
    b = ModelBuilder()
    main = b.current
    i0 = b.add_constant(np.array(0, I32), name="i0")
    n = b.add_input([], I32, name="n")
    x = b.add_input([1, 2], F32, name="x", shape_signature=[-1, 2])
    out_i = b.add_tensor([], I32, name="out_i")
    out_n = b.add_tensor([], I32, name="out_n")
    out_x = b.add_output([1, 2], F32, name="out_x", shape_signature=[-1, 2])
    b.mark_output(out_i)

    cond = b.add_subgraph("cond")
    ci = b.add_input([], I32)
    cn = b.add_input([], I32)
    b.add_input([1, 2], F32, shape_signature=[-1, 2])
    less = b.add_output([], np.bool_)
    b.add_operator("LESS", [ci, cn], [less])

    body = b.add_subgraph("body")
    bi = b.add_input([], I32)
    bn = b.add_input([], I32)
    bx = b.add_input([1, 2], F32, shape_signature=[-1, 2])
    one = b.add_constant(np.array(1, I32))
    ni = b.add_tensor([], I32)
    b.add_operator("ADD", [bi, one], [ni])
    nx = b.add_tensor([1, 2], F32, shape_signature=[-1, 2])
    if grow:
        b.add_operator("CONCATENATION", [bx, bx], [nx], {"axis": 0})
    else:
        two = b.add_constant(np.array(2, F32))
        b.add_operator("MUL", [bx, two], [nx])
    for t in (ni, bn, nx):
        b.mark_output(t)

    b.use_subgraph(main)
    b.add_operator("WHILE", [i0, n, x], [out_i, out_n, out_x],
                   {"cond_subgraph_index": cond, "body_subgraph_index": body})
    return b.build()


@pytest.mark.parametrize("n", [0, 1, 3])
def test_while_with_static_shapes(n):
    x = np.array([[1.5, -2.0]], F32)
    run_and_compare(_counting_loop(grow=False), [np.array(n, I32), x])


def _swapping_loop():
    """while i < n: i += 1; (a, b) = (b, a * 3): the body returns an input tensor at another
    position, so the loop's outputs and inputs share arrays."""
    b = ModelBuilder()
    main = b.current
    i0 = b.add_constant(np.array(0, I32), name="i0")
    n = b.add_input([], I32, name="n")
    xa = b.add_input([2], F32, name="a")
    xb = b.add_input([2], F32, name="b")
    outs = [b.add_tensor([], I32), b.add_tensor([], I32)]
    out_a, out_b = b.add_output([2], F32, name="out_a"), b.add_output([2], F32, name="out_b")

    cond = b.add_subgraph("cond")
    ci, cn = b.add_input([], I32), b.add_input([], I32)
    b.add_input([2], F32)
    b.add_input([2], F32)
    less = b.add_output([], np.bool_)
    b.add_operator("LESS", [ci, cn], [less])

    body = b.add_subgraph("body")
    bi, bn = b.add_input([], I32), b.add_input([], I32)
    ba, bb = b.add_input([2], F32), b.add_input([2], F32)
    ni = b.add_tensor([], I32)
    b.add_operator("ADD", [bi, b.add_constant(np.array(1, I32))], [ni])
    na = b.add_tensor([2], F32)
    b.add_operator("MUL", [ba, b.add_constant(np.array(3, F32))], [na])
    for t in (ni, bn, bb, na):
        b.mark_output(t)

    b.use_subgraph(main)
    b.add_operator("WHILE", [i0, n, xa, xb], outs + [out_a, out_b],
                   {"cond_subgraph_index": cond, "body_subgraph_index": body})
    return b.build()


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_while_whose_body_swaps_its_inputs(n):
    run_and_compare(_swapping_loop(), [np.array(n, I32), np.array([1.0, -2.0], F32),
                                       np.array([0.5, 4.0], F32)])


@pytest.mark.parametrize("n", [0, 1, 3])
def test_while_whose_body_grows_a_tensor(n):
    x = np.array([[1.5, -2.0]], F32)
    ours, ref = run_and_compare(_counting_loop(grow=True), [np.array(n, I32), x])
    assert outputs(ours)[0].shape == (2 ** n, 2)


def test_while_dynamic_outputs_follow_each_invoke():
    content = _counting_loop(grow=True)
    it = gpulite.Interpreter(model_content=content, device="cpu")
    it.allocate_tensors()
    x = np.array([[1.0, 2.0]], F32)
    for n in (3, 1, 2, 0):
        it.set_tensor(it.get_input_details()[0]["index"], np.array(n, I32))
        it.set_tensor(it.get_input_details()[1]["index"], x)
        it.invoke()
        out = it.get_tensor(it.get_output_details()[0]["index"])
        np.testing.assert_array_equal(out, np.tile(x, (2 ** n, 1)))
        assert tuple(it.get_output_details()[0]["shape"]) == (2 ** n, 2)


def _if_model(same_shapes: bool):
    """y = x * 3 if c else (x + 1 or concat(x, x))."""
    b = ModelBuilder()
    main = b.current
    c = b.add_input([], np.bool_, name="c")
    x = b.add_input([2, 3], F32, name="x")
    y = b.add_output([2, 3], F32, name="y")

    then = b.add_subgraph("then")
    tx = b.add_input([2, 3], F32)
    three = b.add_constant(np.array(3, F32))
    ty = b.add_output([2, 3], F32)
    b.add_operator("MUL", [tx, three], [ty])

    other = b.add_subgraph("else")
    ex = b.add_input([2, 3], F32)
    if same_shapes:
        one = b.add_constant(np.array(1, F32))
        ey = b.add_output([2, 3], F32)
        b.add_operator("ADD", [ex, one], [ey])
    else:
        ey = b.add_output([4, 3], F32)
        b.add_operator("CONCATENATION", [ex, ex], [ey], {"axis": 0})

    b.use_subgraph(main)
    b.add_operator("IF", [c, x], [y], {"then_subgraph_index": then,
                                        "else_subgraph_index": other})
    return b.build()


@pytest.mark.parametrize("same_shapes", [True, False])
@pytest.mark.parametrize("cond", [True, False])
def test_if_branches(same_shapes, cond):
    x = np.arange(6, dtype=F32).reshape(2, 3)
    run_and_compare(_if_model(same_shapes), [np.array(cond), x])


def test_call_runs_a_subgraph():
    # LiteRT's resolver has no CALL kernel; the reference is hand-computed
    b = ModelBuilder()
    main = b.current
    x = b.add_input([3], F32)
    y = b.add_output([3], F32)
    sub = b.add_subgraph("callee")
    sx = b.add_input([3], F32)
    k = b.add_constant(np.array([1, 2, 3], F32))
    sy = b.add_output([3], F32)
    b.add_operator("MUL", [sx, k], [sy])
    b.use_subgraph(main)
    b.add_operator("CALL", [x], [y], {"subgraph": sub})
    it = gpulite.Interpreter(model_content=b.build(), device="cpu")
    it.allocate_tensors()
    it.set_tensor(x, np.array([2, 2, 2], F32))
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(y), [2, 4, 6])


def test_nested_while_loops():
    """outer: while i < n: (inner: while j < i: x += 1; j += 1); i += 1  => x += n(n-1)/2."""
    b = ModelBuilder()
    main = b.current

    # inner loop over (j, i, x)
    inner_cond = b.add_subgraph("inner_cond")
    j, i = b.add_input([], I32), b.add_input([], I32)
    b.add_input([], F32)
    lt = b.add_output([], np.bool_)
    b.add_operator("LESS", [j, i], [lt])
    inner_body = b.add_subgraph("inner_body")
    j, i, x = b.add_input([], I32), b.add_input([], I32), b.add_input([], F32)
    one_i, one_f = b.add_constant(np.array(1, I32)), b.add_constant(np.array(1, F32))
    j2, x2 = b.add_tensor([], I32), b.add_tensor([], F32)
    b.add_operator("ADD", [j, one_i], [j2])
    b.add_operator("ADD", [x, one_f], [x2])
    for t in (j2, i, x2):
        b.mark_output(t)

    # outer loop over (i, n, x)
    outer_cond = b.add_subgraph("outer_cond")
    i, n = b.add_input([], I32), b.add_input([], I32)
    b.add_input([], F32)
    lt = b.add_output([], np.bool_)
    b.add_operator("LESS", [i, n], [lt])
    outer_body = b.add_subgraph("outer_body")
    i, n, x = b.add_input([], I32), b.add_input([], I32), b.add_input([], F32)
    zero = b.add_constant(np.array(0, I32))
    one = b.add_constant(np.array(1, I32))
    jo, io, xo = b.add_tensor([], I32), b.add_tensor([], I32), b.add_tensor([], F32)
    b.add_operator("WHILE", [zero, i, x], [jo, io, xo],
                   {"cond_subgraph_index": inner_cond, "body_subgraph_index": inner_body})
    i2 = b.add_tensor([], I32)
    b.add_operator("ADD", [i, one], [i2])
    for t in (i2, n, xo):
        b.mark_output(t)

    b.use_subgraph(main)
    n_in = b.add_input([], I32)
    x_in = b.add_input([], F32)
    i0 = b.add_constant(np.array(0, I32))
    i_out, n_out, x_out = b.add_tensor([], I32), b.add_tensor([], I32), b.add_output([], F32)
    b.add_operator("WHILE", [i0, n_in, x_in], [i_out, n_out, x_out],
                   {"cond_subgraph_index": outer_cond, "body_subgraph_index": outer_body})
    content = b.build()
    for n in (0, 1, 4):
        ours, _ref = run_and_compare(content, [np.array(n, I32), np.array(0.5, F32)])
        assert float(outputs(ours)[0]) == 0.5 + n * (n - 1) / 2


def test_endless_while_loop_stops_at_the_iteration_cap(monkeypatch):
    monkeypatch.setenv("GPULITE_MAX_LOOP_ITERATIONS", "50")
    it = gpulite.Interpreter(model_content=_counting_loop(grow=False), device="cpu")
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.array(10 ** 6, I32))
    it.set_tensor(it.get_input_details()[1]["index"], np.ones((1, 2), F32))
    with pytest.raises(RuntimeError, match="GPULITE_MAX_LOOP_ITERATIONS"):
        it.invoke()
    it.set_tensor(it.get_input_details()[0]["index"], np.array(3, I32))
    it.invoke()  # still usable
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]),
                                  np.full((1, 2), 8, F32))


@pytest.mark.parametrize("name", ["zoo/lstm_float", "zoo/lstm_dynamic"])
def test_zoo_lstm_outputs_match_litert(models_dir, name):
    # Only outputs: LiteRT leaves WHILE results nothing reads (and the loop subgraphs' own
    # tensors) in whatever state its memory reuse gives them, even when preserving tensors.
    # The models' batch is static (shape_signature [1, 20, 8]); several invokes in a row.
    # lstm_dynamic's FULLY_CONNECTED ops inside the loop body are hybrid (int8 weights).
    with open(os.path.join(models_dir, name + ".tflite"), "rb") as f:
        content = f.read()
    ours, ref = make_pair(content, preserve=False)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.normal(size=(1, 20, 8)).astype(F32)
        for it in (ours, ref):
            allocate_and_invoke(it, [x])
        (a,), (b,) = outputs(ours), outputs(ref)
        assert a.shape == b.shape == (1, 4)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
