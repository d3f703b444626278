"""Interpreter(precision=...): the argument, the CPU path (always float32), and the CUDA
kernels' tf32 / fp16 modes through whole models on the emulated backend. The kernels' own
rounding is checked case by case in tests/cuda_cases.py (emulator and GPU)."""

import numpy as np
import pytest

import gpulite
from gpulite.writer import ModelBuilder

cuda_emulator = pytest.importorskip("cuda_emulator")
needs_emulator = pytest.mark.skipif(not cuda_emulator.available(),
                                    reason="g++ is needed to emulate the CUDA kernels")


def conv_fc_model():
    """CONV_2D 3x3 -> CONV_2D 1x1 -> RESHAPE -> FULLY_CONNECTED over 80 rows: every GEMM
    kernel that honours the precision (conv2d_igemm, gemm_tiled)."""
    rng = np.random.default_rng(11)
    b = ModelBuilder()
    x = b.add_input((1, 10, 8, 12), np.float32, name="x")
    w1 = b.add_constant(rng.standard_normal((16, 3, 3, 12)).astype(np.float32) * 0.2)
    w2 = b.add_constant(rng.standard_normal((24, 1, 1, 16)).astype(np.float32) * 0.3)
    w3 = b.add_constant(rng.standard_normal((20, 24)).astype(np.float32) * 0.3)
    h1 = b.add_tensor((1, 10, 8, 16), np.float32, name="h1")
    h2 = b.add_tensor((1, 10, 8, 24), np.float32, name="h2")
    shape = b.add_constant(np.array([80, 24], np.int32))
    h3 = b.add_tensor((80, 24), np.float32, name="h3")
    y = b.add_output((80, 20), np.float32, name="y")
    conv = {"padding": 0, "stride_w": 1, "stride_h": 1}
    b.add_operator("CONV_2D", [x, w1, -1], [h1], conv)
    b.add_operator("CONV_2D", [h1, w2, -1], [h2], conv)
    b.add_operator("RESHAPE", [h2, shape], [h3])
    b.add_operator("FULLY_CONNECTED", [h3, w3, -1], [y])
    return b.build()


def test_unknown_precision_is_refused_on_every_device():
    for device in ("cpu", "auto"):
        with pytest.raises(ValueError, match="precision must be one of 'float32', 'tf32', "
                                             "'fp16', not 'bf16'"):
            gpulite.Interpreter(model_content=conv_fc_model(), device=device, precision="bf16")


def test_gpulite_precision_sets_the_default(monkeypatch):
    from emulated_device import EmuBackend, route_to
    backend = EmuBackend(precision="tf32")
    seen = []
    route_to(monkeypatch, backend)
    real = gpulite.backends.select
    monkeypatch.setattr(gpulite.backends, "select",
                        lambda device="auto", num_threads=None, precision="float32":
                        seen.append(precision) or real(device, num_threads, precision))
    monkeypatch.setenv("GPULITE_PRECISION", "tf32")
    assert gpulite.Interpreter(model_content=conv_fc_model()).precision == "tf32"
    gpulite.Interpreter(model_content=conv_fc_model(), precision="fp16")  # the argument wins
    assert seen == ["tf32", "fp16"]
    monkeypatch.setenv("GPULITE_PRECISION", "half")
    with pytest.raises(ValueError, match="GPULITE_PRECISION='half': use one of float32, tf32, "
                                         "fp16"):
        gpulite.Interpreter(model_content=conv_fc_model())


def test_gpus_before_ampere_run_float32_with_a_warning():
    from gpulite.backends.cuda import usable_precision
    for cc in ("80", "90", 86):
        assert usable_precision("tf32", cc) == "tf32"
    assert usable_precision("float32", "70") == "float32"
    for precision in ("tf32", "fp16"):
        with pytest.warns(RuntimeWarning, match="compute capability 8.0 or later .this one is "
                                                "7.5.; running float32"):
            assert usable_precision(precision, "75") == "float32"


def test_the_cpu_path_computes_float32_whatever_is_asked():
    x = np.random.default_rng(0).standard_normal((1, 10, 8, 12)).astype(np.float32)
    outs = []
    for precision in ("float32", "tf32", "fp16"):
        it = gpulite.Interpreter(model_content=conv_fc_model(), device="cpu",
                                 precision=precision)
        assert it.precision == "float32"
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


@needs_emulator
@pytest.mark.parametrize("precision,bound", [("tf32", 5e-3), ("fp16", 5e-3)])
def test_reduced_precision_models_stay_close_to_float32(monkeypatch, precision, bound):
    from emulated_device import EmuBackend, route_to, run_first
    content = conv_fc_model()
    x = np.random.default_rng(0).standard_normal((1, 10, 8, 12)).astype(np.float32)
    results = {}
    for p in ("float32", precision):
        backend = EmuBackend(precision=p)
        route_to(monkeypatch, backend)
        it = gpulite.Interpreter(model_content=content, precision=p)
        assert it.precision == p
        it.allocate_tensors()
        results[p] = run_first(it, x).astype(np.float64)
        launched = {name for name, *_ in backend.dev.launches}
        assert {"conv2d_igemm", "gemm_tiled"} <= launched
    ref = gpulite.Interpreter(model_content=content, device="cpu")
    ref.allocate_tensors()
    cpu = run_first(ref, x)
    scale = np.abs(cpu).max()
    np.testing.assert_allclose(results["float32"], cpu, rtol=0, atol=1e-5 * scale)
    err = np.abs(results[precision] - cpu).max() / scale
    assert 1e-5 < err < bound  # rounded operands: measurably, and boundedly, off float32
