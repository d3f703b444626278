"""Convolutions on NHWC float32: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV.

Each ``make_*`` factory runs once at prepare time with the static geometry
and returns ``fn(x, w, bias, out, clip=None)``:

* ``x``     input [N, H, W, Cin]; any batch size N (including 0).
* ``w``     the filter in TFLite layout. When the factory was given
            ``weights=`` (a constant filter) they were rearranged once and
            the ``w`` argument is ignored: pass None.
* ``bias``  [Cout] or None.
* ``out``   preallocated C-contiguous [N, OH, OW, Cout], written in place;
            it must not overlap ``x``.
* ``clip``  optional (lo, hi) fused-activation clamp; None/inf = unbounded.

Nothing is validated per call; shapes are the caller's contract.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .activation import clip_inplace
from .padding import effective_filter_size
from .taps import strided_overlap, tap_windows


def _view(a, shape):
    """Reshape that must not copy: a copy would make in-place writes vanish."""
    return a.reshape(shape, copy=False)


def _find_clip_ufunc():
    """NumPy's clip ufunc itself: np.clip adds microseconds of Python checks per call, and the
    ufunc is several times faster than np.maximum/np.minimum on float32."""
    for name in ("numpy._core.umath", "numpy.core.umath"):
        try:
            mod = __import__(name, fromlist=["clip"])
        except ImportError:
            continue
        fn = getattr(mod, "clip", None)
        if isinstance(fn, np.ufunc):
            return fn
    return np.clip


_clip = _find_clip_ufunc()
_NO_CLIP = (None, None)


def _clip_bounds(clip):
    """(lo, hi) float32 bounds for _clip (inf where a side is open), or (None, None)."""
    if clip is None:
        return _NO_CLIP
    lo, hi = clip
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    if math.isinf(lo) and lo < 0 and math.isinf(hi) and hi > 0:
        return _NO_CLIP
    return np.float32(lo), np.float32(hi)


class _ZeroPadded:
    """The input copied into a zero-bordered buffer.

    The buffer is kept between calls (reallocated only when the batch size
    changes), so the border is zeroed once and each call copies the interior.
    Not thread-safe, like a TFLite interpreter.
    """

    def __init__(self, in_hwc, pads):
        (self.h, self.w, self.c), (self.top, self.bottom, self.left, self.right) = in_hwc, pads
        self.needed = any(pads)
        self.buf = None

    def __call__(self, x):
        if not self.needed:
            return x
        n = x.shape[0]
        if self.buf is None or self.buf.shape[0] != n:
            self.buf = np.zeros((n, self.top + self.h + self.bottom,
                                 self.left + self.w + self.right, self.c), np.float32)
        self.buf[:, self.top:self.top + self.h, self.left:self.left + self.w] = x
        return self.buf


# --------------------------------------------------------------------- CONV_2D

def prepare_conv2d_weights(w, groups=1):
    """TFLite filter [Cout, KH, KW, Cin/groups] -> GEMM matrices
    [groups, KH*KW*Cin/groups, Cout/groups] (C-contiguous float32).

    Row order (ky, kx, ci) matches the im2col column order.
    """
    cout = w.shape[0]
    k = w[0].size
    mat = w.reshape(groups, cout // groups, k).transpose(0, 2, 1)
    return np.ascontiguousarray(mat, dtype=np.float32)


def make_conv2d(input_shape, filter_shape, stride_hw, dilation_hw, pad_tl, out_hw,
                weights=None):
    """CONV_2D (grouped when Cin is a multiple of the filter's Cin).

    input_shape [N, H, W, Cin] (N ignored), filter_shape [Cout, KH, KW, Cpg],
    pad_tl = (pad_top, pad_left) as from padding.pad_before; the bottom/right
    pad follows from out_hw. Returns fn(x, w, bias, out, clip=None).

    One GEMM writes the whole output in place. A 1x1 stride-1 convolution
    multiplies the input itself; others gather patches (im2col) into a
    buffer kept between calls. The bias rides in the GEMM as an extra
    column of ones when that is cheaper than a pass over the output, the
    activation clamp is one ufunc pass.
    """
    _, h, wd, cin = input_shape
    cout, kh, kw, cpg = filter_shape
    groups = cin // cpg
    if groups != 1:
        return _make_conv2d_grouped(input_shape, filter_shape, stride_hw, dilation_hw, pad_tl,
                                    out_hw, weights)
    (sh, sw), (dh, dw), (pt, pl), (oh, ow) = stride_hw, dilation_hw, pad_tl, out_hw
    k = kh * kw * cin                          # GEMM inner dimension
    pb = max(0, (oh - 1) * sh + effective_filter_size(kh, dh) - h - pt)
    pr = max(0, (ow - 1) * sw + effective_filter_size(kw, dw) - wd - pl)
    pointwise = (kh, kw, sh, sw, pt, pl, pb, pr) == (1, 1, 1, 1, 0, 0, 0, 0) \
        and (oh, ow) == (h, wd)
    padded = _ZeroPadded((h, wd, cin), (pt, pb, pl, pr))
    # weight matrix [K + 1, Cout]: the last row holds the bias for the ones column
    wext = np.zeros((k + 1, cout), np.float32)
    if weights is not None:
        wext[:k] = prepare_conv2d_weights(weights)[0]
    # patch columns (kh, kw, cin) per output pixel; with few input values per filter row the
    # gather runs along the output width instead (a [K, M] buffer, read transposed by the GEMM)
    transposed = not pointwise and kw * cin < 16 and ow > kw * cin
    # a pointwise GEMM copies its input into the ones-column buffer only when that moves less
    # data than adding the bias over the output afterwards
    fold_pointwise = cin < cout
    epilogue = _Epilogue(oh * ow, cout)
    state = {"n": None, "cols": None}

    def columns(n):
        """The patch buffer with its column of ones, [M, K+1] (a transposed view when gathered
        along the width)."""
        if state["n"] != n:
            m = n * oh * ow
            if transposed:
                buf = np.empty((k + 1, m), np.float32)
                buf[k] = 1
                state["cols"] = buf.T
                state["gather"] = _view(buf[:k], (kh, kw, cin, n, oh, ow))
            else:
                buf = np.empty((m, k + 1), np.float32)
                buf[:, k] = 1
                state["cols"] = buf
                state["gather"] = _view(buf[:, :k], (n, oh, ow, kh, kw, cin))
            state["n"] = n
        return state["cols"]

    def im2col(x, n):
        cols = columns(n)
        p = padded(x)
        s0, s1, s2, s3 = p.strides
        if transposed:
            view = as_strided(p, (kh, kw, cin, n, oh, ow),
                              (s1 * dh, s2 * dw, s3, s0, s1 * sh, s2 * sw), writeable=False)
        else:
            view = as_strided(p, (n, oh, ow, kh, kw, cin),
                              (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)
        np.copyto(state["gather"], view)
        return cols

    def conv2d(x, w, bias, out, clip=None):
        n = x.shape[0]
        if out.size == 0:
            return
        if weights is None:
            wext[:k] = w.reshape(cout, k).T
        m = n * oh * ow
        out2d = _view(out, (m, cout))
        if pointwise and (bias is None or not fold_pointwise):
            np.matmul(x.reshape(m, cin), wext[:k], out=out2d)
            epilogue(out, bias, clip)
            return
        if pointwise:
            cols = columns(n)
            np.copyto(_view(state["gather"], (m, cin)), x.reshape(m, cin))
        else:
            cols = im2col(x, n)
        if bias is None:
            np.matmul(cols[:, :k], wext[:k], out=out2d)
        else:
            wext[k] = bias
            np.matmul(cols, wext, out=out2d)
        epilogue(out, None, clip)

    return conv2d


class _Epilogue:
    """Bias add and activation clamp over a C-contiguous [N, ..., C] output, as few and as long
    ufunc passes as possible: the bias is tiled over `r` pixels (r divides the pixels per
    image) so that each inner loop runs over r*C values instead of C."""

    def __init__(self, pixels, channels, max_run=4096):
        r = 1
        for d in range(1, pixels + 1):
            if pixels % d == 0 and d * channels <= max_run:
                r = d
        self.run = r * channels
        self.row = np.empty(self.run, np.float32)

    def __call__(self, out, bias, clip):
        if bias is not None:
            np.copyto(self.row.reshape(-1, bias.shape[-1]), bias)
            flat = _view(out, (out.size // self.run, self.run))
            np.add(flat, self.row, out=flat)
        lo, hi = _clip_bounds(clip)
        if lo is not None:
            _clip(out, lo, hi, out=out)


def _make_conv2d_grouped(input_shape, filter_shape, stride_hw, dilation_hw, pad_tl, out_hw,
                         weights=None):
    """Grouped CONV_2D: one batched GEMM, each group writing its own channel slice."""
    _, h, wd, cin = input_shape
    cout, kh, kw, cpg = filter_shape
    (sh, sw), (dh, dw), (pt, pl), (oh, ow) = stride_hw, dilation_hw, pad_tl, out_hw
    groups = cin // cpg
    cpo = cout // groups                       # output channels per group
    k = kh * kw * cpg                          # GEMM inner dimension
    pb = max(0, (oh - 1) * sh + effective_filter_size(kh, dh) - h - pt)
    pr = max(0, (ow - 1) * sw + effective_filter_size(kw, dw) - wd - pl)
    pointwise = (kh, kw, sh, sw, pt, pl, pb, pr) == (1, 1, 1, 1, 0, 0, 0, 0) \
        and (oh, ow) == (h, wd)
    padded = _ZeroPadded((h, wd, cin), (pt, pb, pl, pr))
    wmat = None if weights is None else prepare_conv2d_weights(weights, groups)

    def weight_matrix(w):
        if wmat is not None:
            return wmat
        # A free view of the raw filter; BLAS takes the transposed layout as is.
        return w.reshape(groups, cpo, k).transpose(0, 2, 1)

    def im2col(x, n):
        """[groups, N*OH*OW, K] patch matrix (a view when pointwise)."""
        m = n * oh * ow
        if pointwise:
            # 1x1 stride 1: the input already is the patch matrix.
            return x.reshape(m, groups, cpg).transpose(1, 0, 2)
        p = padded(x)
        s0, s1, s2, s3 = p.strides
        patches = as_strided(
            p, (n, oh, ow, kh, kw, groups, cpg),
            (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3 * cpg, s3), writeable=False)
        # One copy gathers every patch, already in per-group GEMM order.
        return np.ascontiguousarray(patches.transpose(5, 0, 1, 2, 3, 4, 6)).reshape(groups, m, k)

    def conv2d(x, w, bias, out, clip=None):
        n = x.shape[0]
        cols = im2col(x, n)
        mat = weight_matrix(w)
        # Each group's GEMM writes its own channel slice of `out`.
        np.matmul(cols, mat, out=_view(out, (n * oh * ow, groups, cpo)).transpose(1, 0, 2))
        if bias is not None:
            np.add(out, bias, out=out)
        clip_inplace(out, clip)

    return conv2d


# ------------------------------------------------------------ DEPTHWISE_CONV_2D

def prepare_depthwise_weights(w):
    """TFLite filter [1, KH, KW, Cin*mult] -> per-tap rows [KH, KW, Cin*mult]."""
    return np.ascontiguousarray(w[0], dtype=np.float32)


# Output elements per row block of the tap loop: a block, its scratch and the input rows it reads
# stay in the L2 cache while the taps accumulate into it.
_DW_BLOCK = 1 << 16
# Phase buffers larger than this multiple of the input (a huge filter or padding) fall back to
# the clipped-tap loop, which needs no padded copy.
_DW_MAX_PHASE_GROWTH = 4


def make_depthwise_conv2d(input_shape, filter_shape, stride_hw, dilation_hw, pad_tl, out_hw,
                          depth_multiplier=None, weights=None):
    """DEPTHWISE_CONV_2D: output channel c*mult + m reads input channel c.

    mult is filter channels / input channels; the ``depth_multiplier``
    option is ignored, as current LiteRT does (some models store 0 or a
    stale value there).

    The input is copied once into zero-bordered *phase* buffers (one per
    stride residue a tap needs, ``phase[a, b][i, j] = padded[a + i*sh, b + j*sw]``),
    so that every tap reads a plain row window whose (width, channel) axes
    are one contiguous run; the filter rows are tiled to that run once. The
    Python loop then runs over row blocks (sized for the cache) and, inside,
    over the KH*KW taps, each a multiply and an add of whole rows, in
    TFLite's (ky, kx) order. Returns fn(x, w, bias, out, clip=None).
    """
    plan = _DepthwisePlan.build(input_shape, filter_shape, stride_hw, dilation_hw, pad_tl,
                                out_hw)
    geometry = (input_shape, filter_shape, stride_hw, dilation_hw, pad_tl, out_hw)
    # padding read as zeros adds 0 * w: only a non-finite weight (0 * inf = NaN) tells it
    # apart from TFLite's skipping of the padding, so such filters take the clipped loop
    if plan is None or (weights is not None and not np.isfinite(weights).all()):
        return _make_depthwise_clipped(*geometry, weights)
    fast = plan.kernel(weights)
    if weights is not None:
        return fast
    clipped = _make_depthwise_clipped(*geometry, None)

    def depthwise_conv2d(x, w, bias, out, clip=None):
        (fast if np.isfinite(w).all() else clipped)(x, w, bias, out, clip)
    return depthwise_conv2d


class _DepthwisePlan:
    """The static geometry of one depthwise convolution in phase form."""

    @classmethod
    def build(cls, input_shape, filter_shape, stride_hw, dilation_hw, pad_tl, out_hw):
        _, h, wd, cin = input_shape
        _, kh, kw, cout = filter_shape
        (sh, sw), (dh, dw), (pt, pl), (oh, ow) = stride_hw, dilation_hw, pad_tl, out_hw
        # only taps that touch the input contribute; the others read padding
        taps = [(ky, kx) for ky, kx, *_ in
                tap_windows(out_hw, (h, wd), stride_hw, dilation_hw, pad_tl, (kh, kw))]
        taps.sort()
        p = cls()
        p.h, p.w, p.cin, p.cout, p.mult = h, wd, cin, cout, cout // cin
        p.oh, p.ow, p.kh, p.kw = oh, ow, kh, kw
        # tap (ky, kx) reads phase ((ky*dh) % sh, (kx*dw) % sw) at offset (ky*dh // sh, kx*dw // sw)
        p.taps = [(ky, kx, (ky * dh) % sh, (kx * dw) % sw, (ky * dh) // sh, (kx * dw) // sw)
                  for ky, kx in taps]
        if not p.taps or oh <= 0 or ow <= 0:
            p.phases, p.ph, p.pw, p.direct = {}, 0, 0, False
            return p
        p.ph = max(t[4] for t in p.taps) + oh
        p.pw = max(t[5] for t in p.taps) + ow
        residues = sorted({(t[2], t[3]) for t in p.taps})
        if len(residues) * p.ph * p.pw > _DW_MAX_PHASE_GROWTH * max(h * wd, 1) + (1 << 16):
            return None
        # phase (a, b) row i holds input row a + i*sh - pt: the part inside the input
        p.phases = {}
        for a, b in residues:
            rows = strided_overlap(p.ph, sh, a - pt, h)
            cols = strided_overlap(p.pw, sw, b - pl, wd)
            p.phases[a, b] = None if rows is None or cols is None else (rows, cols)
        # the input itself is the one phase: no copy
        p.direct = (p.mult == 1 and residues == [(0, 0)] and (p.ph, p.pw) == (h, wd)
                    and p.phases[0, 0] == ((slice(0, h), slice(0, h, 1)),
                                           (slice(0, wd), slice(0, wd, 1))))
        return p

    def kernel(self, weights):
        p = self
        ntaps, oh, ow, cout = len(p.taps), p.oh, p.ow, p.cout
        run_len = ow * cout
        rows_per_block = max(1, min(oh, _DW_BLOCK // max(run_len, 1)))
        blocks = [(y, min(oh, y + rows_per_block)) for y in range(0, oh, rows_per_block)]
        # filter rows tiled along the output width: [taps, OW, C]
        wrows = np.empty((ntaps, ow, cout), np.float32)
        if weights is not None:
            _tile_taps(wrows, np.asarray(weights, np.float32)[0], p.taps)
        brow = np.empty((ow, cout), np.float32)
        state = {"n": None, "phases": None, "x": None, "out": None, "copies": None,
                 "work": None}

        def phase_buffers(n):
            if state["n"] != n:
                state["n"] = n
                state["phases"] = {k: np.zeros((n, p.ph, p.pw, cout), np.float32)
                                   for k in p.phases}
                state["x"] = state["out"] = None
            return state["phases"]

        def bind(x, out):
            """Views for this (input, output) pair, kept while the arrays repeat."""
            n = x.shape[0]
            if p.direct:
                phases = {(0, 0): x}
            else:
                phases = phase_buffers(n)
            copies = []
            if not p.direct:
                for key, geo in p.phases.items():
                    if geo is None:
                        continue
                    (ri, rx), (ci, cx) = geo
                    dst, src = phases[key][:, ri, ci], x[:, rx, cx]
                    if p.mult > 1:
                        # channel c of the input feeds output channels c*mult .. c*mult+mult-1
                        dst = dst.reshape(dst.shape[:3] + (p.cin, p.mult))
                        src = src[..., None]
                    copies.append((dst, src))
            scratch = np.empty((n, rows_per_block, ow, cout), np.float32)
            work = []
            for y0, y1 in blocks:
                srcs = [(phases[a, b][:, qy + y0:qy + y1, qx:qx + ow], wrows[t])
                        for t, (_ky, _kx, a, b, qy, qx) in enumerate(p.taps)]
                work.append((out[:, y0:y1], scratch[:, :y1 - y0], srcs))
            state.update(x=x, out=out, copies=copies, work=work)

        def depthwise_conv2d(x, w, bias, out, clip=None):
            if out.size == 0:
                return
            if weights is None:
                _tile_taps(wrows, w[0], p.taps)
            if x is not state["x"] or out is not state["out"]:
                bind(x, out)
            for dst, src in state["copies"]:
                np.copyto(dst, src)
            lo, hi = _clip_bounds(clip)
            if bias is not None:
                np.copyto(brow, bias)
            for dst, tmp, srcs in state["work"]:
                # TFLite's order: the bias first, then the taps in (ky, kx) order
                if bias is not None and srcs:
                    src, wr = srcs[0]
                    np.multiply(src, wr, out=tmp)
                    np.add(brow, tmp, out=dst)  # bias + tap 0 in one pass
                    rest = srcs[1:]
                elif bias is not None:
                    np.copyto(dst, brow)
                    rest = ()
                elif srcs:
                    src, wr = srcs[0]
                    np.multiply(src, wr, out=dst)
                    rest = srcs[1:]
                else:
                    dst.fill(0)
                    rest = ()
                for src, wr in rest:
                    np.multiply(src, wr, out=tmp)
                    np.add(dst, tmp, out=dst)
                if lo is not None:
                    _clip(dst, lo, hi, out=dst)

        return depthwise_conv2d


def _tile_taps(wrows, w, taps):
    """wrows[t, :, :] = w[ky, kx] for each tap t (broadcast along the output width)."""
    for t, (ky, kx, *_r) in enumerate(taps):
        np.copyto(wrows[t], w[ky, kx])


def _make_depthwise_clipped(input_shape, filter_shape, stride_hw, dilation_hw, pad_tl, out_hw,
                            weights=None):
    """The general form (huge filters or padding): per tap, a strided multiply-accumulate
    restricted to the outputs whose tap lies inside the input (padding contributes nothing)."""
    _, h, wd, cin = input_shape
    _, kh, kw, cout = filter_shape
    mult = cout // cin
    # TFLite's order: the bias, then the taps in (ky, kx) order
    taps = sorted(tap_windows(out_hw, (h, wd), stride_hw, dilation_hw, pad_tl, (kh, kw)))
    wtaps = None if weights is None else prepare_depthwise_weights(weights)
    scratch = {}

    def depthwise_conv2d(x, w, bias, out, clip=None):
        wt = wtaps if wtaps is not None else w[0]
        if mult > 1:
            # Repeat each input channel so channel c*mult+m lines up with the
            # filter; the taps then are plain elementwise products.
            x = np.repeat(x, mult, axis=3)
        tmp = scratch.get(out.shape)
        if tmp is None:
            scratch.clear()
            tmp = scratch[out.shape] = np.empty(out.shape, np.float32)
        if bias is not None:
            np.copyto(out, bias)
        else:
            out.fill(0)
        for ky, kx, (oy, ox), (iy, ix), _full in taps:
            t = tmp[:, oy, ox]
            np.multiply(x[:, iy, ix], wt[ky, kx], out=t)
            dst = out[:, oy, ox]
            np.add(dst, t, out=dst)
        clip_inplace(out, clip)

    return depthwise_conv2d


# ------------------------------------------------------------- TRANSPOSE_CONV

def prepare_transpose_conv_weights(w):
    """TFLite filter [Cout, KH, KW, Cin] -> GEMM matrix [Cin, KH*KW*Cout]."""
    cout, kh, kw, cin = w.shape
    return np.ascontiguousarray(w.transpose(3, 1, 2, 0).reshape(cin, kh * kw * cout),
                                dtype=np.float32)


def transpose_conv_taps(in_hw, out_hw, kernel_hw, stride_hw, pad_tl):
    """(taps, tiles) for col2im. Roles are swapped against a forward conv: each tap lists the
    *input* positions reaching the output and where they land, as (ky, kx, (in_y, in_x),
    (out_y, out_x), full); taps covering the whole output come first. `tiles`: stride ==
    kernel, no padding, no crop, so the taps tile the output exactly."""
    (h, wd), (oh, ow), (kh, kw), (sh, sw), (pt, pl) = in_hw, out_hw, kernel_hw, stride_hw, pad_tl
    taps = []
    for ky in range(kh):
        r = strided_overlap(h, sh, ky - pt, oh)
        for kx in range(kw):
            c = strided_overlap(wd, sw, kx - pl, ow)
            if r is not None and c is not None:
                full = r[1] == slice(0, oh) and c[1] == slice(0, ow)
                taps.append((ky, kx, (r[0], c[0]), (r[1], c[1]), full))
    taps.sort(key=lambda t: not t[4])
    tiles = (sh, sw, pt, pl, oh, ow) == (kh, kw, 0, 0, h * kh, wd * kw)
    return taps, tiles


def col2im(cols, out, taps, tiles):
    """Add each tap's GEMM columns cols[n, h, w, kh, kw, c] into out[n, oh, ow, c] (what falls
    outside the output is dropped; outputs no tap reaches are 0). `tiles`: the stride equals the
    kernel and nothing is cropped, so the taps tile the output and one copy does it all."""
    n, h, wd, kh, kw, cout = cols.shape
    if tiles:
        np.copyto(_view(out, (n, h, kh, wd, kw, cout)), cols.transpose(0, 1, 3, 2, 4, 5))
        return
    first = True
    for ky, kx, (iy, ix), (oy, ox), full in taps:
        src = cols[:, iy, ix, ky, kx]
        if first and full:
            np.copyto(out, src)
        else:
            if first:
                out.fill(0)
            dst = out[:, oy, ox]
            np.add(dst, src, out=dst)
        first = False
    if first:
        out.fill(0)


def make_transpose_conv2d(input_shape, filter_shape, output_shape, stride_hw, pad_tl,
                          weights=None):
    """TRANSPOSE_CONV: input pixel (iy, ix) scatters w[:, ky, kx, :] @ x into
    out[iy*sh - pad_top + ky, ix*sw - pad_left + kx]; what falls outside the
    output is dropped. pad_tl as from padding.transpose_conv_pad_before.

    One GEMM makes every tap's contribution, then col2im adds them in with
    one strided slice per tap. Returns fn(x, w, bias, out, clip=None).
    """
    _, h, wd, cin = input_shape
    cout, kh, kw, _ = filter_shape
    _, oh, ow, _ = output_shape
    (sh, sw), (pt, pl) = stride_hw, pad_tl
    taps, tiles = transpose_conv_taps((h, wd), (oh, ow), (kh, kw), (sh, sw), (pt, pl))
    wmat = None if weights is None else prepare_transpose_conv_weights(weights)

    def transpose_conv2d(x, w, bias, out, clip=None):
        n = x.shape[0]
        mat = wmat if wmat is not None else prepare_transpose_conv_weights(w)
        cols = (x.reshape(n * h * wd, cin) @ mat).reshape(n, h, wd, kh, kw, cout)
        col2im(cols, out, taps, tiles)
        if bias is not None:
            np.add(out, bias, out=out)
        clip_inplace(out, clip)

    return transpose_conv2d
