"""`gpulite env`'s GPU report (gpulite/env_report.py), without a GPU.

Stand-in `pynvml` and `cupy` modules go into sys.modules (as tests/test_cuda_backend.py does for
CuPy) to play a GPU machine, a machine whose driver does not answer, a GPU that lacks some NVML
queries, and packages that fail to import; then `python -m gpulite env` runs on this machine as
it is, and with stand-in modules on its path. Every case must print lines, never a traceback,
and exit 0.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap
import types

import pytest

from gpulite import backends, env_report
from gpulite.backends import cuda as cuda_mod
from gpulite.cli import main

from test_cuda_backend import _FakeCupy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1024 * 1024


class NVMLError(Exception):
    """Like pynvml.NVMLError: str() is NVML's message."""


def fake_pynvml(gpus=(), driver="560.35.03", cuda=12060, init_error=None, fail=(),
                count_error=None):
    """A stand-in pynvml. gpus: dicts with name, cc, used, total, util, mem_util; fail: names
    of NVML functions that raise NVMLError("Not Supported"), or (function, gpu index) pairs."""
    m = types.ModuleType("pynvml")
    m.NVMLError = NVMLError
    m.calls = []

    def nvml(name, fn):
        def call(*args):
            m.calls.append(name)
            index = args[0] if args and isinstance(args[0], int) else \
                getattr(args[0], "index", None) if args else None
            if name in fail or (name, index) in fail:
                raise NVMLError("Not Supported")
            return fn(*args)
        setattr(m, name, call)

    def init():
        if init_error is not None:
            raise init_error
    nvml("nvmlInit", init)
    nvml("nvmlShutdown", lambda: None)
    nvml("nvmlSystemGetDriverVersion", lambda: driver)
    nvml("nvmlSystemGetCudaDriverVersion", lambda: cuda)

    def count():
        if count_error is not None:
            raise count_error
        return len(gpus)
    nvml("nvmlDeviceGetCount", count)
    nvml("nvmlDeviceGetHandleByIndex", lambda i: types.SimpleNamespace(index=i, **gpus[i]))
    nvml("nvmlDeviceGetName", lambda h: h.name)
    nvml("nvmlDeviceGetCudaComputeCapability", lambda h: h.cc)
    nvml("nvmlDeviceGetMemoryInfo", lambda h: types.SimpleNamespace(
        total=h.total, used=h.used, free=h.total - h.used))
    nvml("nvmlDeviceGetUtilizationRates", lambda h: types.SimpleNamespace(gpu=h.util,
                                                                          memory=h.mem_util))
    return m


H100 = dict(name="NVIDIA H100 80GB HBM3", cc=(9, 0), used=1536 * MIB, total=81559 * MIB,
            util=37, mem_util=5)
A100 = dict(name=b"NVIDIA A100-SXM4-40GB", cc=(8, 0), used=0, total=40960 * MIB, util=0,
            mem_util=0)  # an old nvidia-ml-py returns bytes


@pytest.fixture
def gpu_cupy(monkeypatch):
    """A stand-in CuPy on which CudaBackend starts: backends.select("auto") picks CUDA."""
    fake = _FakeCupy()
    fake.__version__ = "13.3.0"
    fake.cuda.runtime.runtimeGetVersion = lambda: 12060
    fake.cuda.get_local_runtime_version = lambda: 12080
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(cuda_mod, "_MODULES", {})
    monkeypatch.setattr(cuda_mod, "_FUNCTIONS", {})
    return fake


def env_output(capsys):
    assert main(["env"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return captured.out


def line(out, prefix):
    hits = [ln for ln in out.splitlines() if ln.startswith(prefix)]
    assert len(hits) == 1, f"{prefix!r} in:\n{out}"
    return hits[0]


# -- a GPU machine, played by stand-ins ------------------------------------------------------------

def test_gpu_machine_report(monkeypatch, capsys, gpu_cupy):
    nv = fake_pynvml([H100, A100])
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    out = env_output(capsys)
    assert line(out, "cupy ") == ("cupy 13.3.0: imports (built for CUDA runtime 12.6, installed "
                                  "runtime 12.8)")
    nvml = line(out, "nvml: ")
    assert nvml.startswith("nvml: driver 560.35.03, CUDA driver 12.6, 2 GPU(s) (via ")
    assert line(out, "gpu 0: ") == ("gpu 0: NVIDIA H100 80GB HBM3, sm_90, memory 1536 MiB used "
                                    "of 81559 MiB, utilisation 37% (memory 5%)")
    assert line(out, "gpu 1: ") == ("gpu 1: NVIDIA A100-SXM4-40GB, sm_80, memory 0 MiB used of "
                                    "40960 MiB, utilisation 0% (memory 0%)")
    assert line(out, "cuda: ") == "cuda: usable (1 CUDA device(s))"
    assert line(out, "device='auto' picks: ") == "device='auto' picks: cuda (1 CUDA device(s))"
    assert nv.calls[0] == "nvmlInit" and nv.calls[-1] == "nvmlShutdown"
    # the order of the report
    lines = out.splitlines()
    order = [i for i, ln in enumerate(lines)
             if ln.startswith(("cupy", "nvml:", "gpu 0", "gpu 1", "cuda:", "device="))]
    assert order == sorted(order) and len(order) == 6


def test_a_gpu_without_some_nvml_queries(monkeypatch, capsys, gpu_cupy):
    nv = fake_pynvml([H100, A100, H100],
                     fail={"nvmlDeviceGetUtilizationRates", ("nvmlDeviceGetMemoryInfo", 1),
                           ("nvmlDeviceGetHandleByIndex", 2), "nvmlSystemGetCudaDriverVersion"})
    del nv.nvmlDeviceGetCudaComputeCapability  # an nvidia-ml-py without it
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    out = env_output(capsys)
    assert "CUDA driver unavailable (NVMLError: Not Supported), 3 GPU(s)" in line(out, "nvml: ")
    assert line(out, "gpu 0: ") == ("gpu 0: NVIDIA H100 80GB HBM3, memory 1536 MiB used of 81559 "
                                    "MiB, utilisation unavailable (NVMLError: Not Supported)")
    assert "memory unavailable (NVMLError: Not Supported)" in line(out, "gpu 1: ")
    assert line(out, "gpu 2: ") == "gpu 2: unavailable (NVMLError: Not Supported)"
    assert nv.calls[-1] == "nvmlShutdown"


def test_gpu_count_that_fails(monkeypatch, capsys, gpu_cupy):
    nv = fake_pynvml([H100], count_error=NVMLError("Unknown Error"))
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    out = env_output(capsys)
    assert "GPU count unavailable (NVMLError: Unknown Error)" in line(out, "nvml: ")
    assert "gpu 0" not in out


def test_an_unforeseen_failure_in_the_report_is_one_line(monkeypatch, capsys, gpu_cupy):
    nv = fake_pynvml([H100])
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    monkeypatch.setattr(env_report, "_gpu_line", lambda nv_, i: 1 / 0)  # a bug, say
    out = env_output(capsys)
    assert line(out, "nvml: ") == ("nvml: the GPU report failed (ZeroDivisionError: division by "
                                   "zero)")
    assert nv.calls[-1] == "nvmlShutdown"


# -- machines where something is missing ---------------------------------------------------------

def test_driver_that_does_not_answer(monkeypatch, capsys, gpu_cupy):
    nv = fake_pynvml(init_error=NVMLError("Driver Not Loaded"))
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    out = env_output(capsys)
    assert line(out, "nvml: ") == ("nvml: the NVIDIA driver does not answer (NVMLError: Driver "
                                   "Not Loaded)")
    assert "nvmlShutdown" not in nv.calls


def test_without_nvidia_ml_py(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    monkeypatch.setitem(sys.modules, "cupy", None)
    out = env_output(capsys)
    assert line(out, "nvml: ").startswith("nvml: nvidia-ml-py is not installed, so no GPU report "
                                          "(pip install nvidia-ml-py")
    assert line(out, "cupy: ").startswith("cupy: not importable (ModuleNotFoundError: ")
    assert line(out, "cuda: ").startswith("cuda: not usable (CuPy is not importable")
    picks = line(out, "device='auto' picks: ")
    assert picks.startswith("device='auto' picks: cpu, warning \"gpulite: running on the CPU")


class _Refuse:
    """A meta-path finder whose find_spec raises `exc` for one module (an import that fails
    with something other than ImportError, as a CUDA library that cannot load does)."""

    def __init__(self, name, exc):
        self.name, self.exc = name, exc

    def find_spec(self, name, path=None, target=None):
        if name == self.name:
            raise self.exc


@pytest.mark.parametrize("exc", [OSError("libnvidia-ml.so.1: cannot open shared object file"),
                                 RuntimeError("boom")], ids=["OSError", "RuntimeError"])
def test_packages_that_fail_to_import(monkeypatch, capsys, exc):
    for name in ("pynvml", "cupy"):
        monkeypatch.delitem(sys.modules, name, raising=False)
        monkeypatch.setattr(sys, "meta_path", [_Refuse(name, exc)] + sys.meta_path)
    out = env_output(capsys)
    text = f"{type(exc).__name__}: {exc}"
    assert line(out, "nvml: ") == f"nvml: pynvml is not importable ({text})"
    assert line(out, "cupy: ") == f"cupy: not importable ({text})"
    assert line(out, "device='auto' picks: ").startswith("device='auto' picks: cpu")


def test_cupy_whose_version_queries_fail(monkeypatch, capsys, gpu_cupy):
    def broken():
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    gpu_cupy.cuda.runtime.runtimeGetVersion = broken
    del gpu_cupy.cuda.get_local_runtime_version  # CuPy < 12 has none
    monkeypatch.setitem(sys.modules, "pynvml", None)
    out = env_output(capsys)
    assert line(out, "cupy ") == ("cupy 13.3.0: imports (built for CUDA runtime unavailable "
                                  "(RuntimeError: cudaErrorInsufficientDriver: CUDA driver "
                                  "version is insufficient))")


def test_backend_selection_that_raises(monkeypatch, capsys):
    def status():
        raise OSError("probe exploded")

    def select(device="auto", num_threads=None):
        raise ValueError("select exploded")
    monkeypatch.setattr(backends, "cuda_status", status)
    monkeypatch.setattr(backends, "select", select)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    out = env_output(capsys)
    assert line(out, "cuda: ") == "cuda: not usable (the CUDA probe failed (OSError: probe " \
                                  "exploded))"
    assert line(out, "device='auto' picks: ") == ("device='auto' picks: nothing (ValueError: "
                                                  "select exploded)")


def test_a_cuda_backend_that_cannot_start_shows_the_fallback_warning(monkeypatch, capsys,
                                                                     gpu_cupy):
    def broken(num_threads=None, device_id=None, precision="float32"):
        raise OSError("cudaErrorInsufficientDriver")
    monkeypatch.setattr(cuda_mod, "CudaBackend", broken)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    out = env_output(capsys)
    assert line(out, "cuda: ") == "cuda: usable (1 CUDA device(s))"
    picks = line(out, "device='auto' picks: ")
    assert picks.startswith("device='auto' picks: cpu, warning ")
    assert "cudaErrorInsufficientDriver" in picks


def test_cuda_versions():
    assert env_report.cuda_version(12040) == "12.4"
    assert env_report.cuda_version(13000) == "13.0"
    assert env_report.cuda_version(11080) == "11.8"


# -- the real command --------------------------------------------------------------------------

def run_env(extra_path=None):
    env = dict(os.environ)
    paths = [p for p in (extra_path, ROOT, env.get("PYTHONPATH")) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run([sys.executable, "-m", "gpulite", "env"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


def test_env_on_this_machine():
    res = run_env()
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert res.stderr == ""
    out = res.stdout
    for prefix in ("numpy ", "cuda: ", "device='auto' picks: "):
        line(out, prefix)
    assert line(out, "nvml: ")
    assert sum(ln.startswith(("cupy ", "cupy: ")) for ln in out.splitlines()) == 1
    if importlib.util.find_spec("pynvml") is None:
        assert "nvml: nvidia-ml-py is not installed" in out
    usable, _ = backends.cuda_status()
    if not usable:
        assert line(out, "device='auto' picks: ").startswith("device='auto' picks: cpu, warning")


@pytest.mark.parametrize("body,expect", [
    ("raise OSError('libnvidia-ml.so.1: cannot open shared object file')",
     ("nvml: pynvml is not importable (OSError: libnvidia-ml.so.1: cannot open shared object "
      "file)")),
    (("class NVMLError(Exception):\n    pass\n"
      "def nvmlInit():\n    raise NVMLError('NVML Shared Library Not Found')\n"),
     "nvml: the NVIDIA driver does not answer (NVMLError: NVML Shared Library Not Found)"),
], ids=["import-fails", "no-driver"])
def test_env_with_a_stand_in_pynvml_on_the_path(tmp_path, body, expect):
    (tmp_path / "pynvml.py").write_text(textwrap.dedent(body))
    res = run_env(str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert line(res.stdout, "nvml: ") == expect
