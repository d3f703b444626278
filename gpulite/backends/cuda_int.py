"""Exact integer accumulators on the GPU: the CUDA forms of cpu_fallback/int_gemm.py's factories.

`IntKernelsMixin` gives `CudaKernels` (gpulite/backends/cuda.py) the four factories the
quantised CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED ops look up with
`_kernel(ctx, name)`, with exactly the signatures and the contract of the CPU ones:

    make_int_matmul(weights_kn, a_absmax, a_zero_point=0)
    make_int_conv2d(input_shape, weights, stride_hw, dilation_hw, pad_tl, out_hw, in_absmax,
                    in_zero_point=0)
    make_int_depthwise_conv2d(input_shape, weights, stride_hw, dilation_hw, pad_tl, out_hw,
                              in_absmax, in_zero_point=0)
    make_int_transpose_conv2d(input_shape, weights, output_shape, stride_hw, pad_tl, in_absmax,
                              in_zero_point=0)

Each is called once at prepare with the static geometry and the constant weights (already minus
their zero point); it uploads the weights once (int32) and returns `fn(x) -> acc`, where `x` is
the raw integer input on the device (int8, uint8 or int16) and `acc` an int64 device array of
the exact accumulators laid out as the output ([N, OH, OW, Cout], or [M, N] for the matmul). The
input zero point is subtracted in the kernels, so padding contributes nothing, as in TFLite.

Fused output stage: given `requant` (a cuda_requant.RequantSpec), a factory's kernels write the
requantised output themselves (int_conv.cu's epilogue, OUT_T = its type) and `fn(x, out)`
fills the caller's `out`; no accumulator buffer exists then. With an 8-bit output,
`fn(x, out, add=(pair_add, residual))` also applies a quantised ADD absorbed into the epilogue
(`make_pair_add`; gpulite.fusion): `out` then holds the ADD's output.

Allocation: `acc` is ONE buffer per factory, allocated at prepare (at the first call for the
matmul, whose row count is only known then) and reused: every call overwrites it and returns
the same array, so nothing is allocated per invoke (a call with another batch size
re-allocates it once). The caller may modify it in place (the ops add the bias into it) but
must be done with it before the next call.

Kernels (cuda_kernels/int_conv.cu) are specialised per input type (IN_T) and accumulator
(ACC_T): int32 accumulation is used when max|x - zp| * (largest L1 norm of an output's weights)
stays below 2**31, so every partial sum in any order is exact; int64 otherwise. Integer sums
are exact in any order, so the results equal the CPU's bit for bit. The input type is only
known when `fn` is first called with it: the kernels for the type the input's bound suggests
are compiled at prepare, another type's at its first call.

Needs from the owning class: `self._fn(file, name, defines)` and `self._dev` (`launch`,
`upload_host`, `ascontiguous`, and `empty` when it has one).
"""

from __future__ import annotations

import numpy as np

from .cuda_requant import OUT_TYPES, RAW_ARGS

FILE = "int_conv.cu"
THREADS = 256
_BLOCK = (THREADS, 1, 1)
_GRID_CAP = 65536          # 1-D launches: grid-stride loops cover the rest
_GRID_YZ = 65535           # CUDA's limit on gridDim.y / gridDim.z
_SMALL_M = 16              # matmuls with at most this many rows use int_gemm_smallm
_I32 = 2 ** 31
_PAIRS = 1 << 16           # (x1, x2) pairs of two 8-bit inputs

# the trailing arguments of int_conv.cu's kernels when no ADD is absorbed (GlPairAdd)
NO_PAIR_ADD = (None, None, None, np.int32(0), np.int32(0))

# Sums bounded by this use int32 accumulators (tests lower it to exercise the int64 kernels).
ACC32_LIMIT = 2 ** 31

# input dtype -> IN_T of int_conv.cu
IN_TYPES = {np.dtype(np.int8): "gl_s8", np.dtype(np.uint8): "gl_u8",
            np.dtype(np.int16): "gl_s16"}
ACC_TYPES = ("int", "long long")
RAW_OUT = "long long"  # OUT_T of the kernels that store the raw accumulators


def specialisation(in_dtype, acc64: bool, out_t: str = RAW_OUT) -> dict:
    """The defines of int_conv.cu for one input dtype, accumulator width and epilogue."""
    return {"IN_T": IN_TYPES[np.dtype(in_dtype)], "ACC_T": ACC_TYPES[bool(acc64)],
            "OUT_T": out_t}


def all_specialisations() -> tuple:
    """Every (IN_T, ACC_T, OUT_T) the factories may request
    (gpulite.cuda_compile.SPECIALISATIONS)."""
    return tuple(specialisation(dt, acc64, out) for dt in IN_TYPES for acc64 in (False, True)
                 for out in (RAW_OUT, *OUT_TYPES.values()))


def _dtype_absmax(dtype, zero_point: int) -> int:
    info = np.iinfo(dtype)
    return max(abs(int(info.min) - zero_point), abs(int(info.max) - zero_point))


def _guess_input_dtype(in_absmax: int, zero_point: int):
    """The input type whose range gives exactly this bound (int_gemm.input_absmax), else int16:
    only used to compile the likely kernels at prepare."""
    for dtype in (np.uint8, np.int8):
        info = np.iinfo(dtype)
        if info.min <= zero_point <= info.max and _dtype_absmax(dtype, zero_point) == in_absmax:
            return np.dtype(dtype)
    return np.dtype(np.int16)


def _i32(value, what="an extent") -> np.int32:
    v = int(value)
    if not -_I32 <= v < _I32:
        raise ValueError(f"{what} = {v} does not fit the CUDA kernels' 32-bit index arithmetic")
    return np.int32(v)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _grid1d(total: int) -> tuple:
    return (max(1, min(_cdiv(total, THREADS), _GRID_CAP)), 1, 1)


def _int32_weights(w, what="weights"):
    """The weights as int32 (they are small integers: quantised values minus a zero point)."""
    w = np.asarray(w)
    if w.dtype.kind not in "iub":
        raise TypeError(f"{what} must be integers, not {w.dtype}")
    if w.size and int(np.abs(w.astype(np.int64)).max()) >= _I32:
        raise ValueError(f"{what} do not fit in int32")
    return np.ascontiguousarray(w, dtype=np.int32)


def _max_l1(w_by_output) -> int:
    """Largest sum of |w| over the weights feeding one output ([outputs, terms])."""
    if w_by_output.size == 0:
        return 0
    return int(np.abs(w_by_output.astype(np.int64)).sum(axis=1).max())


class _Plan:
    """One factory's state: its kernels per input dtype (memoised), its epilogue (raw
    accumulators into its own buffer, or a RequantSpec writing the caller's output)."""

    def __init__(self, owner, names, in_absmax, zero_point, max_l1, requant=None):
        self.owner = owner
        self.names = names
        self.requant = requant
        self.out_t = RAW_OUT if requant is None else requant.out_t
        self.tail = RAW_ARGS if requant is None else requant.args
        self.in_absmax = int(in_absmax)
        self.zp = int(zero_point)
        self.zp_arg = _i32(zero_point, "the input zero point")
        self.max_l1 = int(max_l1)
        self.fns: dict = {}
        self.out = None
        self.kernels(_guess_input_dtype(self.in_absmax, self.zp))  # compile now, at prepare

    def kernels(self, dtype):
        """The launchable kernels (in `names` order) for an input of this dtype."""
        fns = self.fns.get(dtype)
        if fns is None:
            dtype = np.dtype(dtype)
            if dtype not in IN_TYPES:
                raise TypeError(f"exact integer kernels take int8, uint8 or int16 inputs, not "
                                f"{dtype}")
            info = np.iinfo(dtype)
            if not info.min <= self.zp <= info.max:
                raise ValueError(f"zero point {self.zp} is outside the range of a {dtype} input")
            absmax = min(max(self.in_absmax, 0), _dtype_absmax(dtype, self.zp))
            acc64 = absmax * self.max_l1 >= ACC32_LIMIT
            defines = specialisation(dtype, acc64, self.out_t)
            fns = tuple(self.owner._fn(FILE, name, defines) for name in self.names)
            self.fns[dtype] = fns
        return fns

    def output(self, shape, out=None):
        """Where the kernel writes: the caller's `out` (fused epilogue), else the factory's
        int64 buffer of this shape."""
        shape = tuple(int(d) for d in shape)
        if self.requant is not None:
            if out is None or tuple(out.shape) != shape or out.dtype != self.requant.out_dtype \
                    or not out.flags.c_contiguous:
                raise ValueError(f"the fused epilogue writes a C-contiguous "
                                 f"{self.requant.out_dtype} output of shape {list(shape)}")
            return out
        if self.out is None or tuple(self.out.shape) != shape:
            self.out = self.owner._int_empty(shape)
        return self.out

    def launch(self, fn, grid, x, w, out, *scalars, add=None):
        """One kernel launch: (x bytes, w, out bytes, zp, *scalars, *output stage, *absorbed
        ADD); `add` is (PairAdd, residual) or None."""
        if add is not None and self.requant is None:
            raise ValueError("an ADD can only be absorbed by a kernel with a fused output stage")
        absorbed = NO_PAIR_ADD if add is None else add[0].args(add[1], out)
        self.owner._dev.launch(fn, grid, _BLOCK, (x, w, out.reshape(-1).view(np.uint8),
                                                  self.zp_arg, *scalars, *self.tail,
                                                  *absorbed))


class PairAdd:
    """An 8-bit quantised ADD as an integer kernel's epilogue does it (int_conv.cu GlPairAdd):
    its pair table and per-element code paths on the device, and which operand the kernel's
    own output is."""

    def __init__(self, dev, table, paths, base: int, first: bool):
        self.table = table
        if table.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)) or \
                table.size != 3 * _PAIRS or not table.flags.c_contiguous:
            raise ValueError(f"a pair table holds 3 * 2**16 int8 or uint8 values, got "
                             f"{table.dtype} {tuple(table.shape)}")
        self.path_off = None if paths is None else dev.upload_host(
            (np.asarray(paths, np.int32) * _PAIRS).reshape(-1))
        self.base = np.int32(base * _PAIRS)
        self.first = np.int32(bool(first))

    def args(self, residual, out) -> tuple:
        if residual.dtype != self.table.dtype or residual.dtype != out.dtype or \
                tuple(residual.shape) != tuple(out.shape) or not residual.flags.c_contiguous:
            raise ValueError(f"the ADD's other operand must be a C-contiguous {out.dtype} array "
                             f"of shape {tuple(out.shape)}, got {residual.dtype} "
                             f"{tuple(residual.shape)}")
        if self.path_off is not None and self.path_off.size != out.size:
            raise ValueError(f"{self.path_off.size} code paths for {out.size} outputs")
        return (residual.reshape(-1).view(np.uint8), self.table.view(np.uint8), self.path_off,
                self.base, self.first)


class IntKernelsMixin:
    """The exact-integer accumulator factories of cpu_fallback/int_gemm.py, on the GPU."""

    # -- plumbing --------------------------------------------------------------------------------
    def _int_empty(self, shape):
        """A new int64 device array (contents undefined)."""
        empty = getattr(self._dev, "empty", None)
        if empty is not None:
            return empty(shape, np.int64)
        return self._dev.upload_host(np.zeros(shape, np.int64))

    def _int_input(self, x, tail, what):
        """x's bytes, as the kernels read them (uint8 view of a C-contiguous x; no copy unless
        x is a strided view)."""
        if tuple(x.shape[1:]) != tuple(tail):
            raise ValueError(f"{what}: input of shape {tuple(x.shape)}, the kernel was prepared "
                             f"for [N, {', '.join(map(str, tail))}]")
        if not x.flags.c_contiguous:
            x = self._dev.ascontiguous(x)
        return x.reshape(-1).view(np.uint8)

    def make_pair_add(self, table, paths, base: int, first: bool) -> PairAdd:
        """The epilogue form of an 8-bit quantised ADD (ops.base.AbsorbableAdd "pair_table"):
        `table` its device pair table, `paths` the code path of each output (NumPy) or None
        for all on path `base`; `first` when the kernel's output is the ADD's input 0."""
        return PairAdd(self._dev, table, paths, base, first)

    # -- FULLY_CONNECTED -------------------------------------------------------------------------
    def make_int_matmul(self, weights_kn, a_absmax: int, a_zero_point: int = 0, requant=None):
        """x [M, K] (integers) -> exact int64 (x - a_zero_point) @ weights_kn [K, N], [M, N].

        `weights_kn` holds the constant weights already minus their zero point. The result is
        the factory's buffer, overwritten by the next call. With `requant` (a RequantSpec),
        fn(x, out) writes the requantised output into `out` instead (see _Plan.output)."""
        w = _int32_weights(weights_kn)
        if w.ndim != 2:
            raise ValueError(f"weights_kn must be [K, N], got shape {w.shape}")
        k, n = w.shape
        if _cdiv(n, 64) > _GRID_YZ:
            raise ValueError(f"a matmul with {n} columns is too wide for one launch")
        plan = _Plan(self, ("int_gemm_smallm", "int_conv2d_igemm"), a_absmax, a_zero_point,
                     _max_l1(w.T), requant)
        wdev = self._dev.upload_host(w)
        nk = (_i32(n, "N"), _i32(k, "K"))
        # int_conv2d_igemm's geometry for a 1x1 convolution of an [M, 1, 1, K] image:
        # H, W, Cin, OH, OW, Cout, KH, KW, Cpg, Cpo, SH, SW, DH, DW, PT, PL
        fc_geometry = tuple(np.int32(v) for v in (1, 1, k, 1, 1, n, 1, 1, k, n, 1, 1, 1, 1,
                                                  0, 0))

        def matmul(x, out=None, add=None):
            if x.ndim != 2:
                raise ValueError(f"int matmul: x must be [M, K], got shape {tuple(x.shape)}")
            m = int(x.shape[0])
            out = plan.output((m, n), out)
            if out.size == 0:
                return out
            smallm, tiled = plan.kernels(x.dtype)
            xb = self._int_input(x, (k,), "int matmul")
            if m <= _SMALL_M:
                plan.launch(smallm, (_cdiv(n, 32), _cdiv(m, 4), 1), xb, wdev, out,
                            np.int32(m), *nk, add=add)
            else:
                plan.launch(tiled, (_cdiv(m, 64), _cdiv(n, 64), 1), xb, wdev, out,
                            _i32(m, "M"), *fc_geometry, add=add)
            return out

        return matmul

    # -- CONV_2D ---------------------------------------------------------------------------------
    def make_int_conv2d(self, input_shape, weights, stride_hw, dilation_hw, pad_tl, out_hw,
                        in_absmax, in_zero_point=0, requant=None):
        """Exact CONV_2D accumulators: [N, OH, OW, Cout] of sum (x - zp_in) * weights.

        weights: constant [Cout, KH, KW, Cin/groups] integer filter minus its zero point.
        Grouped convolutions when Cin is a multiple of the filter depth. The result is the
        factory's buffer, overwritten by the next call."""
        _, h, wd, cin = (int(v) for v in input_shape)
        w = _int32_weights(weights, "filter")
        cout, kh, kw, cpg = w.shape
        (sh, sw), (dh, dw) = stride_hw, dilation_hw
        (pt, pl), (oh, ow) = pad_tl, out_hw
        if cpg <= 0 or cin % cpg:
            raise ValueError(f"input has {cin} channels, the filter's depth is {cpg}")
        groups = cin // cpg
        if groups == 0 or cout % groups:
            raise ValueError(f"{cout} output channels do not split into {groups} groups")
        cpo = cout // groups
        k = kh * kw * cpg
        if groups > _GRID_YZ or _cdiv(cpo, 64) > _GRID_YZ:
            raise ValueError(f"CONV_2D with {groups} groups of {cpo} channels is more than one "
                             f"launch can hold")
        plan = _Plan(self, ("int_conv2d_igemm",), in_absmax, in_zero_point,
                     _max_l1(w.reshape(cout, k)), requant)
        # [groups, K, Cpo], rows in (ky, kx, ci) order: a block reads 64 consecutive channels
        wdev = self._dev.upload_host(w.reshape(groups, cpo, k).transpose(0, 2, 1))
        geometry = tuple(_i32(v) for v in (h, wd, cin, oh, ow, cout, kh, kw, cpg, cpo, sh, sw,
                                           dh, dw, pt, pl))
        _i32(k * cout, "filter size")

        def conv(x, out=None, add=None):
            n = int(x.shape[0])
            out = plan.output((n, oh, ow, cout), out)
            if out.size == 0:
                return out
            (fn,) = plan.kernels(x.dtype)
            m = n * oh * ow
            plan.launch(fn, (_cdiv(m, 64), _cdiv(cpo, 64), groups),
                        self._int_input(x, (h, wd, cin), "int CONV_2D"), wdev, out,
                        _i32(m, "N*OH*OW"), *geometry, add=add)
            return out

        return conv

    # -- DEPTHWISE_CONV_2D -----------------------------------------------------------------------
    def make_int_depthwise_conv2d(self, input_shape, weights, stride_hw, dilation_hw, pad_tl,
                                  out_hw, in_absmax, in_zero_point=0, requant=None):
        """Exact DEPTHWISE_CONV_2D accumulators [N, OH, OW, C*mult].

        weights: constant [1, KH, KW, C*mult] integer filter minus its zero point; output
        channel c*mult + m reads input channel c. The result is the factory's buffer,
        overwritten by the next call."""
        _, h, wd, cin = (int(v) for v in input_shape)
        w = _int32_weights(weights, "filter")
        _, kh, kw, cout = w.shape
        if cin <= 0 or cout % cin:
            raise ValueError(f"filter has {cout} channels, not a multiple of the input's {cin}")
        mult = cout // cin
        (sh, sw), (dh, dw), (pt, pl), (oh, ow) = stride_hw, dilation_hw, pad_tl, out_hw
        plan = _Plan(self, ("int_depthwise_conv2d",), in_absmax, in_zero_point,
                     _max_l1(w.reshape(kh * kw, cout).T), requant)
        wdev = self._dev.upload_host(w[0])  # [KH, KW, Cout]
        geometry = tuple(_i32(v) for v in (h, wd, cin, oh, ow, cout, mult, kh, kw, sh, sw, dh,
                                           dw, pt, pl))
        _i32(kh * kw * cout, "filter size")

        return self._int_per_output(plan, "int DEPTHWISE_CONV_2D", (h, wd, cin), (oh, ow, cout),
                                wdev, geometry)

    # -- TRANSPOSE_CONV --------------------------------------------------------------------------
    def make_int_transpose_conv2d(self, input_shape, weights, output_shape, stride_hw, pad_tl,
                                  in_absmax, in_zero_point=0, requant=None):
        """Exact TRANSPOSE_CONV accumulators [N, OH, OW, Cout].

        weights: constant [Cout, KH, KW, Cin] integer filter minus its zero point. Input pixel
        (iy, ix) reaches output (iy*sh - pad_top + ky, ...); what lands outside the output is
        dropped, outputs nothing reaches are 0. The result is the factory's buffer,
        overwritten by the next call."""
        _, h, wd, cin = (int(v) for v in input_shape)
        w = _int32_weights(weights, "filter")
        cout, kh, kw, wcin = w.shape
        if wcin != cin:
            raise ValueError(f"filter depth {wcin} does not match the input's {cin} channels")
        _, oh, ow, _ = (int(v) for v in output_shape)
        (sh, sw), (pt, pl) = stride_hw, pad_tl
        if sh <= 0 or sw <= 0:
            raise ValueError(f"strides must be positive, got {(sh, sw)}")
        plan = _Plan(self, ("int_transpose_conv2d",), in_absmax, in_zero_point,
                     _max_l1(w.reshape(cout, -1)), requant)
        wdev = self._dev.upload_host(w.transpose(1, 2, 3, 0))  # [KH, KW, Cin, Cout]
        geometry = tuple(_i32(v) for v in (h, wd, cin, oh, ow, cout, kh, kw, sh, sw, pt, pl))

        return self._int_per_output(plan, "int TRANSPOSE_CONV", (h, wd, cin), (oh, ow, cout), wdev,
                                geometry)

    def _int_per_output(self, plan, what, in_hwc, out_hwc, wdev, geometry):
        """fn(x, out=None) for the kernels with one thread per output element (depthwise,
        transpose conv): (x, w, out, zp, total, *geometry, *output stage)."""
        def run(x, out=None, add=None):
            out = plan.output((int(x.shape[0]),) + out_hwc, out)
            total = out.size
            if total == 0:
                return out
            (fn,) = plan.kernels(x.dtype)
            plan.launch(fn, _grid1d(total), self._int_input(x, in_hwc, what), wdev, out,
                        np.int64(total), *geometry, add=add)
            return out
        return run
