"""CUDA-graph replay of invoke() (gpulite/graph_replay.py), on the emulated CUDA backend.

tests/emulated_device.py's GraphEmuBackend records kernel launches while "capturing" and a
graph replays exactly those launches with their captured arguments, as a CUDA graph does. So
these tests check the executor's side on the CPU: when it captures, that replays compute the
new inputs' results, that resize / allocate_tensors capture again, the off switches, the
fallback when a capture fails, and which models are never captured. The real capture (CuPy,
the private memory pool) is checked on a GPU by tests/test_cuda_kernels_gpu.py.
"""

import numpy as np
import pytest

cuda_emulator = pytest.importorskip("cuda_emulator")
if not cuda_emulator.available():
    pytest.skip("g++ is needed to emulate the CUDA kernels", allow_module_level=True)

import gpulite  # noqa: E402
from gpulite import graph_replay  # noqa: E402
from gpulite.ops.base import OpError  # noqa: E402
from gpulite.writer import ModelBuilder  # noqa: E402
from emulated_device import cpu_run, graph_emulated, run_first  # noqa: E402,F401

RTOL, ATOL = 2e-5, 1e-6


def fc_softmax_model(rows=3, depth=40, units=24):
    """FULLY_CONNECTED (relu) -> SOFTMAX: both run CUDA kernels, nothing else."""
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    x = b.add_input((rows, depth), np.float32, name="x", shape_signature=(-1, depth))
    w = b.add_constant(rng.standard_normal((units, depth)).astype(np.float32), name="w")
    bias = b.add_constant(rng.standard_normal(units).astype(np.float32), name="b")
    h = b.add_tensor((rows, units), np.float32, name="h")
    y = b.add_output((rows, units), np.float32, name="y")
    b.add_operator("FULLY_CONNECTED", [x, w, bias], [h], {"fused_activation_function": 1})
    b.add_operator("SOFTMAX", [h], [y], {"beta": 1.0})
    return b.build()


def inputs(shape, count):
    rng = np.random.default_rng(7)
    return [rng.standard_normal(shape).astype(np.float32) * 3 for _ in range(count)]


def test_second_invoke_captures_and_replays_compute_new_inputs(graph_emulated):
    content = fc_softmax_model()
    it = gpulite.Interpreter(model_content=content)
    it.allocate_tensors()
    assert it.graph_status() == "not invoked since the last allocation"
    xs = inputs((3, 40), 5)
    for k, x in enumerate(xs):
        out = run_first(it, x)
        np.testing.assert_allclose(out, cpu_run(content, x), rtol=RTOL, atol=ATOL)
        if k == 0:
            assert it.graph_status() == "warming up" and not graph_emulated.captures
        else:
            assert it.graph_status() == "graph"
    assert len(graph_emulated.captures) == 1
    graph = graph_emulated.captures[0]
    assert graph.replays == 4  # the capturing invoke launches it too
    names = [fn.name for fn, *_ in graph.launches_recorded]
    assert any("gemm" in n for n in names) and any("softmax" in n for n in names)


def test_resize_and_allocate_capture_again(graph_emulated):
    content = fc_softmax_model()
    it = gpulite.Interpreter(model_content=content)
    it.allocate_tensors()
    for x in inputs((3, 40), 2):
        run_first(it, x)
    it.resize_tensor_input(it.get_input_details()[0]["index"], (5, 40))
    it.allocate_tensors()
    assert it.graph_status() == "not invoked since the last allocation"
    for x in inputs((5, 40), 3):
        np.testing.assert_allclose(run_first(it, x), cpu_run(content, x), rtol=RTOL, atol=ATOL)
    assert len(graph_emulated.captures) == 2 and it.graph_status() == "graph"
    it.allocate_tensors()  # same shapes: nothing changes, the graph stays
    run_first(it, inputs((5, 40), 1)[0])
    assert len(graph_emulated.captures) == 2


def test_argument_turns_graphs_off(graph_emulated):
    content = fc_softmax_model()
    it = gpulite.Interpreter(model_content=content, cuda_graphs=False)
    it.allocate_tensors()
    for x in inputs((3, 40), 3):
        np.testing.assert_allclose(run_first(it, x), cpu_run(content, x), rtol=RTOL, atol=ATOL)
    assert not graph_emulated.captures
    assert it.graph_status().startswith("eager: CUDA graphs are off")


@pytest.mark.parametrize("value,captured", [("0", False), ("off", False), ("1", True)])
def test_environment_variable_turns_graphs_off(graph_emulated, monkeypatch, value, captured):
    monkeypatch.setenv(graph_replay.ENV_SWITCH, value)
    it = gpulite.Interpreter(model_content=fc_softmax_model())
    it.allocate_tensors()
    for x in inputs((3, 40), 3):
        run_first(it, x)
    assert bool(graph_emulated.captures) == captured


def test_failed_capture_runs_eagerly_from_then_on(graph_emulated):
    content = fc_softmax_model()
    it = gpulite.Interpreter(model_content=content)
    it.allocate_tensors()
    graph_emulated.fail_capture = RuntimeError("operation not permitted when stream is capturing")
    for x in inputs((3, 40), 4):
        np.testing.assert_allclose(run_first(it, x), cpu_run(content, x), rtol=RTOL, atol=ATOL)
    status = it.graph_status()
    assert status.startswith("eager: capture failed (RuntimeError: operation not permitted")
    assert not graph_emulated.captures


def test_an_op_error_during_capture_still_raises(graph_emulated):
    """A real op failure is not swallowed by the capture fallback."""
    it = gpulite.Interpreter(model_content=fc_softmax_model())
    it.allocate_tensors()
    run_first(it, inputs((3, 40), 1)[0])
    # the next (capturing, then eager) invoke fails in the op
    steps = it._executor(0).steps
    steps[0] = (lambda ins, outs: 1 / 0, *steps[0][1:])
    with pytest.raises(OpError, match="ZeroDivisionError"):
        run_first(it, inputs((3, 40), 1)[0])


def custom_op_model():
    b = ModelBuilder()
    x = b.add_input((2, 3), np.float32, name="x")
    y = b.add_output((2, 3), np.float32, name="y")
    b.add_operator("Twice", [x], [y])
    return b.build()


def prepare_twice(ctx):
    ctx.set_output_shape(0, ctx.input(0).shape)

    def run_twice(ins, outs):
        outs[0][...] = ins[0] * 2
    return run_twice


def test_user_custom_ops_are_never_captured(graph_emulated):
    it = gpulite.Interpreter(model_content=custom_op_model(), custom_ops={"Twice": prepare_twice})
    it.allocate_tensors()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for _ in range(3):
        np.testing.assert_array_equal(run_first(it, x), 2 * x)
    assert not graph_emulated.captures
    assert it.graph_status() == "eager: custom op Twice (operator 0) is user code"


def test_blocker_names_host_ops_and_dynamic_steps():
    class Op:
        def __init__(self, name, index):
            self.name, self.index, self.code = name, index, 0

    plain = lambda run: run != "dynamic"  # noqa: E731
    never = lambda op: False  # noqa: E731
    steps = [("k", (), (), Op("ADD", 0)), ("k", (), (), Op("WHILE", 1))]
    assert graph_replay.graph_blocker(steps, plain, never) == \
        "WHILE (operator 1) runs on the host every invoke"
    steps = [("k", (), (), Op("ADD", 0)), ("dynamic", (), (), Op("GATHER", 4))]
    assert graph_replay.graph_blocker(steps, plain, never) == \
        "GATHER (operator 4) has a shape known only at invoke"
    assert graph_replay.graph_blocker(steps[:1], plain, never) is None


def test_cpu_backend_never_captures():
    it = gpulite.Interpreter(model_content=fc_softmax_model(), device="cpu")
    it.allocate_tensors()
    run_first(it, inputs((3, 40), 1)[0])
    assert it.graph_status().startswith("eager: CUDA graphs are off")


@pytest.mark.parametrize("adj_x,adj_y", [(False, False), (True, False), (False, True)])
def test_batch_matmul_runs_the_gemm_kernel(graph_emulated, adj_x, adj_y):
    rng = np.random.default_rng(1)
    a_shape = (2, 6, 5) if adj_x else (2, 5, 6)
    b_shape = (7, 6) if adj_y else (6, 7)
    b = ModelBuilder()
    x = b.add_input(a_shape, np.float32, name="a")
    w = b.add_input(b_shape, np.float32, name="b")
    y = b.add_output((2, 5, 7), np.float32, name="y")
    b.add_operator("BATCH_MATMUL", [x, w], [y], {"adj_x": adj_x, "adj_y": adj_y})
    content = b.build()
    va = rng.standard_normal(a_shape).astype(np.float32)
    vb = rng.standard_normal(b_shape).astype(np.float32)
    outs = []
    for device in ("emulated", "cpu"):
        it = gpulite.Interpreter(model_content=content,
                                 device="cpu" if device == "cpu" else "auto")
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], va)
        it.set_tensor(it.get_input_details()[1]["index"], vb)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    np.testing.assert_allclose(outs[0], outs[1], rtol=RTOL, atol=ATOL)
    assert any("gemm" in name for name, _g, _b in graph_emulated.dev.launches)
