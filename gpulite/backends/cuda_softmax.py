"""SOFTMAX / LOG_SOFTMAX for the CUDA backend: a mixin of `cuda.CudaKernels`.

`make_softmax(rows, cols, beta, log)` has the signature and semantics of the CPU backend's
(cpu_fallback/softmax.py) and launches cuda_kernels/softmax.cu: one warp per row for short rows
(8 rows per 256-thread block), one block per row for long ones. The launch allocates nothing, so
it can be captured into a CUDA graph. Like the rest of the backend, importing this module
touches neither CuPy nor CUDA.

The mixin needs only what `CudaKernels` has: `self._fn(file, name, defines)`, `self._dense(arr,
what)` and `self._dev.launch(fn, grid, block, args)`.
"""

from __future__ import annotations

import numpy as np

# The ops whose prepare builds these kernels (for cuda.DEVICE_KERNEL_OPS / OPS.md).
SOFTMAX_KERNEL_OPS = frozenset({"SOFTMAX", "LOG_SOFTMAX"})

_THREADS = 256        # every gpulite kernel runs 256-thread blocks
_GRID_CAP = 65536     # the kernels loop over rows, so a capped grid covers any row count
_WARP_ROWS = _THREADS // 32   # rows per block of the warp kernels
_WARP_MAX_COLS = 1024          # 32 lanes x the warp kernels' 32 cached values each
_SHORT_COLS = 128              # a block per row would leave most of its threads idle
_MANY_ROWS = 512               # enough rows that a warp each still fills the GPU


def softmax_kernel(rows: int, cols: int, log: bool) -> str:
    """The kernel of cuda_kernels/softmax.cu that `make_softmax` launches for this shape."""
    warp = cols <= _SHORT_COLS or (cols <= _WARP_MAX_COLS and rows >= _MANY_ROWS)
    return ("log_softmax" if log else "softmax") + ("_warp" if warp else "_block")


class SoftmaxKernels:
    """`make_softmax` for `CudaKernels` (see the module docstring)."""

    def make_softmax(self, rows, cols, beta=1.0, log=False):
        """fn(x, out): SOFTMAX (`log` False, logits scaled by `beta`) or LOG_SOFTMAX (`log`
        True; beta must be 1) over the last axis of float32 device arrays x and out holding
        `rows` rows of `cols` values, out C-contiguous (not checked per call, like the other
        factories' arguments). out may be x itself."""
        rows, cols = int(rows), int(cols)
        if rows < 0 or cols < 0:
            raise ValueError(f"softmax: rows {rows} and cols {cols} must not be negative")
        if cols >= 2 ** 31:
            raise ValueError(f"softmax: rows of {cols} values do not fit the kernel's 32-bit "
                             f"column index")
        beta = np.float32(1.0 if beta is None else beta)
        if log and beta != 1:
            raise ValueError(f"LOG_SOFTMAX has no beta, got {float(beta)}")
        name = softmax_kernel(rows, cols, log)
        fn = self._fn("softmax.cu", name)  # built now, at prepare
        per_block = _WARP_ROWS if name.endswith("_warp") else 1
        grid = (max(1, min(-(-rows // per_block), _GRID_CAP)), 1, 1)
        block = (_THREADS, 1, 1)
        scalars = (np.int64(rows), np.int32(cols)) + (() if log else (beta,))
        size = rows * cols
        dense, launch = self._dense, self._dev.launch

        def softmax(x, out):
            if size:
                launch(fn, grid, block, (dense(x, "input"), out) + scalars)
        return softmax
