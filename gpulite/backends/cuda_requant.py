"""TFLite's integer output stage as one CUDA kernel: a mixin of `cuda.CudaKernels`.

The quantised CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV ops get exact int64 accumulators
from cuda_int.py's kernels; `make_requantize` turns them into the output in one launch of
cuda_kernels/requant.cu (bias, multiplier, rounding, zero point, clamp, narrowing), where the
generic CuPy form of `quantized_common.make_output_stage` takes a dozen elementwise passes with
int64 temporaries. It takes the description that stage publishes as `stage.fused` and computes
the same values bit for bit. The launch allocates nothing, so it can be captured into a CUDA
graph. Importing this module touches neither CuPy nor CUDA.

Needs from the owning class: `self._fn(file, name, defines)` and `self._dev` (`launch`,
`upload_host`).
"""

from __future__ import annotations

import numpy as np

FILE = "requant.cu"
_THREADS = 256
_BLOCK = (_THREADS, 1, 1)
_GRID_CAP = 65536

OUT_TYPES = {np.dtype(np.int8): "gl_s8", np.dtype(np.uint8): "gl_u8",
             np.dtype(np.int16): "gl_s16"}
MODES = {"up": 0, "away": 1, "mixed": 2, "int64": 3}


def all_specialisations() -> tuple:
    """Every OUT_T the factory may request (gpulite.cuda_compile.SPECIALISATIONS)."""
    return tuple({"OUT_T": t} for t in OUT_TYPES.values())


def _per_channel(values, channels: int, what: str) -> np.ndarray:
    v = np.asarray(values, np.int64).reshape(-1)
    if v.size == 1:
        v = np.full(channels, v[0], np.int64)
    if v.size != channels:
        raise ValueError(f"requantize: {v.size} {what} values for {channels} channels")
    if v.size and (v.min() < -2 ** 31 or v.max() >= 2 ** 31):
        raise ValueError(f"requantize: {what} values do not fit in int32")
    return v.astype(np.int32)


class RequantKernels:
    """`make_requantize` for `CudaKernels` (see the module docstring)."""

    def make_requantize(self, fused: dict, channels: int, out_dtype):
        """fn(acc, bias, out): out = the output stage described by `fused` (a
        make_output_stage's `stage.fused`) applied to acc + bias. acc: int64 device array laid
        out like out ([..., channels], C-contiguous); bias: int64 device array [channels] or
        None; out: C-contiguous device array of `out_dtype` (int8, uint8 or int16), passed to
        the kernel as its bytes."""
        out_dtype = np.dtype(out_dtype)
        if out_dtype not in OUT_TYPES:
            raise TypeError(f"requantize writes int8, uint8 or int16, not {out_dtype}")
        channels = int(channels)
        if channels <= 0:
            raise ValueError(f"requantize needs at least one channel, got {channels}")
        fn = self._fn(FILE, "requantize", {"OUT_T": OUT_TYPES[out_dtype]})
        mult = self._dev.upload_host(_per_channel(fused["mult"], channels, "multiplier"))
        shift = self._dev.upload_host(_per_channel(fused["shift"], channels, "shift"))
        scalars = (np.int32(channels), np.int32(MODES[fused["mode"]]),
                   np.int32(bool(fused["wrap_input"])), np.int32(fused["out_zp"]),
                   np.int32(fused["lo"]), np.int32(fused["hi"]),
                   np.int32(min(int(fused["up_channels"]), 2 ** 31 - 1)),
                   np.int64(fused["up_elements"]))

        def requantize(acc, bias, out):
            total = int(out.size)
            if total == 0:
                return
            grid = (max(1, min(-(-total // _THREADS), _GRID_CAP)), 1, 1)
            self._dev.launch(fn, grid, _BLOCK, (acc, bias, mult, shift,
                                                out.reshape(-1).view(np.uint8),
                                                np.int64(total), *scalars))
        return requantize
