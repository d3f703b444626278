"""SOFTMAX / LOG_SOFTMAX on the CUDA backend (cuda_kernels/softmax.cu), run on the CPU emulator.

No GPU needed: the backend's own factory (`CudaKernels.make_softmax`, from
gpulite/backends/cuda_softmax.py) launches the kernels on tests/cuda_emulator.py's device, and
the results are compared with the CPU backend's `make_softmax` (cpu_fallback/softmax.py, the
CPU op's float32 path) and with whole interpreters on device="cpu". The shared conformance case
in tests/cuda_cases.py repeats the comparison on a real GPU.
"""

import sys

import numpy as np
import pytest

cuda_emulator = pytest.importorskip("cuda_emulator")
if not cuda_emulator.available():
    pytest.skip("g++ is needed to emulate the CUDA kernels", allow_module_level=True)

import gpulite  # noqa: E402
from gpulite import backends, cuda_compile  # noqa: E402
from gpulite.backends import cuda as cuda_mod  # noqa: E402
from gpulite.backends import cuda_softmax  # noqa: E402
from gpulite.backends.cpu import CpuBackend  # noqa: E402
from gpulite.backends.cuda import CudaKernels  # noqa: E402
from gpulite.cpu_fallback import softmax as cpu_softmax  # noqa: E402
from gpulite.writer import ModelBuilder  # noqa: E402

RTOL = 1e-6
ATOL = float(np.finfo(np.float32).tiny)  # denormal results (a GPU flushes them to zero)
# LOG_SOFTMAX's max element is -log(sum), and the sum of a row with one dominant value is just
# over 1, where its log is ill-conditioned: the sums of the CPU and of the kernel (added in
# another order) differ by an ulp or two of 1, 1.2e-7 each, and so do their logs - absolutely.
LOG_ATOL = 4 * float(np.finfo(np.float32).eps)


def check(out, ref, log):
    np.testing.assert_allclose(out, ref, rtol=RTOL, atol=LOG_ATOL if log else ATOL)

MODES = [  # (log, beta)
    (False, 1.0),
    (False, 0.37),
    (False, 2.5),
    (False, -0.75),  # a negative beta: the row maximum gives the smallest value
    (True, 1.0),
]
MODE_IDS = ["softmax", "beta0.37", "beta2.5", "beta-0.75", "log_softmax"]


from emulated_device import EmuBackend, dev, kernels  # noqa: E402,F401  (fixtures)


def run_both(dev, kernels, x, beta, log, in_place=False):
    """(CPU result, emulated CUDA result, kernel name) for x over its last axis."""
    cols = x.shape[-1]
    rows = x.size // cols if cols else 0
    ref = np.empty_like(x)
    cpu_softmax.make_softmax(rows, cols, beta, log)(x, ref)
    fn = kernels.make_softmax(rows, cols, beta, log)
    dx = dev.upload_host(x)
    out = dx if in_place else dev.empty(x.shape, np.float32)
    n_blocks = len(dev._blocks)
    n_launches = len(dev.launches)
    fn(dx, out)
    assert len(dev._blocks) == n_blocks, "the launch allocated"  # graph-capturable
    name = dev.launches[-1][0] if len(dev.launches) > n_launches else None
    return ref, dev.host(out), name


# -- against the CPU kernel ----------------------------------------------------------------------

SHAPES = [
    # (shape, the kernel make_softmax picks)
    ((1, 1), "warp"),             # one value: softmax 1, log_softmax 0
    ((5, 1), "warp"),
    ((3, 7), "warp"),             # fewer rows than a block's 8 warps
    ((13, 7), "warp"),            # the second block's warps 5..7 idle
    ((2, 3, 33), "warp"),         # rank 3, a row one past a warp
    ((1, 1000), "block"),         # a classifier's logits
    ((2, 1001), "block"),
    ((3, 200), "block"),          # not short, and too few rows for a warp each
    ((520, 129), "warp"),         # many rows: a warp each, 5 cached values per lane
    ((2, 4099), "block"),         # past the block kernel's 2048 cached values: re-reads the rest
    ((1000,), "block"),           # rank 1
]


@pytest.mark.parametrize("log,beta", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("shape,kind", SHAPES, ids=lambda v: "x".join(map(str, v))
                         if isinstance(v, tuple) else v)
def test_softmax_matches_cpu(dev, kernels, shape, kind, log, beta):
    rng = np.random.default_rng(sum(shape) + int(10 * abs(beta)))
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    ref, out, name = run_both(dev, kernels, x, beta, log)
    check(out, ref, log)
    assert name == ("log_softmax_" if log else "softmax_") + kind
    if not log:
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("log,beta", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("cols", [1, 7, 1000, 1001])
def test_special_values_match_cpu(dev, kernels, cols, log, beta):
    """Huge and very negative values, -inf entries, rows of -inf / NaN / +inf (NaN rows on the
    CPU, so NaN here too), a row of equal values."""
    rng = np.random.default_rng(cols)
    rows = []
    rows.append(rng.uniform(-3e38, 3e38, cols))                   # x - max overflows to -inf
    r = (rng.standard_normal(cols) * 50).astype(np.float32)
    r[::3] = -np.inf
    r[0] = 5.0                                                     # -inf entries, one finite
    rows.append(r)
    rows.append(rng.uniform(-1e4, -9e3, cols))                   # very negative, wide range
    rows.append(np.full(cols, -np.inf))                           # every entry -inf: NaN
    r = rng.standard_normal(cols)
    r[cols // 2] = np.nan
    rows.append(r)                                                # a NaN: the whole row NaN
    r = rng.standard_normal(cols)
    r[-1] = np.inf
    rows.append(r)                                                # +inf: NaN (inf - inf)
    rows.append(np.full(cols, 7.25))                              # equal values: 1/cols
    rows.append(rng.standard_normal(cols) * 1e-30)                # tiny values
    x = np.stack(rows).astype(np.float32)
    with np.errstate(all="ignore"):
        ref, out, _ = run_both(dev, kernels, x, beta, log)
    check(out, ref, log)  # NaN exactly where the CPU has NaN
    assert np.isnan(out[3:6]).all()
    if beta > 0:  # (a negative beta turns -inf entries and overflowing ranges into NaN too)
        assert not np.isnan(out[[0, 1, 2, 6, 7]]).any()


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(40, 9), (3, 300), (2, 2500)], ids=str)
def test_in_place(dev, kernels, shape, log):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 3
    ref, out, _ = run_both(dev, kernels, x, 1.0, log, in_place=True)
    check(out, ref, log)


@pytest.mark.parametrize("shape", [(70, 5), (5, 300)], ids=str)
def test_more_rows_than_the_grid_loops(dev, kernels, monkeypatch, shape):
    """A grid capped below the row count: each block walks on over the rows."""
    monkeypatch.setattr(cuda_softmax, "_GRID_CAP", 2)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    ref, out, _ = run_both(dev, kernels, x, 0.5, False)
    np.testing.assert_allclose(out, ref, rtol=RTOL, atol=ATOL)
    assert dev.launches[-1][1] == (2, 1, 1)


def test_empty_tensors_launch_nothing(dev, kernels):
    for shape in [(0, 5), (3, 0)]:
        x = np.zeros(shape, np.float32)
        _, out, name = run_both(dev, kernels, x, 1.0, False)
        assert name is None and out.shape == shape


def test_log_softmax_has_no_beta(kernels):
    with pytest.raises(ValueError, match="no beta"):
        kernels.make_softmax(2, 3, 0.5, log=True)
    with pytest.raises(ValueError, match="no beta"):
        cpu_softmax.make_softmax(2, 3, 0.5, log=True)


def test_kernel_choice():
    pick = cuda_softmax.softmax_kernel
    assert pick(1, 1000, False) == "softmax_block"
    assert pick(1, 128, False) == "softmax_warp"
    assert pick(4096, 512, True) == "log_softmax_warp"
    assert pick(4096, 1025, False) == "softmax_block"
    assert pick(100, 512, False) == "softmax_block"
    for name in ("softmax_block", "softmax_warp", "log_softmax_block", "log_softmax_warp"):
        assert name in cuda_compile.KERNELS["softmax.cu"]


def test_scalar_arguments_are_typed(dev, kernels):
    kernels.make_softmax(3, 5, 2.0)(dev.upload_host(np.ones((3, 5), np.float32)),
                                    dev.empty((3, 5), np.float32))
    fn = dev.function("softmax.cu", "softmax_warp", {})
    assert [p[1] for p in fn.params[2:]] == [np.int64, np.int32, np.float32]


# -- the op on an emulated CUDA backend ----------------------------------------------------------

def softmax_model(op, shape, beta=None):
    b = ModelBuilder()
    x = b.add_input(shape, np.float32, name="x")
    y = b.add_output(shape, np.float32, name="y")
    b.add_operator(op, [x], [y], options=None if beta is None else {"beta": beta})
    return b.build()


def invoke(content, x, device, monkeypatch=None):
    if device == "emulated":
        backend = EmuBackend()
        monkeypatch.setattr(backends, "select", lambda *_args, **_kw: backend)
    it = gpulite.Interpreter(model_content=content,
                             device="cpu" if device == "emulated" else device)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]), it


@pytest.mark.parametrize("op,beta", [("SOFTMAX", 1.0), ("SOFTMAX", 0.37), ("LOG_SOFTMAX", None)])
@pytest.mark.parametrize("shape", [(1, 1001), (2, 3, 7), (4, 1)], ids=str)
def test_the_op_runs_the_kernel_and_matches_the_cpu_op(monkeypatch, op, beta, shape):
    x = (np.random.default_rng(3).standard_normal(shape) * 6).astype(np.float32)
    x.reshape(-1)[::5] = -np.inf
    x.reshape(-1)[0] = 80.0
    with np.errstate(all="ignore"):
        ref, _ = invoke(softmax_model(op, shape, beta), x, "cpu")
        out, it = invoke(softmax_model(op, shape, beta), x, "emulated", monkeypatch)
    check(out, ref, op == "LOG_SOFTMAX")
    launched = [name for name, _grid, _block in it._backend.dev.launches]
    assert launched and all("softmax" in n for n in launched)
    assert launched[-1].startswith("log_softmax" if op == "LOG_SOFTMAX" else "softmax")


def test_float16_softmax_keeps_the_generic_path(monkeypatch):
    b = ModelBuilder()
    x = b.add_input((2, 9), np.float16, name="x")
    y = b.add_output((2, 9), np.float16, name="y")
    b.add_operator("SOFTMAX", [x], [y], options={"beta": 1.0})
    content = b.build()
    xv = np.random.default_rng(4).standard_normal((2, 9)).astype(np.float16)
    ref, _ = invoke(content, xv, "cpu")
    out, it = invoke(content, xv, "emulated", monkeypatch)
    np.testing.assert_array_equal(out, ref)
    assert not it._backend.dev.launches


# -- the real backend's plumbing, against a stand-in cupy --------------------------------------

def test_cuda_backend_builds_softmax_from_the_compile_tested_source(monkeypatch):
    from test_cuda_backend import _FakeCupy
    fake = _FakeCupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(cuda_mod, "_MODULES", {})
    monkeypatch.setattr(cuda_mod, "_FUNCTIONS", {})
    backend = cuda_mod.CudaBackend()
    fn = backend.kernels.make_softmax(6, 1000, np.float32(0.5))
    (mod,) = fake.modules
    assert mod.code == cuda_compile.load_source("softmax.cu", {})
    assert mod.options == cuda_compile.BACKEND_OPTIONS
    x = np.zeros((6, 1000), np.float32)
    out = np.empty_like(x)
    fn(x, out)
    name, grid, block, args, stream = fake.launches[-1]
    assert (name, grid, block, stream) == ("softmax_block", (6, 1, 1), (256, 1, 1),
                                           backend.stream)
    assert args[0] is x and args[1] is out
    assert [type(a) for a in args[2:]] == [np.int64, np.int32, np.float32]
    assert args[4] == np.float32(0.5)
    backend.kernels.make_softmax(4096, 100, None, log=True)(x, out)
    name, grid, _block, args, _stream = fake.launches[-1]
    assert name == "log_softmax_warp" and grid == (512, 1, 1) and len(args) == 4
    assert len(fake.modules) == 1  # one module for all four kernels
