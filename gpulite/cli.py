"""The `gpulite` command line: run, inspect, bench, env.

    gpulite run [MODEL] [--device auto|cpu|cuda] [--repeat N] [--input x.npy]
    gpulite inspect [MODEL] [--device ...]
    gpulite bench [MODEL] [--device ...] [--runs N] [--num_threads N] [--enable_op_profiling]
    gpulite env
    gpulite ops [--check] [--file OPS.md]

With no MODEL, `run` and `inspect` use the bundled example classifier (gpulite.examples).
Mistakes a user can make (a bad path, a malformed model, a missing op, an unusable device) print
one line to stderr and exit with status 2. Set GPULITE_DEBUG=1 to get the traceback instead.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

EXIT_USAGE = 2
EXAMPLE_NAME = "<bundled example model>"


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


# -- helpers --------------------------------------------------------------------------------------

def _open_interpreter(model: str | None, device: str, **kw):
    """(Interpreter, label, size in bytes); device notes go to stderr as one line each."""
    from . import Interpreter
    from .examples import example_model

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if model is None:
                content = example_model()
                it = Interpreter(model_content=content, device=device, **kw)
                label, size = EXAMPLE_NAME, len(content)
            else:
                it = Interpreter(model_path=model, device=device, **kw)
                label, size = model, _file_size(model)
    except (ValueError, RuntimeError, OSError) as exc:
        raise CliError(_one_line(exc)) from exc
    for w in caught:
        print(_note(w.message), file=sys.stderr)
    return it, label, size


def _note(message) -> str:
    text = _one_line(message)
    return text if text.startswith("gpulite:") else f"gpulite: {text}"


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1


def _one_line(exc) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _shape(a) -> str:
    return "[" + ", ".join(str(int(d)) for d in np.asarray(a).reshape(-1)) + "]"


def _dtype_name(dt) -> str:
    try:
        return np.dtype(dt).name
    except TypeError:
        return getattr(dt, "__name__", str(dt))


def _quantization(d: dict) -> str:
    q = d.get("quantization_parameters") or {}
    scales = np.asarray(q.get("scales", []))
    zps = np.asarray(q.get("zero_points", []))
    if scales.size == 0:
        return "none"
    if scales.size == 1:
        zp = int(zps[0]) if zps.size else 0
        return f"scale={float(scales[0]):.6g} zero_point={zp}"
    return (f"per-axis on dim {int(q.get('quantized_dimension', 0))} "
            f"({scales.size} scales, {float(scales.min()):.3g}..{float(scales.max()):.3g})")


def _random_input(d: dict, rng: np.random.Generator) -> np.ndarray:
    """Seeded data of the input's dtype and (current) shape."""
    shape = tuple(int(s) for s in d["shape"])
    dt = np.dtype(d["dtype"]) if d["dtype"] is not np.object_ else np.dtype(object)
    if dt.kind == "f":
        return rng.uniform(-1.0, 1.0, shape).astype(dt)
    if dt.kind == "c":
        return (rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        if dt.itemsize >= 4:
            # int32/int64 inputs are usually indices or token ids: keep them small and valid
            return rng.integers(0, 16, shape).astype(dt)
        info = np.iinfo(dt)
        return rng.integers(int(info.min), int(info.max) + 1, shape).astype(dt)
    if dt.kind in "OSU":
        out = np.empty(shape, dtype=object)
        out.reshape(-1)[:] = [b"gpulite"] * int(np.prod(shape, dtype=np.int64))
        return out
    raise CliError(f"cannot make random data for input {d['name']!r} of type {dt}")


def _load_npy(path: str, d: dict) -> np.ndarray:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read --input {path!r}: {_one_line(exc)}") from exc
    want = np.dtype(d["dtype"])
    if value.dtype != want:
        if value.dtype.kind != want.kind and not (value.dtype.kind in "iu" and want.kind in "iu"):
            raise CliError(f"--input {path!r} holds {value.dtype} data but input "
                           f"{d['name']!r} is {want}")
        value = value.astype(want)
    return value


def _summary(a: np.ndarray) -> str:
    if a.size == 0:
        return "(empty)"
    if a.dtype.kind in "OSU":
        items = a.reshape(-1)[:3].tolist()
        return "first items " + ", ".join(repr(x) for x in items) + (" ..." if a.size > 3 else "")
    if a.dtype.kind == "b":
        return f"{int(a.sum())} of {a.size} true"
    if a.ndim == 2 and a.dtype.kind == "f":
        row = a[0].astype(np.float64)
        k = min(5, row.size)
        top = np.argsort(-row, kind="stable")[:k]
        prefix = "top-%d" % k if a.shape[0] == 1 else "row 0 top-%d" % k
        return prefix + ": " + ", ".join(f"{int(i)}={row[i]:.4f}" for i in top)
    x = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    if a.dtype.kind == "c":
        x = np.abs(x)
    return f"min={x.min():.6g} max={x.max():.6g} mean={x.mean():.6g}"


# -- commands -------------------------------------------------------------------------------------

def cmd_run(args) -> int:
    if args.repeat < 1:
        raise CliError("--repeat must be at least 1")
    it, label, size = _open_interpreter(args.model, args.device)
    inputs = it.get_input_details()
    if args.input is not None and len(inputs) != 1:
        raise CliError(f"--input works for single-input models; this model has {len(inputs)} "
                       f"inputs")
    try:
        values = []
        if args.input is not None:
            value = _load_npy(args.input, inputs[0])
            if tuple(value.shape) != tuple(int(s) for s in inputs[0]["shape"]):
                it.resize_tensor_input(inputs[0]["index"], list(value.shape))
            values.append(value)
        it.allocate_tensors()
        inputs = it.get_input_details()
        if not values:
            rng = np.random.default_rng(args.seed)
            values = [_random_input(d, rng) for d in inputs]
        for d, v in zip(inputs, values):
            it.set_tensor(d["index"], v)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            it.invoke()
            # get_tensor synchronises the device; time the whole invoke-to-result path
            it.get_tensor(it.get_output_details()[0]["index"])
            times.append(time.perf_counter() - t0)
        outputs = [(d, it.get_tensor(d["index"])) for d in it.get_output_details()]
    except (ValueError, RuntimeError) as exc:
        raise CliError(_one_line(exc)) from exc

    print(f"model: {label} ({size} bytes)")
    print(f"device: {it.device}")
    for d, v in zip(inputs, values):
        src = args.input if args.input is not None else f"random (seed {args.seed})"
        print(f"input  {d['name']}: shape {_shape(v.shape)} {_dtype_name(d['dtype'])} <- {src}")
    for d, v in outputs:
        print(f"output {d['name']}: shape {_shape(v.shape)} {_dtype_name(v.dtype)}  {_summary(v)}")
    med = statistics.median(times) * 1e3
    print(f"invoke: median {med:.3f} ms over {len(times)} run(s) "
          f"(first {times[0] * 1e3:.3f} ms)")
    return 0


def cmd_bench(args) -> int:
    if args.runs < 1 or args.warmup < 0:
        raise CliError("--runs must be at least 1 and --warmup at least 0")
    kw = {} if args.num_threads is None else {"num_threads": args.num_threads}
    it, label, _size = _open_interpreter(args.model, args.device, precision=args.precision, **kw)
    try:
        it.allocate_tensors()
        rng = np.random.default_rng(args.seed)
        for d in it.get_input_details():
            it.set_tensor(d["index"], _random_input(d, rng))
        out_index = it.get_output_details()[0]["index"]
        for _ in range(args.warmup):
            it.invoke()
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            it.invoke()
            it.get_tensor(out_index)  # synchronises the device
            times.append(time.perf_counter() - t0)
        records = None
        if args.enable_op_profiling:
            from .profiler import profile_ops
            records = profile_ops(it, runs=args.runs)
    except (ValueError, RuntimeError) as exc:
        raise CliError(_one_line(exc)) from exc
    ms = sorted(t * 1e3 for t in times)
    print(f"model: {label}")
    print(f"device: {it.device}, num_threads: {args.num_threads or 'default'}, "
          f"precision: {it.precision}")
    print(f"invoke over {len(ms)} runs after {args.warmup} warm-up: median {statistics.median(ms):.3f} "
          f"ms, min {ms[0]:.3f} ms, max {ms[-1]:.3f} ms")
    if it.device != "cpu":
        print(f"invoke: {it.graph_status()}")
        host = it.host_ops()
        if host:
            print("ops on the host: " + ", ".join(f"{n} (operator {i})"
                                                  for i, (n, _why) in host.items()))
    if records is not None:
        from .profiler import format_profile
        print(format_profile(records))
    return 0


def _print_placement(it) -> None:
    """Device backends: one invoke on zero inputs finds the ops that run on the host (see
    gpulite.host_fallback), and a second one whether invokes replay a CUDA graph."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(2):
                for d in it.get_input_details():
                    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
                it.invoke()
    except (ValueError, RuntimeError) as exc:
        print(f"ops on the host: unknown (a trial invoke failed: {_one_line(exc)})")
        return
    host = it.host_ops()
    print("ops on the host (no device implementation): "
          + (", ".join(f"{name} (operator {i}: {why})" for i, (name, why) in host.items())
             if host else "none"))
    print(f"invoke: {it.graph_status()}")
    fused = it.fused_adds()
    print(f"ADDs done in their producer's epilogue: {len(fused)}"
          + (" (" + ", ".join(f"{name} {p} + ADD {a}" for p, name, a in fused[:4])
             + (", ..." if len(fused) > 4 else "") + ")" if fused else ""))


def cmd_inspect(args) -> int:
    it, label, size = _open_interpreter(args.model, args.device)
    model = it._model
    print(f"model: {label} ({size} bytes)")
    if model.description:
        print(f"description: {model.description}")
    print(f"device: {it.device}")

    # allocate first so shapes are resolved; a failure is reported, not fatal
    alloc_error = None
    try:
        it.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        alloc_error = _one_line(exc)

    for title, details in (("inputs", it.get_input_details),
                           ("outputs", it.get_output_details)):
        try:
            items = details()
        except (ValueError, RuntimeError) as exc:
            print(f"{title}: unavailable ({_one_line(exc)})")
            continue
        print(f"{title} ({len(items)}):")
        for d in items:
            print(f"  [{d['index']}] {d['name']}: shape {_shape(d['shape'])} "
                  f"shape_signature {_shape(d['shape_signature'])} {_dtype_name(d['dtype'])} "
                  f"quantization {_quantization(d)}")

    sigs = model.signature_defs
    print(f"signature defs ({len(sigs)}):" if sigs else "signature defs: none")
    for sd in sigs:
        ins = ", ".join(f"{n}->{i}" for n, i in sorted(sd["inputs"].items()))
        outs = ", ".join(f"{n}->{i}" for n, i in sorted(sd["outputs"].items()))
        print(f"  {sd['key']!r} (subgraph {sd['subgraph_index']}): inputs {ins or '-'}; "
              f"outputs {outs or '-'}")

    from .model import OP_CODES
    print(f"subgraphs ({len(model.subgraphs)}):")
    for sg in model.subgraphs:
        counts = collections.Counter(
            f"CUSTOM:{op.name}" if op.code == OP_CODES["CUSTOM"] else op.name
            for op in sg.operators)
        ops = ", ".join(f"{name} {n}" for name, n in
                        sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        name = f" {sg.name!r}" if sg.name else ""
        print(f"  [{sg.index}]{name}: {len(sg.tensors)} tensors, {len(sg.operators)} ops"
              + (f": {ops}" if ops else ""))

    kernels = it._runtime.kernels
    missing = sorted({op.name for sg in model.subgraphs for op in sg.operators
                      if op.name not in kernels})
    print("ops gpulite lacks: " + (", ".join(missing) if missing else "none"))

    if alloc_error is None and it.device != "cpu":
        _print_placement(it)
    if alloc_error is None:
        arena, bound = it.arena_bytes(), it.arena_lower_bound()
        extra = f", +{100.0 * (arena - bound) / bound:.1f}%" if bound else ""
        print(f"arena (subgraph 0): {arena} bytes (lower bound {bound} bytes{extra})")
    else:
        print(f"arena: not planned; allocate_tensors failed: {alloc_error}")
    return 0


def cmd_env(args) -> int:
    """Versions, then the GPU report (gpulite/env_report.py: CuPy, NVML's driver and per-GPU
    lines, what device="auto" picks and why); every probe fails soft, the exit status is 0."""
    import gpulite
    from . import env_report

    print(f"gpulite {gpulite.__version__} ({os.path.dirname(os.path.abspath(gpulite.__file__))})")
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"numpy {np.__version__}")
    print(f"flatbuffers {_version_of('flatbuffers')}")
    for probe in (env_report.cupy_lines, env_report.nvml_lines, env_report.auto_lines):
        for line in probe():
            print(line)
    print(f"ai-edge-litert (reference for the tests): {_version_of('ai-edge-litert')}")
    return 0


def cmd_ops(args) -> int:
    """Print OPS.md (the op coverage table); with --check, exit 1 when the file is stale."""
    from . import opsdoc

    if not args.check:
        if args.file is not None:
            raise CliError("--file goes with --check; to write the table, run "
                           f"`{opsdoc.REGENERATE}`")
        sys.stdout.write(opsdoc.generate())
        return 0
    path = args.file if args.file is not None else _find_ops_md(opsdoc.FILE_NAME)
    if not os.path.isfile(path):
        raise CliError(f"no {path} to check")
    problem = opsdoc.check(path)
    if problem is not None:
        print(f"gpulite ops: {problem}", file=sys.stderr)
        return 1
    print(f"{path} is up to date")
    return 0


def _find_ops_md(name: str) -> str:
    """OPS.md in the current directory, else the one of the source checkout gpulite runs from."""
    if os.path.isfile(name):
        return name
    checkout = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), name)
    if os.path.isfile(checkout):
        return checkout
    raise CliError(f"no {name} in the current directory (or beside the gpulite package); "
                   f"pass --file PATH")


def _version_of(dist: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


# -- entry point ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpulite",
        description="Run and inspect .tflite models with gpulite (CUDA GPU or NumPy CPU).")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def model_args(sp):
        sp.add_argument("model", nargs="?", metavar="MODEL",
                        help=".tflite file (default: the bundled example model)")
        sp.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to run (default: auto = CUDA when usable, else CPU)")

    r = sub.add_parser("run", help="run a model on seeded random (or given) inputs and time it")
    model_args(r)
    r.add_argument("--repeat", type=int, default=10, metavar="N",
                   help="invokes to time; the median is reported (default: 10)")
    r.add_argument("--input", metavar="NPY", help=".npy file for a single-input model")
    r.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("inspect", help="print a model's inputs, outputs, signatures, ops, arena")
    model_args(i)
    i.set_defaults(func=cmd_inspect)

    b = sub.add_parser("bench", help="time invokes; --enable_op_profiling adds a per-op table")
    model_args(b)
    b.add_argument("--runs", type=int, default=50, metavar="N", help="timed invokes (50)")
    b.add_argument("--warmup", type=int, default=5, metavar="N", help="untimed invokes (5)")
    b.add_argument("--num_threads", type=int, default=None, metavar="N",
                   help="passed to Interpreter(num_threads=N)")
    b.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    b.add_argument("--precision", choices=("float32", "tf32", "fp16"), default=None,
                   help="CUDA GEMM / convolution precision (default: GPULITE_PRECISION, else "
                        "exact float32)")
    b.add_argument("--enable_op_profiling", action="store_true",
                   help="print per-op times in the layout of TFLite's benchmark_model")
    b.set_defaults(func=cmd_bench)

    e = sub.add_parser("env", help="print versions and which device gpulite would use")
    e.set_defaults(func=cmd_env)

    o = sub.add_parser("ops", help="print the op coverage table (OPS.md); --check: is it stale?")
    o.add_argument("--check", action="store_true",
                   help="compare OPS.md with the registry; exit 1 when it is stale")
    o.add_argument("--file", metavar="PATH", default=None,
                   help="the file --check reads (default: ./OPS.md, else the checkout's)")
    o.set_defaults(func=cmd_ops)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        if os.environ.get("GPULITE_DEBUG", "") not in ("", "0"):
            raise
        print(f"gpulite {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `gpulite inspect | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
