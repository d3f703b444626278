"""Backends: one object per device that owns allocation, copies, and the array namespace `xp`.

`select(device)` resolves the interpreter's `device` argument. CUDA is only probed here, when an
interpreter asks for it — never at import time (that would break fork() and CPU-only machines).
"""

from __future__ import annotations

import warnings

from .cpu import CpuBackend

INSTALL_HINT = ("install gpulite with the CUDA extra that matches your driver, e.g. "
                "`pip install gpulite[cuda12]` or `pip install gpulite[cuda13]`")


def cuda_status() -> tuple[bool, str]:
    """(usable, reason): whether CuPy imports and a CUDA device answers."""
    try:
        import cupy  # noqa: F401  (optional dependency)
    except Exception as exc:  # ImportError, or a CUDA library that fails to load
        return False, f"CuPy is not importable ({type(exc).__name__}: {exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"no CUDA device answers ({type(exc).__name__}: {exc})"
    if count < 1:
        return False, "CuPy sees no CUDA device"
    return True, f"{count} CUDA device(s)"


# Interpreter(precision=...): what the CUDA backend's GEMM-family kernels may round to (see
# gpulite/backends/cuda.py PRECISIONS). The CPU path computes float32 whatever is asked.
PRECISIONS = ("float32", "tf32", "fp16")


def select(device: str = "auto", num_threads: int | None = None, precision: str = "float32"):
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, not "
                         f"{precision!r}")
    if device == "cpu":
        return CpuBackend(num_threads)
    usable, reason = cuda_status()
    if device == "cuda":
        if not usable:
            raise RuntimeError(f"device='cuda' needs a working GPU: {reason}; {INSTALL_HINT}")
        return _cuda_backend(num_threads, precision)
    if usable:
        try:
            return _cuda_backend(num_threads, precision)
        except RuntimeError as exc:
            warnings.warn(f"gpulite: running on the CPU ({exc})", RuntimeWarning, stacklevel=3)
            return CpuBackend(num_threads)
    warnings.warn(f"gpulite: running on the CPU ({reason})", RuntimeWarning, stacklevel=3)
    return CpuBackend(num_threads)


def _cuda_backend(num_threads, precision="float32"):
    """The CUDA backend; any failure to start it becomes a RuntimeError naming the cause."""
    try:
        from .cuda import CudaBackend
        return CudaBackend(num_threads, precision=precision)
    except Exception as exc:
        raise RuntimeError(f"device='cuda': the CUDA backend could not start "
                           f"({type(exc).__name__}: {exc}); {INSTALL_HINT}") from exc
