"""Residual ADDs fused into the kernel that produces one of their operands.

Residual blocks end in CONV_2D -> ADD(conv output, block input) (MobileNetV2, ResNets) or
FULLY_CONNECTED -> ADD (transformers). On a device every op costs at least a kernel launch and
a round trip of its output through memory. When the producer's kernel can add the residual in
its epilogue (the op's prepare set `ctx.residual_epilogue`; CUDA kernels only), the pair becomes
one step at the ADD's place that writes the ADD's output; the intermediate is never written.

Exact: the epilogue does the ADD's own float32 operations (one addition, one clamp) on the value
the producer would have stored, and float addition is commutative.

Done only where nothing can observe the difference: float32 operands of one shape (no
broadcast), the intermediate read by that ADD alone and not a subgraph output, neither op moved
to the host, no variable tensor read by the producer (moving it later must not change what it
reads), and tensors not preserved (`experimental_preserve_all_tensors` keeps every op as is).
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Operator
from .ops.base import ACTIVATION_CLAMPS


_FLOAT32 = 0  # TensorType code


@dataclass
class FusedOp(Operator):
    """The step that runs `producer` with the ADD `absorbed` in its epilogue; inputs are the
    producer's then the residual, outputs the ADD's. Named e.g. "CONV_2D+ADD" in profiles."""
    producer: Operator | None = None
    absorbed: Operator | None = None


def fuse_residual_adds(ex, prepared: list, epilogues: dict) -> list:
    """`prepared` [(op, run)] with each fusable (producer, ADD) pair replaced by one step.

    `epilogues`: op index -> the producer's `ctx.residual_epilogue`."""
    if not epilogues or ex.runtime.preserve_all_tensors:
        return prepared
    sg = ex.sg
    readers: dict = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                readers[i] = readers.get(i, 0) + 1
    producer_at = {i: k for k, (op, run) in enumerate(prepared) if run is not None
                   for i in op.outputs if i >= 0}
    result = list(prepared)
    removed = set()
    for j, (add, run) in enumerate(prepared):
        if add.name != "ADD" or run is None or not _plain_float_add(ex, add):
            continue
        for t, residual in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
            k = producer_at.get(t)
            if k is None or k in removed or k > j:
                continue
            producer = prepared[k][0]
            epilogue = epilogues.get(producer.index)
            if epilogue is None or not _fusable(ex, producer, t, residual, readers):
                continue
            fused = FusedOp(index=producer.index, code=producer.code,
                            name=f"{producer.name}+ADD", version=producer.version,
                            inputs=(*producer.inputs, residual), outputs=add.outputs,
                            intermediates=(), options=producer.options, custom_options=None,
                            producer=producer, absorbed=add)
            result[j] = (fused, epilogue(ACTIVATION_CLAMPS[_activation(add)]))
            removed.add(k)
            break
    return [step for k, step in enumerate(result) if k not in removed]


def _plain_float_add(ex, add) -> bool:
    if len(add.inputs) != 2 or len([o for o in add.outputs if o >= 0]) != 1:
        return False
    if add.index in ex.host_ops or _activation(add) not in ACTIVATION_CLAMPS:
        return False
    shapes = {ex.shapes[i] for i in (*add.inputs, add.outputs[0]) if i >= 0}
    return min(add.inputs) >= 0 and len(shapes) == 1 and all(
        ex.sg.tensors[i].type == _FLOAT32 and i not in ex.dynamic
        for i in (*add.inputs, add.outputs[0]))


def _activation(op) -> int:
    return op.opt.get("fused_activation_function", 0)


def _fusable(ex, producer, t, residual, readers) -> bool:
    tensors = ex.sg.tensors
    return (t != residual and readers.get(t) == 1 and t not in ex.sg.outputs
            and producer.index not in ex.host_ops
            and [o for o in producer.outputs if o >= 0] == [t]
            and not tensors[residual].is_variable
            and not any(i >= 0 and tensors[i].is_variable for i in producer.inputs))
