"""Ops whose code the device refuses run on the host (gpulite/host_fallback.py).

On the emulated CUDA backend (tests/emulated_device.py), an op is made to refuse device arrays
the way CuPy does (TypeError: implicit conversion to NumPy), at run time or in its prepare.
The executor must then run it on the host with copies, with the right results, one warning,
the op listed by Interpreter.host_ops(), and CUDA graphs kept off for that subgraph.
"""

import warnings

import numpy as np
import pytest

cuda_emulator = pytest.importorskip("cuda_emulator")
if not cuda_emulator.available():
    pytest.skip("g++ is needed to emulate the CUDA kernels", allow_module_level=True)

import gpulite  # noqa: E402
from gpulite.host_fallback import HostStep  # noqa: E402
from gpulite.ops.base import OpError  # noqa: E402
from gpulite.writer import ModelBuilder  # noqa: E402
from emulated_device import cpu_run, graph_emulated, run_first  # noqa: E402,F401

REFUSAL = "Implicit conversion to a NumPy array is not allowed"


def fc_relu_model(rows=2):
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    x = b.add_input((rows, 8), np.float32, name="x")
    w = b.add_constant(rng.standard_normal((5, 8)).astype(np.float32), name="w")
    h = b.add_tensor((rows, 5), np.float32, name="h")
    y = b.add_output((rows, 5), np.float32, name="y")
    b.add_operator("FULLY_CONNECTED", [x, w], [h])
    b.add_operator("RELU", [h], [y])
    return b.build()


def picky_relu(refuse_in="run", error=TypeError):
    """RELU whose device form fails like NumPy-only code on CuPy arrays."""
    def prepare(ctx):
        ctx.set_output_shape(0, ctx.input(0).shape)
        on_device = ctx.backend.name != "cpu"
        if on_device and refuse_in == "prepare":
            raise error(REFUSAL)

        def run(ins, outs):
            if on_device:
                raise error(REFUSAL)
            np.maximum(ins[0], 0, out=outs[0])
        return run
    return prepare


def interpreter(content, relu):
    it = gpulite.Interpreter(model_content=content)
    it._runtime.kernels["RELU"] = relu
    return it


def xs(rows, n=3):
    rng = np.random.default_rng(rows)
    return [rng.standard_normal((rows, 8)).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("refuse_in", ["run", "prepare"])
def test_refused_op_runs_on_the_host_with_one_warning(graph_emulated, refuse_in):
    content = fc_relu_model()
    it = interpreter(content, picky_relu(refuse_in))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it.allocate_tensors()
        for x in xs(2):
            np.testing.assert_allclose(run_first(it, x), cpu_run(content, x), rtol=2e-5, atol=1e-6)
    messages = [str(w.message) for w in caught if "runs on the host" in str(w.message)]
    assert len(messages) == 1 and "RELU (operator 1)" in messages[0]
    assert it.host_ops() == {1: ("RELU", f"TypeError: {REFUSAL}")}
    steps = it._executor(0).steps
    assert isinstance(steps[1][0], HostStep) and not isinstance(steps[0][0], HostStep)
    assert it.graph_status().startswith("eager: RELU (operator 1) runs on the host")
    assert not graph_emulated.captures


def test_the_host_op_stays_on_the_host_after_a_resize(graph_emulated):
    content = fc_relu_model()
    it = interpreter(content, picky_relu("run"))
    it.allocate_tensors()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_first(it, xs(2)[0])
    it.resize_tensor_input(0, (4, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning: prepared on the host directly
        it.allocate_tensors()
        for x in xs(4):
            np.testing.assert_allclose(run_first(it, x), cpu_run(content, x), rtol=2e-5, atol=1e-6)
    assert isinstance(it._executor(0).steps[1][0], HostStep)


def test_other_errors_are_not_moved_to_the_host(graph_emulated):
    it = interpreter(fc_relu_model(), picky_relu("run", error=ValueError))
    it.allocate_tensors()
    with pytest.raises(OpError, match="RELU .operator 1. failed: ValueError"):
        run_first(it, xs(2)[0])
    assert it.host_ops() == {}


def test_the_cpu_backend_never_moves_ops():
    it = gpulite.Interpreter(model_content=fc_relu_model(), device="cpu")
    it._runtime.kernels["RELU"] = picky_relu("run")
    it.allocate_tensors()
    run_first(it, xs(2)[0])  # on the CPU backend the op's "device" form is the host form
    assert it.host_ops() == {}


def test_ops_the_device_runs_are_not_moved(graph_emulated):
    content = fc_relu_model()
    # (no graphs: the emulated graph replays kernels only, and RELU is NumPy code here)
    it = gpulite.Interpreter(model_content=content, cuda_graphs=False)
    it.allocate_tensors()
    for x in xs(2):
        np.testing.assert_allclose(run_first(it, x), cpu_run(content, x), rtol=2e-5, atol=1e-6)
    assert it.host_ops() == {}


def test_inspect_lists_the_host_ops_of_a_device_backend(graph_emulated, tmp_path, capsys):
    from gpulite import cli
    b = ModelBuilder()
    x = b.add_input((2, 8), np.float32, name="x")
    y = b.add_output((2, 8), np.float32, name="y")
    b.add_operator("PickyRelu", [x], [y])
    path = tmp_path / "picky.tflite"
    path.write_bytes(b.build())
    gpulite.register_custom_op("PickyRelu", picky_relu("run"))
    try:
        assert cli.main(["inspect", str(path), "--device", "cuda"]) == 0
    finally:
        gpulite.unregister_custom_op("PickyRelu")
    out = capsys.readouterr().out
    assert f"ops on the host (no device implementation): PickyRelu (operator 0: TypeError: " \
           f"{REFUSAL})" in out
    assert "invoke: eager: PickyRelu (operator 0) runs on the host" in out
