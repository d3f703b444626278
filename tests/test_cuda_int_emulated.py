"""The exact-integer accumulator kernels (cuda_kernels/int_conv.cu, launched by
gpulite/backends/cuda_int.py) on the CPU emulator of tests/cuda_emulator.py, against
cpu_fallback/int_gemm.py, bit for bit.

The shared cases are tests/cuda_int_cases.py (they run on a GPU in tests/test_cuda_int_gpu.py);
this module adds what only the emulator can observe: which specialisation a factory picks,
that calls allocate nothing, and the 64-bit accumulators forced on every form.
"""

import numpy as np
import pytest

cuda_emulator = pytest.importorskip("cuda_emulator")
if not cuda_emulator.available():
    pytest.skip("g++ is needed to emulate the CUDA kernels", allow_module_level=True)

from gpulite import cuda_compile  # noqa: E402
from gpulite.backends import cuda_int  # noqa: E402
from gpulite.cpu_fallback import int_gemm  # noqa: E402

from cuda_int_cases import *  # noqa: E402,F401,F403  (the shared conformance tests)
from cuda_int_cases import (FORMS, FORM_IDS, absmax, centred_filter, check_equal,  # noqa: E402
                            geometry, int_values)


from emulated_device import HostEmu as _Emu, dev, kernels  # noqa: E402,F401  (fixtures)


def _compiled(dev):
    """The int_conv.cu specialisations the device has built, as {(IN_T, ACC_T)}."""
    out = set()
    for file, key in dev._libs:
        if file == "int_conv.cu":
            d = dict(key)
            out.add((d["IN_T"], d["ACC_T"]))
    return out


# -- specialisations -----------------------------------------------------------------------------

def test_specialisations_are_listed_for_the_compile_test():
    listed = {cuda_compile.defines_key(d) for d in cuda_compile.SPECIALISATIONS["int_conv.cu"]}
    wanted = {cuda_compile.defines_key(d) for d in cuda_int.all_specialisations()}
    assert listed == wanted and len(listed) == 24  # IN_T x ACC_T x OUT_T (raw or 3 types)
    assert set(cuda_compile.KERNELS["int_conv.cu"]) == {
        "int_conv2d_igemm", "int_gemm_smallm", "int_depthwise_conv2d", "int_transpose_conv2d"}


def test_the_accumulator_width_follows_the_bound(dev, kernels, monkeypatch):
    rng = np.random.default_rng(0)
    x = int_values(rng, (2, 9), np.int8)
    w = centred_filter(rng, (9, 4), np.int8, 0)
    bound = absmax(np.int8, 0) * int(np.abs(w).sum(axis=0).max())
    monkeypatch.setattr(cuda_int, "ACC32_LIMIT", bound + 1)
    kernels.make_int_matmul(w, absmax(np.int8, 0), 0)(dev.upload_host(x))
    assert _compiled(dev) == {("gl_s8", "int")}
    monkeypatch.setattr(cuda_int, "ACC32_LIMIT", bound)
    got = kernels.make_int_matmul(w, absmax(np.int8, 0), 0)(dev.upload_host(x))
    assert ("gl_s8", "long long") in _compiled(dev)
    check_equal(dev, got, int_gemm.make_int_matmul(w, absmax(np.int8, 0), 0)(x))


def test_int16_by_int16_picks_64_bit_accumulators(dev, kernels):
    w = np.full((3, 2), 32767, np.int64)  # 3 * 32768 * 32767 > 2^31
    x = np.full((1, 3), -32768, np.int16)
    got = kernels.make_int_matmul(w, absmax(np.int16, 0), 0)(dev.upload_host(x))
    assert ("gl_s16", "long long") in _compiled(dev)
    np.testing.assert_array_equal(dev.host(got), np.full((1, 2), -3 * 32768 * 32767))


def test_the_kernels_follow_the_inputs_dtype(dev, kernels):
    # the bound (127, zero point 0) suggests int16 (the hybrid ops' quantised rows); an int8
    # input still gets the int8 kernels, compiled at its first call
    rng = np.random.default_rng(1)
    w = centred_filter(rng, (7, 5), np.int8, 0)
    mm = kernels.make_int_matmul(w, 127, 0)
    assert _compiled(dev) == {("gl_s16", "int")}
    for dtype in (np.int8, np.int16):
        x = np.clip(int_values(rng, (3, 7), dtype), -127, 127).astype(dtype)
        check_equal(dev, mm(dev.upload_host(x)), int_gemm.make_int_matmul(w, 127, 0)(x))
    assert _compiled(dev) == {("gl_s16", "int"), ("gl_s8", "int")}


# -- forced 64-bit accumulators ------------------------------------------------------------------

@pytest.mark.parametrize("form", FORM_IDS)
def test_every_kernel_with_64_bit_accumulators(dev, kernels, monkeypatch, form):
    monkeypatch.setattr(cuda_int, "ACC32_LIMIT", 0)
    xdt, xzp, wdt, wzp = FORMS[form]
    rng = np.random.default_rng(len(form))
    am = absmax(xdt, xzp)
    # FULLY_CONNECTED, both kernels
    for m in (3, 19):
        x = int_values(rng, (m, 21), xdt)
        w = centred_filter(rng, (21, 66), wdt, wzp)
        check_equal(dev, kernels.make_int_matmul(w, am, xzp)(dev.upload_host(x)),
                    int_gemm.make_int_matmul(w, am, xzp)(x))
    x = int_values(rng, (2, 7, 6, 6), xdt)
    # grouped, strided, dilated CONV_2D
    wt = centred_filter(rng, (10, 3, 2, 3), wdt, wzp)
    out_hw, pads = geometry("SAME", (7, 6), (3, 2), (2, 1), (1, 2))
    args = (x.shape, wt, (2, 1), (1, 2), pads, out_hw, am, xzp)
    check_equal(dev, kernels.make_int_conv2d(*args)(dev.upload_host(x)),
                int_gemm.make_int_conv2d(*args)(x))
    # DEPTHWISE_CONV_2D with a multiplier
    wt = centred_filter(rng, (1, 3, 3, 12), wdt, wzp)
    out_hw, pads = geometry("SAME", (7, 6), (3, 3), (1, 2), (1, 1))
    args = (x.shape, wt, (1, 2), (1, 1), pads, out_hw, am, xzp)
    check_equal(dev, kernels.make_int_depthwise_conv2d(*args)(dev.upload_host(x)),
                int_gemm.make_int_depthwise_conv2d(*args)(x))
    # TRANSPOSE_CONV
    wt = centred_filter(rng, (5, 3, 3, 6), wdt, wzp)
    args = (x.shape, wt, (2, 14, 12, 5), (2, 2), (0, 0), am, xzp)
    check_equal(dev, kernels.make_int_transpose_conv2d(*args)(dev.upload_host(x)),
                int_gemm.make_int_transpose_conv2d(*args)(x))
    assert {acc for _, acc in _compiled(dev)} == {"long long"}


# -- allocation and errors -----------------------------------------------------------------------

def test_calls_allocate_nothing(dev, kernels):
    rng = np.random.default_rng(2)
    x = dev.upload_host(int_values(rng, (2, 5, 6, 4), np.uint8))
    conv = kernels.make_int_conv2d(x.shape, centred_filter(rng, (3, 3, 3, 4), np.uint8, 100),
                                   (1, 1), (1, 1), (1, 1), (5, 6), absmax(np.uint8, 90), 90)
    dw = kernels.make_int_depthwise_conv2d(x.shape, centred_filter(rng, (1, 3, 3, 8), np.uint8,
                                                                   100),
                                           (1, 1), (1, 1), (1, 1), (5, 6),
                                           absmax(np.uint8, 90), 90)
    tc = kernels.make_int_transpose_conv2d(x.shape, centred_filter(rng, (3, 2, 2, 4),
                                                                   np.uint8, 100),
                                           (2, 10, 12, 3), (2, 2), (0, 0),
                                           absmax(np.uint8, 90), 90)
    fc = kernels.make_int_matmul(centred_filter(rng, (6, 4), np.uint8, 100),
                                 absmax(np.uint8, 90), 90)
    xf = dev.upload_host(int_values(rng, (20, 6), np.uint8))
    calls = [(conv, x), (dw, x), (tc, x), (fc, xf)]
    first = [f(a) for f, a in calls]  # the matmul allocates its buffer here (M is known now)
    n_blocks = len(dev._blocks)
    again = [f(a) for f, a in calls]
    assert len(dev._blocks) == n_blocks
    assert all(a is b for a, b in zip(first, again))


def test_inputs_are_checked(dev, kernels):
    w = centred_filter(np.random.default_rng(3), (4, 3), np.int8, 0)
    mm = kernels.make_int_matmul(w, absmax(np.int8, 0), 0)
    with pytest.raises(TypeError, match="int8, uint8 or int16"):
        mm(dev.upload_host(np.zeros((2, 4), np.float32)))
    with pytest.raises(ValueError, match="prepared"):
        mm(dev.upload_host(np.zeros((2, 5), np.int8)))
    uint8_zp = kernels.make_int_matmul(w, absmax(np.uint8, 200), 200)
    with pytest.raises(ValueError, match="zero point"):
        uint8_zp(dev.upload_host(np.zeros((2, 4), np.int8)))
