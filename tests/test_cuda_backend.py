"""The CUDA backend.

Without a GPU (CI): backend selection and its messages, the lazy import of CuPy, and the
backend's plumbing against a stand-in `cupy` module (which sources and options reach
`cupy.RawModule`, the stream launches go to, the memoisation of modules).

With a GPU (`@pytest.mark.gpu`, skipped otherwise): the backend's arena/constant/copy methods,
host mirrors, CUDA-graph capture, `set_tensor`/`get_tensor` with device arrays, and the model
zoo with device="cuda" against LiteRT (every tensor) and against gpulite on the CPU. The kernel
conformance cases (tests/cuda_cases.py) run on the GPU in tests/test_cuda_kernels_gpu.py.
"""

import inspect
import os
import subprocess
import sys
import textwrap
import types
import warnings

import numpy as np
import pytest

import gpulite
from gpulite import backends, cuda_compile
from gpulite.backends import cuda as cuda_mod
from gpulite.writer import ModelBuilder

from cuda_cases import geometry, rand

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USABLE, REASON = backends.cuda_status()
gpu = pytest.mark.gpu
needs_gpu = pytest.mark.skipif(not USABLE, reason=f"needs a CUDA GPU: {REASON}")


def add_model(shape=(2, 3)):
    b = ModelBuilder()
    x = b.add_input(shape, np.float32, name="x")
    c = b.add_constant(np.ones(shape[-1:], np.float32), name="c")
    y = b.add_output(shape, np.float32, name="y")
    b.add_operator("ADD", [x, c], [y])
    return b.build()


# =================================================================================================
# Without a GPU
# =================================================================================================

def test_importing_the_cuda_backend_does_not_import_cupy():
    # a finder that fails the test's subprocess if anything imports cupy
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "cupy" or name.startswith(("cupy.", "cupyx")):
                    raise ImportError("cupy imported at import time")
        sys.meta_path.insert(0, Block())
        import gpulite, gpulite.backends, gpulite.backends.cuda, gpulite.cuda_compile
        import gpulite.cuda_kernels
        assert not any(m == "cupy" or m.startswith("cupy.") for m in sys.modules)
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_device_cuda_without_a_gpu_raises_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(backends, "cuda_status", lambda: (False, "CuPy is not importable"))
    with pytest.raises(RuntimeError) as exc:
        gpulite.Interpreter(model_content=add_model(), device="cuda")
    msg = str(exc.value)
    assert "CuPy is not importable" in msg and "pip install gpulite[cuda12]" in msg


def test_device_auto_without_a_gpu_warns_once_and_runs_on_the_cpu(monkeypatch):
    monkeypatch.setattr(backends, "cuda_status", lambda: (False, "no CUDA device answers"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it = gpulite.Interpreter(model_content=add_model())
    assert it.device == "cpu"
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and "CPU" in msgs[0] and "no CUDA device answers" in msgs[0]
    assert "\n" not in msgs[0]


def test_a_cuda_backend_that_cannot_start_falls_back_or_raises(monkeypatch):
    """CuPy imports and sees a device, but the backend fails to start (e.g. a broken driver)."""
    monkeypatch.setattr(backends, "cuda_status", lambda: (True, "1 CUDA device(s)"))

    def broken(num_threads=None, device_id=None, precision="float32"):
        raise OSError("cudaErrorInsufficientDriver")
    monkeypatch.setattr(cuda_mod, "CudaBackend", broken)
    with pytest.warns(RuntimeWarning, match="cudaErrorInsufficientDriver"):
        b = backends.select("auto")
    assert b.name == "cpu"
    with pytest.raises(RuntimeError, match="cudaErrorInsufficientDriver"):
        backends.select("cuda")


def test_device_cpu_never_probes_cuda(monkeypatch):
    def probe():
        raise AssertionError("device='cpu' must not touch CUDA")
    monkeypatch.setattr(backends, "cuda_status", probe)
    assert backends.select("cpu").name == "cpu"


# -- the backend against a stand-in cupy -----------------------------------------------------------

class _FakeCupy:
    """Just enough of CuPy for CudaBackend's constructor, kernel loading and launches."""

    def __init__(self):
        self.modules, self.launches = [], []
        fake = self

        class Ctx:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        class Device(Ctx):
            compute_capability = "90"

            def __init__(self, i):
                self.id = i

        class Stream(Ctx):
            def __init__(self, non_blocking=False):
                self.non_blocking = non_blocking
                self.ptr = 1234

        class Function:
            def __init__(self, name):
                self.name = name

            def __call__(self, grid, block, args, shared_mem=0, stream=None):
                fake.launches.append((self.name, grid, block, args, stream))

        class RawModule:
            def __init__(self, code, options):
                self.code, self.options = code, options
                fake.modules.append(self)

            def get_function(self, name):
                if self.code == "@@broken@@":
                    raise RuntimeError("CompileException: boom")
                return types.SimpleNamespace(kernel=Function(name))

        self.RawModule = RawModule
        self.ndarray = np.ndarray
        self.uint8 = np.uint8
        self.cuda = types.SimpleNamespace(
            runtime=types.SimpleNamespace(getDevice=lambda: 0, getDeviceCount=lambda: 1),
            Device=Device, Stream=Stream)

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)


@pytest.fixture
def fake_backend(monkeypatch):
    fake = _FakeCupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(cuda_mod, "_MODULES", {})
    monkeypatch.setattr(cuda_mod, "_FUNCTIONS", {})
    return cuda_mod.CudaBackend(), fake


def test_kernels_are_built_from_the_compile_tested_sources_and_options(fake_backend):
    backend, fake = fake_backend
    assert backend.stream.non_blocking
    backend.kernels.make_pool2d("average", (1, 5, 6, 3), (2, 2), (2, 2), (0, 0), (3, 3))
    (mod,) = fake.modules
    assert mod.options == cuda_compile.BACKEND_OPTIONS
    assert mod.code == cuda_compile.load_source("pool.cu", {"POOL_KIND": 1})
    # the same specialisation again (another backend on the device): no new module
    cuda_mod.CudaBackend().kernels.make_pool2d("average", (1, 7, 6, 3), (3, 3), (1, 1), (1, 1),
                                               (7, 6))
    assert len(fake.modules) == 1
    backend.kernels.make_pool2d("max", (1, 5, 6, 3), (2, 2), (2, 2), (0, 0), (3, 3))
    assert fake.modules[-1].code == cuda_compile.load_source("pool.cu", {"POOL_KIND": 0})


def test_launches_go_to_the_interpreters_stream_with_typed_scalars(fake_backend):
    backend, fake = fake_backend
    pool = backend.kernels.make_pool2d("max", (2, 5, 6, 3), (2, 2), (2, 2), (0, 0), (3, 3))
    x = np.zeros((2, 5, 6, 3), np.float32)
    out = np.zeros((2, 3, 3, 3), np.float32)
    pool(x, out, (0.0, 6.0))
    name, grid, block, args, stream = fake.launches[-1]
    assert name == "pool2d" and stream is backend.stream
    assert isinstance(grid, tuple) and block == (256, 1, 1)
    assert args[0] is x and args[1] is out
    assert all(type(a) in (np.int32, np.int64, np.float32) for a in args[2:])
    assert type(args[2]) is np.int64 and args[2] == out.size
    pool(x[:0], out[:0], None)  # an empty batch launches nothing
    assert len(fake.launches) == 1


def test_a_kernel_that_fails_to_compile_names_itself(fake_backend, monkeypatch):
    backend, _fake = fake_backend
    monkeypatch.setattr(cuda_compile, "load_source", lambda name, defines=None: "@@broken@@")
    with pytest.raises(RuntimeError, match="depthwise_conv2d from depthwise.cu"):
        backend.kernels.make_depthwise_conv2d((1, 4, 4, 2), (1, 3, 3, 2), (1, 1), (1, 1),
                                              (1, 1), (4, 4))


# =================================================================================================
# With a GPU
# =================================================================================================

@pytest.fixture(scope="module")
def backend():
    if not USABLE:
        pytest.skip(f"needs a CUDA GPU: {REASON}")
    return cuda_mod.CudaBackend()


class GpuDevice:
    """The backend as CudaKernels' device, logging launches and poisoning new outputs
    (tests/cuda_cases.py's `dev`)."""

    def __init__(self, b):
        self.b, self.launches = b, []

    def function(self, file, name, defines):
        return name, self.b.function(file, name, defines)

    def launch(self, fn, grid, block, args):
        self.launches.append((fn[0], grid, block))
        self.b.launch(fn[1], grid, block, args)

    def upload_host(self, host):
        return self.b.upload_host(host)

    def ascontiguous(self, arr):
        return self.b.ascontiguous(arr)

    def empty(self, shape, dtype):
        arr = self.b.empty(shape, dtype)
        with self.b.activate():
            arr.fill(np.nan if np.dtype(dtype).kind == "f" else -1)
        return arr

    def host(self, arr):
        return self.b.to_host(arr) if isinstance(arr, self.b.cp.ndarray) else np.asarray(arr)


@pytest.fixture
def dev(backend):
    return GpuDevice(backend)


@pytest.fixture
def kernels(dev):
    return cuda_mod.CudaKernels(dev)


@gpu
@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.int32, np.int64,
                                   np.bool_, np.complex64])
def test_arena_views_constants_and_copies(backend, dtype):
    arena = backend.allocate(4096)
    assert arena.dtype == np.uint8 and arena.nbytes == 4096 and arena.data.ptr % 64 == 0
    rng = np.random.default_rng(0)
    host = (rng.standard_normal((3, 5)) * 10).astype(dtype)
    a = backend.view(arena, 64, dtype, (3, 5))
    b = backend.view(arena, 1024, dtype, (5, 3))
    assert a.data.ptr == arena.data.ptr + 64  # a view, not a copy
    backend.upload(a, host)
    backend.upload(b, host.T.copy())
    np.testing.assert_array_equal(backend.to_host(a), host)
    np.testing.assert_array_equal(backend.to_host(b), host.T)
    c = backend.constant(host)
    np.testing.assert_array_equal(backend.to_host(c), host)
    assert backend.view(arena, 128, dtype, (0, 4)).size == 0
    assert backend.to_host(backend.view(arena, 64, dtype, ())).shape == ()
    # 0-d values stay 0-d (np.ascontiguousarray would make them 1-D)
    scalar = backend.constant(host[1, 2])
    assert scalar.shape == () and backend.to_host(scalar) == host[1, 2]
    backend.upload(backend.view(arena, 64, dtype, ()), host[2, 4])
    assert backend.to_host(backend.view(arena, 64, dtype, ())) == host[2, 4]
    with pytest.raises(ValueError, match="does not fit"):
        backend.view(arena, 4090, dtype, (4,))


@gpu
@needs_gpu
def test_upload_takes_cupy_cai_and_dlpack_arrays(backend):
    cp = backend.cp
    arena = backend.allocate(1024)
    dst = backend.view(arena, 0, np.float32, (4, 6))
    src = cp.arange(24, dtype=cp.float32).reshape(4, 6)
    side = cp.cuda.Stream(non_blocking=True)
    with side:  # produced on the caller's (current) stream: upload must wait for it
        src2 = src * 2
        backend.upload(dst, src2)
    np.testing.assert_array_equal(backend.to_host(dst), np.arange(24).reshape(4, 6) * 2)

    class CAI:
        def __init__(self, arr):
            self.__cuda_array_interface__ = arr.__cuda_array_interface__
            self._keep = arr

    backend.upload(dst, CAI(src + 1))
    np.testing.assert_array_equal(backend.to_host(dst), np.arange(24).reshape(4, 6) + 1)

    class DLPack:
        def __init__(self, arr):
            self._arr = arr

        def __dlpack__(self, **kw):
            return self._arr.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self._arr.__dlpack_device__()

    backend.upload(dst, DLPack(src + 3))
    np.testing.assert_array_equal(backend.to_host(dst), np.arange(24).reshape(4, 6) + 3)


@gpu
@needs_gpu
def test_host_views_are_pinned_mirrors_uploaded_on_flush(backend):
    arena = backend.allocate(256)
    t = backend.view(arena, 0, np.float32, (2, 3))
    backend.upload(t, np.zeros((2, 3), np.float32))
    mirror = backend.host_view(t)
    mirror[...] = 7
    assert (backend.to_host(t) == 0).all()  # not yet
    backend.flush_host_views()
    np.testing.assert_array_equal(backend.to_host(t), np.full((2, 3), 7, np.float32))
    # a set_tensor after the view wins over the stale mirror
    backend.host_view(t)
    backend.upload(t, np.ones((2, 3), np.float32))
    backend.flush_host_views()
    np.testing.assert_array_equal(backend.to_host(t), np.ones((2, 3), np.float32))


@gpu
@needs_gpu
def test_kernels_allocate_nothing_and_replay_in_a_cuda_graph(backend):
    cp = backend.cp
    rng = np.random.default_rng(1)
    x, wt, bias = rand(rng, (1, 14, 15, 16)), rand(rng, (24, 3, 3, 16)), rand(rng, 24)
    out_hw, pads = geometry("SAME", (14, 15), (3, 3), (1, 1), (1, 1))
    conv = backend.kernels.make_conv2d(x.shape, wt.shape, (1, 1), (1, 1), pads, out_hw,
                                       weights=wt)
    dx, db = backend.upload_host(x), backend.upload_host(bias)
    out = backend.empty((1, *out_hw, 24), np.float32)
    conv(dx, None, db, out, (0.0, 6.0))  # warm up (compiles)
    backend.synchronize()
    expect = backend.to_host(out)
    pool = cp.get_default_memory_pool()
    used = pool.used_bytes()
    conv(dx, None, db, out, (0.0, 6.0))
    assert pool.used_bytes() == used
    with backend.activate():
        out.fill(0)
    graph = backend.capture(lambda: conv(dx, None, db, out, (0.0, 6.0)))
    graph.launch(stream=backend.stream)
    np.testing.assert_array_equal(backend.to_host(out), expect)
    with backend.activate():
        dx[...] = 0
    graph.launch(stream=backend.stream)
    np.testing.assert_allclose(backend.to_host(out), np.clip(np.broadcast_to(bias, out.shape),
                                                             0, 6))


def _models_dir():
    return os.environ.get("GPULITE_MODELS", os.path.join(ROOT, "..", "shared", "models"))


def _on_stream(it):
    """Run the generic xp op code on the interpreter's stream (what Executor does once it
    enters backend.activate() itself; harmless when it already does)."""
    act = getattr(it._backend, "activate", None)
    return act() if act else _Null()


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _run(it, inputs):
    with _on_stream(it):
        for d, v in zip(it.get_input_details(), inputs):
            it.set_tensor(d["index"], v)
        it.invoke()


def _zoo_inputs(details, rng, full_range_ints):
    """Random inputs: floats in [-1, 1]; integers over their type (capped to int8's range), or
    in [0, 3] (indices, lengths) unless `full_range_ints`."""
    inputs = []
    for d in details:
        if np.issubdtype(d["dtype"], np.floating):
            inputs.append(rng.uniform(-1, 1, d["shape"]).astype(d["dtype"]))
        else:
            info = np.iinfo(d["dtype"])
            lo, hi = (max(info.min, -128), min(info.max, 127)) if full_range_ints else (0, 3)
            inputs.append(rng.integers(lo, hi + 1, d["shape"]).astype(d["dtype"]))
    return inputs


ZOO = ["zoo/mobilenet_v2_float", "zoo/mobilenet_v2_fp16", "zoo/mobilenet_v3_small_float",
       "zoo/unet_float", "zoo/transformer_float", "zoo/lstm_float", "zoo/misc_ops",
       "mediapipe/face_detection_short_range", "mediapipe/hand_landmark_lite",
       "mediapipe/face_detection_full_range_sparse", "mediapipe/selfie_segmentation",
       # integer models: every tensor bit-exact
       "zoo/mobilenet_v2_int8io", "zoo/unet_uint8io", "zoo/unet_16x8",
       "zoo/mobilenet_v3_small_int8", "zoo/mobilenet_v2_dynamic"]


@gpu
@needs_gpu
@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_on_cuda_matches_litert_and_the_cpu(name):
    from oracle import compare_all_tensors, litert
    path = os.path.join(_models_dir(), name + ".tflite")
    if not os.path.exists(path):
        pytest.skip(f"model zoo not found at {path} (set GPULITE_MODELS)")
    with open(path, "rb") as f:
        content = f.read()
    lr = litert()
    ref = lr.Interpreter(model_content=content, experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=lr.OpResolverType.
                         BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ours = gpulite.Interpreter(model_content=content, experimental_preserve_all_tensors=True,
                               device="cuda")
    cpu = gpulite.Interpreter(model_content=content, experimental_preserve_all_tensors=True,
                              device="cpu")
    assert ours.device == "cuda"
    with _on_stream(ours):
        ours.allocate_tensors()
    ref.allocate_tensors()
    cpu.allocate_tensors()
    rng = np.random.default_rng(0)
    for _ in range(2):
        inputs = _zoo_inputs(ref.get_input_details(), rng, "int8" in name or "uint8" in name)
        _run(ours, inputs)
        for it in (ref, cpu):
            for d, v in zip(it.get_input_details(), inputs):
                it.set_tensor(d["index"], v)
            it.invoke()
        compare_all_tensors(ours, ref)
        # and the GPU against gpulite's own CPU path (the emulated backend measured 1.1e-4 on a
        # late mobilenet_v2_float tensor: float32 sums in another order drift that far)
        compare_all_tensors(ours, cpu, tensor_tol=5e-4, output_tol=1e-4)


# models whose whole invoke must become one CUDA graph (issue 5's latency target needs it)
GRAPH_MODELS = ["zoo/mobilenet_v2_float", "zoo/mobilenet_v3_small_float", "zoo/unet_float",
                "zoo/mobilenet_v2_int8io"]


@gpu
@needs_gpu
@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_graph_replay_matches_eager_invokes_on_new_inputs(name):
    """Replays of the captured graph compute each new input's outputs exactly as eager
    invokes do (same kernels), and the model is captured (status 'graph')."""
    path = os.path.join(_models_dir(), name + ".tflite")
    if not os.path.exists(path):
        pytest.skip(f"model zoo not found at {path} (set GPULITE_MODELS)")
    graph = gpulite.Interpreter(model_path=path, device="cuda")
    eager = gpulite.Interpreter(model_path=path, device="cuda", cuda_graphs=False)
    for it in (graph, eager):
        it.allocate_tensors()
    rng = np.random.default_rng(5)
    for k in range(4):
        inputs = _zoo_inputs(graph.get_input_details(), rng, True)
        outs = []
        for it in (graph, eager):
            _run(it, inputs)
            outs.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
        for a, b in zip(*outs):
            np.testing.assert_array_equal(a, b)
    assert graph.graph_status() == "graph", graph.graph_status()
    assert eager.graph_status().startswith("eager")


@gpu
@needs_gpu
def test_set_and_get_tensor_with_cupy_arrays():
    cp = pytest.importorskip("cupy")
    it = gpulite.Interpreter(model_content=add_model((2, 3)), device="cuda")
    it.allocate_tensors()
    x = cp.arange(6, dtype=cp.float32).reshape(2, 3)
    with _on_stream(it):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
    y = it.get_tensor(it.get_output_details()[0]["index"])
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, np.arange(6, dtype=np.float32).reshape(2, 3) + 1)
    with pytest.raises(ValueError, match="type"):
        it.set_tensor(it.get_input_details()[0]["index"], x.astype(cp.float64))


@gpu
@needs_gpu
def test_tensor_view_on_cuda_reads_and_writes_through_a_host_mirror():
    it = gpulite.Interpreter(model_content=add_model((2, 3)), device="cuda")
    it.allocate_tensors()
    if "host_view" not in inspect.getsource(gpulite.interpreter.Interpreter.tensor):
        pytest.xfail("Interpreter.tensor() does not use backend.host_view yet (proposal)")
    inp = it.get_input_details()[0]["index"]
    out = it.get_output_details()[0]["index"]
    it.tensor(inp)()[...] = 5
    it.invoke()
    view = it.tensor(out)()
    assert isinstance(view, np.ndarray)
    np.testing.assert_array_equal(view, np.full((2, 3), 6, np.float32))
