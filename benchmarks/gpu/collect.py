"""Gathers what gpu_check.sh measured into RESULTS.md and results.json (run by that script)."""

import json
import os
import re
import subprocess
import sys
import time


def _gpu():
    try:
        import pynvml  # nvidia-ml-py
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(h)
        return {"gpu": name.decode() if isinstance(name, bytes) else name,
                "driver": pynvml.nvmlSystemGetDriverVersion(),
                "memory_mib": pynvml.nvmlDeviceGetMemoryInfo(h).total // 2**20}
    except Exception as exc:  # no NVML: say so rather than fail the report
        return {"gpu": f"unknown ({exc})"}


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:
        return "unknown"


def _load(path):
    try:
        with open(path) as f:
            return json.load(f)["results"]
    except (OSError, ValueError, KeyError):
        return []


def _ms(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(title, cuda, eager, cpu) -> list:
    cpu_by_model = {r["model"]: r for r in cpu if "error" not in r}
    eager_by_model = {r["model"]: r for r in eager if "error" not in r}
    lines = [f"## {title}", "",
             "CUDA ms: invoke with graph replay (where the model is captured; `how` says), and "
             "eager (cuda_graphs=False).", "",
             "| model | gpulite CUDA ms | how | CUDA eager ms | gpulite CPU ms | "
             "LiteRT ms (all cores) | LiteRT / CUDA |",
             "|---|---|---|---|---|---|---|"]
    for r in cuda:
        name = os.path.basename(r["model"])
        if "error" in r:
            lines.append(f"| {name} | not run: {r['error']} | | | | | |")
            continue
        c = cpu_by_model.get(r["model"], {})
        e = eager_by_model.get(r["model"], {})
        litert = c.get("litert_ms")
        ratio = f"{litert / r['gpulite_ms']:.1f}x" if litert else "-"
        lines.append(f"| {name} | {_ms(r['gpulite_ms'])} | {r.get('graph_status', '-')} | "
                     f"{_ms(e.get('gpulite_ms'))} | {_ms(c.get('gpulite_ms'))} | "
                     f"{_ms(litert)} | {ratio} |")
    return lines + [""]


def _precision_tables(errors, b8, b8_tf32, b8_fp16) -> list:
    """The opt-in precisions: output error per float model, and batch-8 latency."""
    lines = ["## Precision (Interpreter(precision=...))", "",
             "Output error against the float32 reference (benchmarks/precision_error.py): "
             "largest absolute error / largest reference magnitude, mean error / mean "
             "magnitude, share of argmax rows that agree.", "",
             "| model | precision | max rel | mean rel | top-1 agree |", "|---|---|---|---|---|"]
    for r in errors:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['precision']} | not run: {r['error']} | | |")
            continue
        top1 = f"{r['top1']:.3f}" if "top1" in r else "-"
        lines.append(f"| {r['model']} | {r['precision']} | {r['max_rel']:.2e} | "
                     f"{r['mean_rel']:.2e} | {top1} |")
    by_model = [{r["model"]: r for r in rows if "error" not in r}
                for rows in (b8, b8_tf32, b8_fp16)]
    lines += ["", "Batch 8, CUDA ms per invoke:", "",
              "| model | float32 | tf32 | fp16 |", "|---|---|---|---|"]
    for model in by_model[0]:
        cells = [_ms(rows.get(model, {}).get("gpulite_ms")) for rows in by_model]
        lines.append(f"| {os.path.basename(model)} | " + " | ".join(cells) + " |")
    return lines + [""]


def main(here):
    log = open(os.path.join(here, "gpu_tests.log")).read() if os.path.exists(
        os.path.join(here, "gpu_tests.log")) else ""
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error)", log)}
    cuda, cpu = _load(os.path.join(here, "bench_cuda.json")), _load(
        os.path.join(here, "bench_cpu.json"))
    eager = _load(os.path.join(here, "bench_cuda_eager.json"))
    cuda_b8, cpu_b8 = _load(os.path.join(here, "bench_cuda_b8.json")), _load(
        os.path.join(here, "bench_cpu_b8.json"))
    b8_tf32, b8_fp16 = (_load(os.path.join(here, f"bench_cuda_b8_{p}.json"))
                        for p in ("tf32", "fp16"))
    precision_errors = _load(os.path.join(here, "precision_error.json"))
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": _commit(), **_gpu(),
              "tests": counts, "cuda": cuda, "cuda_eager": eager, "cpu": cpu,
              "cuda_batch8": cuda_b8, "cpu_batch8": cpu_b8, "cuda_batch8_tf32": b8_tf32,
              "cuda_batch8_fp16": b8_fp16, "precision_error": precision_errors}
    with open(os.path.join(here, "results.json"), "w") as f:
        json.dump(report, f, indent=1)
    lines = [f"# GPU check, {report['date']}", "",
             f"commit `{report['commit']}`, {report.get('gpu')}, driver {report.get('driver')}",
             "", f"GPU tests: {counts}", ""]
    lines += _table("Batch 1", cuda, eager, cpu)
    lines += _table("Batch 8 (models with a free batch dimension)", cuda_b8, [], cpu_b8)
    lines += _precision_tables(precision_errors, cuda_b8, b8_tf32, b8_fp16)
    with open(os.path.join(here, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
