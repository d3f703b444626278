"""TFLite's integer output stage on the CUDA backend (cuda_kernels/requant.cuh; the kernel
requant.cu and the fused epilogue of int_conv.cu, set up by gpulite/backends/cuda_requant.py),
on the CPU emulator of tests/cuda_emulator.py.

Kernel level (tests/cuda_requant_cases.py, shared with the GPU suite): every rounding the stage
knows ("up", "away", "mixed" by channel and by element, the 16x8 "int64" form), left and right
shifts, every output type, against gpulite.ops.quantized_common.make_output_stage on the CPU,
bit for bit, on accumulators that include exact rounding ties. Op level: the quantised
convolutions and FULLY_CONNECTED on an emulated CUDA backend, whose integer kernels write the
requantised output in their epilogue, against the CPU interpreter, whose results the LiteRT
suites check.
"""

import numpy as np
import pytest

cuda_emulator = pytest.importorskip("cuda_emulator")
if not cuda_emulator.available():
    pytest.skip("g++ is needed to emulate the CUDA kernels", allow_module_level=True)

import gpulite  # noqa: E402
from gpulite import backends, cuda_compile  # noqa: E402
from gpulite import fixed_point as fp  # noqa: E402
from gpulite.backends import cuda_requant  # noqa: E402
from gpulite.ops import quantized_common as qc  # noqa: E402
from cuda_requant_cases import *  # noqa: E402,F401,F403  (the shared conformance tests)
from emulated_device import EmuBackend, dev, kernels  # noqa: E402,F401  (fixtures)
from test_ops_quantized_conv import (CONV_OPTS, FC_CASES, conv_model, fc_model,  # noqa: E402
                                     probe_model)


def test_forms_the_kernel_lacks_have_no_fused_description():
    mult, shift = fp.quantize_multiplier(np.full(4, 0.01))
    assert qc.make_output_stage(np, mult, shift, 0, -128, 127, "double",
                                real=np.full(4, 0.01)).fused is None
    scattered = np.array([True, False, True, False])  # not a prefix of the channels
    assert qc.make_output_stage(np, mult, shift, 0, -128, 127, "mixed",
                                up_where=scattered).fused is None


def test_specialisations_are_listed_for_the_compile_test():
    assert cuda_compile.SPECIALISATIONS["requant.cu"] == cuda_requant.all_specialisations()


# -- the ops on an emulated CUDA backend -----------------------------------------------------------

@pytest.fixture
def emulated(monkeypatch):
    backend = EmuBackend()
    monkeypatch.setattr(backends, "select", lambda *_args, **_kw: backend)
    return backend


def run_both(content, x, monkeypatch, backend):
    outs = []
    for device in ("cpu", "emulated"):
        if device == "emulated":
            monkeypatch.setattr(backends, "select",
                                lambda *_args, **_kw: backend)
        it = gpulite.Interpreter(model_content=content, device="cpu")
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    return outs


def launched(backend):
    return [name for name, _g, _b in backend.dev.launches]


def fused_epilogue(backend) -> bool:
    """Whether the ops ran int_conv.cu with a requantising epilogue, and nothing after it."""
    outs = {dict(key).get("OUT_T") for file, key in backend.dev._libs if file == "int_conv.cu"}
    names = launched(backend)
    return bool(names) and outs and "long long" not in outs and "requantize" not in names \
        and all(n.startswith("int_") for n in names)


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("channels,npix", [(13, 7), (21, 3)])
@pytest.mark.parametrize("scale", [0.25, 0.375])
def test_output_stage_ties_on_the_device(monkeypatch, op, dtype, channels, npix, scale):
    backend = EmuBackend()
    content, x = probe_model(op, dtype, channels, npix, scale)
    cpu, dev_out = run_both(content, x, monkeypatch, backend)
    np.testing.assert_array_equal(dev_out, cpu)
    assert fused_epilogue(backend)


@pytest.mark.parametrize("form", ["int8", "uint8", "int16"])
@pytest.mark.parametrize("opts", CONV_OPTS[:4], ids=range(4))
@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
def test_convolutions_on_the_device(monkeypatch, form, opts, op):
    backend = EmuBackend()
    if op == "CONV_2D":
        content, x = conv_model(op, form, (1, 9, 8, 6), (5, 3, 3, 6), opts)
    else:
        dopts = dict(opts, depth_multiplier=2)
        content, x = conv_model(op, form, (1, 9, 8, 6), (1, 3, 3, 12), dopts)
    cpu, dev_out = run_both(content, x, monkeypatch, backend)
    np.testing.assert_array_equal(dev_out, cpu)
    assert fused_epilogue(backend)


@pytest.mark.parametrize("case", FC_CASES, ids=range(len(FC_CASES)))
def test_fully_connected_on_the_device(monkeypatch, case):
    backend = EmuBackend()
    content, x = fc_model(**case)
    cpu, dev_out = run_both(content, x, monkeypatch, backend)
    np.testing.assert_array_equal(dev_out, cpu)
    # the reference kernels' "double" rescale (16x8 with an int64 bias) keeps the array code
    assert fused_epilogue(backend) == (case["xt"] != np.int16 or
                                                   case.get("btype") == np.int32 or
                                                   case["wt"] == np.int16)
