"""How far the opt-in precisions move the float models' outputs (Interpreter(precision=...)).

    python benchmarks/precision_error.py                  # device="cuda": float32, tf32, fp16
    python benchmarks/precision_error.py --emulated       # the same kernels on the CPU emulator
    python benchmarks/precision_error.py zoo/unet_float --json out.json

For each float model (zoo/*_float, zoo/*_fp16, zoo/*_dynamic and the MediaPipe models), every
precision runs on the same random inputs (uniform in [-1, 1], as compare_litert.py). The
reference is LiteRT's builtin float32 kernels when ai-edge-litert is installed, else gpulite's
CPU path. Printed per model and precision, over all outputs: the largest absolute error
divided by the largest reference magnitude ("max rel"), the mean absolute error divided by the
mean reference magnitude ("mean rel"), and for outputs with a class axis the share of rows
whose argmax agrees with the reference ("top-1").

--emulated runs tests/cuda_emulator.py's CPU emulation of the CUDA kernels (g++ needed; no GPU):
same kernel code and roundings, the products summed in k order where a tensor core's order is
its own, so its figures preview the GPU's, which gpu_check.sh records.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
try:
    import gpulite  # noqa: F401  (installed)
except ImportError:  # a source checkout
    sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
from compare_litert import DEFAULT_MODELS, _inputs  # noqa: E402

import gpulite  # noqa: E402

PRECISIONS = ("float32", "tf32", "fp16")


def float_models(root):
    names = [p for p in sorted(glob.glob(os.path.join(root, "zoo", "*.tflite")))
             if os.path.basename(p)[:-7].endswith(("_float", "_fp16", "_dynamic"))]
    return names + sorted(glob.glob(os.path.join(root, "mediapipe", "*.tflite")))


def _reference(path, values):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        it = Interpreter(model_path=path, experimental_op_resolver_type=(
            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
        source = "LiteRT builtin"
    except ImportError:
        it = gpulite.Interpreter(model_path=path, device="cpu")
        source = "gpulite CPU"
    try:
        return _run(it, values), source
    except (RuntimeError, ValueError):  # e.g. MediaPipe custom ops LiteRT lacks
        return _run(gpulite.Interpreter(model_path=path, device="cpu"), values), "gpulite CPU"


def _run(it, values):
    it.allocate_tensors()
    for d, v in zip(it.get_input_details(), values):
        it.set_tensor(d["index"], v)
    it.invoke()
    return [np.array(it.get_tensor(d["index"]), np.float64) for d in it.get_output_details()]


def _ours(path, values, precision, emulated):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not emulated:
            return _run(gpulite.Interpreter(model_path=path, device="cuda", precision=precision),
                        values)
        from gpulite import backends
        from emulated_device import EmuBackend
        real = backends.select
        backends.select = lambda *_a, **_k: EmuBackend(precision=precision)
        try:
            return _run(gpulite.Interpreter(model_path=path), values)
        finally:
            backends.select = real


def errors(outs, refs) -> dict:
    err = np.concatenate([np.abs(o - r).ravel() for o, r in zip(outs, refs)])
    mag = np.concatenate([np.abs(r).ravel() for r in refs])
    finite = np.isfinite(err)
    row = {"max_rel": float(err[finite].max() / max(mag.max(), 1e-30)) if finite.any() else 0.0,
           "mean_rel": float(err[finite].mean() / max(mag.mean(), 1e-30)) if finite.any()
           else 0.0,
           "nonfinite": int((~finite).sum())}
    agree = [(o.argmax(-1) == r.argmax(-1)).ravel() for o, r in zip(outs, refs)
             if o.ndim >= 2 and o.shape[-1] >= 10]
    if agree:
        row["top1"] = float(np.concatenate(agree).mean())
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", help="paths or names under --root (zoo/unet_float)")
    p.add_argument("--root", default=DEFAULT_MODELS)
    p.add_argument("--emulated", action="store_true",
                   help="run the CUDA kernels on the CPU emulator instead of a GPU")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    if args.emulated:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
    paths = []
    for m in args.models or float_models(args.root):
        if not os.path.exists(m):
            m = os.path.join(args.root, m if m.endswith(".tflite") else m + ".tflite")
        paths.append(m)
    where = "the CPU emulator of the CUDA kernels" if args.emulated else "device=cuda"
    print(f"# output error of each precision on {where}\n")
    print("| model | reference | precision | max rel | mean rel | top-1 agree |")
    print("|---|---|---|---|---|---|")
    results = []
    for path in paths:
        name = os.path.relpath(path, args.root)[:-len(".tflite")]
        values = _inputs(gpulite.Interpreter(model_path=path, device="cpu")
                         .get_input_details())
        try:
            refs, source = _reference(path, values)
        except Exception as exc:  # noqa: BLE001  one model failing must not lose the others
            print(f"| {name} | not run: {type(exc).__name__}: {str(exc)[:100]} | | | | |")
            continue
        for precision in PRECISIONS:
            start = time.perf_counter()
            try:
                row = errors(_ours(path, values, precision, args.emulated), refs)
            except Exception as exc:  # noqa: BLE001
                row = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"}
            row.update(model=name, precision=precision, reference=source,
                       seconds=time.perf_counter() - start)
            results.append(row)
            if "error" in row:
                print(f"| {name} | {source} | {precision} | not run: {row['error']} | | |")
            else:
                top1 = f"{row['top1']:.3f}" if "top1" in row else "-"
                print(f"| {name} | {source} | {precision} | {row['max_rel']:.2e} | "
                      f"{row['mean_rel']:.2e} | {top1} |")
            sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d %H:%M:%S"), "emulated": args.emulated,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
