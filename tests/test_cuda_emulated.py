"""The CUDA backend's kernels and launch code, run on the CPU by tests/cuda_emulator.py.

No GPU is needed: `CudaKernels` (the backend's own factories, unchanged) drives an emulated
device that compiles cuda_kernels/*.cu with g++ and runs each CUDA thread as a fiber, checking
argument types, launch limits, barriers and out-of-bounds writes. The conformance cases
themselves live in tests/cuda_cases.py and run again on a real GPU in tests/test_cuda_backend.py;
this module adds tests of the emulator's own checks.
"""

import numpy as np
import pytest

cuda_emulator = pytest.importorskip("cuda_emulator")
if not cuda_emulator.available():
    pytest.skip("g++ is needed to emulate the CUDA kernels", allow_module_level=True)

from gpulite import cuda_compile  # noqa: E402

from cuda_cases import *  # noqa: E402,F401,F403  (the shared conformance tests)
from cuda_cases import RTOL, ATOL, rand  # noqa: E402


from emulated_device import HostEmu as _Emu, dev, kernels  # noqa: E402,F401  (fixtures)


# -- the emulator itself -------------------------------------------------------------------------

def test_every_kernel_the_backend_names_exists(dev):
    for file, names in cuda_compile.KERNELS.items():
        for defines in cuda_compile.SPECIALISATIONS[file]:
            for name in names:
                fn = dev.function(file, name, defines)
                assert fn.bound == 256, (file, name)


def test_emulator_rejects_python_ints_and_host_arrays(dev):
    fn = dev.function("pool.cu", "pool2d", {"POOL_KIND": 0})
    x = dev.empty((1, 2, 2, 1), np.float32)
    out = dev.empty((1, 1, 1, 1), np.float32)
    good = (x, out, np.int64(1), *(np.int32(v) for v in (2, 2, 1, 1, 1, 2, 2, 1, 1, 0, 0)),
            np.float32(-np.inf), np.float32(np.inf))
    dev.launch(fn, (1, 1, 1), (256, 1, 1), good)
    with pytest.raises(TypeError, match="total must be int64"):
        dev.launch(fn, (1, 1, 1), (256, 1, 1), (x, out, 1) + good[3:])
    with pytest.raises(TypeError, match="not a device array"):
        dev.launch(fn, (1, 1, 1), (256, 1, 1), (np.zeros((1, 2, 2, 1), np.float32),) + good[1:])
    with pytest.raises(ValueError, match="threads per block"):
        dev.launch(fn, (1, 1, 1), (512, 1, 1), good)


def test_emulator_catches_writes_outside_an_array(dev):
    fn = dev.function("pool.cu", "pool2d", {"POOL_KIND": 0})
    x = dev.upload_host(np.ones((1, 2, 2, 1), np.float32))
    out = dev.empty((1, 1, 1, 1), np.float32)
    # claim 4 outputs for a 1-element array
    args = (x, out, np.int64(4), *(np.int32(v) for v in (2, 2, 1, 2, 2, 1, 1, 1, 1, 0, 0)),
            np.float32(-np.inf), np.float32(np.inf))
    with pytest.raises(AssertionError, match="outside an array"):
        dev.launch(fn, (1, 1, 1), (256, 1, 1), args)


@pytest.mark.parametrize("m", [3, 67])
def test_gemm_takes_transposed_views_without_copies(dev, kernels, m):
    rng = np.random.default_rng(m)
    at, bt = rand(rng, (19, m)), rand(rng, (70, 19))  # stored transposed
    da, db = dev.upload_host(at), dev.upload_host(bt)
    out = dev.empty((m, 70), np.float32)
    n_blocks = len(dev._blocks)
    kernels.gemm(da.T, db.T, out)
    assert len(dev._blocks) == n_blocks  # nothing allocated
    np.testing.assert_allclose(dev.host(out), at.T @ bt.T, rtol=RTOL, atol=ATOL)


def test_unlisted_specialisation_is_refused(kernels):
    with pytest.raises(ValueError, match="SPECIALISATIONS"):
        kernels._fn("pool.cu", "pool2d", {"POOL_KIND": 7})
