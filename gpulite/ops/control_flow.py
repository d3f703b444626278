"""Subgraph calls: CALL_ONCE, CALL, IF, WHILE.

Tensors cross into a called subgraph by value, as in TFLite: the caller's inputs are copied into
the subgraph's input tensors (re-allocating it when a shape changed), the subgraph runs, and its
outputs are copied back out. Outputs whose shape can only be known at run time (branches that
disagree, loops whose body changes shapes) become dynamic tensors.
"""

from __future__ import annotations

import os


def max_loop_iterations() -> int:
    """WHILE's iteration cap (GPULITE_MAX_LOOP_ITERATIONS): a loop that never ends is almost
    always a corrupt model or a wrong input, and must not hang the process."""
    try:
        return max(1, int(os.environ.get("GPULITE_MAX_LOOP_ITERATIONS", 10_000_000)))
    except ValueError:
        return 10_000_000


def _subgraph(ctx, field: str):
    runtime = ctx.executor.runtime
    index = ctx.options.get(field)
    ctx.require(isinstance(index, int) and 0 <= index < len(runtime.model.subgraphs)
                and index != ctx.executor.index,
                f"{field} {index} is not another subgraph of the model")
    return runtime.executor(index)


def _check_arity(ctx, sub, n_in: int, n_out: int | None, what: str) -> None:
    ctx.require(len(sub.sg.inputs) == n_in,
                f"{what} subgraph {sub.index} takes {len(sub.sg.inputs)} inputs, the op passes "
                f"{n_in}")
    if n_out is not None:
        ctx.require(len(sub.sg.outputs) == n_out,
                    f"{what} subgraph {sub.index} returns {len(sub.sg.outputs)} outputs, the op "
                    f"has {n_out}")


def _set_outputs(ctx, shapes) -> None:
    """Static where the shape is known now, dynamic otherwise."""
    for k, shape in enumerate(shapes):
        if shape is None:
            ctx.mark_output_dynamic(k)
        else:
            ctx.set_output_shape(k, shape)


def _copy_out(xp, results, outs) -> None:
    for k, arr in enumerate(results):
        if outs[k] is None:
            outs[k] = xp.array(arr, copy=True)  # dynamic: the subgraph's arena gets reused
        else:
            outs[k][...] = arr


def prepare_call_once(ctx):
    runtime = ctx.executor.runtime
    sub = _subgraph(ctx, "init_subgraph_index")
    _check_arity(ctx, sub, 0, 0, "init")
    ctx.stateful = True
    done = runtime.initialized_subgraphs
    index = sub.index

    def run(ins, outs):
        if index not in done:  # interpreter-wide, like TFLite's initialization status map
            sub.allocate()
            sub.invoke()
            done.add(index)
    return run


def prepare_call(ctx):
    sub = _subgraph(ctx, "subgraph")
    _check_arity(ctx, sub, len(ctx.inputs), len(ctx.outputs), "called")
    _set_outputs(ctx, sub.prepare_for_inputs([t.shape for t in ctx.inputs]))
    ctx.stateful = True
    xp = ctx.xp

    def run(ins, outs):
        sub.feed(ins)
        sub.invoke()
        _copy_out(xp, sub.output_arrays(), outs)
    return run


def prepare_if(ctx):
    cond = ctx.input(0)
    ctx.require(cond.size == 1, f"the condition must hold one value, got shape {list(cond.shape)}")
    branches = [_subgraph(ctx, "then_subgraph_index"), _subgraph(ctx, "else_subgraph_index")]
    args = ctx.inputs[1:]
    for sub, what in zip(branches, ("then", "else")):
        _check_arity(ctx, sub, len(args), len(ctx.outputs), what)
    shapes = [sub.prepare_for_inputs([t.shape for t in args]) for sub in branches]
    _set_outputs(ctx, [a if a == b else None for a, b in zip(*shapes)])
    ctx.stateful = True
    xp, backend = ctx.xp, ctx.backend
    then_sub, else_sub = branches

    def run(ins, outs):
        sub = then_sub if bool(backend.to_host(ins[0]).reshape(-1)[0]) else else_sub
        sub.feed(ins[1:])
        sub.invoke()
        _copy_out(xp, sub.output_arrays(), outs)
    return run


def prepare_while(ctx):
    cond = _subgraph(ctx, "cond_subgraph_index")
    body = _subgraph(ctx, "body_subgraph_index")
    n = len(ctx.inputs)
    ctx.require(len(ctx.outputs) == n, f"has {n} inputs but {len(ctx.outputs)} outputs")
    _check_arity(ctx, cond, n, 1, "cond")
    _check_arity(ctx, body, n, n, "body")
    shapes = [t.shape for t in ctx.inputs]
    cond.prepare_for_inputs(shapes)
    body_out = body.prepare_for_inputs(shapes)
    # a body that keeps every shape gives static outputs; otherwise they follow the loop
    _set_outputs(ctx, [s if s == b else None for s, b in zip(shapes, body_out)])
    ctx.stateful = True
    xp, backend = ctx.xp, ctx.backend

    limit = max_loop_iterations()
    name = f"{ctx.op.name} (operator {ctx.op.index})"
    too_long = f"{name}: still looping after {limit} iterations (GPULITE_MAX_LOOP_ITERATIONS)"
    static = all(s == b for s, b in zip(shapes, body_out))
    # the cond inputs the cond subgraph reads (the others need no copy each iteration)
    cond_reads = {i for op in cond.sg.operators for i in op.inputs} | set(cond.sg.outputs)
    cond_pos = [k for k, i in enumerate(cond.sg.inputs) if i in cond_reads]
    # a body output that is another position's input (a pass-through that permutes) would be
    # overwritten by the in-place copies of the fast loop below
    b_in_t, b_out_t = body.sg.inputs, body.sg.outputs
    permutes = any(o in b_in_t and b_in_t.index(o) != k for k, o in enumerate(b_out_t))

    def truth(arr) -> bool:
        return bool(backend.to_host(arr).reshape(-1)[0])

    def run_static(ins, outs):
        """Shapes never change: the body's outputs are copied straight into its own inputs
        (its inputs live through the whole body run, so no output shares their memory) and
        into the cond inputs it reads; no allocation per iteration."""
        cond.feed(ins)
        body.feed(ins)
        b_in, b_out = [body.arrays[i] for i in b_in_t], body.output_arrays()
        c_in = [cond.arrays[cond.sg.inputs[k]] for k in cond_pos]
        to_body = [(d, s) for d, s in zip(b_in, b_out) if d is not s]
        # positions the body passes through unchanged keep the value fed above
        to_cond = [(d, b_out[k]) for d, k in zip(c_in, cond_pos) if b_out[k] is not b_in[k]]
        flag = cond.output_arrays()[0]
        for _ in range(limit + 1):
            cond.invoke()
            if not truth(flag):
                break
            body.invoke()
            for d, s in to_cond:
                d[...] = s
            for d, s in to_body:
                d[...] = s
        else:
            raise RuntimeError(too_long)
        _copy_out(xp, b_in, outs)

    def run(ins, outs):
        values = list(ins)
        for _ in range(limit + 1):
            cond.feed(values)
            cond.invoke()
            if not truth(cond.output_arrays()[0]):
                break
            body.feed(values)
            body.invoke()
            # copies: the body's arena is overwritten by the next iteration
            values = [xp.array(a, copy=True) for a in body.output_arrays()]
        else:
            raise RuntimeError(too_long)
        _copy_out(xp, values, outs)
    return run_static if static and not permutes else run


KERNELS = {
    "CALL_ONCE": prepare_call_once,
    "CALL": prepare_call,
    "IF": prepare_if,
    "WHILE": prepare_while,
}
