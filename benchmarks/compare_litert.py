"""gpulite against LiteRT on the same models, in one process, interleaved.

    python benchmarks/compare_litert.py                       # the zoo, num_threads=2, CPU
    python benchmarks/compare_litert.py --device cuda --runs 200
    python benchmarks/compare_litert.py zoo/unet_float mediapipe/hand_landmark_lite --json out.json

For each model both interpreters get the same random inputs and `num_threads`, are warmed up,
then timed alternately (one gpulite invoke, one LiteRT invoke, repeated) so that machine noise
hits both alike. Printed per model: the median latency of each, the ratio gpulite / LiteRT, and
the spread (10th-90th percentile) of each. LiteRT runs with its default resolver (XNNPACK), the
configuration users compare against. Benchmarks are not tests: nothing here asserts a time.

Interleaving has one trap: after a GEMM, OpenBLAS's worker threads spin (2**28 cycles, about
0.1 s) before they sleep, so right after a gpulite invoke LiteRT's thread pool shares the cores
with them and runs up to 2-3x slower than alone, which flatters the interleaved ratio. This
script therefore sets OPENBLAS_THREAD_TIMEOUT=4 (OpenBLAS's minimum spin, 2**4 cycles) before
NumPy loads, unless the environment already sets it (OPENBLAS_THREAD_TIMEOUT=0 restores the
default spin); the header line shows the value. The "solo" columns also time each interpreter
alone, after a pause (--settle seconds). Summary lines give the medians of both ratios over
the groups the project tracks: float models (zoo/*_float, zoo/*_fp16, mediapipe/* without
custom ops) and integer models (zoo/*int8*, zoo/*uint8*, zoo/*16x8*).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import statistics
import sys
import time
import warnings

# before NumPy loads OpenBLAS: its idle workers must not spin into LiteRT's turn (see above)
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import gpulite  # noqa: F401  (installed)
except ImportError:  # a source checkout: use the package beside this folder
    sys.path.insert(0, os.path.dirname(HERE))
DEFAULT_MODELS = os.environ.get("GPULITE_MODELS",
                                os.path.join(HERE, "..", "..", "shared", "models"))


def _inputs(details, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for d in details:
        dt = np.dtype(d["dtype"])
        if dt.kind == "f":
            out.append(rng.uniform(-1, 1, d["shape"]).astype(dt))
        elif dt.kind == "b":
            out.append(rng.integers(0, 2, d["shape"]).astype(dt))
        else:
            info = np.iinfo(dt)
            out.append(rng.integers(max(info.min, -100), min(info.max, 100), d["shape"]).astype(dt))
    return out


def _prepare(it, values):
    it.allocate_tensors()
    for d, v in zip(it.get_input_details(), values):
        it.set_tensor(d["index"], v)
    out = it.get_output_details()[0]["index"]

    def call():
        it.invoke()
        it.get_tensor(out)  # synchronises a GPU; a small copy on the CPU, on both sides
    return call


def _spread(ms):
    q = np.percentile(ms, [10, 90])
    return f"{q[0]:.2f}-{q[1]:.2f}"


def _time(calls, runs, deadline):
    """Per-call times (ms) of calling each of `calls` in turn, `runs` rounds or until the
    deadline (at least 5 rounds)."""
    clock = time.perf_counter
    times = [[] for _ in calls]
    for k in range(runs):
        for call, out in zip(calls, times):
            t0 = clock()
            call()
            out.append((clock() - t0) * 1e3)
        if k >= 4 and clock() > deadline:
            break
    return times


def bench_model(path, args):
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    import gpulite
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = gpulite.Interpreter(model_path=path, num_threads=args.num_threads,
                                   device=args.device, cuda_graphs=args.cuda_graphs == "on",
                                   precision=args.precision)
    ref = LiteRT(model_path=path, num_threads=args.num_threads)
    custom = sorted({op.name for sg in ours._model.subgraphs for op in sg.operators
                     if op.code == CUSTOM_CODE})
    if args.batch != 1:
        sigs = [d["shape_signature"] for d in ref.get_input_details()]
        if not all(len(s) and s[0] == -1 for s in sigs):
            return {"model": path, "error": f"batch {args.batch}: the model's batch dimension "
                                            f"is fixed"}
        for it in (ours, ref):
            for d in it.get_input_details():
                it.resize_tensor_input(d["index"], [args.batch, *d["shape"][1:]])
    values = _inputs(ref.get_input_details())
    try:
        run_ours = _prepare(ours, values)
    except (ValueError, RuntimeError) as exc:
        return {"model": path, "error": str(exc).splitlines()[0][:160]}
    try:
        run_ref = _prepare(ref, values)
    except (ValueError, RuntimeError) as exc:
        return {"model": path, "error": "LiteRT: " + str(exc).splitlines()[0][:150]}
    for _ in range(args.warmup):
        run_ours()
        run_ref()
    clock = time.perf_counter
    t_ours, t_ref = _time([run_ours, run_ref], args.runs, clock() + args.max_seconds)
    med_o, med_r = statistics.median(t_ours), statistics.median(t_ref)
    result = {"model": path, "device": ours.device, "batch": args.batch,
              "graph_status": ours.graph_status(),
              "runs": len(t_ours), "custom_ops": custom,
              "gpulite_ms": med_o, "litert_ms": med_r, "ratio": med_o / med_r,
              "gpulite_spread": _spread(t_ours), "litert_spread": _spread(t_ref)}
    if args.solo:
        solo = {}
        for name, call in (("litert", run_ref), ("gpulite", run_ours)):
            time.sleep(args.settle)  # the other interpreter's spinning threads go idle
            call()
            solo[name] = statistics.median(
                _time([call], args.runs, clock() + args.max_seconds / 2)[0])
        result.update(solo_gpulite_ms=solo["gpulite"], solo_litert_ms=solo["litert"],
                      solo_ratio=solo["gpulite"] / solo["litert"])
    return result


CUSTOM_CODE = 32  # BuiltinOperator.CUSTOM


def group_of(name, result):
    """'float', 'integer' or None: the model groups issue 7 tracks."""
    base = os.path.basename(name)
    if name.startswith("zoo/") and any(t in base for t in ("int8", "uint8", "16x8")):
        return "integer"
    if name.startswith("zoo/") and base.endswith(("_float", "_fp16")):
        return "float"
    if name.startswith("mediapipe/") and not result.get("custom_ops"):
        return "float"
    return None


def default_models(root):
    names = sorted(glob.glob(os.path.join(root, "zoo", "*.tflite")))
    names += sorted(glob.glob(os.path.join(root, "mediapipe", "*.tflite")))
    return names


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", help="paths, or names relative to the zoo folder "
                   "(e.g. zoo/unet_float); default: every model in the zoo")
    p.add_argument("--root", default=DEFAULT_MODELS, help="model zoo folder")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--cuda_graphs", default="on", choices=("on", "off"),
                   help="device=cuda: steady-state invokes as CUDA-graph launches (default) or "
                        "eager launches")
    p.add_argument("--precision", default=None, choices=("float32", "tf32", "fp16"),
                   help="device=cuda: the GEMM / convolution precision (default: "
                        "GPULITE_PRECISION, else exact float32)")
    p.add_argument("--batch", type=int, default=1,
                   help="resize every input's first dimension to this (models whose batch "
                        "dimension is -1 in shape_signature; others are reported, not run)")
    p.add_argument("--num_threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max_seconds", type=float, default=20.0, help="per-model time budget")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--no-solo", dest="solo", action="store_false",
                   help="skip the solo timing of each interpreter alone")
    p.add_argument("--settle", type=float, default=0.3,
                   help="seconds of idle before each solo timing (default 0.3)")
    args = p.parse_args(argv)
    if args.batch < 1:
        p.error("--batch must be at least 1")
    paths = []
    for m in args.models or default_models(args.root):
        if not os.path.exists(m):
            m = os.path.join(args.root, m if m.endswith(".tflite") else m + ".tflite")
        paths.append(m)
    print(f"# gpulite vs LiteRT ({platform.machine()}, {os.cpu_count()} cores, "
          f"num_threads={args.num_threads}, device={args.device}"
          + (f", cuda_graphs={args.cuda_graphs}" if args.device != "cpu" else "")
          + (f", batch={args.batch}" if args.batch != 1 else "")
          + (f", precision={args.precision}" if args.precision else "")
          + f", {_blas_note()})\n")
    solo_head = " solo gpulite ms | solo LiteRT ms | solo ratio |" if args.solo else ""
    print("| model | gpulite ms | LiteRT ms | ratio | gpulite p10-p90 | LiteRT p10-p90 |"
          + solo_head)
    print("|---|---|---|---|---|---|" + ("---|---|---|" if args.solo else ""))
    results = []
    for path in paths:
        try:
            r = bench_model(path, args)
        except Exception as exc:  # noqa: BLE001  one model failing must not lose the others
            first_line = (str(exc).splitlines() or [""])[0][:150]
            r = {"model": path, "error": f"{type(exc).__name__}: {first_line}"}
        name = os.path.relpath(path, args.root)[:-len(".tflite")]
        r["name"], r["group"] = name, group_of(name, r)
        results.append(r)
        if "error" in r:
            print(f"| {name} | - | - | - | not run: {r['error']} | |" + (" | | |" if args.solo
                                                                          else ""))
        else:
            solo = (f" {r['solo_gpulite_ms']:.2f} | {r['solo_litert_ms']:.2f} | "
                    f"{r['solo_ratio']:.2f} |") if args.solo else ""
            print(f"| {name} | {r['gpulite_ms']:.2f} | {r['litert_ms']:.2f} | "
                  f"{r['ratio']:.2f} | {r['gpulite_spread']} | {r['litert_spread']} |" + solo)
        sys.stdout.flush()
    print()
    for label, group in (("all models", None), ("float models", "float"),
                         ("integer models", "integer")):
        rows = [r for r in results if "ratio" in r and (group is None or r["group"] == group)]
        if not rows:
            continue
        line = (f"{label} ({len(rows)}): median ratio {statistics.median(r['ratio'] for r in rows):.2f}"
                f", worst {max(r['ratio'] for r in rows):.2f}")
        if args.solo:
            line += (f"; solo: median {statistics.median(r['solo_ratio'] for r in rows):.2f}"
                     f", worst {max(r['solo_ratio'] for r in rows):.2f}")
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv[1:],
                       "results": results}, f, indent=1)


def _blas_note() -> str:
    """Which BLAS kernel NumPy runs (threadpoolctl, when installed), and the OpenBLAS
    variables that older builds needed and that slow a current one."""
    note = []
    try:
        from threadpoolctl import threadpool_info
        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                note.append(f"{lib.get('internal_api')} {lib.get('version')} "
                            f"{lib.get('architecture')} x{lib.get('num_threads')}")
    except ImportError:
        note.append("BLAS: install threadpoolctl to see it")
    env = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_THREAD_TIMEOUT")
           if k in os.environ]
    if env:
        note.append("set: " + " ".join(f"{k}={os.environ[k]}" for k in env))
    return "; ".join(note)


if __name__ == "__main__":
    main()
