"""What an op implementation sees: the prepare-time context and the shared helpers.

Every op is one `prepare(ctx)` function. It runs once per input shape (at `allocate_tensors`):
it checks the inputs, sets the output shapes, computes everything that does not depend on input
values, and returns the eval callable `run(ins, outs)`. `run` is called on every invoke with the
backend arrays of the op's inputs (None for an omitted optional input) and its preallocated
outputs, which it must fill in place. `run` does no validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..model import max_tensor_bytes


class OpError(ValueError, RuntimeError):
    """An op cannot run on the tensors it was given.

    Both a ValueError (the model or its inputs are wrong) and a RuntimeError (what LiteRT raises
    when a node fails to prepare or invoke), so existing `except` clauses keep working.
    """


class NeedsRuntimeValue(Exception):
    """Raised by `ctx.const_value` at allocate time when the value is only known at invoke.

    The executor then prepares the op during invoke instead (its outputs become dynamic
    tensors), the way TFLite handles ops fed by computed shapes.
    """


@dataclass
class TensorInfo:
    """One tensor as prepare sees it."""
    index: int
    name: str
    type: int  # TensorType code
    shape: tuple
    quantization: object  # model.Quantization
    value: np.ndarray | None = None  # host value when known at prepare (constants, folded)
    is_variable: bool = False
    runtime: np.ndarray | None = None  # host value of a non-constant input, when prepared
    #                                    during invoke (read it through ctx.const_value)

    @property
    def dtype(self) -> np.dtype:
        return dtypes.storage_dtype(self.type)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class AbsorbableAdd:
    """An ADD's arithmetic, as a producer's epilogue would redo it (gpulite.fusion).

    kind "float": float32 a + b, then `clamp` (None or (lo, hi)).
    kind "pair_table": 8-bit quantised; the output for inputs (x1, x2) on code path p is
    table[p * 2**16 + 256 * byte(x1) + byte(x2)]: `table` (on the op's backend), `paths` the
    path of each output element (NumPy, output shape) or None for every element on `base`'s.
    """
    kind: str
    clamp: tuple | None = None
    table: object = None
    paths: np.ndarray | None = None
    base: int = 0


class NodeContext:
    """Prepare-time view of one operator: its options, input/output tensors and the backend."""

    def __init__(self, op, inputs, outputs, backend, executor):
        self.op = op
        self.options = op.opt
        self.inputs = inputs  # list[TensorInfo | None]
        self.outputs = outputs  # list[TensorInfo]
        self.backend = backend
        self.xp = backend.xp
        self.executor = executor  # for ops that call other subgraphs or hold state
        self.stateful = False  # set by ops whose result must not be computed at prepare
        self.dynamic_outputs: set = set()  # output positions whose shape is known only at run
        self.values_read: dict = {}  # input position -> runtime value that prepare depended on
        # fusing an ADD into the kernel that produces one of its operands (gpulite.fusion):
        # the producer sets residual_epilogue, a function (AbsorbableAdd, producer_is_first)
        # -> run(ins + [the ADD's other operand], [the ADD's output]) or None when it cannot;
        # the ADD sets absorbable_add, what its arithmetic is
        self.residual_epilogue = None
        self.absorbable_add = None

    # -- errors ------------------------------------------------------------------------------
    def fail(self, message: str):
        raise OpError(f"{self.op.name} (operator {self.op.index}): {message}")

    def require(self, condition, message: str) -> None:
        if not condition:
            self.fail(message)

    # -- inputs and outputs ------------------------------------------------------------------
    def input(self, i: int) -> TensorInfo:
        if i >= len(self.inputs) or self.inputs[i] is None:
            self.fail(f"needs input {i}, but the model gives {len(self.inputs)} input(s)")
        return self.inputs[i]

    def optional_input(self, i: int) -> TensorInfo | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def output(self, i: int = 0) -> TensorInfo:
        if i >= len(self.outputs):
            self.fail(f"needs output {i}, but the model gives {len(self.outputs)} output(s)")
        return self.outputs[i]

    def set_output_shape(self, i: int, shape) -> None:
        """Set output i's shape; checked here, before any kernel sizes buffers from it."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            self.fail(f"computed a negative output shape {list(shape)}")
        out = self.output(i)
        nbytes = dtypes.nbytes(out.type, shape)
        if nbytes is not None and nbytes > max_tensor_bytes():
            self.fail(f"output {out.name!r} would be {list(shape)}, {nbytes} bytes; over the "
                      f"GPULITE_MAX_TENSOR_BYTES limit")
        out.shape = shape

    def const_value(self, i: int, what: str) -> np.ndarray:
        """The value of input i. At allocate time only constants (and values folded from them)
        are known; for anything else the op is prepared again during invoke, with the value."""
        t = self.input(i)
        if t.value is not None:
            return t.value
        if t.runtime is None:
            raise NeedsRuntimeValue(f"{what} (input {i})")
        self.values_read[i] = t.runtime
        return t.runtime

    def mark_output_dynamic(self, i: int) -> None:
        """Output i gets its shape during run: `run` must then set `outs[i]` to a new array."""
        self.output(i)
        self.dynamic_outputs.add(i)

    def check_types(self, allowed, *indices) -> None:
        """Inputs at `indices` (default: input 0) must have one of the `allowed` type codes."""
        for i in indices or (0,):
            t = self.input(i)
            if t.type not in allowed:
                names = ", ".join(dtypes.type_name(a) for a in sorted(allowed))
                self.fail(f"input {i} is {dtypes.type_name(t.type)}; supported: {names}")


# -- checks shared by many ops ----------------------------------------------------------------

def takes_inputs(ctx: NodeContext, n: int, names: str = "") -> None:
    """The op has exactly `n` inputs (`names`, as "input, perm", go into the message)."""
    listed = f" ({names})" if names else ""
    ctx.require(len(ctx.inputs) == n, f"takes {n} input{'s' if n != 1 else ''}{listed}, the "
                                      f"model gives {len(ctx.inputs)}")


def same_type_io(ctx: NodeContext, types):
    """Input 0, one of the type codes `types`, and output 0, which must have its type:
    (input, output)."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.check_types(types, 0)
    ctx.require(y.type == x.type, f"input is {dtypes.type_name(x.type)} but output is "
                                  f"{dtypes.type_name(y.type)}")
    return x, y


# -- fused activations ------------------------------------------------------------------------

# ActivationFunctionType code -> (lo, hi) clamp; TANH (4) and SIGN_BIT (5) are not clamps.
_CLAMPS = {0: None, 1: (0.0, np.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}


def activation_range(ctx: NodeContext, code: int | None = None):
    """The clamp for the op's fused activation, or None when there is none."""
    code = ctx.options.get("fused_activation_function", 0) if code is None else code
    if code not in _CLAMPS:
        ctx.fail(f"fused activation {code} is not supported")
    return _CLAMPS[code]


def clip_ufunc(xp):
    """NumPy's clip ufunc (np.clip adds microseconds of Python checks per call); xp.clip
    elsewhere."""
    if xp.__name__ == "numpy":
        for name in ("numpy._core.umath", "numpy.core.umath"):
            try:
                fn = getattr(__import__(name, fromlist=["clip"]), "clip", None)
            except ImportError:
                continue
            if fn is not None:
                return fn
    return xp.clip


def apply_clamp(xp, out, clamp) -> None:
    if clamp is not None:
        xp.clip(out, clamp[0], clamp[1], out=out)


FLOAT = frozenset({0})
FLOATS = frozenset({0, 1, 10})  # float32, float16, float64
INTS = frozenset({2, 4})  # int32, int64
NUMERIC = frozenset({0, 2, 4, 7, 9, 3, 10, 1})
