"""The GPU part of `gpulite env`: what CuPy, the NVIDIA driver (through NVML) and gpulite's
backend selection say about this machine.

Every probe fails soft: a missing package, a machine without a driver, an NVML call a GPU does
not support, or anything else a probe raises becomes a line that says so (never a traceback),
so `gpulite env` always finishes and exits 0. Nothing here runs at import time; CuPy and
`pynvml` (the module of the `nvidia-ml-py` package, in gpulite's cuda12/cuda13 extras) are
imported by the functions that need them.

    cupy_lines()   CuPy's version, the CUDA runtime its build links, the one installed
    nvml_lines()   the driver version, the CUDA version it supports, then one line per GPU:
                   name, compute capability, memory used/total, utilisation
    auto_lines()   whether CUDA is usable (backends.cuda_status), what device="auto" picks,
                   and the warning it gives when it falls back to the CPU
"""

from __future__ import annotations

import warnings

NVML_HINT = "pip install nvidia-ml-py, or gpulite[cuda12] / gpulite[cuda13], which include it"


def one_line(exc) -> str:
    """An exception as `Type: message` on one line."""
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def cuda_version(v) -> str:
    """12040 -> '12.4' (CUDA's 1000 * major + 10 * minor encoding)."""
    v = int(v)
    return f"{v // 1000}.{(v % 1000) // 10}"


def _text(value) -> str:
    """NVML strings: str in current nvidia-ml-py, bytes in old releases."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _probe(fn, fmt=str):
    """(True, fmt(fn())) or (False, 'unavailable (Type: message)')."""
    try:
        return True, fmt(fn())
    except Exception as exc:  # noqa: BLE001  every probe fails soft
        return False, f"unavailable ({one_line(exc)})"


def _dist_version(dist: str) -> str | None:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except Exception:  # noqa: BLE001  not installed, or broken metadata
        return None


# -- CuPy ----------------------------------------------------------------------------------------

def cupy_lines() -> list:
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001  ImportError, or a CUDA library that fails to load
        return [f"cupy: not importable ({one_line(exc)})"]
    version = getattr(cupy, "__version__", "(unknown version)")
    parts = []
    _, built = _probe(lambda: cupy.cuda.runtime.runtimeGetVersion(), cuda_version)
    parts.append(f"built for CUDA runtime {built}")
    local = getattr(cupy.cuda, "get_local_runtime_version", None)
    if local is not None:  # CuPy >= 12: the runtime installed beside it
        _, text = _probe(local, cuda_version)
        parts.append(f"installed runtime {text}")
    return [f"cupy {version}: imports ({', '.join(parts)})"]


# -- NVML ----------------------------------------------------------------------------------------

def nvml_lines() -> list:
    try:
        import pynvml
    except ImportError as exc:
        if getattr(exc, "name", None) == "pynvml" or "pynvml" in str(exc):
            return [f"nvml: nvidia-ml-py is not installed, so no GPU report ({NVML_HINT})"]
        return [f"nvml: pynvml is not importable ({one_line(exc)})"]
    except Exception as exc:  # noqa: BLE001
        return [f"nvml: pynvml is not importable ({one_line(exc)})"]
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001  no driver, no libnvidia-ml, driver/library mismatch
        return [f"nvml: the NVIDIA driver does not answer ({one_line(exc)})"]
    try:
        return _nvml_report(pynvml)
    except Exception as exc:  # noqa: BLE001  anything _nvml_report did not foresee
        return [f"nvml: the GPU report failed ({one_line(exc)})"]
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def _nvml_report(nv) -> list:
    package = _dist_version("nvidia-ml-py")
    _, driver = _probe(nv.nvmlSystemGetDriverVersion, _text)
    _, cuda = _probe(nv.nvmlSystemGetCudaDriverVersion, cuda_version)
    ok, count = _probe(nv.nvmlDeviceGetCount, int)
    gpus = f"{count} GPU(s)" if ok else f"GPU count {count}"
    via = f"nvidia-ml-py {package}" if package else "pynvml"
    lines = [f"nvml: driver {driver}, CUDA driver {cuda}, {gpus} (via {via})"]
    for i in range(count if ok else 0):
        lines.append(_gpu_line(nv, i))
    return lines


def _gpu_line(nv, i: int) -> str:
    try:
        handle = nv.nvmlDeviceGetHandleByIndex(i)
    except Exception as exc:  # noqa: BLE001
        return f"gpu {i}: unavailable ({one_line(exc)})"
    _, name = _probe(lambda: nv.nvmlDeviceGetName(handle), _text)
    fields = [name]
    ok, cc = _probe(lambda: nv.nvmlDeviceGetCudaComputeCapability(handle),
                    lambda v: f"sm_{int(v[0])}{int(v[1])}")
    if ok:
        fields.append(cc)

    def memory():
        m = nv.nvmlDeviceGetMemoryInfo(handle)
        mib = 1024 * 1024
        return f"{int(m.used) // mib} MiB used of {int(m.total) // mib} MiB"
    ok, mem = _probe(memory)
    fields.append(f"memory {mem}")

    def utilisation():
        u = nv.nvmlDeviceGetUtilizationRates(handle)
        return f"{int(u.gpu)}% (memory {int(u.memory)}%)"
    _, util = _probe(utilisation)
    fields.append(f"utilisation {util}")
    return f"gpu {i}: " + ", ".join(fields)


# -- gpulite's choice ----------------------------------------------------------------------------

def auto_lines() -> list:
    """`cuda: usable|not usable (why)`, then `device='auto' picks: cuda (why)` or
    `device='auto' picks: cpu, warning "..."` (the warning Interpreter(device="auto") gives)."""
    from . import backends

    try:
        usable, reason = backends.cuda_status()
    except Exception as exc:  # noqa: BLE001
        usable, reason = False, f"the CUDA probe failed ({one_line(exc)})"
    lines = [f"cuda: {'usable' if usable else 'not usable'} ({reason})"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            picked = backends.select("auto").name
        except Exception as exc:  # noqa: BLE001
            picked = None
            why = one_line(exc)
    if picked is None:
        lines.append(f"device='auto' picks: nothing ({why})")
        return lines
    notes = [" ".join(str(w.message).split()) for w in caught]
    if notes:  # the CPU fallback: show the warning an Interpreter(device="auto") gives
        lines.append(f"device='auto' picks: {picked}, warning \"{'; '.join(notes)}\"")
    else:
        lines.append(f"device='auto' picks: {picked} ({reason})")
    return lines
