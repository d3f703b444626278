"""The `backend` / `dev` / `kernels` fixtures of the kernel conformance modules run on a real
GPU: `dev` is the CUDA backend itself (see test_cuda_backend.GpuDevice). Import them into a
test module with `from gpu_device import backend, dev, kernels`."""

import pytest

from gpulite.backends.cuda import CudaBackend, CudaKernels

from test_cuda_backend import GpuDevice


@pytest.fixture(scope="module")
def backend():
    return CudaBackend()


@pytest.fixture
def dev(backend):
    return GpuDevice(backend)


@pytest.fixture
def kernels(dev):
    return CudaKernels(dev)
