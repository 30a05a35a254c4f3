"""Photos as they come: uint8/uint16 and interleaved (H, W, C) images against cv2, box filters by running sums.

- cv2.filter2D, cv2.GaussianBlur, cv2.blur/boxFilter and cv2.Sobel: uint8 results within 1, float32 within
  the suite's tolerance, on grey and colour images, for every border cv2's filters share with fastconv;
- running-sum box filters are exact on integer images (int64 oracle) and within the float bound otherwise;
- interleaved colour equals filtering each channel as a plane, on every method; NaN lands where the taps put it;
- the vector layer's widening loads and saturating stores, their assembly, and the AVX2 and portable targets.
"""

from __future__ import annotations

import re
import sys

import cv2
import numpy as np
import pytest
from conftest import asm_blocks
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import box_sum, cv2_border, filter2d, saturated
from test_simd import HASWELL_FEATURES, PORTABLE_FEATURES, _run

import fastconv as fc
from fastconv._backends.cpu import photo, simd

CV2_BORDERS = ["reflect", "symm", "nearest", "fill"]
RTOL32 = 1e-5


def _image(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return (rng.random(shape) * 255).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)


def _axis(image):
    return -1 if image.ndim == 3 else None


def _close32(got, want, scale):
    """float32 within the suite's tolerance, relative to the largest term a window sums."""
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL32, atol=RTOL32 * scale)


def _within_one(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.abs(got.astype(np.int64) - want.astype(np.int64)).max() <= 1


SHAPES = [(37, 53), (29, 41, 3), (24, 35, 4)]


# --- cv2.filter2D ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("boundary", CV2_BORDERS)
@pytest.mark.parametrize("ksize", [(3, 3), (5, 4), (1, 7)])
def test_filter2d_matches_cv2_on_uint8(shape, boundary, ksize):
    image = _image(shape, np.uint8)
    kernel = np.random.default_rng(1).standard_normal(ksize).astype(np.float32)
    border = cv2_border(boundary)
    got = fc.filter2d(image, kernel, boundary, channel_axis=_axis(image), dtype=np.uint8)
    _within_one(got, cv2.filter2D(image, -1, kernel, borderType=border))
    got = fc.filter2d(image, kernel, boundary, channel_axis=_axis(image))  # uint8 gives float32: CV_32F
    _close32(got, cv2.filter2D(image, cv2.CV_32F, kernel, borderType=border), 255 * np.abs(kernel).sum())


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
@pytest.mark.parametrize("shape", SHAPES[:2])
def test_filter2d_matches_cv2_on_uint16_and_float32(dtype, shape):
    image = _image(shape, dtype)
    kernel = np.random.default_rng(2).random((3, 5)).astype(np.float32)
    peak = float(image.max()) * np.abs(kernel).sum()
    _close32(fc.filter2d(image, kernel, channel_axis=_axis(image), dtype=np.float32), cv2.filter2D(image, cv2.CV_32F, kernel), peak)
    if dtype == np.uint16:
        _within_one(fc.filter2d(image, kernel, channel_axis=_axis(image), dtype=np.uint16), cv2.filter2D(image, -1, kernel))


# --- cv2.GaussianBlur ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES[:2])
@pytest.mark.parametrize("size, sigma", [(3, 0.8), (9, 2.0), (17, 2.0), (11, 5.0)])
@pytest.mark.parametrize("boundary", ["reflect", "symm", "nearest"])
def test_gaussian_blur_matches_cv2(shape, size, sigma, boundary):
    image = _image(shape, np.uint8)
    border = cv2_border(boundary)
    got = fc.gaussian_blur(image, sigma, size, boundary, channel_axis=_axis(image), dtype=np.uint8)
    _within_one(got, cv2.GaussianBlur(image, (size, size), sigma, borderType=border))  # cv2's uint8 path is fixed-point
    f32 = image.astype(np.float32)
    got = fc.gaussian_blur(f32, sigma, size, boundary, channel_axis=_axis(image))
    _close32(got, cv2.GaussianBlur(f32, (size, size), sigma, borderType=border), 255.0)


# --- cv2.blur / cv2.boxFilter ----------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", [(3, 3), (5, 5), (15, 15), (3, 7), (20, 20)])
@pytest.mark.parametrize("boundary", CV2_BORDERS)
def test_box_filter_matches_cv2_blur(shape, size, boundary):
    image = _image(shape, np.uint8)
    ksize = size[::-1]  # cv2's ksize is (width, height)
    border = cv2_border(boundary)
    got = fc.box_filter(image, size, boundary=boundary, channel_axis=_axis(image), dtype=np.uint8)
    _within_one(got, cv2.blur(image, ksize, borderType=border))
    want = cv2.boxFilter(image, cv2.CV_32F, ksize, normalize=False, borderType=border)
    got = fc.box_filter(image, size, normalize=False, boundary=boundary, channel_axis=_axis(image))
    np.testing.assert_array_equal(got, want)  # integer sums below 2**24: exact in float32
    f32 = image.astype(np.float32) / 255
    got = fc.box_filter(f32, size, boundary=boundary, channel_axis=_axis(image))
    _close32(got, cv2.blur(f32, ksize, borderType=border), 1.0)


# --- cv2.Sobel ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES[:2])
@pytest.mark.parametrize("boundary", CV2_BORDERS)
def test_sobel_matches_cv2(shape, boundary):
    image = _image(shape, np.uint8)
    axis, border = _axis(image), cv2_border(boundary)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, borderType=border)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, borderType=border)
    _close32(fc.filter2d(image, "sobel_x", boundary, channel_axis=axis), gx, 4 * 255)
    _close32(fc.filter2d(image, "sobel_y", boundary, channel_axis=axis), gy, 4 * 255)
    np.testing.assert_array_equal(fc.filter2d(image, "sobel_x", boundary, channel_axis=axis, dtype=np.uint8), cv2.Sobel(image, cv2.CV_8U, 1, 0, borderType=border))
    # uint8 in: integer passes in 16-bit lanes, exact, so cv2's results to the bit
    np.testing.assert_array_equal(fc.filter2d(image, "sobel_x", boundary, channel_axis=axis, dtype=np.float32), gx)
    np.testing.assert_array_equal(fc.filter2d(image, "sobel_y", boundary, channel_axis=axis, dtype=np.int16), cv2.Sobel(image, cv2.CV_16S, 0, 1, borderType=border))
    scharr = cv2.Scharr(image, cv2.CV_32F, 1, 0, borderType=border)
    np.testing.assert_array_equal(fc.filter2d(image, "scharr_x", boundary, channel_axis=axis, dtype=np.float32), scharr)
    _close32(fc.sobel(image, boundary, channel_axis=axis), np.hypot(gx, gy), 8 * 255)
    _within_one(fc.sobel(image, boundary, channel_axis=axis, dtype=np.uint8), saturated(np.hypot(gx, gy), np.uint8))


# --- running sums: exact on integers, bounded on floats ---------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    c=st.sampled_from([None, 1, 3]),
    kh=st.integers(1, 24),
    kw=st.integers(1, 24),
    dtype=st.sampled_from([np.uint8, np.uint16, np.int16]),
    boundary=st.sampled_from(["reflect", "symm", "nearest", "wrap", "fill"]),
    seed=st.integers(0, 2**16),
)
def test_box_sums_are_exact_on_integer_images(h, w, c, kh, kw, dtype, boundary, seed):
    if boundary == "reflect" and (h == 1 or w == 1):
        boundary = "nearest"  # np.pad's reflect needs two samples; fastconv's matches nearest there
    shape = (h, w) if c is None else (h, w, c)
    image = np.random.default_rng(seed).integers(np.iinfo(dtype).min, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    before = image.copy()
    axis = None if c is None else -1
    got = fc.box_filter(image, (kh, kw), normalize=False, boundary=boundary, channel_axis=axis, dtype=np.float64)
    np.testing.assert_array_equal(got, box_sum(image, (kh, kw), boundary, axis))
    np.testing.assert_array_equal(image, before)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 90),
    c=st.sampled_from([None, 1, 3, 4]),
    kh=st.integers(1, 16),
    kw=st.integers(1, 16),
    boundary=st.sampled_from(["reflect", "nearest", "wrap", "fill"]),
    fill=st.sampled_from([0, 255, 17]),
    seed=st.integers(0, 2**16),
)
def test_uint8_box_means_round_the_exact_mean(h, w, c, kh, kw, boundary, fill, seed):
    """uint8 in, uint8 out (16-bit sums, divided in 16-bit lanes): ``rint(sum / area)`` exactly, halves to even."""
    if boundary == "reflect" and (h == 1 or w == 1):
        boundary = "nearest"
    shape = (h, w) if c is None else (h, w, c)
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    axis = None if c is None else -1
    got = fc.filter2d(image, np.full((kh, kw), 1 / (kh * kw)), boundary, fill, channel_axis=axis, dtype=np.uint8)
    if boundary == "fill":  # the fill's terms: zero padding of (image - fill), plus fill over the whole window
        sums = box_sum(image.astype(np.int64) - fill, (kh, kw), boundary, axis) + fill * kh * kw
    else:
        sums = box_sum(image, (kh, kw), boundary, axis)
    np.testing.assert_array_equal(got, np.rint(sums / (kh * kw)).astype(np.uint8))
    unscaled = fc.filter2d(image, np.ones((kh, kw)), boundary, fill, channel_axis=axis, dtype=np.uint8)
    np.testing.assert_array_equal(unscaled, np.minimum(sums, 255))


@pytest.mark.parametrize("d", [2, 3, 4, 9, 16, 25, 100, 225, 255, 256])
def test_16_bit_division_rounds_exactly(d):
    """``ivdiv_round`` over every sum a box of area ``d`` can give, and ``ivmulhi_shift`` with the (m, s) that
    ``photo._fast_divisor`` checked, against ``rint(x / d)``."""
    from numba import njit

    from fastconv._backends.cpu import simd_int

    @njit
    def divide(x, out, d, m, s, fast):
        i = 0
        while i + simd_int.LANES <= x.size:
            v = simd_int.ivload(x, i)
            simd_int.ivstore(out, i, simd_int.ivmulhi_shift(v, d // 2, m, s) if fast else simd_int.ivdiv_round(v, d, (1 << 16) // d))
            i += simd_int.LANES

    x = np.arange(255 * d + 1 + simd_int.LANES, dtype=np.uint16)[: -(-(255 * d + 1) // simd_int.LANES) * simd_int.LANES]
    want = np.rint(x / d)
    out = np.empty_like(x)
    divide(x, out, d, 1, 0, False)
    np.testing.assert_array_equal(out[: 255 * d + 1], want[: 255 * d + 1])
    m, s = photo._fast_divisor(d)
    if m:
        divide(x, out, d, m, s, True)
        np.testing.assert_array_equal(out[: 255 * d + 1], want[: 255 * d + 1])


def test_uint8_box_with_float_results_equals_the_float_running_sums(monkeypatch):
    image = _image((37, 70, 3), np.uint8)
    args = dict(channel_axis=-1, dtype=np.float32)
    fast = [fc.box_filter(image, k, boundary=b, **args) for k in [(3, 3), (5, 4), (15, 15)] for b in ["reflect", "fill"]]
    monkeypatch.setattr(photo, "_sums16", lambda *a: False)
    slow = [fc.box_filter(image, k, boundary=b, **args) for k in [(3, 3), (5, 4), (15, 15)] for b in ["reflect", "fill"]]
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, RTOL32), (np.float64, 1e-12)])
@pytest.mark.parametrize("size", [(5, 5), (3, 31), (70, 2)])
def test_box_running_sums_stay_within_the_float_bound(dtype, rtol, size):
    image = (np.random.default_rng(3).standard_normal((150, 300, 3)) * 100).astype(dtype)
    got = fc.box_filter(image, size, normalize=False, channel_axis=-1)
    want = box_sum(image, size, channel_axis=-1)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 100 * 4 * size[0] * size[1])


def test_auto_runs_constant_kernels_as_box_filters():
    from fastconv import _methods, _validate

    call, _, _ = _validate.image_call("filter2d", np.zeros((8, 9, 3), np.uint8), np.full((3, 5), 2.0), "reflect", 0, -1)
    assert _methods.plan_image(call, "auto").method == "box"
    assert _methods.plan_image(call, "direct").method == "direct"
    call, _, _ = _validate.image_call("filter2d", np.zeros((8, 9)), fc.kernels.gaussian(7, 1.5), "reflect", 0)
    assert _methods.plan_image(call, "auto").method == "separable"


@pytest.mark.parametrize("dtype, method", [(np.float32, "direct"), (np.float64, "direct"), (np.uint8, "separable")])
def test_auto_reads_small_kernels_straight_from_float_rows(dtype, method):
    """A rank-1 3x3 kernel: 6 separable multiply-adds against 9 direct ones, but on a float image in the kernel's
    dtype the direct taps read its rows as they are (``ROWS_DIRECT_TAP``), and run faster."""
    from fastconv import _methods, _validate

    call, _, _ = _validate.image_call("filter2d", np.zeros((8, 9), dtype), fc.kernels.sobel_x(), "reflect", 0)
    assert _methods.plan_image(call, "auto").method == method


# --- interleaved colour: each channel filtered as its plane, whatever the method -------------------


@pytest.mark.parametrize("method", ["auto", "direct", "separable", "fft"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("kernel", ["box", "gaussian", "sobel_x", "random"])
def test_interleaved_channels_equal_their_planes(method, dtype, kernel):
    image = _image((23, 31, 3), dtype)
    k = np.random.default_rng(4).standard_normal((4, 5)) if kernel == "random" else kernel
    got = fc.filter2d(image, k, "symm", channel_axis=-1, method=method)
    k64 = fc.kernels.named(k) if isinstance(k, str) else k
    compute = np.float64 if dtype == np.float64 else np.float32
    want = np.stack([filter2d(image[..., i], np.asarray(k64, compute), "symm") for i in range(3)], axis=-1)
    assert got.dtype == compute
    rtol = 1e-12 if compute == np.float64 else RTOL32
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 255 * np.abs(k64).sum())


@pytest.mark.parametrize("func", ["filter2d", "gaussian_blur", "sobel", "box_filter"])
def test_colour_images_agree_on_the_host_backends(func):
    image = _image((21, 26, 3), np.uint8)
    args = {"filter2d": ("laplacian",), "gaussian_blur": (1.5,), "sobel": (), "box_filter": (4,)}[func]
    outs = [getattr(fc, func)(image, *args, channel_axis=-1, dtype=np.uint8, backend=b) for b in ("cpu", "numpy")]
    assert outs[0].dtype == np.uint8
    _within_one(outs[0], outs[1])
    planes = getattr(fc, func)(np.moveaxis(image, -1, 0).copy(), *args, channel_axis=0, dtype=np.uint8)
    _within_one(outs[0], np.moveaxis(planes, 0, -1))


@pytest.mark.parametrize("func, args", [("box_filter", (5,)), ("gaussian_blur", (2.0,)), ("filter2d", (np.ones((3, 3)) / 9,))])
def test_nan_lands_where_the_taps_put_it(func, args):
    image = _image((30, 40, 3), np.float32) / 255
    image[7, 11, 1] = np.nan
    image[20, 3, 0] = np.inf
    got = getattr(fc, func)(image, *args, channel_axis=-1)
    direct = getattr(fc, func)(image, *args, channel_axis=-1, method="direct")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(direct))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(direct))
    assert np.isnan(got[7, 11, 1]) and not np.isnan(got[7, 11, 0])


# --- dtypes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image_dtype, want",
    [(np.uint8, np.float32), (np.uint16, np.float32), (np.int16, np.float32), (np.bool_, np.float32), (np.int32, np.float64), (np.float32, np.float32), (np.float64, np.float64)],
)
def test_the_default_dtype_is_never_float64_by_surprise(image_dtype, want):
    image = np.ones((10, 12, 3), image_dtype)
    for func, args in (("filter2d", (np.ones((3, 3)),)), ("gaussian_blur", (1.0,)), ("sobel", ()), ("box_filter", (3,))):
        assert getattr(fc, func)(image, *args, channel_axis=-1).dtype == want, func


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64])
def test_integer_results_round_half_to_even_and_saturate(dtype):
    values = np.array([[-300.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.49, 254.5, 255.5, 40000.5, 70000.0]], np.float64)
    got = fc.filter2d(values, np.ones((1, 1)), dtype=dtype)
    want = saturated(values, dtype) if np.dtype(dtype).kind in "iu" else values.astype(dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    nan = fc.filter2d(np.array([[np.nan] * 20], np.float32), np.ones((1, 1)), dtype=np.uint8)
    np.testing.assert_array_equal(nan, 0)  # cv2 saturates NaN to 0 for unsigned types


@pytest.mark.parametrize("dtype", ["complex64", np.bool_, "no such dtype", 3.5, object])
def test_a_bad_dtype_names_the_argument(dtype):
    with pytest.raises(TypeError, match="dtype"):
        fc.filter2d(np.ones((4, 4), np.uint8), np.ones((3, 3)), dtype=dtype)


# --- the vector layer's loads and stores ------------------------------------------------------------


def _widen_store_kernel():
    from numba import njit

    @njit
    def copy(src, dst, like, n):
        i = 0
        while i + n <= src.size:
            simd.vstore_as(dst, i, simd.vload_as(src, i, like))
            i += n

    return copy


@pytest.mark.parametrize("src_dtype", [np.uint8, np.int8, np.uint16, np.int16, np.float32, np.float64])
@pytest.mark.parametrize("dst_dtype", [np.uint8, np.int16, np.float32])
def test_vload_as_and_vstore_as_convert_like_numpy_and_cv2(src_dtype, dst_dtype):
    copy = _widen_store_kernel()
    n = simd.vector_lanes(np.float32)
    src = _image(4 * n, src_dtype) if np.dtype(src_dtype).kind != "i" else np.random.default_rng(5).integers(-128, 127, 4 * n).astype(src_dtype)
    if np.dtype(src_dtype).kind == "f":
        src = (src - 100).astype(src_dtype) + 0.5
    dst = np.zeros(4 * n, dst_dtype)
    copy(src, dst, np.float32, n)
    want = saturated(src.astype(np.float32), dst_dtype) if np.dtype(dst_dtype).kind in "iu" else src.astype(np.float32).astype(dst_dtype)
    np.testing.assert_array_equal(dst, want)


def asm_of(kernel, sig) -> str:
    """``kernel``'s assembly for ``sig``, compiled afresh where numba loaded it from its cache (cached code has none)."""
    import warnings

    import numba

    from fastconv._backends.cpu.common import KERNEL

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asm = kernel.inspect_asm(sig)
    if not any("cached code" in str(w.message) for w in caught):
        return asm
    fresh = numba.njit(**{k: v for k, v in KERNEL.items() if k not in ("parallel", "cache")})(kernel.py_func)
    fresh.compile(sig)
    return fresh.inspect_asm(sig)


def photo_asm() -> str:
    """The separable kernel's assembly on uint8 input and output."""
    from numba import types

    fc.filter2d(np.zeros((20, 40), np.uint8), fc.kernels.gaussian(3, 1.0), dtype=np.uint8)
    kernel = photo.kernels().separable
    sig = next(s for s in kernel.signatures if s[1].dtype == types.uint8 and s[-1].dtype == types.uint8)
    return asm_of(kernel, sig)


def loop_body(block: list[str]) -> list[str]:
    """``block``'s instructions up to its first jump: a loop's body ends at its back-edge, and what follows
    the jump (in the same block, as no label splits it) is the loop's exit, run once."""
    end = next((i for i, ins in enumerate(block) if re.match(r"j[a-z]+\s", ins)), len(block) - 1)
    return block[: end + 1]


def vertical_loop(asm: str) -> list[str]:
    """The basic block that widens uint8 input and multiply-adds it: the vertical pass's tap loop."""
    blocks = (loop_body(b) for b in asm_blocks(asm))
    return max((b for b in blocks if any("cvtdq2ps" in i for i in b)), key=lambda b: sum(i.startswith("vfmadd") for i in b))


def horizontal_loop(asm: str) -> list[str]:
    """The float tap loop with the most multiply-adds that widens nothing: the horizontal pass."""
    blocks = (loop_body(b) for b in asm_blocks(asm))
    return max((b for b in blocks if not any("cvtdq2ps" in i for i in b)), key=lambda b: sum(i.startswith("vfmadd") for i in b))


def loop_report(asm: str) -> dict:
    loop, across = vertical_loop(asm), horizontal_loop(asm)
    reg = {512: "zmm", 256: "ymm"}[simd.VECTOR_BITS]
    fma = rf"vfmadd\w*ps\s.*%{reg}"
    return dict(
        widen=sum(bool(re.match(rf"vpmovzxbd\s.*%{reg}", i)) for i in loop),
        fma=sum(bool(re.match(fma, i)) for i in loop),
        stack=sum("(%rsp)" in i for i in loop) + sum("(%rsp)" in i for i in across),
        across=sum(bool(re.match(fma, i)) for i in across),
    )


def hot_loop(kernel, dtype, op: str) -> tuple[list[str], str]:
    """The loop body of ``kernel`` (compiled for an image of ``dtype``) with the most ``op`` instructions, and the
    target's vector register prefix."""
    from numba import from_dtype

    sig = next(s for s in kernel.signatures if s[1].dtype == from_dtype(np.dtype(dtype)))
    blocks = [loop_body(b) for b in asm_blocks(asm_of(kernel, sig))]
    return max(blocks, key=lambda b: sum(i.startswith(op) for i in b)), {512: "zmm", 256: "ymm"}[simd.VECTOR_BITS]


def direct_rows_report(kh: int = 3, kw: int = 3) -> dict:
    """The float32 taps read straight from the image rows (``direct_rows_3x3``, or for other shapes the loops of
    ``direct_rows``): two output rows of four vectors, each loaded vector multiply-added into both; no vector
    operand on the stack."""
    fc.filter2d(np.zeros((20, 90), np.float32), np.ones((kh, kw), np.float32), method="direct")
    mod = photo.kernels()
    loop, reg = hot_loop(getattr(mod, f"direct_rows_{kh}x{kw}", mod.direct_rows), np.float32, "vfmadd")
    return dict(
        fma=sum(bool(re.match(rf"vfmadd\w*ps\s.*%{reg}", i)) for i in loop),
        loads=sum(bool(re.match(rf"vmovups\s.*\(.*%{reg}", i)) for i in loop),
        vstack=sum("(%rsp)" in i and "mm" in i for i in loop),
    )


def box_report() -> dict:
    """The uint8 box's division loop (16-bit sums divided by ``vpmulhuw``, two vectors a step), in ``box16_div``."""
    fc.box_filter(np.zeros((20, 90), np.uint8), 3, dtype=np.uint8)
    loop, reg = hot_loop(photo.kernels().box16_div, np.uint8, "vpmulhuw")
    return dict(
        mulhi=sum(bool(re.match(rf"vpmulhuw\s.*%{reg}", i)) for i in loop),
        adds=sum(bool(re.match(rf"vpaddw\s.*%{reg}", i)) for i in loop),
        stack=sum("(%rsp)" in i and "mm" in i for i in loop),  # vector spills (AVX2 reloads a scalar loop bound)
    )


def int_separable_report() -> dict:
    """Sobel on uint8 (``separable16``): the vertical pass widens bytes to 16-bit lanes and multiply-adds them
    there, two vectors a step; the horizontal pass converts the 16-bit sums (signed) to float32."""
    from numba import types

    fc.filter2d(np.zeros((20, 90), np.uint8), "sobel_x", dtype=np.float32)
    kernel = photo.kernels().separable16
    sig = next(s for s in kernel.signatures if s[1].dtype == types.uint8)
    blocks = [loop_body(b) for b in asm_blocks(asm_of(kernel, sig))]
    down = max(blocks, key=lambda b: sum(i.startswith("vpmullw") for i in b))
    across = max(blocks, key=lambda b: sum(i.startswith("vpmovsxwd") for i in b))
    reg = {512: "zmm", 256: "ymm"}[simd.VECTOR_BITS]
    return dict(
        widen=sum(bool(re.match(rf"vpmovzxbw\s.*%{reg}", i)) for i in down),
        mul=sum(bool(re.match(rf"vpmullw\s.*%{reg}", i)) for i in down),
        signed=sum(bool(re.match(rf"vpmovsxwd\s.*%{reg}", i)) for i in across),
        stack=sum("(%rsp)" in i and "mm" in i for i in down + across),
    )


needs_simd = pytest.mark.skipif(not simd.VECTOR_BITS, reason="needs an AVX2 or AVX-512 target")


ASM_CHECK = (
    "r = t.loop_report(t.photo_asm()); assert r['widen'] >= 4 and r['fma'] >= r['widen'] and r['across'] >= 1 and r['stack'] == 0, r\n"
    "q = t.box_report(); assert q['mulhi'] >= 2 and q['adds'] >= 2 and q['stack'] == 0, q\n"
    "i = t.int_separable_report(); assert i['widen'] >= 2 and i['mul'] >= i['widen'] and i['signed'] >= 2 and i['stack'] == 0, i\n"
    "d = t.direct_rows_report(); assert d['fma'] >= 8 and d['fma'] >= 2 * d['loads'] and d['vstack'] == 0, d\n"
    "d = t.direct_rows_report(5, 3); assert d['fma'] >= 8 and d['fma'] >= 2 * d['loads'] and d['vstack'] == 0, d"
)


@needs_simd
def test_the_vertical_pass_widens_in_registers():
    exec(ASM_CHECK, {"t": sys.modules[__name__]})


PHOTO_CHECK = """
import numpy as np
import test_photo as t
from fastconv._backends.cpu import simd
assert simd.vector_lanes(np.float32) == {lanes}
t.test_filter2d_matches_cv2_on_uint8((29, 41, 3), "reflect", (5, 4))
t.test_box_filter_matches_cv2_blur((29, 41, 3), (5, 5), "symm")
t.test_gaussian_blur_matches_cv2((29, 41, 3), 9, 2.0, "reflect")
t.test_vload_as_and_vstore_as_convert_like_numpy_and_cv2(np.uint8, np.uint8)
{extra}
print("ok")
"""


@pytest.mark.skipif(not simd.VECTOR_BITS, reason="needs an x86 host with AVX2 to run an AVX2 target")
def test_photo_kernels_on_a_forced_avx2_target(tmp_path):
    out = _run(
        {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": HASWELL_FEATURES, "NUMBA_CACHE_DIR": str(tmp_path)},
        PHOTO_CHECK.format(lanes=8, extra=ASM_CHECK),
    )
    assert "ok" in out


def test_photo_kernels_on_a_forced_portable_target(tmp_path):
    out = _run(
        {"NUMBA_CPU_NAME": "x86-64", "NUMBA_CPU_FEATURES": PORTABLE_FEATURES, "NUMBA_CACHE_DIR": str(tmp_path)},
        PHOTO_CHECK.format(lanes=4, extra=""),
    )
    assert "ok" in out


# --- the photo section of the benchmark ----------------------------------------------------------


def test_the_photo_bench_section_times_and_reports_every_peer(monkeypatch, tmp_path):
    import json

    from fastconv import __main__ as cli
    from fastconv import _bench_photo, _bench_report

    monkeypatch.setattr(_bench_photo, "SIZES", {"1080p": (24, 40)})
    cases = [_bench_photo.PhotoCase(c, d, "1080p", f) for c, d in (("RGB", np.uint8), ("grey", np.float32)) for f in ("box 5", "gaussian 1", "sobel")]
    monkeypatch.setattr(_bench_photo, "CASES", cases)
    assert cli.main(["bench", "--photo", "--rounds", "3", "--budget", "0.01", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "bench.json").read_text())
    assert [r["case"] for r in data["photo"]] == [c.name for c in cases]
    assert all(set(r["ms"]) == {"fastconv", "cv2", "scipy.ndimage"} and all(v > 0 for v in r["ms"].values()) for r in data["photo"])
    markdown = _bench_report.format_markdown({**data, "command": "test"})
    assert "RGB uint8 1080p box 5" in markdown and "vs scipy.ndimage" in markdown and "machine:" in markdown


def test_every_photo_case_runs_the_same_filter_as_its_peers(monkeypatch):
    from fastconv import _bench_photo

    monkeypatch.setattr(_bench_photo, "SIZES", {"1080p": (20, 30)})
    for colour, dtype in _bench_photo.KINDS:
        for name in _bench_photo.FILTERS:
            outs = {k: f() for k, f in _bench_photo.implementations(_bench_photo.PhotoCase(colour, dtype, "1080p", name)).items()}
            assert outs["fastconv"].dtype == outs["cv2"].dtype and outs["fastconv"].shape == outs["cv2"].shape, name
            tol = 1.0 if outs["cv2"].dtype == np.uint8 else 1e-4 * float(np.abs(outs["cv2"]).max() + 1)
            assert np.abs(outs["fastconv"].astype(np.float64) - outs["cv2"]).max() <= tol, (colour, dtype, name)
            peer_tol = 2.0 if outs["cv2"].dtype == np.uint8 else tol  # ndimage truncates to uint8 after each 1-D pass
            assert np.abs(outs["fastconv"].astype(np.float64) - outs["scipy.ndimage"]).max() <= peer_tol, (colour, dtype, name)
