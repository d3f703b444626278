"""Conformance cases for the exact-integer accumulator kernels (gpulite/backends/cuda_int.py),
shared by the emulated and the real CUDA device.

Each test builds one of `CudaKernels`' `make_int_*` factories and the CPU one of
cpu_fallback/int_gemm.py from the same arguments and asserts the int64 accumulators are EQUAL:
integer sums are exact in any order, so there is no tolerance. Inputs are int8 and uint8 with
nonzero zero points (uint8 filters minus a nonzero filter zero point) and int16 x int8 ("16x8",
plus int16 x int16 for FULLY_CONNECTED), on shapes whose dimensions all differ.

The importing module defines the fixtures `dev` (a device with `empty`, `upload_host`, `host`)
and `kernels` (CudaKernels on it): tests/test_cuda_int_emulated.py on the CPU emulator,
tests/test_cuda_int_gpu.py on a GPU.
"""

import numpy as np
import pytest

from gpulite.cpu_fallback import int_gemm, padding

from cuda_cases import geometry  # the float cases' output size and padding

# (input dtype, input zero point, filter dtype, filter zero point)
FORMS = {
    "int8": (np.int8, -7, np.int8, 0),
    "uint8": (np.uint8, 131, np.uint8, 119),
    "int16x8": (np.int16, 0, np.int8, 0),
}
FORM_IDS = list(FORMS)


def int_values(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(int(info.min), int(info.max) + 1, size=shape).astype(dtype)


def centred_filter(rng, shape, dtype, zero_point):
    """Filter values minus their zero point, int64 (what the ops hand the factories)."""
    w = int_values(rng, shape, dtype).astype(np.int64)
    if dtype == np.int8:
        w = np.maximum(w, -127)  # TFLite's int8 filters are symmetric
    return w - zero_point


def absmax(dtype, zero_point):
    return int_gemm.input_absmax(dtype, zero_point)


def check_equal(dev, got, ref):
    got = dev.host(got)
    assert got.dtype == np.int64, got.dtype
    assert got.shape == ref.shape, (got.shape, ref.shape)
    np.testing.assert_array_equal(got, ref)


# -- FULLY_CONNECTED -----------------------------------------------------------------------------

MATMUL_CASES = [
    # (M, K, N)
    (1, 37, 70),     # int_gemm_smallm, 3 column blocks
    (3, 5, 130),     # smallm, K below the 8 slices
    (16, 70, 3),     # smallm at its limit: 4 row blocks
    (17, 33, 65),    # int_conv2d_igemm as a 1x1 convolution: 2x2 tiles
    (70, 19, 9),
    (0, 5, 3),       # no rows
]


@pytest.mark.parametrize("form", FORM_IDS)
@pytest.mark.parametrize("case", MATMUL_CASES, ids=lambda c: "x".join(map(str, c)))
def test_int_matmul_matches_cpu(dev, kernels, case, form):
    m, k, n = case
    xdt, xzp, wdt, wzp = FORMS[form]
    rng = np.random.default_rng(sum(case) + len(form))
    x = int_values(rng, (m, k), xdt)
    w_nk = centred_filter(rng, (n, k), wdt, wzp)
    args = (w_nk.T, absmax(xdt, xzp), xzp)  # the ops pass the transposed [units, depth]
    ref = int_gemm.make_int_matmul(*args)(x)
    check_equal(dev, kernels.make_int_matmul(*args)(dev.upload_host(x)), ref)


@pytest.mark.parametrize("m", [2, 21])
def test_int_matmul_int16_by_int16(dev, kernels, m):
    # FULLY_CONNECTED 16x16: products up to 2^30, 64-bit accumulators
    rng = np.random.default_rng(m)
    x = int_values(rng, (m, 23), np.int16)
    w = int_values(rng, (23, 11), np.int16).astype(np.int64)
    args = (w, absmax(np.int16, 0), 0)
    ref = int_gemm.make_int_matmul(*args)(x)
    check_equal(dev, kernels.make_int_matmul(*args)(dev.upload_host(x)), ref)


def test_int_matmul_takes_a_strided_input(dev, kernels):
    rng = np.random.default_rng(5)
    wide = int_values(rng, (20, 31), np.int8)
    w = centred_filter(rng, (13, 6), np.int8, 0)
    args = (w, absmax(np.int8, 3), 3)
    ref = int_gemm.make_int_matmul(*args)(wide[:, 4:17])
    check_equal(dev, kernels.make_int_matmul(*args)(dev.upload_host(wide)[:, 4:17]), ref)


# -- CONV_2D -------------------------------------------------------------------------------------

CONV_CASES = [
    # (N, H, W, Cin, Cout, KH, KW, groups, stride, dilation, padding)
    (2, 9, 11, 6, 70, 3, 3, 1, (1, 1), (1, 1), "SAME"),     # 4x2 tiles, K = 54 (4 k-tiles)
    (1, 13, 10, 3, 8, 3, 3, 1, (2, 2), (1, 1), "SAME"),     # first layer of a CNN
    (2, 7, 9, 8, 12, 3, 2, 2, (1, 2), (2, 1), "VALID"),     # grouped, dilated, strided
    (3, 5, 6, 4, 5, 5, 4, 1, (2, 1), (1, 1), "SAME"),       # kernel larger than the stride
    (2, 5, 7, 12, 18, 1, 1, 3, (1, 1), (1, 1), "SAME"),     # grouped 1x1
    (2, 6, 7, 5, 6, 1, 1, 1, (2, 2), (1, 1), "SAME"),       # 1x1 strided
    (1, 4, 3, 9, 2, 2, 3, 1, (1, 1), (3, 2), "SAME"),       # dilated, more padding than image
    (0, 5, 6, 3, 4, 3, 3, 1, (1, 1), (1, 1), "SAME"),       # empty batch
]


@pytest.mark.parametrize("form", FORM_IDS)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:8])))
def test_int_conv2d_matches_cpu(dev, kernels, case, form):
    n, h, w, cin, cout, kh, kw, groups, stride, dil, pad = case
    xdt, xzp, wdt, wzp = FORMS[form]
    rng = np.random.default_rng(sum(case[:8]) + len(form))
    x = int_values(rng, (n, h, w, cin), xdt)
    wt = centred_filter(rng, (cout, kh, kw, cin // groups), wdt, wzp)
    out_hw, pads = geometry(pad, (h, w), (kh, kw), stride, dil)
    args = (x.shape, wt, stride, dil, pads, out_hw, absmax(xdt, xzp), xzp)
    ref = int_gemm.make_int_conv2d(*args)(x)
    check_equal(dev, kernels.make_int_conv2d(*args)(dev.upload_host(x)), ref)


# -- DEPTHWISE_CONV_2D ---------------------------------------------------------------------------

DW_CASES = [
    # (N, H, W, Cin, mult, KH, KW, stride, dilation, padding)
    (2, 9, 11, 7, 1, 3, 3, (1, 1), (1, 1), "SAME"),
    (1, 10, 7, 3, 2, 3, 5, (2, 2), (1, 1), "SAME"),
    (2, 8, 9, 4, 3, 2, 3, (1, 2), (2, 2), "VALID"),
    (3, 5, 6, 5, 1, 5, 4, (2, 1), (1, 2), "SAME"),
    (0, 4, 5, 2, 2, 3, 3, (1, 1), (1, 1), "SAME"),
]


@pytest.mark.parametrize("form", FORM_IDS)
@pytest.mark.parametrize("case", DW_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_int_depthwise_conv2d_matches_cpu(dev, kernels, case, form):
    n, h, w, cin, mult, kh, kw, stride, dil, pad = case
    xdt, xzp, wdt, wzp = FORMS[form]
    rng = np.random.default_rng(sum(case[:7]) + len(form))
    x = int_values(rng, (n, h, w, cin), xdt)
    wt = centred_filter(rng, (1, kh, kw, cin * mult), wdt, wzp)
    out_hw, pads = geometry(pad, (h, w), (kh, kw), stride, dil)
    args = (x.shape, wt, stride, dil, pads, out_hw, absmax(xdt, xzp), xzp)
    ref = int_gemm.make_int_depthwise_conv2d(*args)(x)
    check_equal(dev, kernels.make_int_depthwise_conv2d(*args)(dev.upload_host(x)), ref)


# -- TRANSPOSE_CONV ------------------------------------------------------------------------------

TCONV_CASES = [
    # (N, H, W, Cin, Cout, KH, KW, stride, padding)
    (2, 4, 5, 6, 7, 3, 3, (2, 2), "SAME"),
    (1, 5, 3, 4, 3, 2, 2, (2, 2), "VALID"),   # stride == kernel: the CPU's tiling path
    (2, 3, 4, 5, 2, 4, 3, (1, 2), "SAME"),
    (1, 3, 2, 2, 3, 5, 5, (3, 2), "VALID"),
    (3, 2, 3, 3, 4, 1, 2, (3, 1), "SAME"),    # stride > kernel: outputs no tap reaches
]


@pytest.mark.parametrize("form", FORM_IDS)
@pytest.mark.parametrize("case", TCONV_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_int_transpose_conv2d_matches_cpu(dev, kernels, case, form):
    n, h, w, cin, cout, kh, kw, stride, pad = case
    xdt, xzp, wdt, wzp = FORMS[form]
    rng = np.random.default_rng(sum(case[:7]) + len(form))
    x = int_values(rng, (n, h, w, cin), xdt)
    wt = centred_filter(rng, (cout, kh, kw, cin), wdt, wzp)
    if pad == "SAME":
        oh, ow = h * stride[0], w * stride[1]
    else:
        oh, ow = (h - 1) * stride[0] + kh, (w - 1) * stride[1] + kw
    pads = tuple(padding.transpose_conv_pad_before(pad, o, k, s)
                 for o, k, s in zip((oh, ow), (kh, kw), stride))
    args = (x.shape, wt, (n, oh, ow, cout), stride, pads, absmax(xdt, xzp), xzp)
    ref = int_gemm.make_int_transpose_conv2d(*args)(x)
    check_equal(dev, kernels.make_int_transpose_conv2d(*args)(dev.upload_host(x)), ref)


# -- the buffer contract -------------------------------------------------------------------------

def test_int_conv2d_reuses_its_output_buffer(dev, kernels):
    rng = np.random.default_rng(11)
    wt = centred_filter(rng, (5, 3, 3, 4), np.int8, 0)
    args = ((2, 6, 7, 4), wt, (1, 1), (1, 1), (1, 1), (6, 7), absmax(np.int8, 9), 9)
    cpu, gpu = int_gemm.make_int_conv2d(*args), kernels.make_int_conv2d(*args)
    x1, x2 = (int_values(rng, (2, 6, 7, 4), np.int8) for _ in range(2))
    a1 = gpu(dev.upload_host(x1))
    check_equal(dev, a1, cpu(x1))
    a2 = gpu(dev.upload_host(x2))
    assert a2 is a1  # the same buffer, overwritten
    check_equal(dev, a2, cpu(x2))
