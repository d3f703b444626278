"""The `dev` / `kernels` fixtures of the kernel conformance modules run on the CPU emulator
(tests/cuda_emulator.py): import them into a test module with
`from emulated_device import HostEmu, dev, kernels`."""

import numpy as np
import pytest

import cuda_emulator
import gpulite
from gpulite import backends
from gpulite.backends.cpu import CpuBackend
from gpulite.backends.cuda import CudaKernels


class HostEmu(cuda_emulator.EmuDevice):
    """The emulated device, with the `host` accessor the shared cases read results through."""

    @staticmethod
    def host(arr):
        return np.asarray(arr)


@pytest.fixture
def dev():
    return HostEmu()


@pytest.fixture
def kernels(dev):
    return CudaKernels(dev)


class EmuBackend(CpuBackend):
    """The CPU backend with its arena on the emulated device and CudaKernels for its kernels:
    ops whose prepare builds a CUDA kernel launch it on the emulator, everything else stays
    NumPy."""

    name = "cuda-emulated"

    def __init__(self, num_threads=None, precision="float32"):
        super().__init__(num_threads)
        self.dev = HostEmu(adopt_host_arrays=True)  # NumPy stands in for the CuPy op code
        self.kernels = CudaKernels(self.dev, precision)

    def allocate(self, nbytes):
        return self.dev.empty((max(int(nbytes), 0),), np.uint8)  # 64-byte aligned

    def constant(self, host):
        """Constants live on the device, as on the CUDA backend."""
        return self.dev.upload_host(host) if host.dtype != object else host

    def empty(self, shape, dtype):
        if np.dtype(dtype) == object:
            return np.empty(shape, dtype)
        return self.dev.empty(shape, dtype)


class GraphEmu(HostEmu):
    """The emulated device with stream capture: while capturing, kernel launches are recorded
    instead of run (as CUDA does), and a graph replays exactly the recorded launches, with the
    arguments they had at capture."""

    def __init__(self):
        super().__init__()
        self.recording = None

    def launch(self, fn, grid, block, args):
        if self.recording is not None:
            self.recording.append((fn, grid, block, tuple(args)))
            return
        super().launch(fn, grid, block, args)


class EmuGraph:
    def __init__(self, dev, launches):
        self.dev, self.launches_recorded = dev, launches
        self.replays = 0

    def launch(self):
        self.replays += 1
        for fn, grid, block, args in self.launches_recorded:
            self.dev.launch(fn, grid, block, args)


class GraphEmuBackend(EmuBackend):
    """EmuBackend with the CUDA backend's graph hooks (supports_graphs, capture,
    launch_graph, graph_memory). Only the kernels are recorded: NumPy work in an op runs at
    capture time, so a model whose ops are not all kernels is not a faithful graph here (the
    executor's rules, not this emulation, keep such ops out of real graphs)."""

    supports_graphs = True

    def __init__(self, num_threads=None):
        CpuBackend.__init__(self, num_threads)
        self.dev = GraphEmu()
        self.kernels = CudaKernels(self.dev)
        self.captures = []
        self.fail_capture = None  # an exception to raise inside the next captures
        self.host_backend = CpuBackend(num_threads)  # as the CUDA backend's, for host_fallback

    def capture(self, fn):
        self.dev.recording = []
        try:
            fn()
            if self.fail_capture is not None:
                raise self.fail_capture
        finally:
            launches, self.dev.recording = self.dev.recording, None
        graph = EmuGraph(self.dev, launches)
        self.captures.append(graph)
        return graph

    def launch_graph(self, graph):
        graph.launch()

    def graph_memory(self):
        return _NoPool()


class _NoPool:
    def active(self):
        import contextlib
        return contextlib.nullcontext()


# -- whole interpreters on an emulated backend ---------------------------------------------------

def route_to(monkeypatch, backend):
    """Interpreters get `backend` for every device but "cpu", which stays the real CPU backend
    (the reference)."""
    real = backends.select
    monkeypatch.setattr(backends, "select",
                        lambda device="auto", num_threads=None, precision="float32":
                        real(device, num_threads, precision) if device == "cpu" else backend)


@pytest.fixture
def graph_emulated(monkeypatch):
    """A GraphEmuBackend that Interpreter(...) (any device but "cpu") runs on."""
    backend = GraphEmuBackend()
    route_to(monkeypatch, backend)
    return backend


def run_first(it, x):
    """Input 0 set to x, one invoke, output 0."""
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def cpu_run(content, x):
    """The CPU backend's output 0 for input 0 = x (resized to x's shape)."""
    it = gpulite.Interpreter(model_content=content, device="cpu")
    it.resize_tensor_input(it.get_input_details()[0]["index"], x.shape)
    it.allocate_tensors()
    return run_first(it, x)
