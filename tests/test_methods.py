"""Every method (direct, separable, fft, auto) agrees with scipy and with the direct path.

Tolerances are elementwise, relative to the scale of the sum,
``max|in1| * sum|in2|`` (outputs near zero have no relative accuracy):
``naive.METHOD_RTOL``, 1e-12 in float64; in float32 1e-5 for direct and
separable and 1e-4 for fft (and auto).
"""

import naive
import numpy as np
import pytest
from conftest import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv as fc
from fastconv import _methods

BACKENDS = [n for n, info in fc.backends().items() if info["available"]]
METHODS = ["direct", "separable", "fft", "auto"]


def kernel_of_rank(rng, shape, rank):
    return sum(np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1])) for _ in range(rank))


KERNELS = [  # (kernel shape, rank); even sizes and kernels larger than the 9 x 11 image included
    ((3, 3), 1), ((4, 6), 2), ((5, 5), 5), ((1, 7), 1), ((12, 4), 2), ((13, 14), 13), ((2, 2), 2),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape, rank", KERNELS)
@pytest.mark.parametrize("func", ["convolve2d", "correlate2d"])
def test_signal_modes_and_boundaries_match_scipy(backend, method, shape, rank, func):
    rng = np.random.default_rng(hash((shape, rank)) % 2**32)
    x = rng.standard_normal((9, 11))
    k = kernel_of_rank(rng, shape, rank)
    for mode in ("full", "same", "valid"):
        if mode == "valid" and not (all(a >= b for a, b in zip(x.shape, k.shape)) or all(a <= b for a, b in zip(x.shape, k.shape))):
            continue
        for boundary in ("fill", "wrap", "symm"):
            want = getattr(naive, func)(x, k, mode, boundary, 0.5)
            got = getattr(fc, func)(x, k, mode=mode, boundary=boundary, fillvalue=0.5, method=method, backend=backend)
            assert got.dtype == np.float64
            assert_close(got, want, rtol=0, atol=naive.rtol(np.float64, method) * np.abs(x).max() * np.abs(k).sum())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, rank", KERNELS)
def test_filter2d_every_boundary_matches_ndimage_and_direct(backend, method, dtype, shape, rank):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 9, 11)).astype(dtype)
    k = kernel_of_rank(rng, shape, rank).astype(dtype)
    scale = np.abs(x).max() * np.abs(k).sum()
    for boundary in naive.FILTER_BOUNDARIES:
        got = fc.filter2d(x, k, boundary, 0.5, method=method, backend=backend)
        assert got.dtype == dtype
        want = naive.filter2d(x, k, boundary, 0.5)
        assert_close(got, want, rtol=0, atol=naive.rtol(dtype, "fft") * scale)
        direct = fc.filter2d(x, k, boundary, 0.5, method="direct", backend=backend)
        assert_close(got, direct, rtol=0, atol=naive.rtol(dtype, method) * scale)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 24), w=st.integers(1, 24), kh=st.integers(1, 9), kw=st.integers(1, 9), rank=st.integers(1, 3),
    mode=st.sampled_from(["full", "same", "valid"]), boundary=st.sampled_from(["fill", "wrap", "symm"]),
    method=st.sampled_from(METHODS[1:]), seed=st.integers(0, 2**32 - 1),
)
def test_random_configurations_match_scipy(h, w, kh, kw, rank, mode, boundary, method, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((h, w)).astype(np.float32)
    k = kernel_of_rank(rng, (kh, kw), min(rank, kh, kw)).astype(np.float32)
    if mode == "valid" and not (h >= kh and w >= kw or h <= kh and w <= kw):
        return
    want = naive.convolve2d(x, k, mode, boundary, -1.5)
    got = fc.convolve2d(x, k, mode=mode, boundary=boundary, fillvalue=-1.5, method=method)
    assert got.dtype == np.float32
    assert_close(got, want, rtol=0, atol=naive.rtol(np.float32, method) * max(np.abs(x).max(), 1.5) * np.abs(k).sum())


@pytest.mark.parametrize("method", ["separable", "fft", "auto"])
@pytest.mark.parametrize("kernel", [np.outer([1, 2, 1], [1, 0, -1]), np.arange(-6, 6).reshape(3, 4)])
def test_integer_inputs_stay_exact_int64(method, kernel):
    x = np.random.default_rng(2).integers(-1000, 1000, (30, 27))
    want = naive.convolve2d(x, kernel, "same", "symm", dtype=np.int64)
    got = fc.convolve2d(x, kernel, mode="same", boundary="symm", method=method)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method", ["separable", "fft"])
def test_integers_too_large_to_round_safely_fall_back_to_direct(method):
    x = np.random.default_rng(3).integers(-(2**45), 2**45, (20, 20))
    k = np.array([[3, -1, 2], [1, 7, -5]])
    exact = fc.convolve2d(x, k, method="direct")
    p = _methods.Plan(method, *_methods.factor(k, np.dtype(np.int64))) if method == "separable" else _methods.Plan("fft", tiles=(32, 32))
    call, _ = fc._validate.signal2d("convolve2d", x, k, "full", "fill", 0, flip=True)
    assert _methods._rounding_bound(call, p) >= _methods._EXACT_ROUNDING
    np.testing.assert_array_equal(fc.convolve2d(x, k, method=method), exact)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_give_the_direct_result(method, bad):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 40, 40))
    x[1, 7, 30] = bad
    k = rng.standard_normal((15, 15))
    direct = fc.filter2d(x, k, method="direct")
    got = fc.filter2d(x, k, method=method)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(direct))
    np.testing.assert_array_equal(got, direct)


def test_factor_finds_the_numerical_rank():
    rng = np.random.default_rng(5)
    for rank in (1, 2, 4):
        k = kernel_of_rank(rng, (7, 9), rank)
        us, vs = _methods.factor(k, np.dtype(np.float64))
        assert len(us) == len(vs) == rank
        np.testing.assert_allclose(us.T @ vs, k, atol=1e-13 * np.abs(k).max())
    gauss = fc.kernels.gaussian(15, 3.0)
    assert len(_methods.factor(gauss + 1e-9 * rng.standard_normal((15, 15)), np.dtype(np.float32))[0]) == 1
    assert len(_methods.factor(np.zeros((3, 3)), np.dtype(np.float64))[0]) == 1


def test_auto_choices_follow_the_cost_model():
    rng = np.random.default_rng(6)
    image = rng.standard_normal((2048, 2048)).astype(np.float32)
    choose = fc.choose_conv_method
    small = rng.standard_normal((3, 3))
    costs = _methods.estimate(fc._validate.signal2d("t", image, small, "same", "fill", 0, True)[0], "cpu", 3)
    assert choose(image, small, mode="same") == min(costs, key=costs.get)
    assert choose(image, fc.kernels.gaussian(15, 3.0), mode="same") == "separable"
    assert choose(image, rng.standard_normal((31, 31)), mode="same") == "fft"
    assert choose(image.astype(np.int64), rng.integers(0, 9, (31, 31)), mode="same") == "direct"
    nan_image = image.copy()
    nan_image[5, 5] = np.nan
    assert choose(nan_image, rng.standard_normal((31, 31)), mode="same") == "direct"
    costs = _methods.estimate(fc._validate.signal2d("t", image, np.ones((9, 9)), "same", "fill", 0, True)[0], "cpu", 1)
    assert set(costs) == {"direct", "separable", "fft"} and min(costs, key=costs.get) == "separable"


def test_choose_conv_method_measure_returns_timings():
    rng = np.random.default_rng(7)
    best, timings = fc.choose_conv_method(rng.standard_normal((64, 64)), rng.standard_normal((5, 5)), measure=True)
    assert set(timings) == {"direct", "separable", "fft"}
    assert best == min(timings, key=timings.get) and all(t > 0 for t in timings.values())


@pytest.mark.parametrize("method", METHODS)
def test_filter2d_colour_and_stacks_filter_every_plane(method):
    rng = np.random.default_rng(8)
    k = rng.standard_normal((5, 5))

    def check(got, want, image):
        assert_close(got, want, rtol=0, atol=naive.rtol(np.float64, method) * np.abs(image).max() * np.abs(k).sum())

    colour = rng.standard_normal((20, 30, 3))
    got = fc.filter2d(colour, k, channel_axis=-1, method=method)
    assert got.shape == colour.shape and got.flags.c_contiguous
    for c in range(3):
        check(got[..., c], fc.filter2d(colour[..., c], k, method="direct"), colour)
    stack = rng.standard_normal((2, 3, 17, 19))
    check(fc.filter2d(stack, k, method=method)[1, 2], fc.filter2d(stack[1, 2], k, method="direct"), stack)
    batch = rng.standard_normal((4, 12, 10, 3))
    check(fc.filter2d(batch, k, channel_axis=3, method=method)[2, ..., 1], fc.filter2d(batch[2, ..., 1], k, method="direct"), batch)
    check(fc.filter2d(batch, k, channel_axis=0, method=method)[1], fc.filter2d(batch[1], k, method="direct"), batch)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: fc.convolve2d(np.ones((4, 4)), np.ones((2, 2)), method="fastest"), "convolve2d: method must be one of 'auto', 'direct', 'separable', 'fft'; got 'fastest'"),
        (lambda: fc.correlate2d(np.ones((4, 4)), np.ones((2, 2)), method=None), "correlate2d: method must be one of"),
        (lambda: fc.filter2d(np.ones((4, 4)), np.ones((2, 2)), method="FFT"), "filter2d: method must be one of 'auto', 'direct', 'separable', 'fft'; got 'FFT'"),
        (lambda: fc.filter2d(np.ones((4, 4)), np.ones((2, 2)), channel_axis=-1), "filter2d: channel_axis must be None or an axis of an image with at least 3 dimensions, got channel_axis=-1 for 2-D image"),
        (lambda: fc.filter2d(np.ones((4, 4, 3)), np.ones((2, 2)), channel_axis=3), "got channel_axis=3 for 3-D image"),
        (lambda: fc.choose_conv_method(np.ones(4), np.ones((2, 2))), "choose_conv_method: in1 and in2 must both be 2-D"),
    ],
)
def test_bad_method_arguments_are_named(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_channel_axis_must_be_an_int():
    with pytest.raises(TypeError, match=r"filter2d: channel_axis must be None or an int, got 'last'"):
        fc.filter2d(np.ones((4, 4, 3)), np.ones((2, 2)), channel_axis="last")


def test_methods_do_not_modify_inputs():
    rng = np.random.default_rng(9)
    x, k = rng.standard_normal((2, 30, 30)), kernel_of_rank(rng, (7, 7), 2)
    x0, k0 = x.copy(), k.copy()
    for method in METHODS:
        fc.filter2d(x, k, "fill", 2.0, method=method)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(k, k0)
