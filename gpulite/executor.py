"""The executor: prepare every op once per shape, plan the arena, run the prepared ops.

One `SubgraphExecutor` per subgraph, all sharing a `Runtime` (the model, the backend, the op
table, resource variables). `allocate()` walks the ops in order calling each op's prepare, folds
ops whose inputs are all known at prepare (shape arithmetic, DEQUANTIZE/DENSIFY of constant
weights) into constants, plans one arena for the rest and binds each op's eval callable to its
arrays. `invoke()` is then a flat loop over those bound callables.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict

import numpy as np

from . import dtypes
from . import fusion, graph_replay, host_fallback
from .custom_ops import resolve_kernels
from .model import OP_CODES, max_tensor_bytes
from .ops import BUILTINS
from .ops.base import NeedsRuntimeValue, NodeContext, OpError, TensorInfo
from .planner import GreedyPlanner

# Debugging by environment: GPULITE_DEBUG=1 prints each op as it runs (with output summaries);
# GPULITE_STOP_AFTER=N stops an invoke after op N.
_DEBUG = os.environ.get("GPULITE_DEBUG", "") not in ("", "0")
_STOP_AFTER = int(os.environ.get("GPULITE_STOP_AFTER", "-1"))

# Ops never evaluated at prepare even when their inputs are known: they touch state.
_STATEFUL = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE", "CALL",
                       "WHILE", "IF", "RANDOM_UNIFORM", "RANDOM_STANDARD_NORMAL", "MULTINOMIAL",
                       "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE"})


class Runtime:
    """State shared by the subgraphs of one interpreter."""

    def __init__(self, model, backend, preserve_all_tensors=False, custom_ops=None,
                 cuda_graphs=True):
        self.model = model
        self.backend = backend
        self.preserve_all_tensors = preserve_all_tensors
        # steady-state invokes as CUDA-graph launches (graph_replay), where the backend can
        self.cuda_graphs = bool(cuda_graphs) and getattr(backend, "supports_graphs", False) \
            and graph_replay.enabled_by_env() and not (_DEBUG or _STOP_AFTER >= 0)
        self.kernels = dict(BUILTINS)
        # the constructor's custom_ops > the global registry > shipped MediaPipe ops > builtins
        self.kernels.update(resolve_kernels(custom_ops))
        self.resources: dict = {}  # resource id -> backend array (resource variables)
        self.resource_ids: dict = {}  # (container, shared_name) -> resource id
        self.initialized_subgraphs: set = set()  # init subgraphs CALL_ONCE has run
        self._executors: dict = {}
        self._has_hybrid = None
        self._checked_ops = False

    @property
    def has_hybrid_ops(self) -> bool:
        """Whether some op takes float activations with constant int8 weights (dynamic-range
        quantisation). Such models re-quantise activations on every invoke, which turns last-bit
        float differences into whole int8 steps, so their float convolutions follow TFLite's
        summation order exactly."""
        if self._has_hybrid is None:
            self._has_hybrid = any(
                any(i >= 0 and sg.tensors[i].type == 0 for i in op.inputs)
                and any(i >= 0 and sg.tensors[i].type == 9 and sg.tensors[i].is_constant
                        and sg.tensors[i].quantization.is_quantized for i in op.inputs)
                for sg in self.model.subgraphs for op in sg.operators)
        return self._has_hybrid

    def executor(self, index: int) -> "SubgraphExecutor":
        ex = self._executors.get(index)
        if ex is None:
            ex = self._executors[index] = SubgraphExecutor(self, index)
        return ex

    def check_ops(self) -> None:
        """Every op in the model must have an implementation; name all that don't."""
        if self._checked_ops:
            return
        missing = sorted({op.name for sg in self.model.subgraphs for op in sg.operators
                          if op.name not in self.kernels})
        if missing:
            raise RuntimeError("gpulite has no implementation for these ops in the model: "
                               + ", ".join(missing))
        self._checked_ops = True


class SubgraphExecutor:
    def __init__(self, runtime: Runtime, index: int):
        self.runtime = runtime
        self.backend = runtime.backend
        self.sg = runtime.model.subgraphs[index]
        self.index = index
        n = len(self.sg.tensors)
        self.shapes = [t.shape for t in self.sg.tensors]
        self.arrays: list = [None] * n  # backend arrays, valid once allocated
        self.values: list = [None] * n  # host values known at prepare (constants, folded)
        self.folded: set = set()
        self.variables: dict = {}  # tensor index -> persistent array (is_variable tensors)
        self.dense_constants: dict = {}  # sparse constant read directly -> its dense array
        self.steps: list = []
        self.replay = None  # graph_replay.GraphReplay of the current allocation, made lazily
        # op index -> why it runs on the host (device backends; see host_fallback), kept
        # across allocations
        self.host_ops: dict = {}
        self.dynamic: set = set()  # tensors whose shape is known only at invoke
        self.allocated = False
        self.arena = None
        self.arena_bytes = 0
        self.arena_lower_bound = 0
        for t in self.sg.tensors:
            if t.data is not None:
                self.values[t.index] = t.data
                self.arrays[t.index] = self.backend.constant(t.data)
            elif t.raw is not None and t.type == dtypes.STRING:
                self.arrays[t.index] = self.values[t.index] = _decode_strings(t)

    # -- shapes --------------------------------------------------------------------------------
    def resize_input(self, tensor_index: int, shape, strict: bool) -> None:
        t = self.sg.tensors[tensor_index]
        if tensor_index not in self.sg.inputs and not t.is_variable:
            raise RuntimeError(f"tensor {tensor_index} ({t.name!r}) is not an input of subgraph "
                               f"{self.index}: only input tensors can be resized")
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise RuntimeError(f"cannot resize tensor {tensor_index} to {list(shape)}: "
                               f"dimensions must be >= 0")
        if strict:
            sig = t.shape_signature
            if len(sig) != len(shape):
                raise RuntimeError(f"strict resize of tensor {tensor_index} cannot change its "
                                   f"rank from {len(sig)} to {len(shape)}")
            for k, (old, new) in enumerate(zip(sig, shape)):
                if old != -1 and old != new:
                    raise RuntimeError(f"Attempting to resize dimension {k} of tensor "
                                       f"{tensor_index} with value {old} to {new}. Strict resize "
                                       f"only allows changing dimensions marked -1 in "
                                       f"shape_signature.")
        nbytes = dtypes.nbytes(t.type, shape)
        if nbytes is not None and nbytes > max_tensor_bytes():
            raise RuntimeError(f"cannot resize tensor {tensor_index} to {list(shape)}: "
                               f"{nbytes} bytes is over the GPULITE_MAX_TENSOR_BYTES limit")
        if shape != self.shapes[tensor_index]:
            self.shapes[tensor_index] = shape
            self.allocated = False

    # -- allocation ----------------------------------------------------------------------------
    def allocate(self, force: bool = False) -> None:
        if self.allocated and not force:
            return
        self.runtime.check_ops()
        self.allocated = False
        self.replay = None  # new shapes or arrays: capture again
        with self.backend.activate():  # CUDA: op code's CuPy calls use our stream
            infos = self._tensor_infos()
            prepared = self._prepare_ops(infos)
            self._plan_and_bind(infos, prepared)
        self.allocated = True

    def _tensor_infos(self) -> list:
        infos = []
        for t in self.sg.tensors:
            value = self.values[t.index] if t.index not in self.folded else None
            infos.append(TensorInfo(index=t.index, name=t.name, type=t.type,
                                    shape=self.shapes[t.index] if value is None else t.shape,
                                    quantization=t.quantization, value=value,
                                    is_variable=t.is_variable))
        for i in self.folded:
            self.values[i] = None
            self.arrays[i] = None
        self.folded = set()
        return infos

    def _prepare_ops(self, infos: list) -> list:
        """Prepare every op in order; returns [(op, run)], run None for ops deferred to invoke.

        An op is deferred when an input is dynamic (shape known only at invoke) or when its
        prepare needs the value of a tensor computed at run time; its outputs become dynamic.
        """
        prepared, self.dynamic = [], set()
        # op index -> ctx.residual_epilogue / ctx.absorbable_add (gpulite.fusion)
        self.residual_epilogues, self.absorbable_adds = {}, {}
        for op in self.sg.operators:
            ins = [infos[i] if i >= 0 else None for i in op.inputs]
            outs = [infos[i] for i in op.outputs if i >= 0]
            if any(i in self.dynamic for i in op.inputs):
                self.dynamic.update(o.index for o in outs)
                prepared.append((op, None))
                continue
            on_host = op.index in self.host_ops
            ctx = NodeContext(op, ins, outs, self.backend.host_backend if on_host
                              else self.backend, self)
            try:
                run = self._call_prepare(ctx)
            except NeedsRuntimeValue:
                self.dynamic.update(o.index for o in outs)
                prepared.append((op, None))
                continue
            except OpError as exc:
                if on_host or not self._can_run_on_host(exc):
                    raise
                # the device refused the op's prepare code: prepare it for the host
                self._move_to_host(op, host_fallback.describe(exc))
                run = host_fallback.prepare_on_host(self, op, ins, outs)
                on_host = True
            if on_host:
                for o in outs:
                    self.shapes[o.index] = o.shape
                prepared.append((op, run))  # never folded: its run takes host arrays
                continue
            for o in outs:
                self.shapes[o.index] = o.shape
            self.dynamic.update(outs[k].index for k in ctx.dynamic_outputs)
            stateless = (not ctx.stateful and op.name not in _STATEFUL and not ctx.dynamic_outputs
                         and all(o.type not in dtypes.NON_ARRAY_TYPES for o in outs))
            if stateless and outs and all(o.value is not None for o in outs):
                self._publish(outs)  # prepare already computed the outputs (e.g. SHAPE)
            elif stateless and op.inputs and all(t is None or t.value is not None for t in ins):
                self._fold(ctx, run, ins, outs)
            else:
                prepared.append((op, run))
                if ctx.residual_epilogue is not None:
                    self.residual_epilogues[op.index] = ctx.residual_epilogue
                if ctx.absorbable_add is not None:
                    self.absorbable_adds[op.index] = ctx.absorbable_add
        return prepared

    def _call_prepare(self, ctx):
        op = ctx.op
        try:
            return self.runtime.kernels[op.name](ctx)
        except (OpError, NeedsRuntimeValue):
            raise
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError,
                OverflowError, MemoryError) as exc:
            # prepare code indexing a corrupt model must still fail cleanly
            raise OpError(f"{op.name} (operator {op.index}) failed to prepare: "
                          f"{type(exc).__name__}: {exc}") from None

    def _fold(self, ctx, run, ins, outs) -> None:
        """Evaluate an op whose inputs are all known now; its outputs become constants."""
        backend = self.backend
        dev_ins = [None if t is None else self._device_constant(t) for t in ins]
        dev_outs = [backend.empty(o.shape, o.dtype) for o in outs]
        try:
            run(dev_ins, dev_outs)
        except OpError:
            raise
        except (ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError,
                FloatingPointError, MemoryError) as exc:
            ctx.fail(f"failed while computing constant outputs: {type(exc).__name__}: {exc}")
        for o, arr in zip(outs, dev_outs):
            o.value = backend.to_host(arr)
            self.values[o.index] = o.value
            self.arrays[o.index] = arr
            self.folded.add(o.index)

    def _publish(self, outs) -> None:
        for o in outs:
            self.values[o.index] = o.value
            self.arrays[o.index] = self.backend.constant(o.value)
            self.folded.add(o.index)

    def _device_constant(self, t):
        """The device array of a value known at prepare (never a stale arena view)."""
        if self.sg.tensors[t.index].data is not None or t.index in self.folded:
            return self.arrays[t.index]
        return self.backend.constant(t.value)

    def _plan_and_bind(self, infos: list, prepared: list) -> None:
        prepared = fusion.fuse_residual_adds(self, prepared, self.residual_epilogues,
                                             self.absorbable_adds)
        sg, n_ops = self.sg, len(prepared)
        first, last = {}, {}
        for k, (op, _run) in enumerate(prepared):
            for i in op.outputs:
                if i >= 0:
                    first.setdefault(i, k)
                    last[i] = max(last.get(i, k), k)
            for i in op.inputs:
                if i >= 0:
                    first.setdefault(i, 0)
                    last[i] = k
        for i in sg.inputs:  # inputs are preserved for the whole run, as in TFLite
            first[i], last[i] = 0, max(n_ops - 1, 0)
        for i in sg.outputs:
            first.setdefault(i, 0)
            last[i] = max(n_ops - 1, 0)
        planner = GreedyPlanner(reuse=not self.runtime.preserve_all_tensors)
        arena_ids = {}
        for t in sg.tensors:
            i = t.index
            if (self.values[i] is not None or t.type in dtypes.NON_ARRAY_TYPES or t.is_variable
                    or i in self.dynamic):
                continue
            nbytes = dtypes.nbytes(t.type, self.shapes[i])
            arena_ids[i] = planner.add_buffer(nbytes, first.get(i, 0), last.get(i, 0))
        total = planner.total()
        try:
            self.arena = self.backend.allocate(total)
        except MemoryError:
            raise ValueError(f"cannot allocate a {total}-byte tensor arena for subgraph "
                             f"{self.index}") from None
        self.arena_bytes, self.arena_lower_bound = total, planner.lower_bound()
        for i, buf in arena_ids.items():
            t = sg.tensors[i]
            self.arrays[i] = self.backend.view(self.arena, planner.offset(buf),
                                               dtypes.storage_dtype(t.type), self.shapes[i])
        for t in sg.tensors:
            if t.type == dtypes.RESOURCE and self.arrays[t.index] is None:
                self.arrays[t.index] = np.full((), -1, np.int32)
            elif t.type in (dtypes.STRING, dtypes.VARIANT) and self.arrays[t.index] is None:
                self.arrays[t.index] = np.empty(self.shapes[t.index], dtype=object)
            elif t.is_variable and t.type not in dtypes.NON_ARRAY_TYPES:
                self._bind_variable(t)
        for i in self.dynamic:
            self.arrays[i] = None  # set by the op that produces it, at invoke
        self.steps = []
        for op, run in prepared:
            if run is None:
                self.steps.append((DeferredStep(self, op), None, None, op))
            elif any(i in self.dynamic for i in op.outputs):
                self.steps.append((DynamicOutputStep(self, op, run), None, None, op))
            else:
                ins = [self.arrays[i] if i >= 0 else None for i in op.inputs]
                outs = [self.arrays[i] for i in op.outputs if i >= 0]
                # invoke() runs with NumPy's warnings off: bind the op's own eval, not a wrapper
                # that would switch them off again on every call
                if op.index in self.host_ops:
                    run = host_fallback.host_step(self, op, run, self.host_ops[op.index])
                run = getattr(run, "gpulite_quiet_inner", run)
                self.steps.append((run, ins, outs, op))

    def _bind_variable(self, t) -> None:
        """Variable tensors keep their contents across invokes and re-allocations."""
        shape = self.shapes[t.index]
        arr = self.variables.get(t.index)
        if arr is None or tuple(arr.shape) != tuple(shape):
            arr = self.backend.empty(shape, dtypes.storage_dtype(t.type))
            self._reset_variable(t, arr)
            self.variables[t.index] = arr
        self.arrays[t.index] = arr

    def _reset_variable(self, t, arr) -> None:
        zp = t.quantization.zero_points
        fill = int(zp[0]) if t.type == 9 and zp.size else 0  # int8 state rests at its zero point
        arr[...] = fill

    def reset_variables(self) -> None:
        for i, arr in self.variables.items():
            self._reset_variable(self.sg.tensors[i], arr)

    # -- calls from other subgraphs (control flow) ---------------------------------------------
    def prepare_for_inputs(self, shapes) -> list:
        """Allocate for these input shapes; the output shapes, None where dynamic."""
        for i, shape in zip(self.sg.inputs, shapes):
            self.resize_input(i, shape, strict=False)
        self.allocate()
        return [None if i in self.dynamic else self.shapes[i] for i in self.sg.outputs]

    def feed(self, arrays) -> None:
        """Copy arrays into the subgraph's inputs, re-allocating if a shape changed."""
        for i, arr in zip(self.sg.inputs, arrays):
            if tuple(arr.shape) != tuple(self.shapes[i]):
                self.resize_input(i, arr.shape, strict=False)
        self.allocate()
        for i, arr in zip(self.sg.inputs, arrays):
            dst = self.arrays[i]
            if dst is not arr:
                dst[...] = arr

    def output_arrays(self) -> list:
        return [self.arrays[i] for i in self.sg.outputs]

    # -- running -------------------------------------------------------------------------------
    def invoke(self) -> None:
        if not self.allocated:
            raise RuntimeError("Invoke called on model that is not ready: call "
                               "allocate_tensors() first (and again after resize_tensor_input)")
        runtime = self.runtime
        if getattr(runtime, "invoking", False):
            # a subgraph run by control flow inside an invoke: the backend is active and NumPy's
            # warnings are off already
            return self._run_steps()
        runtime.invoking = True
        try:
            # C semantics for inf / NaN / overflow, without NumPy warnings: one errstate per
            # invoke instead of one per op
            with self.backend.activate(), np.errstate(all="ignore"):
                if not runtime.cuda_graphs:
                    return self._run_steps()
                if self.replay is None:
                    self.replay = graph_replay.GraphReplay(self.backend, self._graph_blocker())
                return self.replay.invoke(self._run_steps)
        finally:
            runtime.invoking = False

    def graph_status(self) -> str:
        """'graph' once invokes replay a CUDA graph, else what they do and why."""
        if not self.runtime.cuda_graphs:
            return "eager: CUDA graphs are off (this backend has none, or cuda_graphs=False, " \
                   "GPULITE_CUDA_GRAPHS=0, GPULITE_DEBUG or GPULITE_STOP_AFTER)"
        if self.replay is None:
            return "not invoked since the last allocation"
        return self.replay.status

    def _graph_blocker(self) -> str | None:
        from .ops.mediapipe import CUSTOM_KERNELS
        kernels = self.runtime.kernels

        def is_user_op(op):
            return op.code == OP_CODES["CUSTOM"] and kernels.get(op.name) is not \
                CUSTOM_KERNELS.get(op.name)
        return graph_replay.graph_blocker(
            self.steps, lambda run: not isinstance(run, (DynamicOutputStep, DeferredStep)),
            is_user_op)

    def _run_steps(self, start: int = 0) -> None:
        op = None
        try:
            if _DEBUG or _STOP_AFTER >= 0:
                return self._invoke_debug()
            for run, ins, outs, op in (self.steps if not start else self.steps[start:]):
                run(ins, outs)
        except OpError:
            raise
        except Exception as exc:  # an op failing mid-graph names itself; the state stays usable
            k = self._fall_back_to_host(op, exc)
            if k is not None:
                return self._run_steps(k)  # the op again, on the host, then the rest
            where = f"{op.name} (operator {op.index})" if op is not None else "invoke"
            raise OpError(f"{where} failed: {type(exc).__name__}: {exc}") from exc

    # -- ops the device refuses run on the host (host_fallback) ---------------------------------
    def _can_run_on_host(self, exc) -> bool:
        return getattr(self.backend, "host_backend", None) is not None and \
            host_fallback.refused_on_device(exc)

    def _move_to_host(self, op, reason: str) -> None:
        self.host_ops[op.index] = reason
        host_fallback.warn(self, op, reason)

    def _fall_back_to_host(self, op, exc):
        """When a device step failed because its code needs NumPy: replace it by a host step
        and return its index (to run again from there); else None."""
        if op is None or op.index in self.host_ops or isinstance(op, fusion.FusedOp) or \
                not self._can_run_on_host(exc):
            return None
        for k, (run, ins, outs, step_op) in enumerate(self.steps):
            if step_op is op:
                break
        else:
            return None
        if isinstance(run, (DeferredStep, DynamicOutputStep)):
            return None
        self._move_to_host(op, f"{type(exc).__name__}: {exc}")
        with self.backend.host_backend.activate():
            run = host_fallback.prepare_on_host(self, op)
        self.steps[k] = (host_fallback.host_step(self, op, run, self.host_ops[op.index]), ins,
                         outs, op)
        self.replay = None  # decide about a CUDA graph again, with this step on the host
        return k

    def _invoke_debug(self) -> None:
        for k, (run, ins, outs, op) in enumerate(self.steps):
            try:
                run(ins, outs)
            except Exception as exc:
                raise OpError(f"{op.name} (operator {op.index}) failed: "
                              f"{type(exc).__name__}: {exc}") from exc
            if _DEBUG:
                summary = ", ".join(f"{o.dtype}{list(o.shape)} max|x|="
                                    f"{float(abs(self.backend.to_host(o)).max()) if o.size else 0:.4g}"
                                    for o in outs if hasattr(o, "dtype") and o.dtype != object)
                print(f"[gpulite] op {op.index} {op.name}: {summary}", file=sys.stderr)
            if k == _STOP_AFTER:
                print(f"[gpulite] stopped after op {op.index} (GPULITE_STOP_AFTER)",
                      file=sys.stderr)
                return


def _decode_strings(t) -> np.ndarray:
    """TFLite's string tensor layout: count, offsets[count+1], then the bytes."""
    raw = bytes(t.raw)
    n_expected = 1
    for d in t.shape:
        n_expected *= d
    if len(raw) < 4:
        raise ValueError(f"malformed model: string tensor {t.name!r} buffer is too short")
    count = int.from_bytes(raw[:4], "little")
    if count != n_expected or len(raw) < 4 * (count + 2):
        raise ValueError(f"malformed model: string tensor {t.name!r} holds {count} strings, "
                         f"its shape {list(t.shape)} needs {n_expected}")
    offs = np.frombuffer(raw, "<i4", count + 1, 4)
    if np.any(np.diff(offs) < 0) or offs[0] < 4 * (count + 2) or offs[-1] > len(raw):
        raise ValueError(f"malformed model: string tensor {t.name!r} has bad offsets")
    out = np.empty(count, dtype=object)
    for k in range(count):
        out[k] = raw[offs[k]:offs[k + 1]]
    return out.reshape(t.shape)


class DynamicOutputStep:
    """An op prepared at allocate whose outputs get their shapes at run (e.g. WHILE, IF): run
    receives None for those outputs and puts new arrays in their place."""

    def __init__(self, ex: SubgraphExecutor, op, run):
        self.ex, self.op, self.run = ex, op, run

    def __call__(self, _ins, _outs) -> None:
        ex, op = self.ex, self.op
        arrays = ex.arrays
        ins = [arrays[i] if i >= 0 else None for i in op.inputs]
        out_idx = [i for i in op.outputs if i >= 0]
        outs = [None if i in ex.dynamic else arrays[i] for i in out_idx]
        self.run(ins, outs)
        _store_outputs(ex, op, out_idx, outs)


class DeferredStep:
    """An op prepared during invoke, once its inputs' shapes (and the values its prepare reads)
    are known. Preparations are kept per input shapes and values read, and reused when those
    repeat, so a steady state allocates nothing, also in loops whose shapes or indices cycle (a
    WHILE body slicing step i of a sequence). The cache is bounded (entries and bytes): what falls out is
    freed, so nothing accumulates across invokes."""

    MAX_ENTRIES = 64
    MAX_BYTES = 64 << 20

    def __init__(self, ex: SubgraphExecutor, op):
        self.ex, self.op = ex, op
        # (input shapes, bytes of the values read) -> (values read, run, output arrays,
        # dynamic positions, bytes)
        self.cache: OrderedDict = OrderedDict()
        self.positions: dict = {}  # input shapes -> input positions prepare read values of
        self.cached_bytes = 0

    def __call__(self, _ins, _outs) -> None:
        ex, op = self.ex, self.op
        arrays, backend = ex.arrays, ex.backend
        ins = [arrays[i] if i >= 0 else None for i in op.inputs]
        for i, arr in zip(op.inputs, ins):
            if i >= 0 and arr is None:
                raise RuntimeError(f"input tensor {i} has no data yet")
        shapes = tuple(None if a is None else tuple(a.shape) for a in ins)
        # which input values prepare reads depends on the op, not on the values themselves
        read = self.positions.get(shapes)
        key = None if read is None else (shapes, tuple(
            backend.to_host(ins[k]).tobytes() for k in read))
        entry = self.cache.get(key) if key is not None else None
        if entry is None:
            entry = self._prepare(ins, shapes)
            self.positions[shapes] = tuple(sorted(entry[0]))
            key = (shapes, tuple(entry[0][k].tobytes() for k in sorted(entry[0])))
            self._remember(key, entry)
        else:
            self.cache.move_to_end(key)
        _values, run, outs, _dyn, _nbytes = entry
        outs = list(outs)
        run(ins, outs)
        out_idx = [i for i in op.outputs if i >= 0]
        _store_outputs(ex, op, out_idx, outs)

    def _prepare(self, ins, shapes):
        ex, op = self.ex, self.op
        infos = []
        for i, arr in zip(op.inputs, ins):
            if i < 0:
                infos.append(None)
                continue
            t = ex.sg.tensors[i]
            known = ex.values[i]
            infos.append(TensorInfo(index=i, name=t.name, type=t.type, shape=tuple(arr.shape),
                                    quantization=t.quantization, value=known,
                                    is_variable=t.is_variable,
                                    runtime=None if known is not None else ex.backend.to_host(arr)))
        outs = []
        for i in op.outputs:
            if i >= 0:
                t = ex.sg.tensors[i]
                outs.append(TensorInfo(index=i, name=t.name, type=t.type, shape=ex.shapes[i],
                                       quantization=t.quantization, is_variable=t.is_variable))
        ctx = NodeContext(op, infos, outs, ex.backend, ex)
        try:
            run = ex._call_prepare(ctx)
        except NeedsRuntimeValue as exc:  # every input has a value now; this is a bug
            raise OpError(f"{op.name} (operator {op.index}): {exc} is unavailable") from None
        values = {k: np.array(v, copy=True) for k, v in ctx.values_read.items()}
        arrays = [None if k in ctx.dynamic_outputs else ex.backend.empty(o.shape, o.dtype)
                  for k, o in enumerate(outs)]
        nbytes = sum(int(a.nbytes) for a in arrays if a is not None)
        return values, run, arrays, ctx.dynamic_outputs, nbytes

    def _remember(self, key, entry):
        old = self.cache.pop(key, None)
        if old is not None:
            self.cached_bytes -= old[4]
        self.cache[key] = entry
        self.cached_bytes += entry[4]
        while len(self.cache) > 1 and (len(self.cache) > self.MAX_ENTRIES
                                       or self.cached_bytes > self.MAX_BYTES):
            _key, dropped = self.cache.popitem(last=False)
            self.cached_bytes -= dropped[4]
        return entry


def _store_outputs(ex: SubgraphExecutor, op, out_idx, outs) -> None:
    for i, arr in zip(out_idx, outs):
        if arr is None:
            raise OpError(f"{op.name} (operator {op.index}) produced no value for tensor {i}")
        ex.arrays[i] = arr
        ex.shapes[i] = tuple(arr.shape)
