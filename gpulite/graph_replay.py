"""CUDA-graph replay of a subgraph's steady-state invoke().

A prepared subgraph launches the same kernels with the same arguments on every invoke while the
shapes stay put, so after one eager invoke (which compiles kernels and fills the memory pool)
the next invoke is captured into a CUDA graph, and every later one is a single graph launch:
one driver call instead of one (or several) per op. Inputs are copied into the arena before the
launch and outputs read after it, both outside the graph, so set_tensor / get_tensor work as
before.

The backend decides whether graphs are possible (`supports_graphs`); the interpreter turns them
off with `Interpreter(..., cuda_graphs=False)` or GPULITE_CUDA_GRAPHS=0. A subgraph is never
captured when one of its steps must run Python on every invoke (ops that decide something on
the host, control flow, dynamic shapes, user custom ops, ops moved to the host by
gpulite.host_fallback: `graph_blocker` below). If capturing raises (an op synchronises, or
copies from the host, which a capture refuses) the subgraph runs eagerly from then on, and
`status` says why. A resize or allocate_tensors starts over.
"""

from __future__ import annotations

import os

from .host_fallback import HostStep

# Ops whose invoke does work on the host each time (reading device values, host state, random
# state, other subgraphs): a graph would freeze what they compute. Custom ops registered by the
# user are their code, so they block capture too (the MediaPipe ones gpulite ships do not).
HOST_STEP_OPS = frozenset({
    "WHILE", "IF", "CALL_ONCE",
    "RANDOM_UNIFORM", "RANDOM_STANDARD_NORMAL", "MULTINOMIAL",
    "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE",
    "WHERE", "UNIQUE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
})

ENV_SWITCH = "GPULITE_CUDA_GRAPHS"


def enabled_by_env() -> bool:
    """False when GPULITE_CUDA_GRAPHS is 0 / false / off / no."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")


def graph_blocker(steps, step_is_plain, is_user_op) -> str | None:
    """None when every step can be captured, else why not (for `status`)."""
    for run, _ins, _outs, op in steps:
        if isinstance(run, HostStep):
            return f"{op.name} (operator {op.index}) runs on the host ({run.reason})"
        if op.name in HOST_STEP_OPS:
            return f"{op.name} (operator {op.index}) runs on the host every invoke"
        if is_user_op(op):
            return f"custom op {op.name} (operator {op.index}) is user code"
        if not step_is_plain(run):
            return f"{op.name} (operator {op.index}) has a shape known only at invoke"
    return None


class GraphReplay:
    """The warm-up / capture / replay state of one prepared subgraph on one backend."""

    def __init__(self, backend, blocker: str | None):
        self.backend = backend
        self.graph = None
        self.invokes = 0
        reason = blocker
        self.status = f"eager: {reason}" if reason else "warming up"
        self._eager = reason is not None
        self._pool = backend.graph_memory() if reason is None else None

    def invoke(self, run_steps) -> None:
        if self._eager:
            run_steps()
            return
        if self.graph is not None:
            self.backend.launch_graph(self.graph)
            return
        self.invokes += 1
        if self.invokes == 1:
            # eager, in the graph's own memory pool: kernels compile, the pool grows to what
            # one invoke needs, so that capturing allocates nothing new
            with self._pool.active():
                run_steps()
            return
        try:
            with self._pool.active():
                graph = self.backend.capture(run_steps)
        except Exception as exc:  # noqa: BLE001  whatever refused the capture: run eagerly
            self._eager = True
            self._pool = None
            self.status = f"eager: capture failed ({type(exc).__name__}: {exc})"
            run_steps()  # a capture runs nothing: this invoke still has to compute
            return
        self.graph = graph
        self.status = "graph"
        self.backend.launch_graph(graph)
