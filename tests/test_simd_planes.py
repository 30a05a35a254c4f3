"""The explicit-SIMD plane correlation (``planes._plane_job``) behind filter2d / convolve2d /
correlate2d, and conv2d's depthwise dispatch to the SIMD band kernel.

* filter2d on the cpu backend against scipy.ndimage (``naive.filter2d``) on shapes that cross the
  kernel's row and column bands, odd row counts and rows narrower than a vector, every boundary;
* convolve2d / correlate2d (``planes._plane_job``) against scipy.signal on planes wider than a column band,
  whose middle bands read the plane in place and whose edges are copied, and on an output past
  ``STREAM_BYTES`` (stored past the caches);
* an impulse: the kernel comes back, flipped as a correlation places it;
* the hot loop's assembly: full-width vector FMAs, nothing on the stack;
* an AVX2 target forced in a subprocess (8 lanes): the same kernels against the numpy backend.
"""

from __future__ import annotations

import re

import naive
import numpy as np
import pytest
from numba import njit
from test_simd import HASWELL_FEATURES, _run, hot_loop

import fastconv as fc
from fastconv._backends.cpu import depthwise, planes, simd
from fastconv._backends.cpu.common import FASTMATH, STREAM_BYTES, _tables

needs_simd = pytest.mark.skipif(not simd.VECTOR_BITS, reason="numba's target has no AVX2 / AVX-512")
SHAPES = [((37, 300), (5, 5)), ((2, 70, 1100), (3, 3)), ((1, 33, 9), (7, 7)), ((3, 3), (5, 5)), ((1, 1), (1, 1)), ((5, 70), (2, 1)), ((64, 515), (3, 7))]


@needs_simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("boundary", naive.FILTER_BOUNDARIES)
@pytest.mark.parametrize("shape,ksize", SHAPES)
def test_filter2d_matches_ndimage(shape, ksize, boundary, dtype):
    rng = np.random.default_rng(hash((shape, ksize, boundary)) % 2**32)
    image, kernel = rng.standard_normal(shape).astype(dtype), rng.standard_normal(ksize).astype(dtype)
    got = fc.filter2d(image, kernel, boundary=boundary, fillvalue=0.5, method="direct", backend="cpu")
    want = naive.filter2d(image, kernel, boundary, 0.5)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=naive.rtol(dtype), atol=naive.rtol(dtype) * np.abs(want).max())


@needs_simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("shape,ksize", [((37, 1100), (5, 5)), ((33, 700), (3, 7)), ((9, 2100), (7, 3)), ((70, 600), (1, 1))])
def test_signal_on_wide_planes_matches_scipy(shape, ksize, boundary, dtype):
    rng = np.random.default_rng(hash((shape, ksize, boundary)) % 2**32)
    image, kernel = rng.standard_normal(shape).astype(dtype), rng.standard_normal(ksize).astype(dtype)
    for func, mode in ((fc.convolve2d, "same"), (fc.correlate2d, "valid"), (fc.correlate2d, "full")):
        got = func(image, kernel, mode=mode, boundary=boundary, fillvalue=0.5, backend="cpu")
        want = getattr(naive, func.__name__)(image, kernel, mode, boundary, 0.5)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=naive.rtol(dtype), atol=naive.rtol(dtype) * np.abs(want).max())


def test_column_bands_cover_the_row():
    for wo, wd, kw, left in [(2048, 2048, 5, 2), (512, 512, 3, 1), (2100, 2100, 7, 0), (1000, 1000, 1, 0), (600, 596, 5, 4), (9, 5, 5, 4)]:
        cuts = planes.column_bands(wo, wd, kw, left, 16)
        assert cuts[0] == 0 and cuts[-1] == wo and (np.diff(cuts) > 0).all(), cuts
        inner = [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if a >= left and b + kw - 1 + 16 <= left + wd]
        assert wo <= planes.BAND_COLS or sum(b - a for a, b in inner) >= wo - 3 * 64 - kw - left, (wo, cuts)


@needs_simd
def test_outputs_past_the_caches_stream():
    n = int(np.sqrt(STREAM_BYTES // 4)) + 8  # a float32 output just past STREAM_BYTES
    rng = np.random.default_rng(7)
    image, kernel = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32)
    got = fc.correlate2d(image, kernel, mode="same", boundary="symm", backend="cpu")
    assert got.nbytes >= STREAM_BYTES
    np.testing.assert_allclose(got, naive.correlate2d(image, kernel, "same", "symm"), rtol=1e-5, atol=1e-5 * 9)


@needs_simd
def test_impulse_returns_the_kernel():
    image = np.zeros((40, 600), np.float32)
    image[20, 530] = 1.0
    kernel = np.arange(1, 36, dtype=np.float32).reshape(5, 7)
    out = fc.filter2d(image, kernel, boundary="fill", method="direct", backend="cpu")
    np.testing.assert_array_equal(out[18:23, 527:534], kernel[::-1, ::-1])
    out[18:23, 527:534] = 0
    assert not out.any()


@needs_simd
def test_nan_stays_where_it_lands():
    image = np.ones((20, 200), np.float64)
    image[5, 100] = np.nan
    out = fc.filter2d(image, np.ones((3, 3)), boundary="reflect", method="direct", backend="cpu")
    np.testing.assert_array_equal(np.argwhere(np.isnan(out)), [[r, c] for r in (4, 5, 6) for c in (99, 100, 101)])


@needs_simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plane_job_assembly(dtype):
    fresh = njit(fastmath=FASTMATH, boundscheck=False, nogil=True)(planes._plane_job.py_func)
    image, kernel = np.ones((1, 40, 300), dtype), np.ones(25, dtype)
    out = np.empty((1, 36, 296), dtype)
    rows, cols = _tables(image.shape, (0, 0, 0, 0), "constant")
    fresh(0, image, kernel, 5, 5, rows, cols, 0, 0, dtype(0), 1, np.array([0, 296]), False, out)
    loop = hot_loop(fresh.inspect_asm(fresh.signatures[0]))
    reg = {512: "zmm", 256: "ymm"}[simd.VECTOR_BITS]
    suffix = "ps" if dtype == np.float32 else "pd"
    full = sum(bool(re.match(rf"vfmadd\w*{suffix}\s.*%{reg}", i)) for i in loop)
    assert full >= 8, loop  # the two rows' four vectors of one tap
    assert not any("(%rsp)" in i for i in loop), loop


@needs_simd
@pytest.mark.parametrize("width,expect", [(112, True), (2048, False)])
def test_depthwise_band_kernel_suits_cnn_planes(width, expect):
    assert depthwise.suits((1, 8, width, width), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4) is expect


@pytest.mark.skipif(not simd.VECTOR_BITS, reason="needs an x86 host with AVX2 to run an AVX2 target")
def test_forced_avx2_planes_and_depthwise():
    out = _run(
        {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": HASWELL_FEATURES},
        """
        import numpy as np
        import fastconv as fc
        from fastconv._backends.cpu import simd
        assert simd.VECTOR_BITS == 256
        rng = np.random.default_rng(0)
        for shape, k in [((2, 37, 150), (5, 5)), ((9, 70), (3, 3)), ((3, 5), (3, 3))]:
            img, ker = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(k).astype(np.float32)
            a, b = (fc.filter2d(img, ker, method="direct", backend=be) for be in ("cpu", "numpy"))
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())
        x, w = rng.standard_normal((2, 8, 30, 40)).astype(np.float32), rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
        a, b = (fc.conv2d(x, w, padding=1, stride=2, groups=8, backend=be) for be in ("cpu", "numpy"))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())
        print("ok")
        """,
    )
    assert "ok" in out
