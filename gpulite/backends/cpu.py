"""The NumPy backend: the arena is one host byte array; tensors are views into it."""

from __future__ import annotations

import contextlib

import numpy as np

from ..cpu_fallback import conv, conv3d, conv_in_order, pooling, resize, softmax
from ..planner import ALIGNMENT


class _Kernels:
    """Kernel factories the generic op code calls through the backend (the CUDA backend
    provides the same names)."""
    make_conv2d = staticmethod(conv.make_conv2d)
    make_conv2d_in_order = staticmethod(conv_in_order.make_conv2d_in_order)
    make_depthwise_conv2d = staticmethod(conv.make_depthwise_conv2d)
    make_transpose_conv2d = staticmethod(conv.make_transpose_conv2d)
    make_conv3d = staticmethod(conv3d.make_conv3d)
    make_conv3d_transpose = staticmethod(conv3d.make_conv3d_transpose)
    make_pool2d = staticmethod(pooling.make_pool2d)
    make_resize_bilinear = staticmethod(resize.make_resize_bilinear)
    make_resize_nearest = staticmethod(resize.make_resize_nearest)
    make_softmax = staticmethod(softmax.make_softmax)


_BLAS_LIBS = None


def _blas_libs() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process (probed once);
    empty when threadpoolctl is not installed, an optional dependency."""
    global _BLAS_LIBS
    if _BLAS_LIBS is None:
        try:
            from threadpoolctl import ThreadpoolController
            _BLAS_LIBS = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # noqa: BLE001  not installed, or nothing it can drive: leave the BLAS be
            _BLAS_LIBS = []
    return _BLAS_LIBS


class _BlasThreads:
    """Holds the BLAS at `num_threads` threads while an interpreter invokes, restoring the
    process's setting after. Through threadpoolctl when it is installed; without it the BLAS
    keeps its own default (OpenBLAS: one thread per core). A BLAS already at `num_threads`,
    the usual case for num_threads = the number of cores, costs invoke nothing."""

    def __init__(self, num_threads: int):
        self.num_threads = num_threads
        self._libs = None  # the libraries to hold, decided on the first invoke

    @contextlib.contextmanager
    def _limited(self, libs):
        saved = []
        try:
            for lib in libs:
                saved.append((lib, lib.get_num_threads()))
                lib.set_num_threads(self.num_threads)
            yield
        finally:
            for lib, n in saved:
                lib.set_num_threads(n)

    def __call__(self):
        if self._libs is None:
            self._libs = [lib for lib in _blas_libs()
                          if lib.get_num_threads() != self.num_threads]
        return self._limited(self._libs) if self._libs else _NO_CONTEXT


_NO_CONTEXT = contextlib.nullcontext()


class CpuBackend:
    name = "cpu"
    supports_graphs = False  # CUDA-graph replay (gpulite.graph_replay) is the CUDA backend's
    host_backend = None  # ops already run on the host here (see gpulite.host_fallback)
    xp = np
    kernels = _Kernels

    def __init__(self, num_threads: int | None = None):
        self.num_threads = num_threads
        self._blas = None if num_threads is None else _BlasThreads(num_threads)

    def allocate(self, nbytes: int) -> np.ndarray:
        # over-allocate so the arena's first byte can sit on an ALIGNMENT boundary
        raw = np.empty(nbytes + ALIGNMENT, np.uint8)
        start = (-raw.ctypes.data) % ALIGNMENT
        return raw[start:start + nbytes]

    def view(self, arena: np.ndarray, offset: int, dtype, shape) -> np.ndarray:
        dtype = np.dtype(dtype)
        count = 1
        for d in shape:
            count *= d
        return arena[offset:offset + count * dtype.itemsize].view(dtype).reshape(shape)

    def empty(self, shape, dtype) -> np.ndarray:
        return np.empty(shape, dtype)

    def constant(self, host: np.ndarray) -> np.ndarray:
        """Constants stay zero-copy views of the model bytes on the CPU."""
        return host

    def to_host(self, arr) -> np.ndarray:
        return np.asarray(arr)

    def upload(self, dst: np.ndarray, host) -> None:
        dst[...] = host

    def synchronize(self) -> None:
        pass

    # The CUDA backend's stream and host-mirror hooks; on the CPU there is nothing to do.
    def activate(self):
        # num_threads holds for the BLAS during invoke (the GEMMs of CONV_2D, FULLY_CONNECTED)
        return _NO_CONTEXT if self._blas is None else self._blas()

    def host_view(self, arr):
        return arr  # tensor() views are the arena itself

    def flush_host_views(self) -> None:
        pass

    def forget_host_views(self) -> None:
        pass

    def device_view(self, arr):
        return arr

    def as_device_array(self, value):
        return None  # everything arrives as NumPy
