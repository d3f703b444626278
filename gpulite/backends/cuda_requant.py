"""TFLite's integer output stage on the GPU: a mixin of `cuda.CudaKernels`.

The arithmetic is cuda_kernels/requant.cuh: bias, multiplier, rounding, zero point, clamp and
narrowing of one accumulator, bit for bit what `quantized_common.make_output_stage` computes on
the CPU, from the description that stage publishes as `stage.fused`. The quantised CONV_2D,
DEPTHWISE_CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED ops hand a `requant_spec` to cuda_int.py's
factories, whose kernels then write the output in their own epilogue (no int64 buffer, no
second launch). `make_requantize` runs the same arithmetic as a kernel of its own
(cuda_kernels/requant.cu) over int64 accumulators: no op needs it now that they all fuse, but it
is the direct way to run the arithmetic on chosen accumulators (ties, int32 extremes, 16x8
values past 2^31), which the conformance cases in tests/cuda_requant_cases.py do. Nothing is allocated per launch, so both can
be captured into a CUDA graph. Importing this module touches neither CuPy nor CUDA.

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


class RequantSpec:
    """One output stage on the device: its per-channel arrays uploaded once, and the trailing
    arguments (`args`) of requant.cu's kernel and of int_conv.cu's fused epilogue."""

    def __init__(self, dev, fused: dict, channels: int, out_dtype, bias=None):
        self.out_dtype = np.dtype(out_dtype)
        if self.out_dtype not in OUT_TYPES:
            raise TypeError(f"requantize writes int8, uint8 or int16, not {self.out_dtype}")
        self.channels = int(channels)
        if self.channels <= 0:
            raise ValueError(f"requantize needs at least one channel, got {channels}")
        self.out_t = OUT_TYPES[self.out_dtype]
        bias_dev = None if bias is None else dev.upload_host(
            np.ascontiguousarray(np.asarray(bias, np.int64).reshape(-1)))
        if bias_dev is not None and bias_dev.size != self.channels:
            raise ValueError(f"requantize: {bias_dev.size} bias values for {channels} channels")
        self.args = (bias_dev,
                     dev.upload_host(_per_channel(fused["mult"], self.channels, "multiplier")),
                     dev.upload_host(_per_channel(fused["shift"], self.channels, "shift")),
                     np.int32(MODES[fused["mode"]]), np.int32(bool(fused["wrap_input"])),
                     np.int32(fused["out_zp"]), np.int32(fused["lo"]), np.int32(fused["hi"]),
                     np.int32(min(int(fused["up_channels"]), 2 ** 31 - 1)),
                     np.int64(fused["up_elements"]))


# the trailing arguments of int_conv.cu's kernels when they store raw accumulators
RAW_ARGS = (None, None, None, *(np.int32(0),) * 6, np.int64(0))


class RequantKernels:
    """`requant_spec` and `make_requantize` for `CudaKernels` (see the module docstring)."""

    def requant_spec(self, fused: dict, channels: int, out_dtype, bias=None) -> RequantSpec:
        """The device form of an output stage (a make_output_stage's `stage.fused`) with a
        constant bias (or none): what the int_conv.cu factories take as `requant=` to write
        the output in their own epilogue, and what make_requantize launches on its own."""
        return RequantSpec(self._dev, fused, channels, out_dtype, bias)

    def make_requantize(self, fused: dict, channels: int, out_dtype):
        """fn(acc, bias, out): out = the output stage described by `fused` (a
        make_output_stage's `stage.fused`) applied to acc + bias, in one launch of
        requant.cu. acc: int64 device array laid out like out ([..., channels],
        C-contiguous); bias: int64 device array [channels] or None; out: C-contiguous device
        array of `out_dtype` (int8, uint8 or int16), passed to the kernel as its bytes."""
        spec = RequantSpec(self._dev, fused, channels, out_dtype)
        fn = self._fn(FILE, "requantize", {"OUT_T": spec.out_t})
        tail = spec.args[1:]

        def requantize(acc, bias, out):
            total = int(out.size)
            if total == 0:
                return
            grid = (max(1, min(-(-total // _THREADS), _GRID_CAP)), 1, 1)
            self._dev.launch(fn, grid, _BLOCK, (acc, bias, tail[0], tail[1],
                                                out.reshape(-1).view(np.uint8),
                                                np.int64(total), np.int32(spec.channels),
                                                *tail[2:]))
        return requantize
