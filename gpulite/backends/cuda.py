"""The CUDA backend: CuPy arrays, one device arena, gpulite's own CUDA kernels.

Importing this module touches neither CuPy nor CUDA (CuPy is imported when a `CudaBackend` is
built), so it is safe on CPU-only machines and before `fork()`.

* The planned arena is ONE `cupy.empty(nbytes, uint8)`; tensors are `cupy.ndarray` views at
  their planned offsets (zero-copy, `memptr=arena.data + offset`).
* Constants are uploaded once (`constant()`); nothing is allocated per invoke.
* Every copy and kernel is enqueued on the interpreter's own non-blocking stream
  (`self.stream`); `synchronize()` waits for it, `to_host()` copies on it, `upload()` copies
  NumPy arrays, CuPy arrays and anything exporting `__cuda_array_interface__` or `__dlpack__`.
  `activate()` makes the device and the stream current, so CuPy calls made by the generic op
  code (`xp = cupy`) go to the same stream.
* `kernels` has the CPU backend's factories (`make_conv2d`, ... with the signatures of
  cpu_fallback/*.py) plus `gemm(a, b, out, bias=None, clip=None)`; they launch RawModule kernels
  compiled from cuda_kernels/*.cu with gpulite.cuda_compile's sources and options, memoised per
  (device, file, defines). Kernels allocate nothing, so they can be captured into CUDA graphs.

`CudaKernels` only needs a device object with `function`, `launch`, `upload_host` and
`ascontiguous`; tests/cuda_emulator.py supplies a CPU stand-in, so the launch code and the
kernels are tested without a GPU.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np

from .. import cuda_compile
from .cuda_softmax import SOFTMAX_KERNEL_OPS, SoftmaxKernels
from .cuda_int import IntKernelsMixin
from .cuda_requant import RequantKernels

THREADS = 256              # every gpulite kernel runs 256-thread blocks
_GRID_CAP = 65536          # 1-D launches: grid-stride loops cover the rest
_GRID_YZ = 65535           # CUDA's limit on gridDim.y / gridDim.z
_SMALL_M = 16              # GEMMs with at most this many rows use gemm_smallm
_I32 = 2 ** 31

_LOCK = threading.Lock()
_MODULES: dict = {}        # (device id, file, defines key) -> cupy.RawModule
_FUNCTIONS: dict = {}      # (device id, file, defines key, name) -> cupy.cuda.Function

_POOL_KINDS = {"max": 0, "average": 1, "l2": 2}

# Interpreter(precision=...) -> the defines of the tiled GEMM / implicit-GEMM convolution kernels
# (gemm_tile.cuh): exact float32 by default, or tensor cores on tf32- / fp16-rounded operands
PRECISIONS = {"float32": {}, "tf32": {"GL_PRECISION": 1}, "fp16": {"GL_PRECISION": 2}}
_TENSOR_CORE_MIN_CC = 80  # mma.sync on tf32 and m16n8k16 f16 need sm_80 (Ampere) or later


def usable_precision(precision: str, compute_capability) -> str:
    """The precision a GPU of this compute capability runs: a tensor-core one needs sm_80 or
    later; older GPUs run float32 (more accurate, only slower), with one RuntimeWarning."""
    if precision != "float32" and int(compute_capability) < _TENSOR_CORE_MIN_CC:
        warnings.warn(f"gpulite: precision={precision!r} needs a GPU of compute capability 8.0 "
                      f"or later (this one is {int(compute_capability) / 10:.1f}); running "
                      f"float32", RuntimeWarning, stacklevel=4)
        return "float32"
    return precision

# Ops whose prepare builds one of this backend's RawModule kernels, in their float or quantised
# forms (OPS.md's CUDA column).
# Every other op runs through CuPy (`xp`) in its generic code. None of it has run on a GPU yet.
DEVICE_KERNEL_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D", "CONV_3D_TRANSPOSE",
    "AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "Convolution2DTransposeBias",
    "FULLY_CONNECTED", "BATCH_MATMUL",  # gemm.cu (float), int_conv.cu (quantised FC)
}) | SOFTMAX_KERNEL_OPS


# -- argument helpers ----------------------------------------------------------------------------

def _i32(value, what="an extent") -> np.int32:
    v = int(value)
    if not -_I32 <= v < _I32:
        raise ValueError(f"{what} = {v} does not fit the CUDA kernels' 32-bit index arithmetic")
    return np.int32(v)


def _i64(value) -> np.int64:
    return np.int64(int(value))


_CLIPS: dict = {}


def _clip(clip) -> tuple:
    """(lo, hi) as np.float32 kernel arguments; None / None sides are unbounded."""
    try:
        args = _CLIPS.get(clip)
    except TypeError:  # an unhashable (lo, hi), e.g. a list
        clip, args = tuple(clip), None
    if args is None:
        lo, hi = (None, None) if clip is None else clip
        args = (np.float32(-np.inf if lo is None else lo),
                np.float32(np.inf if hi is None else hi))
        if len(_CLIPS) < 64:
            _CLIPS[clip] = args
    return args


def _c_order(host, dtype=None) -> np.ndarray:
    """A C-contiguous NumPy copy (or the array itself) that keeps a 0-d array 0-d, which
    np.ascontiguousarray does not (it returns at least 1-D)."""
    return np.asarray(host, dtype=dtype, order="C")


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _grid1d(total: int) -> tuple:
    return (max(1, min(_cdiv(total, THREADS), _GRID_CAP)), 1, 1)


def _estrides(arr) -> list:
    item = arr.dtype.itemsize
    out = []
    for s in arr.strides:
        if s % item:
            raise ValueError(f"array strides {arr.strides} are not multiples of the item size")
        out.append(s // item)
    return out


_BLOCK = (THREADS, 1, 1)


class CudaKernels(SoftmaxKernels, IntKernelsMixin, RequantKernels):
    """The CPU backend's kernel factories (same signatures and semantics as cpu_fallback/*.py),
    running gpulite's CUDA kernels through `dev`."""

    # make_conv2d's kernels and gemm take residual= / residual_clip=: a float ADD reading their
    # output can run in their epilogue (gpulite.fusion)
    fuses_residual_add = True

    def __init__(self, dev, precision: str = "float32"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                             f"not {precision!r}")
        self._dev = dev
        self.precision = precision
        self._tiled = PRECISIONS[precision]  # defines of gemm_tiled and conv2d_igemm
        self._gemm_plans: dict = {}

    # -- plumbing --------------------------------------------------------------------------------
    def _fn(self, file, name, defines=None):
        return self._dev.function(file, name, dict(defines or {}))

    def _dense(self, arr, what):
        """A C-contiguous float32 array (a copy only if the caller passed a strided view)."""
        if arr is None:
            return None
        if arr.dtype != np.float32:
            raise TypeError(f"{what} must be float32, not {arr.dtype}")
        return arr if arr.flags.c_contiguous else self._dev.ascontiguous(arr)

    def _upload_weights(self, host):
        return self._dev.upload_host(_c_order(host, np.float32))

    def upload_float32(self, host):
        """A constant (weights prepared on the host) as a contiguous float32 device array."""
        return self._upload_weights(host)

    def upload_int64(self, host):
        """A constant (e.g. a quantised bias) as a contiguous int64 device array."""
        return self._dev.upload_host(_c_order(host, np.int64))

    # -- GEMM ------------------------------------------------------------------------------------
    def _gemm_plan(self, m, n, k, sa, sb, sc, dims, ab, bb, cb, sbias):
        """(kernel, grid, scalar args) computing C = A.B (+bias, clamp) for strided A [m,k],
        B [k,n], C [m,n] over the batch dims (d0, d1, d2) with per-operand batch strides
        ab/bb/cb (3 each); None when there is nothing to compute."""
        d0, d1, d2 = dims
        batch = d0 * d1 * d2
        if m == 0 or n == 0 or batch == 0:
            return None
        if m <= _SMALL_M:
            fn = self._fn("gemm.cu", "gemm_smallm")
            grid = (_cdiv(n, 32), _cdiv(m, 4), min(batch, _GRID_YZ))
        else:
            fn = self._fn("gemm.cu", "gemm_tiled", self._tiled)
            grid = (_cdiv(m, 64), _cdiv(n, 64), min(batch, _GRID_YZ))
            if grid[1] > _GRID_YZ:
                raise ValueError(f"GEMM with {n} columns is too wide for one launch")
        scalars = (_i32(m, "M"), _i32(n, "N"), _i32(k, "K"),
                   *(_i64(s) for s in (*sa, *sb, *sc)),
                   _i32(batch, "batch"), _i32(d1), _i32(d2),
                   *(_i64(s) for s in (*ab, *bb, *cb)), _i64(sbias))
        return fn, grid, scalars

    def _gemm_run(self, plan, a, b, bias, c, lo, hi, residual=None, residual_clip=None):
        if plan is not None:
            fn, grid, scalars = plan
            self._dev.launch(fn, grid, _BLOCK, (a, b, bias, c, *scalars, lo, hi,
                                                *self._residual_args(c, residual, residual_clip)))

    def _residual_args(self, out, residual, residual_clip):
        """(res, rlo, rhi) kernel arguments of a fused residual ADD (common.cuh gl_residual):
        `residual` is read at out's offsets, so it must have out's shape and strides."""
        if residual is None:
            return (None, *_clip(None))
        if residual.dtype != np.float32 or residual.shape != out.shape or \
                residual.strides != out.strides:
            raise ValueError(f"a fused residual must be float32 laid out like the output "
                             f"{out.shape} {out.strides}, got {residual.dtype} {residual.shape} "
                             f"{residual.strides}")
        return (residual, *_clip(residual_clip))

    def gemm(self, a, b, out, bias=None, clip=None, residual=None, residual_clip=None):
        """out[..., m, n] = clamp(a[..., m, :] @ b[..., :, n] + bias[n]), float32.

        a [..., M, K], b [..., K, N] and out [..., M, N] may be strided views (transposes
        need no copy); their batch dims broadcast NumPy-style to out's (at most 3 after merging
        contiguous dims). bias is [N] or None, clip (lo, hi) or None. With `residual` (out's
        shape and strides) the result is clamp(that + residual, residual_clip): a following
        ADD fused into the epilogue. Usable inside a CUDA graph: nothing is allocated."""
        for name, arr in (("a", a), ("b", b), ("out", out)):
            if arr.dtype != np.float32:
                raise TypeError(f"gemm: {name} must be float32, not {arr.dtype}")
            if arr.ndim < 2:
                raise ValueError(f"gemm: {name} must have at least 2 dimensions, not "
                                 f"{arr.ndim}")
        key = (a.shape, a.strides, b.shape, b.strides, out.shape, out.strides,
               None if bias is None else (bias.shape, bias.strides))
        plan = self._gemm_plans.get(key)
        if plan is None:
            plan = self._gemm_plans[key] = self._gemm_plan(*self._plan_gemm(a, b, out, bias),
                                                           0)
        if bias is not None and not bias.flags.c_contiguous:
            bias = self._dev.ascontiguous(bias)
        lo, hi = _clip(clip)
        self._gemm_run(plan, a, b, bias, out, lo, hi, residual, residual_clip)

    @staticmethod
    def _plan_gemm(a, b, out, bias):
        m, k = a.shape[-2:]
        k2, n = b.shape[-2:]
        if k != k2 or tuple(out.shape[-2:]) != (m, n):
            raise ValueError(f"gemm: shapes {a.shape} @ {b.shape} -> {out.shape} do not agree")
        if bias is not None and (bias.dtype != np.float32 or bias.size != n):
            raise ValueError(f"gemm: bias must be float32 with {n} values, got {bias.dtype} "
                             f"{bias.shape}")
        ea, eb, ec = _estrides(a), _estrides(b), _estrides(out)
        oshape = tuple(out.shape[:-2])
        nb = len(oshape)
        if a.ndim - 2 > nb or b.ndim - 2 > nb:
            raise ValueError(f"gemm: out {out.shape} has fewer batch dims than the inputs "
                             f"{a.shape} and {b.shape}")
        rows = []  # per batch dim: (extent, stride a, stride b, stride c)
        for i, d in enumerate(oshape):
            strides = []
            for arr, es in ((a, ea), (b, eb)):
                j = i - (nb - (arr.ndim - 2))
                if j < 0 or arr.shape[j] == 1:
                    strides.append(0)
                elif arr.shape[j] == d:
                    strides.append(es[j])
                else:
                    raise ValueError(f"gemm: batch dims of {a.shape} and {b.shape} do not "
                                     f"broadcast to {out.shape}")
            rows.append([d, strides[0], strides[1], ec[i] if d != 1 else 0])
        rows = [r for r in rows if r[0] != 1]
        # merge neighbours that are one dim for every operand, until at most 3 remain
        merged = []
        for r in rows:
            if merged and all(merged[-1][s] == r[s] * r[0] for s in (1, 2, 3)):
                merged[-1] = [merged[-1][0] * r[0], r[1], r[2], r[3]]
            else:
                merged.append(r)
        if len(merged) > 3:
            raise ValueError(f"gemm: more than 3 independent batch dims in {out.shape}")
        merged = [[1, 0, 0, 0]] * (3 - len(merged)) + merged
        dims = tuple(r[0] for r in merged)
        ab, bb, cb = (tuple(r[s] for r in merged) for s in (1, 2, 3))
        sa, sb, sc = (ea[-2], ea[-1]), (eb[-2], eb[-1]), (ec[-2], ec[-1])
        return m, n, k, sa, sb, sc, dims, ab, bb, cb

    # -- CONV_2D ---------------------------------------------------------------------------------
    def make_conv2d(self, input_shape, filter_shape, stride_hw, dilation_hw, pad_tl, out_hw,
                    weights=None):
        _, h, wd, cin = (int(v) for v in input_shape)
        cout, kh, kw, cpg = (int(v) for v in filter_shape)
        (sh, sw), (dh, dw) = stride_hw, dilation_hw
        (pt, pl), (oh, ow) = pad_tl, out_hw
        groups = cin // cpg
        cpo = cout // groups
        k = kh * kw * cpg
        if groups > _GRID_YZ:
            raise ValueError(f"CONV_2D with {groups} groups is more than one launch can hold")
        wdev = None
        if weights is not None:
            from ..cpu_fallback.conv import prepare_conv2d_weights  # [groups, K, Cpo]
            wdev = self._upload_weights(prepare_conv2d_weights(np.asarray(weights), groups))
        pointwise = (kh, kw, sh, sw, pt, pl) == (1, 1, 1, 1, 0, 0) and (oh, ow) == (h, wd)

        def weight_args(w):
            if wdev is not None:
                return wdev, cpo, 1          # [g][k][co]
            return self._dense(w, "filter"), 1, k  # raw [g*Cpo + co][k]

        if pointwise:
            self._fn("gemm.cu", "gemm_tiled", self._tiled)  # compile now, at prepare
            self._fn("gemm.cu", "gemm_smallm")

            plans = {}  # batch size -> GEMM launch plan

            def conv2d_1x1(x, w, bias, out, clip=None, residual=None, residual_clip=None):
                n = x.shape[0]
                plan = plans.get(n)
                if plan is None:
                    wsk, wsn = (cpo, 1) if wdev is not None else (1, k)
                    # groups are the GEMM batch: A at channel offset g*Cpg, C at g*Cpo
                    plan = plans[n] = self._gemm_plan(
                        n * h * wd, cpo, k, (cin, 1), (wsk, wsn), (cout, 1), (1, 1, groups),
                        (0, 0, cpg), (0, 0, k * cpo), (0, 0, cpo), cpo)
                if plan is None:
                    return
                wm = wdev if wdev is not None else self._dense(w, "filter")
                lo, hi = _clip(clip)
                self._gemm_run(plan, self._dense(x, "input"), wm, self._dense(bias, "bias"),
                               out, lo, hi, residual, residual_clip)
            return conv2d_1x1

        fn = self._fn("conv2d.cu", "conv2d_igemm", self._tiled)
        geometry = tuple(_i32(v) for v in (h, wd, cin, oh, ow, cout, kh, kw, cpg, cpo, sh, sw,
                                           dh, dw, pt, pl))
        _i32(h * wd * cin, "input image size")
        _i32(k * cout, "filter size")

        def conv2d(x, w, bias, out, clip=None, residual=None, residual_clip=None):
            m = x.shape[0] * oh * ow
            if m == 0 or cout == 0:
                return
            x = self._dense(x, "input")
            wm, wsk, wsn = weight_args(w)
            lo, hi = _clip(clip)
            grid = (_cdiv(m, 64), _cdiv(cpo, 64), groups)
            self._dev.launch(fn, grid, _BLOCK,
                             (x, wm, self._dense(bias, "bias"), out, _i32(m, "N*OH*OW"),
                              *geometry, _i64(wsk), _i64(wsn), lo, hi,
                              *self._residual_args(out, residual, residual_clip)))
        return conv2d

    def make_conv2d_in_order(self, input_shape, filter_shape, stride_hw, dilation_hw, pad_tl,
                             out_hw, weights=None):
        """CONV_2D summed in TFLite's order, bit for bit cpu_fallback/conv_in_order.py (the
        small float convolutions of dynamic-range models; ungrouped filters only)."""
        _, h, wd, cin = (int(v) for v in input_shape)
        cout, kh, kw, cpg = (int(v) for v in filter_shape)
        if cpg != cin:
            raise ValueError("the in-order convolution handles ungrouped filters only")
        wdev = None if weights is None else self._upload_weights(np.asarray(weights))
        fn = self._fn("conv2d.cu", "conv2d_in_order")
        geometry = tuple(_i32(v) for v in (h, wd, cin, *out_hw, cout, kh, kw, *stride_hw,
                                           *dilation_hw, *pad_tl))
        _i32(h * wd * cin, "input image size")
        _i32(kh * kw * cin * cout, "filter size")
        return self._float_per_output(fn, geometry, wdev)

    # -- DEPTHWISE_CONV_2D -----------------------------------------------------------------------
    def make_depthwise_conv2d(self, input_shape, filter_shape, stride_hw, dilation_hw, pad_tl,
                              out_hw, depth_multiplier=None, weights=None):
        _, h, wd, cin = (int(v) for v in input_shape)
        _, kh, kw, cout = (int(v) for v in filter_shape)
        mult = cout // cin  # the option is ignored, as in current LiteRT
        (sh, sw), (dh, dw), (pt, pl), (oh, ow) = stride_hw, dilation_hw, pad_tl, out_hw
        wdev = None if weights is None else self._upload_weights(np.asarray(weights)[0])
        fn = self._fn("depthwise.cu", "depthwise_conv2d")
        geometry = tuple(_i32(v) for v in (h, wd, cin, oh, ow, cout, mult, kh, kw, sh, sw, dh,
                                           dw, pt, pl))
        _i32(kh * kw * cout, "filter size")

        return self._float_per_output(fn, geometry, wdev)

    # -- TRANSPOSE_CONV --------------------------------------------------------------------------
    def make_transpose_conv2d(self, input_shape, filter_shape, output_shape, stride_hw, pad_tl,
                              weights=None):
        _, h, wd, cin = (int(v) for v in input_shape)
        cout, kh, kw, _ = (int(v) for v in filter_shape)
        _, oh, ow, _ = (int(v) for v in output_shape)
        (sh, sw), (pt, pl) = stride_hw, pad_tl
        wdev = None
        if weights is not None:  # [KH, KW, Cin, Cout]: a warp reads consecutive Cout
            wdev = self._upload_weights(np.asarray(weights, np.float32).transpose(1, 2, 3, 0))
        fn = self._fn("transpose_conv.cu", "transpose_conv2d")
        geometry = tuple(_i32(v) for v in (h, wd, cin, oh, ow, cout, kh, kw, sh, sw, pt, pl))
        _i32(h * wd * cin, "input image size")

        # filter strides (ky*kw + kx, ci, co): the [KH, KW, Cin, Cout] upload or TFLite's
        # [Cout, KH, KW, Cin]
        return self._float_per_output(fn, geometry, wdev, (cin * cout, cout, 1),
                                (cin, 1, kh * kw * cin))

    # -- CONV_3D / CONV_3D_TRANSPOSE -------------------------------------------------------------
    def make_conv3d(self, input_shape, filter_shape, stride_dhw, dilation_dhw, pad_before,
                    out_dhw, weights=None):
        _, d, h, wd, cin = (int(v) for v in input_shape)
        kd, kh, kw, _, cout = (int(v) for v in filter_shape)
        wdev = None if weights is None else self._upload_weights(np.asarray(weights))
        fn = self._fn("conv3d.cu", "conv3d")
        geometry = tuple(_i32(v) for v in (d, h, wd, cin, *out_dhw, cout, kd, kh, kw,
                                           *stride_dhw, *dilation_dhw, *pad_before))
        _i32(d * h * wd * cin, "input volume size")

        return self._float_per_output(fn, geometry, wdev)

    def make_conv3d_transpose(self, input_shape, filter_shape, output_shape, stride_dhw,
                              dilation_dhw, pad_before, weights=None):
        _, d, h, wd, cin = (int(v) for v in input_shape)
        kd, kh, kw, cout, _ = (int(v) for v in filter_shape)
        _, od, oh, ow, _ = (int(v) for v in output_shape)
        wdev = None
        if weights is not None:  # [KD, KH, KW, Cin, Cout]
            wdev = self._upload_weights(np.asarray(weights, np.float32).transpose(0, 1, 2, 4, 3))
        fn = self._fn("conv3d.cu", "conv3d_transpose")
        geometry = tuple(_i32(v) for v in (d, h, wd, cin, od, oh, ow, cout, kd, kh, kw,
                                           *stride_dhw, *dilation_dhw, *pad_before))
        _i32(d * h * wd * cin, "input volume size")

        # filter strides (ci, co): the [.., Cin, Cout] upload or TFLite's [.., Cout, Cin]
        return self._float_per_output(fn, geometry, wdev, (cout, 1), (1, cin))

    def _float_per_output(self, fn, geometry, wdev, upload_strides=(), raw_strides=()):
        """fn(x, w, bias, out, clip) for a float kernel with one thread per output element,
        launched with (x, w, bias, out, total, *geometry, *filter strides, lo, hi): the strides
        of the uploaded constant filter `wdev`, or of the raw TFLite filter `w` passed at run
        time when there is no constant."""
        upload_tail = tuple(_i64(v) for v in upload_strides)
        raw_tail = tuple(_i64(v) for v in raw_strides)

        def run(x, w, bias, out, clip=None):
            total = out.size
            if total == 0:
                return
            if wdev is not None:
                wt, tail = wdev, upload_tail
            else:
                wt, tail = self._dense(w, "filter"), raw_tail
            lo, hi = _clip(clip)
            self._dev.launch(fn, _grid1d(total), _BLOCK,
                             (self._dense(x, "input"), wt, self._dense(bias, "bias"), out,
                              _i64(total), *geometry, *tail, lo, hi))
        return run

    # -- pooling ---------------------------------------------------------------------------------
    def make_pool2d(self, kind, input_shape, filter_hw, stride_hw, pad_tl, out_hw):
        if kind not in _POOL_KINDS:
            raise ValueError(f"kind must be one of {tuple(_POOL_KINDS)}, got {kind!r}")
        _, h, w, c = (int(v) for v in input_shape)
        fn = self._fn("pool.cu", "pool2d", {"POOL_KIND": _POOL_KINDS[kind]})
        geometry = tuple(_i32(v) for v in (h, w, c, *out_hw, *filter_hw, *stride_hw, *pad_tl))
        _i32(h * w * c, "input image size")

        def pool2d(x, out, clip=None):
            total = out.size
            if total == 0:
                return
            lo, hi = _clip(clip)
            self._dev.launch(fn, _grid1d(total), _BLOCK,
                             (self._dense(x, "input"), out, _i64(total), *geometry, lo, hi))
        return pool2d

    # -- resizing --------------------------------------------------------------------------------
    def make_resize_bilinear(self, input_shape, out_hw, align_corners, half_pixel_centers):
        from ..cpu_fallback import resize as cpu_resize  # the CPU kernel's float32 tables
        _, h, w, c = (int(v) for v in input_shape)
        oh, ow = (int(v) for v in out_hw)
        _i32(h * w * c, "input image size")
        dims = tuple(_i32(v) for v in (h, w, c, oh, ow))
        if not align_corners and not half_pixel_centers and (oh, ow) == (2 * h, 2 * w):
            fn = self._fn("resize.cu", "resize_bilinear_2x")
            tables = ()
        else:
            fn = self._fn("resize.cu", "resize_bilinear")
            tables = []
            for size, osize in ((h, oh), (w, ow)):
                src, lo_i, hi_i = cpu_resize._bilinear_axis(size, osize, align_corners,
                                                            half_pixel_centers)
                frac = (src - lo_i.astype(np.float32)).astype(np.float32)
                idx = np.stack([lo_i, hi_i], axis=1).astype(np.int32).reshape(-1)
                tables += [self._dev.upload_host(idx), self._dev.upload_host(frac)]
            tables = tuple(tables)

        def resize_bilinear(x, out):
            total = out.size
            if total == 0:
                return
            self._dev.launch(fn, _grid1d(total), _BLOCK,
                             (self._dense(x, "input"), out, _i64(total), *dims, *tables))
        return resize_bilinear

    def make_resize_nearest(self, input_shape, out_hw, align_corners, half_pixel_centers):
        from ..cpu_fallback import resize as cpu_resize
        _, h, w, c = (int(v) for v in input_shape)
        oh, ow = (int(v) for v in out_hw)
        _i32(h * w * c, "input image size")
        dims = tuple(_i32(v) for v in (h, w, c, oh, ow))
        fn = self._fn("resize.cu", "resize_nearest")
        tables = tuple(self._dev.upload_host(cpu_resize._nearest_axis(size, osize, align_corners,
                                                                 half_pixel_centers)
                                        .astype(np.int32))
                       for size, osize in ((h, oh), (w, ow)))

        def resize_nearest(x, out):
            total = out.size
            if total == 0:
                return
            self._dev.launch(fn, _grid1d(total), _BLOCK,
                             (self._dense(x, "input"), out, _i64(total), *dims, *tables))
        return resize_nearest


# -- the backend ---------------------------------------------------------------------------------

class CudaBackend:
    """One CUDA device, one stream per interpreter, arrays in CuPy."""

    name = "cuda"
    supports_graphs = True  # steady-state invokes replay a CUDA graph (gpulite.graph_replay)

    def __init__(self, num_threads: int | None = None, device_id: int | None = None,
                 precision: str = "float32"):
        import cupy  # imported here, never at module import
        from .cpu import CpuBackend
        self.num_threads = num_threads
        # ops whose code CuPy refuses run on the host through it (gpulite.host_fallback)
        self.host_backend = CpuBackend(num_threads)
        self.cp = cupy
        self.xp = cupy
        if device_id is None:
            device_id = cupy.cuda.runtime.getDevice()
        self.device_id = int(device_id)
        self.device = cupy.cuda.Device(self.device_id)
        with self.device:
            self.stream = cupy.cuda.Stream(non_blocking=True)
        self.compute_capability = str(self.device.compute_capability)
        self.kernels = CudaKernels(self, usable_precision(precision, self.compute_capability))
        self._mirrors: dict = {}   # (ptr, shape, dtype, nbytes) -> (device view, pinned array)
        self._pending: set = set()  # mirror keys to upload before the next invoke

    def __repr__(self) -> str:
        return f"CudaBackend(device={self.device_id}, sm_{self.compute_capability})"

    # -- device interface used by CudaKernels ----------------------------------------------------
    def function(self, file: str, name: str, defines: dict):
        key = (self.device_id, file, cuda_compile.defines_key(defines), name)
        fn = _FUNCTIONS.get(key)
        if fn is None:
            with _LOCK:
                fn = _FUNCTIONS.get(key)
                if fn is None:
                    fn = _FUNCTIONS[key] = self._load(file, name, defines)
        return fn

    def _load(self, file, name, defines):
        cuda_compile.check_specialisation(file, defines)
        mkey = (self.device_id, file, cuda_compile.defines_key(defines))
        module = _MODULES.get(mkey)
        if module is None:
            module = self.cp.RawModule(code=cuda_compile.load_source(file, defines),
                                       options=cuda_compile.BACKEND_OPTIONS)
            _MODULES[mkey] = module
        try:
            with self.device:
                # RawKernel.kernel compiles (or loads CuPy's on-disk cache) and returns the
                # cupy.cuda.Function for this device; launching that directly skips a lookup
                return module.get_function(name).kernel
        except Exception as exc:  # CompileException, CUDADriverError, ...
            raise RuntimeError(f"gpulite: could not build CUDA kernel {name} from {file} "
                               f"{dict(defines) or ''} for sm_{self.compute_capability}: "
                               f"{type(exc).__name__}: {exc}") from exc

    def launch(self, fn, grid, block, args) -> None:
        fn(grid, block, args, 0, self.stream)

    def ascontiguous(self, arr):
        with self.device, self.stream:
            return self.cp.ascontiguousarray(arr)

    def upload_host(self, host):
        """A new device array holding a copy of host data (NumPy or array-like)."""
        arr = _c_order(host)
        with self.device, self.stream:
            dev = self.cp.empty(arr.shape, arr.dtype)
            if arr.size:
                dev.set(arr, stream=self.stream)
        return dev

    # -- the backend interface (see cpu.py) -----------------------------------------------------
    def activate(self):
        """Context manager making this backend's device and stream current (CuPy calls made
        inside, such as the generic `xp` op code, then run on the interpreter's stream)."""
        return _Activate(self)

    def allocate(self, nbytes: int):
        with self.device, self.stream:
            # CuPy's pool hands out 512-byte aligned blocks, more than planner.ALIGNMENT
            return self.cp.empty(max(int(nbytes), 0), self.cp.uint8)

    def view(self, arena, offset: int, dtype, shape):
        dtype = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        count = 1
        for d in shape:
            count *= d
        if offset + count * dtype.itemsize > arena.nbytes:
            raise ValueError(f"a {dtype}{list(shape)} view at offset {offset} does not fit "
                             f"the {arena.nbytes}-byte arena")
        if count == 0:
            return self.cp.ndarray(shape, dtype)  # no bytes: nothing to share
        return self.cp.ndarray(shape, dtype, memptr=arena.data + int(offset))

    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        if dtype == object:
            return np.empty(shape, dtype)
        with self.device, self.stream:
            return self.cp.empty(shape, dtype)

    def constant(self, host):
        """Uploaded once; device arrays pass through; strings stay on the host."""
        if isinstance(host, self.cp.ndarray):
            return host
        arr = np.asarray(host)
        if arr.dtype == object:
            return arr
        return self.upload_host(arr)

    def to_host(self, arr) -> np.ndarray:
        if isinstance(arr, self.cp.ndarray):
            with self.device:
                return arr.get(stream=self.stream)  # blocks until the copy is done
        return np.asarray(arr)

    def upload(self, dst, value) -> None:
        """dst[...] = value on the stream; value is NumPy, CuPy, or anything exporting
        __cuda_array_interface__ / __dlpack__ (never imported: detected by attribute)."""
        cp = self.cp
        if not isinstance(dst, cp.ndarray):  # host-side tensors (strings, resources)
            dst[...] = value
            return
        self._discard_host_views(dst)  # a stale mirror must not overwrite this value later
        src = self.as_device_array(value)
        if src is None:
            host = np.asarray(value)
            if host.dtype != dst.dtype:
                host = host.astype(dst.dtype)
            if host.shape != dst.shape:
                host = np.broadcast_to(host, dst.shape)
            if dst.flags.c_contiguous:
                with self.device:
                    dst.set(_c_order(host), stream=self.stream)
                return
            src = self.upload_host(host)
        else:
            # work queued on the caller's current stream must finish before we read src
            caller = cp.cuda.get_current_stream()
            if caller.ptr != self.stream.ptr:
                self.stream.wait_event(caller.record())
        with self.device, self.stream:
            dst[...] = src

    def as_device_array(self, value):
        """A CuPy view of a device array (CuPy, __cuda_array_interface__, CUDA __dlpack__),
        zero-copy; None for host data."""
        cp = self.cp
        if isinstance(value, cp.ndarray):
            return value
        if isinstance(value, np.ndarray):
            return None
        if hasattr(value, "__cuda_array_interface__"):
            with self.device:
                return cp.asarray(value)
        if hasattr(value, "__dlpack__") and hasattr(value, "__dlpack_device__"):
            try:
                kind = int(value.__dlpack_device__()[0])
            except Exception:
                kind = None
            if kind in (2, 13):  # kDLCUDA, kDLCUDAManaged
                with self.device, self.stream:
                    return cp.from_dlpack(value)
        return None

    def synchronize(self) -> None:
        self.stream.synchronize()

    # -- host mirrors for Interpreter.tensor() and the device accessor ---------------------------
    def host_view(self, arr) -> np.ndarray:
        """A NumPy view of a pinned host mirror of device array `arr`, filled now (after the
        stream has finished). Writes into it reach the device at `flush_host_views()`, which
        the interpreter calls before the next invoke."""
        if not isinstance(arr, self.cp.ndarray):
            return np.asarray(arr)
        key = (arr.data.ptr, tuple(arr.shape), arr.dtype.str, arr.nbytes)
        entry = self._mirrors.get(key)
        if entry is None:
            import cupyx
            pinned = cupyx.empty_pinned(arr.shape, arr.dtype)
            entry = self._mirrors[key] = (arr, pinned)
        dev, pinned = entry
        with self.device:
            dev.get(stream=self.stream, out=pinned)  # waits for earlier work, then copies
        self._pending.add(key)
        return pinned

    def flush_host_views(self) -> None:
        """Upload every mirror handed out since the last flush (enqueued on the stream; the
        pinned buffers stay alive in the cache, so the copies may run asynchronously)."""
        if not self._pending:
            return
        with self.device:
            for key in self._pending:
                dev, pinned = self._mirrors[key]
                dev.set(pinned, stream=self.stream)
        self._pending.clear()

    def _discard_host_views(self, dst) -> None:
        if not self._pending:
            return
        lo = dst.data.ptr
        hi = lo + dst.nbytes
        for key in [k for k in self._pending if k[0] < hi and lo < k[0] + k[3]]:
            self._pending.discard(key)

    def forget_host_views(self) -> None:
        """Drop every mirror, unflushed writes included: call after a re-allocation (tensor
        contents are undefined then, as in TFLite), which also releases the old arena."""
        self._pending.clear()
        self._mirrors.clear()

    def device_view(self, arr):
        """The CuPy array itself (zero-copy), ordered after the work queued so far: the
        caller's current stream waits for ours."""
        if isinstance(arr, self.cp.ndarray):
            caller = self.cp.cuda.get_current_stream()
            if caller.ptr != self.stream.ptr:
                caller.wait_event(self.stream.record())
        return arr

    # -- CUDA graphs -----------------------------------------------------------------------------
    def capture(self, fn):
        """Run fn() once while capturing this stream into a CUDA graph and return the graph
        (`launch_graph` replays it). fn must only enqueue kernels and copies on this stream.
        Thread-local capture mode: a synchronisation, a host copy or a cudaMalloc made by this
        thread during the capture is an error (raised here), not a silently missing step;
        other threads' interpreters keep running."""
        rt = self.cp.cuda.runtime
        mode = getattr(rt, "streamCaptureModeThreadLocal", None)
        with self.device, self.stream:
            if mode is None:
                self.stream.begin_capture()
            else:
                self.stream.begin_capture(mode)
            try:
                fn()
            finally:
                graph = self.stream.end_capture()
        return graph

    def launch_graph(self, graph) -> None:
        graph.launch(stream=self.stream)

    def graph_memory(self):
        """A private CuPy memory pool for one captured graph: the blocks its kernels use stay
        reserved for it (no other allocation can be handed them) while the graph lives."""
        return _GraphMemory(self.cp)


class _GraphMemory:
    __slots__ = ("_cp", "pool")

    def __init__(self, cp):
        self._cp = cp
        self.pool = cp.cuda.MemoryPool()

    def active(self):
        """Allocations of this thread come from the pool while the context is open."""
        return self._cp.cuda.using_allocator(self.pool.malloc)


class _Activate:
    __slots__ = ("backend", "_dev", "_stream")

    def __init__(self, backend):
        self.backend = backend

    def __enter__(self):
        b = self.backend
        self._dev = b.device.__enter__()
        self._stream = b.stream.__enter__()
        return b

    def __exit__(self, *exc):
        b = self.backend
        b.stream.__exit__(*exc)
        b.device.__exit__(*exc)
        return False
