"""ADDs fused into the kernel that produces one of their operands.

Residual blocks end in CONV_2D -> ADD(conv output, block input) (MobileNetV2, ResNets) or
FULLY_CONNECTED -> ADD (transformers). On a device every op costs at least a kernel launch and
a round trip of its output through memory. When the producer's kernel can do the ADD in its
epilogue, the pair becomes one step at the ADD's place that writes the ADD's output; the
intermediate is never written. The two sides meet through the prepare context:

* the ADD's prepare describes its arithmetic (`ctx.absorbable_add`, an ops.base.AbsorbableAdd):
  a float32 add and clamp, or an 8-bit quantised ADD's pair table;
* the producer's prepare offers `ctx.residual_epilogue(add, producer_is_first)`, which returns
  the fused run, or None for an arithmetic its kernel does not know. The CUDA backend's float
  convolutions / GEMMs do the float form, its integer kernels with a fused output stage the
  8-bit form (cuda_kernels/common.cuh gl_residual, int_conv.cu GlPairAdd).

Exact: the epilogue does the ADD's own arithmetic on the value the producer would have stored
(float32: one addition, which commutes, and the same clamp; 8-bit: the same table entry).

Done only where nothing can observe the difference: operands and output of one shape (no
broadcast), the intermediate read by that ADD alone and not a subgraph output, neither op moved
to the host, no variable tensor read by the producer (it now runs later, at the ADD's place),
and tensors not preserved (`experimental_preserve_all_tensors` keeps every op as is).
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Operator


@dataclass
class FusedOp(Operator):
    """The step that runs `producer` with the ADD `absorbed` in its epilogue; inputs are the
    producer's then the ADD's other operand, outputs the ADD's. Named e.g. "CONV_2D+ADD" in
    profiles."""
    producer: Operator | None = None
    absorbed: Operator | None = None


def fuse_residual_adds(ex, prepared: list, epilogues: dict, absorbable: dict) -> list:
    """`prepared` [(op, run)] with each fusable (producer, ADD) pair replaced by one step.

    `epilogues`: op index -> the producer's `ctx.residual_epilogue`; `absorbable`: op index ->
    the ADD's `ctx.absorbable_add`."""
    if not epilogues or not absorbable or ex.runtime.preserve_all_tensors:
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
        description = absorbable.get(add.index)
        if add.name != "ADD" or run is None or description is None or not _plain(ex, add):
            continue
        for pos in (0, 1):
            t, residual = add.inputs[pos], add.inputs[1 - pos]
            k = producer_at.get(t)
            if k is None or k in removed or k > j:
                continue
            producer = prepared[k][0]
            epilogue = epilogues.get(producer.index)
            if epilogue is None or not _fusable(ex, producer, t, residual, readers):
                continue
            fused_run = epilogue(description, pos == 0)
            if fused_run is None:
                continue
            fused = FusedOp(index=producer.index, code=producer.code,
                            name=f"{producer.name}+ADD", version=producer.version,
                            inputs=(*producer.inputs, residual), outputs=add.outputs,
                            intermediates=(), options=producer.options, custom_options=None,
                            producer=producer, absorbed=add)
            result[j] = (fused, fused_run)
            removed.add(k)
            break
    return [step for k, step in enumerate(result) if k not in removed]


def _plain(ex, add) -> bool:
    """Two operands and one output, all of one shape, none dynamic; the ADD on the device."""
    if len(add.inputs) != 2 or min(add.inputs) < 0 or \
            len([o for o in add.outputs if o >= 0]) != 1 or add.index in ex.host_ops:
        return False
    tensors = (*add.inputs, add.outputs[0])
    return len({ex.shapes[i] for i in tensors}) == 1 and not any(i in ex.dynamic
                                                                  for i in tensors)


def _fusable(ex, producer, t, residual, readers) -> bool:
    tensors = ex.sg.tensors
    return (t != residual and readers.get(t) == 1 and t not in ex.sg.outputs
            and producer.index not in ex.host_ops
            and [o for o in producer.outputs if o >= 0] == [t]
            and not tensors[residual].is_variable
            and not any(i >= 0 and tensors[i].is_variable for i in producer.inputs))
