"""Kernel conformance cases shared by the emulated and the real CUDA device.

Each test compares one factory of `gpulite.backends.cuda.CudaKernels` with the CPU backend's
kernel (cpu_fallback/*.py) on shapes whose dimensions all differ and that cross the kernels' tile
boundaries. Kernels that reproduce the CPU's float32 arithmetic exactly (pooling, resizing) are
compared bit for bit; sums of products (convolutions, GEMM) within float32 rounding, since the
GPU adds in another order and fuses multiply-adds.

The tests use three fixtures that the importing module defines: `dev` (a device object with
`empty`, `upload_host`, `host` and a `launches` log), `kernels` (CudaKernels on that device).
tests/test_cuda_emulated.py runs them on the CPU emulator, tests/test_cuda_backend.py on a GPU.
"""

import numpy as np
import pytest

from gpulite.cpu_fallback import conv, conv3d, padding, pooling, resize

RTOL, ATOL = 2e-5, 2e-5


def rand(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def run_pair(dev, cpu_fn, gpu_fn, args, out_shape, clip="none"):
    """Call the CPU and the device kernel on the same inputs; return (cpu out, device out)."""
    ref = np.empty(out_shape, np.float32)
    out = dev.empty(out_shape, np.float32)
    dev_args = [dev.upload_host(a) for a in args]
    extra = () if clip == "none" else (clip,)
    cpu_fn(*args, ref, *extra)
    gpu_fn(*dev_args, out, *extra)
    return ref, dev.host(out)


def geometry(padding_name, in_hw, k_hw, stride, dil):
    out_hw = tuple(padding.out_size(padding_name, i, k, s, d)
                   for i, k, s, d in zip(in_hw, k_hw, stride, dil))
    pads = tuple(padding.pad_before(i, k, s, d, o)
                 for i, k, s, d, o in zip(in_hw, k_hw, stride, dil, out_hw))
    return out_hw, pads


# -- CONV_2D -------------------------------------------------------------------------------------

CONV_CASES = [
    # (N, H, W, Cin, Cout, KH, KW, groups, stride, dilation, padding)
    (2, 9, 11, 6, 70, 3, 3, 1, (1, 1), (1, 1), "SAME"),     # 4x2 tiles, K = 54 (4 k-tiles)
    (1, 13, 10, 3, 8, 3, 3, 1, (2, 2), (1, 1), "SAME"),     # first layer of a CNN
    (2, 7, 9, 8, 12, 3, 2, 2, (1, 2), (2, 1), "VALID"),     # grouped, dilated, strided
    (3, 5, 6, 4, 5, 5, 4, 1, (2, 1), (1, 1), "SAME"),       # kernel larger than stride
    (2, 9, 8, 40, 72, 1, 1, 1, (1, 1), (1, 1), "VALID"),    # 1x1 -> gemm_tiled
    (1, 3, 2, 24, 20, 1, 1, 1, (1, 1), (1, 1), "SAME"),     # 1x1, 6 pixels -> gemm_smallm
    (2, 5, 7, 12, 18, 1, 1, 3, (1, 1), (1, 1), "SAME"),     # grouped 1x1 (batched GEMM)
    (2, 6, 7, 5, 6, 1, 1, 1, (2, 2), (1, 1), "SAME"),       # 1x1 strided: implicit GEMM
    (0, 5, 6, 3, 4, 3, 3, 1, (1, 1), (1, 1), "SAME"),       # empty batch
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:8])))
@pytest.mark.parametrize("const_weights", [True, False], ids=["const_w", "runtime_w"])
def test_conv2d_matches_cpu(dev, kernels, case, const_weights):
    n, h, w, cin, cout, kh, kw, groups, stride, dil, pad = case
    rng = np.random.default_rng(sum(case[:8]))
    x = rand(rng, (n, h, w, cin))
    wt = rand(rng, (cout, kh, kw, cin // groups))
    bias = rand(rng, cout)
    out_hw, pads = geometry(pad, (h, w), (kh, kw), stride, dil)
    args = (x.shape, wt.shape, stride, dil, pads, out_hw)
    kw_ = {"weights": wt} if const_weights else {}
    cpu = conv.make_conv2d(*args, weights=wt)
    gpu = kernels.make_conv2d(*args, **kw_)
    for clip, b in (((0.0, 6.0), bias), (None, None), ((-0.5, np.inf), bias)):
        ref = np.empty((n, *out_hw, cout), np.float32)
        cpu(x, None, b, ref, clip)
        out = dev.empty(ref.shape, np.float32)
        gpu(dev.upload_host(x), None if const_weights else dev.upload_host(wt),
            None if b is None else dev.upload_host(b), out, clip)
        np.testing.assert_allclose(dev.host(out), ref, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", [c for c in CONV_CASES if c[7] == 1][:4],
                         ids=lambda c: "x".join(map(str, c[:8])))
@pytest.mark.parametrize("const_weights", [True, False], ids=["const_w", "runtime_w"])
def test_conv2d_in_order_matches_cpu_bit_for_bit(dev, kernels, case, const_weights):
    from gpulite.cpu_fallback.conv_in_order import make_conv2d_in_order
    n, h, w, cin, cout, kh, kw, _groups, stride, dil, pad = case
    rng = np.random.default_rng(sum(case[:8]) + 1)
    x, wt, bias = rand(rng, (n, h, w, cin)), rand(rng, (cout, kh, kw, cin)), rand(rng, cout)
    out_hw, pads = geometry(pad, (h, w), (kh, kw), stride, dil)
    args = (x.shape, wt.shape, stride, dil, pads, out_hw)
    cpu = make_conv2d_in_order(*args, weights=wt)
    gpu = kernels.make_conv2d_in_order(*args, **({"weights": wt} if const_weights else {}))
    for clip, b in (((0.0, 6.0), bias), (None, None)):
        ref = np.empty((n, *out_hw, cout), np.float32)
        cpu(x, None, b, ref, clip)
        out = dev.empty(ref.shape, np.float32)
        gpu(dev.upload_host(x), None if const_weights else dev.upload_host(wt),
            None if b is None else dev.upload_host(b), out, clip)
        np.testing.assert_array_equal(dev.host(out), ref)
    with pytest.raises(ValueError, match="ungrouped"):
        kernels.make_conv2d_in_order(x.shape, (cout, kh, kw, 1), stride, dil, pads, out_hw)


def test_conv2d_keeps_nan_through_the_clamp(dev, kernels):
    x = np.ones((1, 3, 4, 2), np.float32)
    x[0, 1, 2, 1] = np.nan
    wt = np.ones((3, 1, 1, 2), np.float32)
    gpu = kernels.make_conv2d(x.shape, wt.shape, (1, 1), (1, 1), (0, 0), (3, 4), weights=wt)
    out = dev.empty((1, 3, 4, 3), np.float32)
    gpu(dev.upload_host(x), None, None, out, (0.0, 6.0))
    out = dev.host(out)
    assert np.isnan(out[0, 1, 2]).all() and not np.isnan(out[0, 0]).any()


# -- DEPTHWISE_CONV_2D ---------------------------------------------------------------------------

DW_CASES = [
    # (N, H, W, Cin, mult, KH, KW, stride, dilation, padding)
    (2, 9, 11, 7, 1, 3, 3, (1, 1), (1, 1), "SAME"),
    (1, 10, 7, 3, 2, 3, 5, (2, 2), (1, 1), "SAME"),
    (2, 8, 9, 4, 3, 2, 3, (1, 2), (2, 2), "VALID"),
    (1, 5, 6, 5, 1, 5, 5, (2, 1), (1, 1), "SAME"),
]


@pytest.mark.parametrize("case", DW_CASES, ids=lambda c: "x".join(map(str, c[:7])))
@pytest.mark.parametrize("const_weights", [True, False], ids=["const_w", "runtime_w"])
def test_depthwise_conv2d_matches_cpu(dev, kernels, case, const_weights):
    n, h, w, cin, mult, kh, kw, stride, dil, pad = case
    rng = np.random.default_rng(sum(case[:7]))
    x = rand(rng, (n, h, w, cin))
    wt = rand(rng, (1, kh, kw, cin * mult))
    bias = rand(rng, cin * mult)
    out_hw, pads = geometry(pad, (h, w), (kh, kw), stride, dil)
    args = (x.shape, wt.shape, stride, dil, pads, out_hw, mult)
    cpu = conv.make_depthwise_conv2d(*args, weights=wt)
    gpu = kernels.make_depthwise_conv2d(*args, weights=wt if const_weights else None)
    for b, clip in ((bias, (0.0, 6.0)), (None, None)):
        ref = np.empty((n, *out_hw, cin * mult), np.float32)
        cpu(x, None, b, ref, clip)
        out = dev.empty(ref.shape, np.float32)
        gpu(dev.upload_host(x), None if const_weights else dev.upload_host(wt),
            None if b is None else dev.upload_host(b), out, clip)
        # TFLite's order and roundings (bias, then taps, no FMA): bit for bit
        np.testing.assert_array_equal(dev.host(out), ref)


# -- TRANSPOSE_CONV ------------------------------------------------------------------------------

TCONV_CASES = [
    # (N, H, W, Cin, Cout, KH, KW, stride, padding)
    (2, 4, 5, 6, 7, 3, 3, (2, 2), "SAME"),
    (1, 5, 3, 4, 3, 2, 2, (2, 2), "VALID"),   # stride == kernel: the CPU's tiling path
    (2, 3, 4, 5, 2, 4, 3, (1, 2), "SAME"),
    (1, 3, 3, 2, 3, 5, 5, (3, 2), "VALID"),
]


@pytest.mark.parametrize("case", TCONV_CASES, ids=lambda c: "x".join(map(str, c[:7])))
@pytest.mark.parametrize("const_weights", [True, False], ids=["const_w", "runtime_w"])
def test_transpose_conv2d_matches_cpu(dev, kernels, case, const_weights):
    n, h, w, cin, cout, kh, kw, stride, pad = case
    rng = np.random.default_rng(sum(case[:7]))
    x = rand(rng, (n, h, w, cin))
    wt = rand(rng, (cout, kh, kw, cin))
    bias = rand(rng, cout)
    # the output extent TFLite accepts: a forward conv of it gives the input extent
    if pad == "SAME":
        oh, ow = h * stride[0], w * stride[1]
    else:
        oh, ow = (h - 1) * stride[0] + kh, (w - 1) * stride[1] + kw
    pads = tuple(padding.transpose_conv_pad_before(pad, o, k, s)
                 for o, k, s in zip((oh, ow), (kh, kw), stride))
    args = (x.shape, wt.shape, (n, oh, ow, cout), stride, pads)
    cpu = conv.make_transpose_conv2d(*args, weights=wt)
    gpu = kernels.make_transpose_conv2d(*args, weights=wt if const_weights else None)
    ref = np.empty((n, oh, ow, cout), np.float32)
    cpu(x, None, bias, ref, (-1.0, 1.0))
    out = dev.empty(ref.shape, np.float32)
    gpu(dev.upload_host(x), None if const_weights else dev.upload_host(wt),
        dev.upload_host(bias), out, (-1.0, 1.0))
    np.testing.assert_allclose(dev.host(out), ref, rtol=RTOL, atol=ATOL)


# -- CONV_3D / CONV_3D_TRANSPOSE ----------------------------------------------------------------

@pytest.mark.parametrize("const_weights", [True, False], ids=["const_w", "runtime_w"])
@pytest.mark.parametrize("stride,dil,pad", [((1, 1, 1), (1, 1, 1), "SAME"),
                                             ((2, 1, 2), (1, 2, 1), "VALID")])
def test_conv3d_matches_cpu(dev, kernels, const_weights, stride, dil, pad):
    rng = np.random.default_rng(3)
    x = rand(rng, (2, 5, 6, 7, 3))
    wt = rand(rng, (2, 3, 2, 3, 4))
    bias = rand(rng, 4)
    out_dhw, pads = geometry(pad, (5, 6, 7), (2, 3, 2), stride, dil)
    args = (x.shape, wt.shape, stride, dil, pads, out_dhw)
    cpu = conv3d.make_conv3d(*args, weights=wt)
    gpu = kernels.make_conv3d(*args, weights=wt if const_weights else None)
    ref = np.empty((2, *out_dhw, 4), np.float32)
    cpu(x, None, bias, ref, None)
    out = dev.empty(ref.shape, np.float32)
    gpu(dev.upload_host(x), None if const_weights else dev.upload_host(wt),
        dev.upload_host(bias), out, None)
    np.testing.assert_allclose(dev.host(out), ref, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("const_weights", [True, False], ids=["const_w", "runtime_w"])
@pytest.mark.parametrize("stride,dil", [((2, 2, 1), (1, 1, 1)), ((1, 2, 2), (2, 1, 1))])
def test_conv3d_transpose_matches_cpu(dev, kernels, const_weights, stride, dil):
    rng = np.random.default_rng(4)
    x = rand(rng, (2, 3, 4, 5, 3))
    wt = rand(rng, (2, 3, 2, 4, 3))  # [KD, KH, KW, Cout, Cin]
    bias = rand(rng, 4)
    out_dhw = tuple(i * s for i, s in zip((3, 4, 5), stride))
    _, pads = geometry("SAME", out_dhw, (2, 3, 2), stride, dil)
    args = (x.shape, wt.shape, (2, *out_dhw, 4), stride, dil, pads)
    cpu = conv3d.make_conv3d_transpose(*args, weights=wt)
    gpu = kernels.make_conv3d_transpose(*args, weights=wt if const_weights else None)
    ref = np.empty((2, *out_dhw, 4), np.float32)
    cpu(x, None, bias, ref, (0.0, np.inf))
    out = dev.empty(ref.shape, np.float32)
    gpu(dev.upload_host(x), None if const_weights else dev.upload_host(wt),
        dev.upload_host(bias), out, (0.0, np.inf))
    np.testing.assert_allclose(dev.host(out), ref, rtol=RTOL, atol=ATOL)


# -- pooling -------------------------------------------------------------------------------------

POOL_CASES = [
    # (N, H, W, C, KH, KW, stride, padding)
    (2, 9, 11, 5, 3, 3, (2, 2), "SAME"),
    (1, 7, 6, 3, 2, 3, (1, 2), "VALID"),
    (2, 5, 7, 4, 4, 4, (3, 3), "SAME"),
    (1, 4, 5, 6, 4, 5, (1, 1), "VALID"),   # global: one output per channel
    (3, 6, 5, 2, 7, 7, (1, 1), "SAME"),    # windows larger than the image
]


@pytest.mark.parametrize("kind", ["max", "average", "l2"])
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "x".join(map(str, c[:6])))
def test_pool2d_matches_cpu_bit_for_bit(dev, kernels, kind, case):
    n, h, w, c, kh, kw, stride, pad = case
    rng = np.random.default_rng(sum(case[:6]))
    x = rand(rng, (n, h, w, c))
    if kind == "l2":
        x = np.abs(x)
    out_hw, pads = geometry(pad, (h, w), (kh, kw), stride, (1, 1))
    args = (kind, x.shape, (kh, kw), stride, pads, out_hw)
    cpu = pooling.make_pool2d(*args)
    gpu = kernels.make_pool2d(*args)
    for clip in (None, (0.0, 6.0), (-1.0, 1.0)):
        ref, out = run_pair(dev, cpu, gpu, (x,), (n, *out_hw, c), clip)
        if out_hw == (1, 1) and kind != "max":
            # the CPU's global path sums with NumPy's reduction order
            np.testing.assert_allclose(dev.host(out), ref, rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(out, ref)


def test_max_pool_skips_nan_and_starts_at_lowest(dev, kernels):
    x = np.full((1, 2, 2, 2), -np.inf, np.float32)
    x[0, 0, 0, 1] = np.nan
    x[0, 1, 1, 1] = 2.0
    cpu = pooling.make_pool2d("max", x.shape, (2, 2), (2, 2), (0, 0), (1, 1))
    gpu = kernels.make_pool2d("max", x.shape, (2, 2), (2, 2), (0, 0), (1, 1))
    ref, out = run_pair(dev, cpu, gpu, (x,), (1, 1, 1, 2), None)
    np.testing.assert_array_equal(out, ref)
    assert out[0, 0, 0, 0] == np.finfo(np.float32).min and out[0, 0, 0, 1] == 2.0


# -- resizing ------------------------------------------------------------------------------------

RESIZE_CASES = [
    # (N, H, W, C, OH, OW, align_corners, half_pixel_centers)
    (2, 5, 7, 3, 11, 9, False, False),
    (1, 6, 4, 2, 12, 8, False, False),    # exact 2x: TFLite's 2x2 path
    (2, 6, 4, 3, 12, 8, False, True),     # 2x with half-pixel centres: general path
    (1, 7, 9, 2, 4, 5, True, False),      # downscale, align corners
    (2, 3, 5, 4, 8, 13, False, True),
    (1, 4, 6, 3, 9, 1, True, False),      # a 1-wide output with align corners
]


@pytest.mark.parametrize("case", RESIZE_CASES, ids=lambda c: "x".join(map(str, c)))
def test_resize_bilinear_matches_cpu_bit_for_bit(dev, kernels, case):
    n, h, w, c, oh, ow, align, half = case
    x = rand(np.random.default_rng(oh * ow), (n, h, w, c))
    cpu = resize.make_resize_bilinear(x.shape, (oh, ow), align, half)
    gpu = kernels.make_resize_bilinear(x.shape, (oh, ow), align, half)
    ref, out = run_pair(dev, cpu, gpu, (x,), (n, oh, ow, c))
    np.testing.assert_array_equal(out, ref)
    expect = "resize_bilinear_2x" if (oh, ow) == (2 * h, 2 * w) and not (align or half) \
        else "resize_bilinear"
    assert dev.launches[-1][0] == expect


@pytest.mark.parametrize("case", RESIZE_CASES, ids=lambda c: "x".join(map(str, c)))
def test_resize_nearest_matches_cpu_bit_for_bit(dev, kernels, case):
    n, h, w, c, oh, ow, align, half = case
    x = rand(np.random.default_rng(oh + ow), (n, h, w, c))
    cpu = resize.make_resize_nearest(x.shape, (oh, ow), align, half)
    gpu = kernels.make_resize_nearest(x.shape, (oh, ow), align, half)
    ref, out = run_pair(dev, cpu, gpu, (x,), (n, oh, ow, c))
    np.testing.assert_array_equal(out, ref)


# -- GEMM ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("m,k,n", [(1, 37, 70), (3, 5, 130), (16, 70, 3), (17, 33, 65),
                                   (70, 20, 66), (130, 1, 7), (5, 0, 4)])
def test_gemm_matches_numpy(dev, kernels, m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a, b, bias = rand(rng, (m, k)), rand(rng, (k, n)), rand(rng, n)
    ref = np.clip(a @ b + bias, -1.0, 2.0)
    out = dev.empty((m, n), np.float32)
    kernels.gemm(dev.upload_host(a), dev.upload_host(b), out, dev.upload_host(bias), (-1.0, 2.0))
    np.testing.assert_allclose(dev.host(out), ref, rtol=RTOL, atol=ATOL)
    expect = "gemm_smallm" if m <= 16 else "gemm_tiled"
    assert dev.launches[-1][0] == expect


@pytest.mark.parametrize("a_shape,b_shape", [
    ((2, 3, 5, 7), (2, 3, 7, 4)),
    ((2, 1, 3, 17, 7), (1, 4, 1, 7, 6)),     # broadcast batch dims (rank 5, 3 batch dims)
    ((5, 70, 9), (9, 3)),                    # rank-2 rhs shared by every batch
    ((4, 3), (6, 3, 80)),
])
def test_gemm_batches_broadcast_like_matmul(dev, kernels, a_shape, b_shape):
    rng = np.random.default_rng(len(a_shape) + len(b_shape))
    a, b = rand(rng, a_shape), rand(rng, b_shape)
    ref = np.matmul(a, b)
    out = dev.empty(ref.shape, np.float32)
    kernels.gemm(dev.upload_host(a), dev.upload_host(b), out)
    np.testing.assert_allclose(dev.host(out), ref, rtol=RTOL, atol=ATOL)


def test_gemm_rejects_mismatched_shapes(kernels, dev):
    a, b = dev.empty((3, 4), np.float32), dev.empty((5, 2), np.float32)
    with pytest.raises(ValueError, match="do not agree"):
        kernels.gemm(a, b, dev.empty((3, 2), np.float32))
    with pytest.raises(ValueError, match="fewer batch dims"):
        kernels.gemm(dev.empty((2, 3, 4), np.float32), dev.empty((4, 2), np.float32),
                     dev.empty((3, 2), np.float32))
    with pytest.raises(TypeError, match="float32"):
        kernels.gemm(dev.empty((3, 4), np.float64), dev.empty((4, 2), np.float32),
                     dev.empty((3, 2), np.float32))



# -- a residual ADD fused into the epilogue (gpulite.fusion) -------------------------------------

def _fused_equals_separate(dev, run, out_shape, seed):
    """run(out, residual=None, residual_clip=None) once plain and once with a residual: the
    fused result must be the plain one plus the residual, clamped, bit for bit (the ADD's own
    float32 arithmetic), for several ADD activations."""
    rng = np.random.default_rng(seed)
    plain = dev.empty(out_shape, np.float32)
    run(plain)
    plain = dev.host(plain)
    r = rand(rng, out_shape) * 2
    r.flat[0] = np.nan  # NaN passes the clamp, as in the ADD
    for add_clip in (None, (0.0, 6.0), (-1.0, 1.0)):
        fused = dev.empty(out_shape, np.float32)
        run(fused, residual=dev.upload_host(r), residual_clip=add_clip)
        expect = plain + r
        if add_clip is not None:
            expect = np.minimum(np.maximum(expect, np.float32(add_clip[0])),
                                np.float32(add_clip[1]))
        np.testing.assert_array_equal(dev.host(fused), expect)
        assert np.isnan(dev.host(fused).flat[0])


@pytest.mark.parametrize("case", [c for c in CONV_CASES if c[0]][:7],
                         ids=lambda c: "x".join(map(str, c[:8])))
def test_conv2d_residual_epilogue_is_the_add(dev, kernels, case):
    n, h, w, cin, cout, kh, kw, groups, stride, dil, pad = case
    rng = np.random.default_rng(sum(case[:8]))
    x, wt, bias = rand(rng, (n, h, w, cin)), rand(rng, (cout, kh, kw, cin // groups)), \
        rand(rng, cout)
    out_hw, pads = geometry(pad, (h, w), (kh, kw), stride, dil)
    gpu = kernels.make_conv2d(x.shape, wt.shape, stride, dil, pads, out_hw, weights=wt)
    dx, db = dev.upload_host(x), dev.upload_host(bias)
    _fused_equals_separate(dev, lambda out, **kw: gpu(dx, None, db, out, (0.0, 6.0), **kw),
                           (n, *out_hw, cout), sum(case[:8]))


@pytest.mark.parametrize("m", [3, 70])  # gemm_smallm, gemm_tiled
def test_gemm_residual_epilogue_is_the_add(dev, kernels, m):
    rng = np.random.default_rng(m)
    a, b, bias = rand(rng, (m, 33)), rand(rng, (33, 65)), rand(rng, 65)
    da, dbm, dbias = dev.upload_host(a), dev.upload_host(b), dev.upload_host(bias)
    _fused_equals_separate(dev, lambda out, **kw: kernels.gemm(da, dbm, out, dbias, None, **kw),
                           (m, 65), m)


def test_residual_must_be_laid_out_like_the_output(dev, kernels):
    a, b = dev.empty((3, 4), np.float32), dev.empty((4, 5), np.float32)
    out = dev.empty((3, 5), np.float32)
    for bad in (dev.empty((1, 5), np.float32), dev.empty((3, 5), np.float64),
                dev.empty((5, 3), np.float32).T):
        with pytest.raises(ValueError, match="fused residual"):
            kernels.gemm(a, b, out, residual=bad)

# -- reduced precision: tensor cores on tf32 / fp16 operands (Interpreter(precision=...)) -------

def round_tf32(x):
    """float32 -> tf32 values as cvt.rna.tf32.f32 rounds (nearest, ties away from zero)."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    finite = (u & 0x7F800000) != 0x7F800000
    r = np.where(finite, (u + np.uint32(0x1000)) & np.uint32(0xFFFFE000), u)
    return r.astype(np.uint32).view(np.float32)


def round_operands(x, precision):
    return round_tf32(x) if precision == "tf32" else x.astype(np.float16).astype(np.float32)


def check_reduced_precision(out, rounded, exact, bound):
    """`out` must be the product of the rounded operands summed in float32 (within `bound`),
    and much further from the exact product than that: proof that the operands were rounded."""
    np.testing.assert_array_less(np.abs(out - rounded), bound)
    assert np.abs(out - exact).max() > 5 * np.abs(out - rounded).max()


def test_round_tf32_matches_hand_computed_values():
    half_ulp = 2.0 ** -11  # tf32 keeps 10 mantissa bits
    x = np.array([1.0, 1 + half_ulp, 1 + half_ulp - 2.0 ** -23, -(1 + half_ulp), np.inf,
                  np.finfo(np.float32).max], np.float32)
    np.testing.assert_array_equal(round_tf32(x), np.array(
        [1.0, 1 + 2 * half_ulp, 1.0, -(1 + 2 * half_ulp), np.inf, np.inf], np.float32))
    assert np.isnan(round_tf32(np.float32(np.nan)))


@pytest.mark.parametrize("precision", ["tf32", "fp16"])
@pytest.mark.parametrize("m,k,n", [(70, 33, 65), (130, 16, 8)])
def test_gemm_reduced_precision_rounds_operands(dev, precision, m, k, n):
    from gpulite.backends.cuda import CudaKernels
    rng = np.random.default_rng(m + k + n)
    a, b, bias = rand(rng, (m, k)), rand(rng, (k, n)), rand(rng, n)
    out = dev.empty((m, n), np.float32)
    CudaKernels(dev, precision).gemm(dev.upload_host(a), dev.upload_host(b), out,
                                     dev.upload_host(bias))
    ar, br = (round_operands(v, precision).astype(np.float64) for v in (a, b))
    bound = 1e-5 * (np.abs(ar) @ np.abs(br) + np.abs(bias)) + 1e-6
    check_reduced_precision(dev.host(out), ar @ br + bias, a.astype(np.float64) @ b + bias,
                            bound)
    assert dev.launches[-1][0] == "gemm_tiled"


@pytest.mark.parametrize("precision", ["tf32", "fp16"])
@pytest.mark.parametrize("case", [CONV_CASES[0], CONV_CASES[2], CONV_CASES[4]],
                         ids=["3x3", "grouped_dilated", "1x1"])
def test_conv2d_reduced_precision_rounds_operands(dev, precision, case):
    from gpulite.backends.cuda import CudaKernels
    n, h, w, cin, cout, kh, kw, groups, stride, dil, pad = case
    rng = np.random.default_rng(sum(case[:8]))
    x, wt = rand(rng, (n, h, w, cin)), rand(rng, (cout, kh, kw, cin // groups))
    out_hw, pads = geometry(pad, (h, w), (kh, kw), stride, dil)
    args = (x.shape, wt.shape, stride, dil, pads, out_hw)
    out = dev.empty((n, *out_hw, cout), np.float32)
    CudaKernels(dev, precision).make_conv2d(*args, weights=wt)(dev.upload_host(x), None, None,
                                                                out, None)
    refs = []
    for xv, wv in ((round_operands(x, precision), round_operands(wt, precision)), (x, wt),
                   (np.abs(round_operands(x, precision)), np.abs(round_operands(wt, precision)))):
        ref = np.empty(out.shape, np.float32)  # the CPU kernel on the (rounded) operands
        conv.make_conv2d(*args, weights=wv)(xv, None, None, ref, None)
        refs.append(ref.astype(np.float64))
    rounded, exact, magnitude = refs
    check_reduced_precision(dev.host(out), rounded, exact, 1e-5 * magnitude + 1e-5)

# -- SOFTMAX / LOG_SOFTMAX -----------------------------------------------------------------------

@pytest.mark.parametrize("log,beta", [(False, 1.0), (False, 0.37), (True, 1.0)],
                         ids=["softmax", "beta0.37", "log_softmax"])
@pytest.mark.parametrize("rows,cols", [(5, 1), (13, 7), (1, 1000), (3, 1001), (600, 129),
                                       (2, 4099)], ids=lambda v: str(v))
def test_softmax_matches_cpu(dev, kernels, rows, cols, log, beta):
    """Every kernel (warp per row, block per row, rows past the block's register cache), with
    -inf entries, a huge range, a row of -inf (NaN, as on the CPU); more cases run on the
    emulator in tests/test_cuda_softmax_emulated.py."""
    from gpulite.cpu_fallback import softmax
    rng = np.random.default_rng(rows * cols)
    x = rand(rng, (rows, cols)) * 4
    x[0, ::3] = -np.inf
    x[0, 0] = 2.0
    if rows > 2:
        x[-1] = rng.uniform(-3e38, 3e38, cols)  # x - max overflows to -inf
    if rows > 4:
        x[rows // 2] = -np.inf
    ref = np.empty_like(x)
    with np.errstate(all="ignore"):
        softmax.make_softmax(rows, cols, beta, log)(x, ref)
    out = dev.empty(x.shape, np.float32)
    kernels.make_softmax(rows, cols, beta, log)(dev.upload_host(x), out)
    # a GPU's expf is within 2 ulp, and it flushes denormal results to zero; LOG_SOFTMAX's
    # log(sum) for a sum just over 1 is off by an ulp or two of 1 (another summation order)
    eps = float(np.finfo(np.float32).eps)
    atol = 4 * eps if log else float(np.finfo(np.float32).tiny)
    np.testing.assert_allclose(dev.host(out), ref, rtol=2e-6, atol=atol)
