"""Ops that cannot run on a device backend run on the host, with the copies made for them.

Op code is written once against an array namespace `xp`; on the CUDA backend that is CuPy. An
op whose code turns out to need NumPy (a NumPy-only function, host objects, an implicit
conversion CuPy refuses) raises TypeError, AttributeError or NotImplementedError in its prepare
or the first time it runs on device arrays. The executor then prepares the op again with the
host (NumPy) backend and runs a `HostStep` in its place: every invoke copies the op's inputs to the host (constants
are read from the model, once), runs the CPU implementation there, and uploads its outputs into
the arena. The op keeps working, one warning names it, and `Interpreter.host_ops()` /
`gpulite inspect` list such ops, so they can be given device code.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import dtypes
from .ops.base import NodeContext, TensorInfo

# What CuPy raises for host-only code: implicit conversion to NumPy and NumPy functions it does
# not implement (TypeError), functions missing from the cupy module (AttributeError).
DEVICE_REFUSALS = (TypeError, AttributeError, NotImplementedError)


class HostStep:
    """One op run on the host inside a device invoke: inputs copied down, outputs copied up."""

    def __init__(self, backend, run, sources, host_outs, reason: str):
        self.backend = backend
        self.run = run
        self.sources = sources  # per input: ("host", array) for constants, else ("device", None)
        self.host_outs = host_outs
        self.reason = reason

    def __call__(self, ins, outs):
        to_host = self.backend.to_host
        host_ins = [value if kind == "host" else (None if arr is None else to_host(arr))
                    for (kind, value), arr in zip(self.sources, ins)]
        self.run(host_ins, self.host_outs)
        for dst, src in zip(outs, self.host_outs):
            self.backend.upload(dst, src)


def refused_on_device(exc) -> bool:
    """Whether an error (or the one an OpError wraps) is the device refusing host-only code."""
    return isinstance(exc, DEVICE_REFUSALS) or isinstance(exc.__context__, DEVICE_REFUSALS)


def describe(exc) -> str:
    inner = exc.__context__ if not isinstance(exc, DEVICE_REFUSALS) else exc
    return f"{type(inner).__name__}: {inner}"


def prepare_on_host(ex, op, ins=None, outs=None):
    """Prepare `op` of executor `ex` with the host backend (at the shapes already planned
    unless TensorInfos are given); returns its run function."""
    sg = ex.sg

    def info(i):
        t = sg.tensors[i]
        return TensorInfo(index=i, name=t.name, type=t.type, shape=ex.shapes[i],
                          quantization=t.quantization, value=ex.values[i],
                          is_variable=t.is_variable)
    if ins is None:
        ins = [info(i) if i >= 0 else None for i in op.inputs]
        outs = [info(i) for i in op.outputs if i >= 0]
    ctx = NodeContext(op, ins, outs, ex.backend.host_backend, ex)
    return ex._call_prepare(ctx)


def warn(ex, op, reason: str) -> None:
    warnings.warn(f"gpulite: {op.name} (operator {op.index}) has no {ex.backend.name} "
                  f"implementation ({reason}); it runs on the host, with copies",
                  RuntimeWarning, stacklevel=5)


def host_step(ex, op, run, reason: str) -> HostStep:
    """The step running a host-prepared `run` inside a device invoke."""
    run = getattr(run, "gpulite_quiet_inner", run)
    sources = []
    for i in op.inputs:
        value = ex.values[i] if i >= 0 else None
        sources.append(("device", None) if value is None else ("host", value))
    host_outs = [np.empty(ex.shapes[i], dtypes.storage_dtype(ex.sg.tensors[i].type))
                 for i in op.outputs if i >= 0]
    return HostStep(ex.backend, run, sources, host_outs, reason)
