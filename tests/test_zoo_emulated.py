"""Whole zoo and MediaPipe models through the CUDA backend's kernels on the CPU emulator
(tests/emulated_device.EmuBackend: arena and constants on the emulated device, every CUDA
kernel the ops build launched there, the rest NumPy), against gpulite's CPU path.

This is the closest a machine without a GPU gets to the GPU zoo test
(test_cuda_backend.test_zoo_model_on_cuda_matches_litert_and_the_cpu): it runs the device
launch code, the kernel sources and the fusion of residual ADDs on real models. It found 0-d
constants turning 1-D on upload (PACK of scalars failed in unet_float and
mobilenet_v3_small_float), and dynamic-range models drifting 0.7% from LiteRT (the float
convolutions before their hybrid ones summed in another order). Every tensor is compared with
experimental_preserve_all_tensors (fusion off); the outputs again with fusion on.

The generic op code runs in NumPy here (CuPy on a GPU), so arrays it makes and hands to a
kernel are host arrays: the emulated device copies them in and out around the launch
(cuda_emulator.EmuDevice(adopt_host_arrays=True)).
"""

import os

import numpy as np
import pytest

cuda_emulator = pytest.importorskip("cuda_emulator")
if not cuda_emulator.available():
    pytest.skip("g++ is needed to emulate the CUDA kernels", allow_module_level=True)

import gpulite  # noqa: E402
from emulated_device import EmuBackend, route_to  # noqa: E402
from oracle import compare_all_tensors, random_inputs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.environ.get("GPULITE_MODELS", os.path.join(ROOT, "..", "shared", "models"))

FLOAT = ["zoo/mobilenet_v2_float", "zoo/mobilenet_v2_fp16", "zoo/mobilenet_v3_small_float",
         "zoo/unet_float", "zoo/transformer_float", "zoo/lstm_float", "zoo/misc_ops",
         "mediapipe/face_detection_short_range", "mediapipe/hand_landmark_lite",
         "mediapipe/selfie_segmentation", "mediapipe/face_detection_full_range_sparse",
         "mediapipe/face_landmark_with_attention"]
INTEGER = ["zoo/mobilenet_v2_int8io", "zoo/unet_uint8io", "zoo/unet_16x8",
           "zoo/mobilenet_v3_small_int8"]
# dynamic-range: int8 weights, float activations quantised at run time. A last-bit difference
# in a float op before a hybrid one can move a quantisation level, so these need the float
# convolutions left unquantised summed in TFLite's order (conv2d_in_order, depthwise_conv2d)
HYBRID = ["zoo/mobilenet_v2_dynamic", "zoo/transformer_dynamic", "zoo/lstm_dynamic"]
# models whose every ADD is a residual one the producing convolution absorbs (gpulite.fusion)
FUSES_ADDS = {"zoo/mobilenet_v2_float": 10, "zoo/mobilenet_v2_int8io": 10}


def _run(content, inputs, **kw):
    it = gpulite.Interpreter(model_content=content, **kw)
    it.allocate_tensors()
    for d, v in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], v)
    it.invoke()
    return it


@pytest.mark.parametrize("name", FLOAT + INTEGER + HYBRID)
def test_zoo_model_on_the_emulated_cuda_backend_matches_the_cpu(monkeypatch, name):
    path = os.path.join(MODELS, name + ".tflite")
    if not os.path.exists(path):
        pytest.skip(f"model zoo not found at {path} (set GPULITE_MODELS)")
    with open(path, "rb") as f:
        content = f.read()
    integer = name in INTEGER
    inputs = random_inputs(gpulite.Interpreter(model_content=content, device="cpu"), 0,
                           full_int_range=integer)
    cpu = _run(content, inputs, device="cpu", experimental_preserve_all_tensors=True)
    route_to(monkeypatch, EmuBackend())
    every = _run(content, inputs, experimental_preserve_all_tensors=True)
    assert every.device == "cuda-emulated"
    tol = (0.0, 0.0) if integer else (5e-4, 1e-4)
    compare_all_tensors(every, cpu, tensor_tol=tol[0], output_tol=tol[1])
    fused = _run(content, inputs)
    if name in FUSES_ADDS:
        names = [op.name for *_, op in fused._executor(0).steps]
        assert names.count("CONV_2D+ADD") == FUSES_ADDS[name] and "ADD" not in names
    for d in cpu.get_output_details():
        a, b = fused.get_tensor(d["index"]), cpu.get_tensor(d["index"])
        if integer:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=tol[1] * max(np.abs(b).max(), 1e-6))
