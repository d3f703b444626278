"""The `dev` / `kernels` fixtures of the kernel conformance modules run on the CPU emulator
(tests/cuda_emulator.py): import them into a test module with
`from emulated_device import HostEmu, dev, kernels`."""

import numpy as np
import pytest

import cuda_emulator
from gpulite.backends.cuda import CudaKernels


class HostEmu(cuda_emulator.EmuDevice):
    """The emulated device, with the `host` accessor the shared cases read results through."""

    @staticmethod
    def host(arr):
        return np.asarray(arr)


@pytest.fixture
def dev():
    return HostEmu()


@pytest.fixture
def kernels(dev):
    return CudaKernels(dev)
