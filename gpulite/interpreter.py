"""`Interpreter`: the tf.lite.Interpreter / LiteRT API on top of the executor.

Method names, arguments, details dicts and exception types follow
`ai_edge_litert.interpreter.Interpreter`, so scripts written for it run unchanged. Where LiteRT
crashes the process (set_tensor on a constant, string tensors through tensor()), gpulite raises
ValueError instead.
"""

from __future__ import annotations

import enum
import os
import weakref

import numpy as np

from . import backends, dtypes
from . import model as model_mod
from .executor import Runtime


class OpResolverType(enum.Enum):
    """Accepted for compatibility: gpulite has one set of kernels, so every value behaves alike."""
    AUTO = 0
    BUILTIN = 1
    BUILTIN_REF = 2
    BUILTIN_WITHOUT_DEFAULT_DELEGATES = 3


class Delegate:
    """Stands in for a TFLite delegate; gpulite runs everything itself."""

    def __init__(self, library, options=None):
        self.library, self.options = library, dict(options or {})


def load_delegate(library, options=None):
    """LiteRT's delegate loader. Native delegates cannot plug into gpulite; its own backends
    (device='cuda'/'cpu') take their place, so this refuses with a clear message."""
    raise ValueError(f"Failed to load delegate from {library}: gpulite does not load native "
                     f"TFLite delegates; use Interpreter(..., device='cuda') for the GPU")


_VIEW_MESSAGE = ("There is at least 1 reference to internal data in the interpreter in the form "
                 "of a numpy array or slice. Be sure to only hold the function returned from "
                 "tensor() if you are using raw data access.")


class _ViewAnchor:
    """Base object of arrays returned by tensor(): while one is alive, the arena must not move."""

    def __init__(self, array: np.ndarray):
        self._array = array
        self.__array_interface__ = array.__array_interface__


class Interpreter:
    def __init__(self, model_path=None, model_content=None, experimental_delegates=None,
                 num_threads=None, experimental_op_resolver_type=OpResolverType.AUTO,
                 experimental_preserve_all_tensors=False, device="auto", custom_ops=None,
                 cuda_graphs=True, precision=None, **_ignored_experimental_flags):
        if not isinstance(experimental_op_resolver_type, OpResolverType):
            # LiteRT's enum or an equal-named one is fine; anything else is an error
            name = getattr(experimental_op_resolver_type, "name", None)
            if name not in OpResolverType.__members__:
                raise ValueError(f"Unrecognized passed in op resolver type: "
                                 f"{experimental_op_resolver_type}")
        if num_threads is not None:
            if not isinstance(num_threads, int) or isinstance(num_threads, bool):
                raise ValueError("type of num_threads should be int")
            if num_threads < 1:
                raise ValueError("num_threads should >= 1")
        has_path = model_path is not None and model_path != ""
        has_content = model_content is not None and len(model_content) > 0
        if has_path and has_content:
            raise ValueError("Can't both provide `model_path` and `model_content`")
        if not has_path and not has_content:
            raise ValueError("`model_path` or `model_content` must be specified.")
        if experimental_delegates:
            raise ValueError("gpulite does not run native TFLite delegates; use "
                             "device='cuda' or device='cpu'")
        self._model = (model_mod.load(model_path=model_path) if has_path
                       else model_mod.parse(model_content))
        if precision is None:  # scripts written for LiteRT can opt in without a code change
            precision = os.environ.get("GPULITE_PRECISION", "").strip() or "float32"
            if precision not in backends.PRECISIONS:
                raise ValueError(f"GPULITE_PRECISION={precision!r}: use one of "
                                 f"{', '.join(backends.PRECISIONS)}")
        self._backend = backends.select(device, num_threads, precision)
        self._runtime = Runtime(self._model, self._backend,
                                preserve_all_tensors=bool(experimental_preserve_all_tensors),
                                custom_ops=custom_ops, cuda_graphs=cuda_graphs)
        self._views = weakref.WeakSet()
        self._signature_defs = {sd["key"]: sd for sd in self._model.signature_defs}

    # -- properties gpulite adds ---------------------------------------------------------------
    @property
    def device(self) -> str:
        return self._backend.name

    @property
    def precision(self) -> str:
        """The precision the float GEMMs and convolutions run at: what `precision=` asked
        for on CUDA; always 'float32' on the CPU path."""
        return getattr(self._backend.kernels, "precision", "float32")

    def graph_status(self, subgraph_index: int = 0) -> str:
        """How invoke() runs on this backend: 'graph' once it replays a CUDA graph (from the
        second invoke after allocate_tensors), else 'eager: <why>' or 'warming up'."""
        return self._executor(subgraph_index).graph_status()

    def host_ops(self, subgraph_index: int = 0) -> dict:
        """{operator index: (op name, why)} of the ops that run on the host inside a device
        invoke (found when their prepare or first run refuses device arrays); empty on the
        CPU backend."""
        ex = self._executor(subgraph_index)
        return {i: (ex.sg.operators[i].name, why) for i, why in sorted(ex.host_ops.items())}

    def fused_adds(self, subgraph_index: int = 0) -> list:
        """[(producer operator index, producer name, ADD operator index)] of the ADDs that run
        in their producer's kernel epilogue (gpulite.fusion; device backends, after
        allocate_tensors)."""
        from .fusion import FusedOp
        return [(op.producer.index, op.producer.name, op.absorbed.index)
                for _run, _ins, _outs, op in self._executor(subgraph_index).steps
                if isinstance(op, FusedOp)]

    def arena_bytes(self, subgraph_index: int = 0) -> int:
        """Bytes of the planned tensor arena (after allocate_tensors)."""
        return self._executor(subgraph_index).arena_bytes

    def arena_lower_bound(self, subgraph_index: int = 0) -> int:
        """Peak of live tensor bytes: the smallest arena any plan could use."""
        return self._executor(subgraph_index).arena_lower_bound

    # -- lifecycle -----------------------------------------------------------------------------
    def _ensure_safe(self) -> None:
        if any(True for _ in self._views):
            raise RuntimeError(_VIEW_MESSAGE)

    def _executor(self, subgraph_index: int = 0):
        n = len(self._model.subgraphs)
        if not isinstance(subgraph_index, (int, np.integer)) or not 0 <= subgraph_index < n:
            raise ValueError(f"Invalid subgraph index {subgraph_index} exceeds max subgraph "
                             f"index {n - 1}")
        return self._runtime.executor(int(subgraph_index))

    def allocate_tensors(self, subgraph_index: int = 0) -> None:
        self._ensure_safe()
        self._executor(subgraph_index).allocate()
        self._backend.forget_host_views()  # tensor() mirrors of the old arena are stale now

    def invoke(self, subgraph_index: int = 0) -> None:
        self._ensure_safe()
        self._backend.flush_host_views()  # writes made through tensor() views reach the device
        self._executor(subgraph_index).invoke()

    def reset_all_variables(self) -> None:
        for i in range(len(self._model.subgraphs)):
            self._runtime.executor(i).reset_variables()

    def num_subgraphs(self) -> int:
        return len(self._model.subgraphs)

    # -- details -------------------------------------------------------------------------------
    def _check_tensor_index(self, ex, tensor_index) -> int:
        n = len(ex.sg.tensors)
        if not isinstance(tensor_index, (int, np.integer)) or not 0 <= tensor_index < n:
            raise ValueError(f"Invalid tensor index {tensor_index} exceeds max tensor index "
                             f"{n - 1}")
        return int(tensor_index)

    def _get_tensor_details(self, tensor_index, subgraph_index=0) -> dict:
        ex = self._executor(subgraph_index)
        i = self._check_tensor_index(ex, tensor_index)
        t = ex.sg.tensors[i]
        q = t.quantization
        per_tensor = (float(q.scales[0]), int(q.zero_points[0]) if q.zero_points.size else 0) \
            if q.scales.size == 1 else (0.0, 0)
        shape = ex.shapes[i] if ex.values[i] is None or i in ex.folded else t.shape
        return {
            "name": t.name,
            "index": i,
            "shape": np.array(shape, dtype=np.int32),
            "shape_signature": np.array(_signature(t, ex.shapes[i]), dtype=np.int32),
            "dtype": dtypes.numpy_type(t.type),
            "quantization": per_tensor,
            "quantization_parameters": {
                "scales": q.scales.astype(np.float32),
                "zero_points": q.zero_points.astype(np.int32),
                "quantized_dimension": int(q.quantized_dimension),
                "block_size": int(q.block_size),
            },
            "sparsity_parameters": _sparsity_details(t.sparsity),
        }

    def get_tensor_details(self, subgraph_index: int = 0) -> list:
        n = len(self._model.subgraphs)
        if not isinstance(subgraph_index, (int, np.integer)) or not 0 <= subgraph_index < n:
            raise ValueError(f"subgraph_index is out of range: {subgraph_index} for the model, "
                             f"which has {n} subgraphs.")
        ex = self._executor(subgraph_index)
        return [self._get_tensor_details(i, subgraph_index) for i in range(len(ex.sg.tensors))]

    def get_input_details(self) -> list:
        return [self._get_tensor_details(i, 0) for i in self._model.subgraphs[0].inputs]

    def get_output_details(self) -> list:
        return [self._get_tensor_details(i, 0) for i in self._model.subgraphs[0].outputs]

    def _get_op_details(self, op_index: int) -> dict:
        sg = self._model.subgraphs[0]
        op = sg.operators[op_index]
        ins = [i for i in op.inputs]
        outs = [i for i in op.outputs]
        return {
            "index": int(op_index),
            "op_name": op.name,
            "inputs": np.array(ins, dtype=np.int32),
            "outputs": np.array(outs, dtype=np.int32),
            "operand_types": [dtypes.numpy_type(sg.tensors[i].type) for i in ins if i != -1],
            "result_types": [dtypes.numpy_type(sg.tensors[i].type) for i in outs if i != -1],
        }

    def _get_ops_details(self) -> list:
        return [self._get_op_details(i) for i in range(len(self._model.subgraphs[0].operators))]

    # -- tensors -------------------------------------------------------------------------------
    def _readable(self, ex, i: int):
        arr = ex.arrays[i]
        if arr is None or (not ex.allocated and ex.values[i] is None):
            raise ValueError("Tensor data is null. Run allocate_tensors() first")
        return arr

    def get_tensor(self, tensor_index, subgraph_index: int = 0) -> np.ndarray:
        ex = self._executor(subgraph_index)
        i = self._check_tensor_index(ex, tensor_index)
        arr = self._readable(ex, i)
        t = ex.sg.tensors[i]
        if t.type == dtypes.STRING:
            return np.array(arr.tolist(), dtype=object).reshape(arr.shape) if arr.size else \
                np.empty(arr.shape, dtype=object)
        self._backend.synchronize()
        return np.array(self._backend.to_host(arr), copy=True)

    def set_tensor(self, tensor_index, value, subgraph_index: int = 0) -> None:
        ex = self._executor(subgraph_index)
        i = self._check_tensor_index(ex, tensor_index)
        t = ex.sg.tensors[i]
        if t.raw is not None or i in ex.folded:
            raise ValueError(f"Cannot set tensor: tensor {i} ({t.name!r}) is a constant of the "
                             f"model and cannot be written")
        arr = self._readable_for_set(ex, i)
        if t.type == dtypes.STRING:
            value = _as_string_array(value)
        else:
            device_value = self._backend.as_device_array(value)  # no host round trip on a GPU
            value = _as_array(value) if device_value is None else device_value
        want = dtypes.storage_dtype(t.type) if t.type != dtypes.STRING else np.dtype(object)
        if value.dtype != want:
            raise ValueError(f"Cannot set tensor: Got value of type "
                             f"{_type_name_of(value.dtype)} but expected type "
                             f"{dtypes.type_name(t.type)} for input {i}, name: {t.name} ")
        if value.ndim != arr.ndim:
            raise ValueError(f"Cannot set tensor: Dimension mismatch. Got {value.ndim} but "
                             f"expected {arr.ndim} for input {i}.")
        for k, (got, exp) in enumerate(zip(value.shape, arr.shape)):
            if got != exp:
                raise ValueError(f"Cannot set tensor: Dimension mismatch. Got {got} but "
                                 f"expected {exp} for dimension {k} of input {i}.")
        self._backend.upload(arr, value)

    def _readable_for_set(self, ex, i):
        arr = ex.arrays[i]
        if arr is None or not ex.allocated:
            raise ValueError("Cannot set tensor: Tensor is unallocated. Try calling "
                             "allocate_tensors() first")
        return arr

    def tensor(self, tensor_index, subgraph_index: int = 0):
        """A callable returning a NumPy view of the tensor's current buffer (no copy)."""
        def view():
            ex = self._executor(subgraph_index)
            i = self._check_tensor_index(ex, tensor_index)
            if ex.sg.tensors[i].type in dtypes.NON_ARRAY_TYPES:
                raise ValueError(f"tensor {i} is a {dtypes.type_name(ex.sg.tensors[i].type)} "
                                 f"tensor; tensor() views exist only for numeric tensors, use "
                                 f"get_tensor()")
            arr = self._readable(ex, i)
            self._backend.synchronize()
            arr = self._backend.host_view(arr)  # GPU: a pinned mirror, uploaded at next invoke
            anchor = _ViewAnchor(arr)
            self._views.add(anchor)
            return np.asarray(anchor)
        return view

    def device_tensor(self, tensor_index, subgraph_index: int = 0):
        """The tensor's own array on the backend, zero-copy: a CuPy view of the arena on
        device='cuda' (it exports __cuda_array_interface__ and __dlpack__, for PyTorch/JAX), the
        NumPy array on the CPU. Valid until the next allocate_tensors(); ordered after the
        work queued so far."""
        ex = self._executor(subgraph_index)
        i = self._check_tensor_index(ex, tensor_index)
        return self._backend.device_view(self._readable(ex, i))

    def resize_tensor_input(self, input_index, tensor_size, strict: bool = False,
                            subgraph_index: int = 0) -> None:
        self._ensure_safe()
        ex = self._executor(subgraph_index)
        n = len(ex.sg.tensors)
        if not isinstance(input_index, (int, np.integer)) or not 0 <= input_index < n:
            raise RuntimeError(f"Invalid tensor index {input_index}: the subgraph has {n} "
                               f"tensors")
        try:
            shape = np.asarray(tensor_size)
            if shape.ndim != 1 or (shape.size and shape.dtype.kind not in "iuf"):
                raise TypeError
            shape = shape.astype(np.int64)
        except (TypeError, ValueError):
            raise ValueError(f"tensor_size must be a 1-D list of ints, not {tensor_size!r}") \
                from None
        ex.resize_input(int(input_index), shape.tolist(), strict)

    # -- signatures ----------------------------------------------------------------------------
    def get_signature_list(self) -> dict:
        return {key: {"inputs": sorted(sd["inputs"]), "outputs": sorted(sd["outputs"])}
                for key, sd in self._signature_defs.items()}

    def _get_full_signature_list(self) -> dict:
        return {key: {"inputs": dict(sorted(sd["inputs"].items())),
                      "outputs": dict(sorted(sd["outputs"].items()))}
                for key, sd in self._signature_defs.items()}

    def get_signature_runner(self, signature_key=None):
        from .signature_runner import SignatureRunner
        if signature_key is None:
            if len(self._signature_defs) != 1:
                raise ValueError(f"SignatureDef signature_key is None and model has "
                                 f"{len(self._signature_defs)} Signatures. None is only allowed "
                                 f"when the model has 1 SignatureDef")
            signature_key = next(iter(self._signature_defs))
        return SignatureRunner(self, signature_key)


def _signature(t, current_shape) -> tuple:
    # a model without a signature for this tensor (signature == static shape) reports the
    # current shape, as LiteRT does once a resize has propagated
    if t.shape_signature == t.shape or len(t.shape_signature) != len(current_shape):
        return current_shape
    return t.shape_signature


def _sparsity_details(sp) -> dict:
    if not sp:
        return {}
    dims = []
    for d in sp["dim_metadata"]:
        if d["format"] == 0:
            dims.append({"format": 0, "dense_size": d["dense_size"]})
        else:
            dims.append({"format": 1, "array_segments": d["array_segments"].astype(np.int32),
                         "array_indices": d["array_indices"].astype(np.int32)})
    out = {"traversal_order": np.array(sp["traversal_order"], np.int32)}
    if sp["block_map"]:  # LiteRT lists block_map only for block-sparse tensors
        out["block_map"] = np.array(sp["block_map"], np.int32)
    out["dim_metadata"] = dims
    return out


def _as_array(value) -> np.ndarray:
    # device arrays (CuPy etc.) come back to the host here on the CPU backend
    if hasattr(value, "get") and hasattr(value, "__cuda_array_interface__"):
        value = value.get()
    return np.asarray(value)


def _type_name_of(dt: np.dtype) -> str:
    try:
        return dtypes.type_name(dtypes.code_for(dt))
    except ValueError:
        return str(dt).upper()


def _as_string_array(value) -> np.ndarray:
    arr = np.asarray(value, dtype=object)
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=object)
    for k, v in enumerate(flat):
        out[k] = v.encode("utf-8") if isinstance(v, str) else bytes(v)
    return out.reshape(arr.shape)
