"""Residual ADDs fused into the producing kernel's epilogue (gpulite/fusion.py), on the emulated
CUDA backend (tests/emulated_device.py: the real CudaKernels launch code, kernels compiled with
g++).

The fused step must give bit for bit what the two ops give separately on the same backend
(experimental_preserve_all_tensors=True turns fusion off), and stay within float32 rounding of
the CPU backend. Cases that must not fuse are checked by the steps the executor built.
"""

import numpy as np
import pytest

cuda_emulator = pytest.importorskip("cuda_emulator")
if not cuda_emulator.available():
    pytest.skip("g++ is needed to emulate the CUDA kernels", allow_module_level=True)

import gpulite  # noqa: E402
from gpulite.writer import ModelBuilder  # noqa: E402
from emulated_device import (EmuBackend, cpu_run, graph_emulated, route_to,  # noqa: E402,F401
                             run_first)

RTOL, ATOL = 2e-5, 2e-5
SHAPE = (2, 6, 7, 8)


@pytest.fixture
def emulated(monkeypatch):
    backend = EmuBackend()
    route_to(monkeypatch, backend)
    return backend


def residual_block(residual_first=False, add_act=1, conv_is_output=False, extra_reader=False,
                   residual_shape=SHAPE, late_residual=False, residual_value=None):
    """x -> CONV_2D 3x3 (relu6) -> CONV_2D 1x1 -> h; y = ADD(h, r) with r = x, or r =
    NEG(x) computed after the convolutions (late_residual), or a constant of residual_shape."""
    rng = np.random.default_rng(3)
    c = SHAPE[-1]
    b = ModelBuilder()
    x = b.add_input(SHAPE, np.float32, name="x")
    w1 = b.add_constant(rng.standard_normal((c, 3, 3, c)).astype(np.float32) * 0.3)
    w2 = b.add_constant(rng.standard_normal((c, 1, 1, c)).astype(np.float32) * 0.3)
    bias = b.add_constant(rng.standard_normal(c).astype(np.float32))
    h1 = b.add_tensor(SHAPE, np.float32, name="h1")
    h = b.add_output(SHAPE, np.float32, name="h") if conv_is_output else \
        b.add_tensor(SHAPE, np.float32, name="h")
    y = b.add_output(SHAPE, np.float32, name="y")
    b.add_operator("CONV_2D", [x, w1, bias], [h1], {"padding": 0, "stride_w": 1, "stride_h": 1,
                                                    "fused_activation_function": 3})
    b.add_operator("CONV_2D", [h1, w2, bias], [h], {"padding": 0, "stride_w": 1,
                                                    "stride_h": 1})
    if residual_value is not None:
        r = b.add_constant(residual_value)
    elif residual_shape != SHAPE:
        r = b.add_constant(rng.standard_normal(residual_shape).astype(np.float32))
    elif late_residual:
        r = b.add_tensor(SHAPE, np.float32, name="r")
        b.add_operator("NEG", [x], [r])
    else:
        r = x
    b.add_operator("ADD", [r, h] if residual_first else [h, r], [y],
                   {"fused_activation_function": add_act})
    if extra_reader:
        z = b.add_output(SHAPE, np.float32, name="z")
        b.add_operator("RELU", [h], [z])
    return b.build()


def fc_block(rows=3, depth=40):
    """y = ADD(FULLY_CONNECTED(x), x) (relu6)."""
    rng = np.random.default_rng(5)
    b = ModelBuilder()
    x = b.add_input((rows, depth), np.float32, name="x")
    w = b.add_constant(rng.standard_normal((depth, depth)).astype(np.float32) * 0.2)
    h = b.add_tensor((rows, depth), np.float32, name="h")
    y = b.add_output((rows, depth), np.float32, name="y")
    b.add_operator("FULLY_CONNECTED", [x, w], [h], {"fused_activation_function": 0})
    b.add_operator("ADD", [h, x], [y], {"fused_activation_function": 3})
    return b.build()


def int8_residual_block(dtype=np.int8, shape=(1, 5, 7, 3), fc=False, residual_first=False):
    """Quantised x -> CONV_2D 3x3 (or FULLY_CONNECTED) -> h; y = ADD(h, x) (relu), or ADD(x, h).
    5x7x3 = 105 outputs: TFLite's NEON loop covers 96 of them, the scalar tail 9 (two code
    paths)."""
    from quant_util import q, qrand
    rng = np.random.default_rng(8)
    zp = 0 if dtype == np.int8 else 128
    c = shape[-1]
    b = ModelBuilder()
    x = b.add_input(shape, dtype, name="x", quantization=q(0.05, zp + 3))
    h = b.add_tensor(shape, dtype, name="h", quantization=q(0.08, zp - 5))
    y = b.add_output(shape, dtype, name="y", quantization=q(0.1, zp + 1))
    if fc:
        w = b.add_constant(qrand(rng, (c, c), np.int8, -90, 90), quantization=q(0.02))
        bias = b.add_constant(rng.integers(-500, 500, c).astype(np.int32),
                              quantization=q(0.05 * 0.02))
        b.add_operator("FULLY_CONNECTED", [x, w, bias], [h], {"fused_activation_function": 0})
    elif dtype == np.uint8:  # uint8 filters: per-tensor, zero point 128
        w = b.add_constant(qrand(rng, (c, 3, 3, c), np.uint8, 40, 215), quantization=q(0.02, 128))
        bias = b.add_constant(rng.integers(-500, 500, c).astype(np.int32),
                              quantization=q(0.05 * 0.02))
        b.add_operator("CONV_2D", [x, w, bias], [h], {"padding": 0, "stride_w": 1,
                                                      "stride_h": 1})
    else:
        w = b.add_constant(qrand(rng, (c, 3, 3, c), np.int8, -90, 90),
                           quantization=q([0.02, 0.03, 0.025], [0, 0, 0], dim=0))
        bias = b.add_constant(rng.integers(-500, 500, c).astype(np.int32),
                              quantization=q([0.05 * 0.02, 0.05 * 0.03, 0.05 * 0.025], [0] * 3))
        b.add_operator("CONV_2D", [x, w, bias], [h], {"padding": 0, "stride_w": 1,
                                                      "stride_h": 1})
    b.add_operator("ADD", [x, h] if residual_first else [h, x], [y],
                   {"fused_activation_function": 1})
    return b.build()


def step_names(it):
    return [op.name for _run, _ins, _outs, op in it._executor(0).steps]


def run_model(content, x, **kw):
    it = gpulite.Interpreter(model_content=content, **kw)
    it.allocate_tensors()
    return it, run_first(it, x)


@pytest.mark.parametrize("model,shape,fused,clamped", [
    (residual_block(), SHAPE, "CONV_2D+ADD", True),
    (residual_block(residual_first=True, add_act=0), SHAPE, "CONV_2D+ADD", False),
    (residual_block(late_residual=True, add_act=3), SHAPE, "CONV_2D+ADD", True),
    (fc_block(), (3, 40), "FULLY_CONNECTED+ADD", True),
], ids=["conv_add_relu", "add_residual_first", "residual_computed_later", "fc_add_relu6"])
def test_fused_step_is_exactly_the_two_ops(emulated, model, shape, fused, clamped):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 2
    it, out = run_model(model, x)
    names = step_names(it)
    assert fused in names and "ADD" not in names
    separate, expect = run_model(model, x, experimental_preserve_all_tensors=True)
    assert "ADD" in step_names(separate)
    np.testing.assert_array_equal(out, expect)
    np.testing.assert_allclose(out, cpu_run(model, x), rtol=RTOL, atol=ATOL)
    assert (out < 0).any() != clamped  # the ADD's clamp took effect, or there is none
    # the next invoke, on new values, still computes
    x2 = x[::-1].copy()
    np.testing.assert_allclose(run_first(it, x2), cpu_run(model, x2), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kw", [
    {"conv_is_output": True},  # the intermediate is a model output
    {"extra_reader": True},  # another op reads it
    {"residual_shape": (1, 1, 1, SHAPE[-1])},  # broadcast ADD
], ids=["conv_output_is_model_output", "second_reader", "broadcast"])
def test_not_fused_where_the_intermediate_is_visible_or_shapes_differ(emulated, kw):
    model = residual_block(**kw)
    x = np.random.default_rng(2).standard_normal(SHAPE).astype(np.float32)
    it, out = run_model(model, x)
    assert step_names(it).count("ADD") == 1 and not any("+" in n for n in step_names(it))
    np.testing.assert_allclose(out, cpu_run(model, x), rtol=RTOL, atol=ATOL)


def test_fused_add_clamps_infinities_like_the_add(emulated):
    """An ADD without activation still clamps to the float range (TFLite's
    CalculateActivationRange): inf + x must come out as FLT_MAX, fused or not."""
    r = np.zeros(SHAPE, np.float32)
    r[0, 1, 2, 3], r[1, 2, 3, 4] = np.inf, -np.inf
    model = residual_block(add_act=0, residual_value=r)
    x = np.random.default_rng(4).standard_normal(SHAPE).astype(np.float32)
    it, out = run_model(model, x)
    assert "CONV_2D+ADD" in step_names(it)
    _, expect = run_model(model, x, experimental_preserve_all_tensors=True)
    np.testing.assert_array_equal(out, expect)
    big = np.finfo(np.float32).max
    assert out[0, 1, 2, 3] == big and out[1, 2, 3, 4] == -big


@pytest.mark.parametrize("dtype,fc,residual_first", [
    (np.int8, False, False), (np.uint8, False, True), (np.int8, True, False),
    (np.int8, False, True)], ids=["int8_conv", "uint8_conv_add_x_h", "int8_fc", "int8_add_x_h"])
def test_quantized_add_in_the_integer_epilogue_is_bit_exact(emulated, dtype, fc, residual_first):
    from oracle import litert
    from quant_util import qrand
    shape = (15, 7) if fc else (1, 5, 7, 3)  # 105 outputs: NEON loop and scalar tail
    model = int8_residual_block(dtype, shape, fc, residual_first)
    x = qrand(np.random.default_rng(9), shape, dtype)
    it, out = run_model(model, x)
    fused = "FULLY_CONNECTED+ADD" if fc else "CONV_2D+ADD"
    assert fused in step_names(it) and "ADD" not in step_names(it)
    _, separate = run_model(model, x, experimental_preserve_all_tensors=True)
    np.testing.assert_array_equal(out, separate)
    lr = litert()
    ref = lr.Interpreter(model_content=model, experimental_op_resolver_type=lr.OpResolverType.
                         BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ref.allocate_tensors()
    np.testing.assert_array_equal(out, run_first(ref, x))
    assert len(np.unique(out)) > 10


def test_fused_steps_replay_in_a_cuda_graph(graph_emulated):
    model = residual_block()  # two kernels, the second with the ADD: all of it is captured
    it = gpulite.Interpreter(model_content=model)
    it.allocate_tensors()
    rng = np.random.default_rng(6)
    for k in range(4):
        x = rng.standard_normal(SHAPE).astype(np.float32)
        np.testing.assert_allclose(run_first(it, x), cpu_run(model, x), rtol=RTOL, atol=ATOL)
        assert it.graph_status() == ("warming up" if k == 0 else "graph")
    # invoke 1 captures and launches the graph, invokes 2 and 3 launch it
    assert len(graph_emulated.captures) == 1 and graph_emulated.captures[0].replays == 3
    assert "CONV_2D+ADD" in step_names(it)


def test_the_cpu_backend_never_fuses():
    it = gpulite.Interpreter(model_content=residual_block(), device="cpu")
    it.allocate_tensors()
    assert "ADD" in step_names(it) and not any("+" in n for n in step_names(it))


def test_interpreter_and_inspect_list_the_fused_adds(emulated, tmp_path, capsys):
    from gpulite.cli import main
    it = gpulite.Interpreter(model_content=residual_block())
    it.allocate_tensors()
    assert it.fused_adds() == [(1, "CONV_2D", 2)]
    path = tmp_path / "block.tflite"
    path.write_bytes(residual_block())
    assert main(["inspect", str(path), "--device", "cuda"]) == 0
    assert "ADDs done in their producer's epilogue: 1 (CONV_2D 1 + ADD 2)" in \
        capsys.readouterr().out


def test_profile_names_the_fused_step(emulated):
    it = gpulite.Interpreter(model_content=residual_block())
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.ones(SHAPE, np.float32))
    from gpulite.profiler import profile_ops
    records = profile_ops(it, runs=1)
    assert [(r.node_type, r.name) for r in records] == [("CONV_2D", "h1"), ("CONV_2D+ADD", "y")]
