"""convolve2d/correlate2d against scipy.signal and convolve against numpy.convolve.

Integer and bool inputs give exact int64 results (scipy would keep e.g. uint8
and wrap), so the integer oracle is scipy/numpy run on int64-cast inputs.
"""

from __future__ import annotations

import zlib
from typing import Any

import naive
import numpy as np
import pytest
import scipy.signal
import torch
from conftest import (
    EXACT_INTS,
    FLOATS,
    assert_close,
    assert_unchanged,
    layouts,
    random_array,
    seeds,
    snapshot,
    with_layout,
)
from hypothesis import given
from hypothesis import strategies as st

import fastconv as fc

MODES = ["full", "same", "valid"]
# every boundary name scipy accepts, aliases included
BOUNDARIES = ["fill", "pad", "wrap", "circular", "symm", "symmetric"]
SIGNAL_FUNCS = {"convolve2d": naive.convolve2d, "correlate2d": naive.correlate2d}


def oracle_dtype(*arrays: np.ndarray) -> np.dtype:
    result = np.result_type(*arrays)
    return result if result.kind == "f" else np.dtype(np.int64)


# --- convolve2d / correlate2d ---------------------------------------------------------------------


@st.composite
def signal_cases(draw: Any, dtypes: list[Any]) -> dict[str, Any]:
    mode = draw(st.sampled_from(MODES))
    boundary = draw(st.sampled_from(BOUNDARIES))
    dt1 = np.dtype(draw(st.sampled_from(dtypes)))
    dt2 = dt1 if draw(st.booleans()) else np.dtype(draw(st.sampled_from(dtypes)))
    if mode == "valid":
        # one input must be at least as large as the other in every dimension
        big = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
        small = (draw(st.integers(1, big[0])), draw(st.integers(1, big[1])))
        s1, s2 = (big, small) if draw(st.booleans()) else (small, big)
    else:
        # kernels larger than the input included
        s1 = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
        s2 = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    is_int = dt1.kind in "biu" and dt2.kind in "biu"
    kwargs: dict[str, Any] = {}
    if mode != "full" or draw(st.booleans()):
        kwargs["mode"] = mode
    if boundary != "fill" or draw(st.booleans()):
        kwargs["boundary"] = boundary
    fillvalue: Any = 0
    if boundary in ("fill", "pad") and draw(st.booleans()):
        fillvalue = draw(st.sampled_from([-2, 0, 1, 3])) if is_int else draw(st.sampled_from([-1.5, 0.0, 0.25, 2.0]))
        kwargs["fillvalue"] = fillvalue
    special1 = None if dt1.kind in "biu" else draw(st.sampled_from([None] * 6 + ["mixed", "nan"]))
    special2 = None if dt2.kind in "biu" else draw(st.sampled_from([None] * 10 + ["mixed", "nan"]))
    rng = np.random.default_rng(draw(seeds))
    in1 = with_layout(random_array(rng, s1, dt1, special=special1), draw(layouts))
    in2 = with_layout(random_array(rng, s2, dt2, special=special2), draw(layouts))
    return dict(in1=in1, in2=in2, mode=mode, boundary=boundary, fillvalue=fillvalue, kwargs=kwargs)


def check_signal(name: str, case: dict[str, Any], backend: str) -> None:
    in1, in2 = case["in1"], case["in2"]
    before = snapshot(in1, in2)
    out = getattr(fc, name)(in1, in2, backend=backend, **case["kwargs"])
    assert_unchanged(before, in1, in2)
    expected_dtype = oracle_dtype(in1, in2)
    oracle = SIGNAL_FUNCS[name]
    args = dict(mode=case["mode"], boundary=case["boundary"])
    if expected_dtype.kind == "f":
        ref = oracle(in1, in2, fillvalue=float(case["fillvalue"]), **args)
        bound = oracle(np.abs(in1.astype(np.float64)), np.abs(in2.astype(np.float64)), fillvalue=abs(float(case["fillvalue"])), **args)
        assert_close(out, ref, dtype=expected_dtype, bound=bound)
    else:
        ref = oracle(in1, in2, fillvalue=int(case["fillvalue"]), dtype=np.int64, **args)
        assert ref.dtype == np.int64
        assert_close(out, ref, dtype=np.int64)


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
@given(case=signal_cases(FLOATS))
def test_signal2d_matches_scipy(backend: str, name: str, case: dict[str, Any]) -> None:
    check_signal(name, case, backend)


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
@given(case=signal_cases(EXACT_INTS))
def test_signal2d_integers_match_scipy_in_int64(backend: str, name: str, case: dict[str, Any]) -> None:
    check_signal(name, case, backend)


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", FLOATS + EXACT_INTS)
def test_signal2d_grid_every_mode_boundary_dtype(backend: str, name: str, boundary: str, mode: str, dtype: Any) -> None:
    """The full mode x boundary x dtype grid, with even and odd, small and large kernels."""
    rng = np.random.default_rng(zlib.crc32(f"{name}{boundary}{mode}{np.dtype(dtype).str}".encode()))
    is_int = np.dtype(dtype).kind in "biu"
    fill = 2 if is_int else 0.5
    shapes = [((5, 6), (2, 3)), ((4, 4), (4, 1)), ((3, 5), (3, 5)), ((6, 5), (1, 1))]
    if mode != "valid":
        shapes += [((2, 3), (5, 4)), ((1, 1), (3, 2)), ((3, 2), (4, 6))]  # kernel larger than the input
    else:
        shapes += [((2, 3), (5, 4)), ((1, 1), (3, 2))]  # valid swaps the inputs
    for s1, s2 in shapes:
        in1 = random_array(rng, s1, dtype, low=-9, high=9)
        in2 = random_array(rng, s2, dtype, low=-9, high=9)
        out = getattr(fc, name)(in1, in2, mode, boundary, fill, backend=backend)
        if is_int:
            ref = SIGNAL_FUNCS[name](in1, in2, mode, boundary, fill, dtype=np.int64)
            assert_close(out, ref, dtype=np.int64)
        else:
            ref = SIGNAL_FUNCS[name](in1, in2, mode, boundary, fill)
            bound = SIGNAL_FUNCS[name](np.abs(in1.astype(np.float64)), np.abs(in2.astype(np.float64)), mode, boundary, fill)
            assert_close(out, ref, dtype=dtype, bound=bound)


# --- hand-computed cases -------------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", ["fill", "pad"])
def test_convolve2d_of_an_impulse_is_in2(backend: str, boundary: str) -> None:
    in2 = np.arange(1.0, 7.0).reshape(2, 3)
    impulse = np.zeros((4, 5))
    impulse[1, 2] = 1.0
    out = fc.convolve2d(impulse, in2, boundary=boundary, backend=backend)
    expected = np.zeros((5, 7))
    expected[1:3, 2:5] = in2
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(fc.convolve2d(np.ones((1, 1)), in2, boundary=boundary, backend=backend), in2)
    # correlation is convolution with in2 rotated by 180 degrees
    expected[1:3, 2:5] = in2[::-1, ::-1]
    np.testing.assert_array_equal(fc.correlate2d(impulse, in2, boundary=boundary, backend=backend), expected)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_signal2d_unit_kernel_is_identity(backend: str, boundary: str, mode: str) -> None:
    x = np.arange(1.0, 13.0).reshape(3, 4)
    np.testing.assert_array_equal(fc.convolve2d(x, np.ones((1, 1)), mode, boundary, backend=backend), x)
    np.testing.assert_array_equal(fc.correlate2d(x, np.ones((1, 1)), mode, boundary, backend=backend), x)


def test_signal2d_same_alignment_even_kernel_by_hand(backend: str) -> None:
    in1 = np.zeros((1, 5))
    in1[0, 2] = 1.0
    k = np.array([[1.0, 2.0, 3.0, 4.0]])
    # full convolution is [0 0 1 2 3 4 0 0]; "same" keeps the centre with (len(k) - 1) // 2 = 1 dropped on the left
    np.testing.assert_array_equal(fc.convolve2d(in1, k, "same", backend=backend), [[0.0, 1.0, 2.0, 3.0, 4.0]])
    # full correlation is [0 0 4 3 2 1 0 0]; scipy's correlate "same" drops len(k) // 2 = 2 on the left
    np.testing.assert_array_equal(fc.correlate2d(in1, k, "same", backend=backend), [[4.0, 3.0, 2.0, 1.0, 0.0]])


def test_signal2d_valid_swap_by_hand(backend: str) -> None:
    small = np.array([[1.0, 2.0]])
    big = np.array([[1.0, 10.0, 100.0]])
    np.testing.assert_array_equal(fc.convolve2d(small, big, "valid", backend=backend), [[12.0, 120.0]])
    np.testing.assert_array_equal(fc.convolve2d(big, small, "valid", backend=backend), [[12.0, 120.0]])
    # correlation with the inputs swapped comes back reversed (scipy)
    np.testing.assert_array_equal(fc.correlate2d(big, small, "valid", backend=backend), [[21.0, 210.0]])
    np.testing.assert_array_equal(fc.correlate2d(small, big, "valid", backend=backend), [[210.0, 21.0]])


@pytest.mark.parametrize(
    "boundary, expected",
    [
        ("fill", [7.0, 1.0, 2.0, 3.0]),  # 7 | 1 2 3 (fillvalue 7)
        ("wrap", [3.0, 1.0, 2.0, 3.0]),
        ("symm", [1.0, 1.0, 2.0, 3.0]),
    ],
)
def test_signal2d_boundaries_by_hand(backend: str, boundary: str, expected: list[float]) -> None:
    # correlating with [1, 0] in "full" mode: out[n] = ext[n - 1], so out[0] shows the extension
    x = np.array([[1.0, 2.0, 3.0]])
    out = fc.correlate2d(x, np.array([[1.0, 0.0]]), "full", boundary, 7.0, backend=backend)
    np.testing.assert_array_equal(out, [expected])


def test_signal2d_uint8_never_wraps(backend: str) -> None:
    a = np.full((3, 3), 200, dtype=np.uint8)
    for func in (fc.convolve2d, fc.correlate2d):
        out = func(a, a, backend=backend)
        assert out.dtype == np.int64
        assert int(out[2, 2]) == 9 * 200 * 200
        np.testing.assert_array_equal(out, naive.convolve2d(a, a, dtype=np.int64))


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d", "convolve"])
@pytest.mark.parametrize("which", [0, 1])
def test_signal_complex_matches_the_peer(backend: str, name: str, which: int) -> None:
    """Complex inputs are computed as real passes, as scipy and numpy accept them (tests/test_first_use.py has the rest)."""
    args = [np.ones((3, 3)), np.ones((2, 2))] if name != "convolve" else [np.ones(3), np.ones(2)]
    args[which] = args[which] + 1j
    peer = np.convolve if name == "convolve" else getattr(scipy.signal, name)
    np.testing.assert_allclose(getattr(fc, name)(*args, backend=backend), peer(*args), atol=1e-12)
    args[which] = args[which].astype(np.clongdouble)  # no real pass for extended precision
    with pytest.raises(TypeError):
        getattr(fc, name)(*args, backend=backend)


@pytest.mark.parametrize(
    "t1, t2",
    [(np.float32, np.float64), (np.float32, np.int16), (np.int8, np.float32), (np.float16, np.float16), (np.float16, np.float32)],
)
def test_signal2d_mixed_dtypes(backend: str, t1: Any, t2: Any) -> None:
    rng = np.random.default_rng(1)
    in1 = random_array(rng, (5, 4), t1)
    in2 = random_array(rng, (3, 2), t2)
    expected_dtype = np.result_type(in1, in2)
    for name in ("convolve2d", "correlate2d"):
        out = getattr(fc, name)(in1, in2, "same", "symm", backend=backend)
        ref = SIGNAL_FUNCS[name](in1, in2, "same", "symm")
        bound = SIGNAL_FUNCS[name](np.abs(in1.astype(np.float64)), np.abs(in2.astype(np.float64)), "same", "symm")
        if expected_dtype == np.float16:
            ref = SIGNAL_FUNCS[name](in1, in2, "same", "symm", dtype=np.float32).astype(np.float16)
        assert_close(out, ref, dtype=expected_dtype, bound=bound)


# --- convolve (numpy.convolve) --------------------------------------------------------------------------


@st.composite
def convolve_cases(draw: Any, dtypes: list[Any]) -> dict[str, Any]:
    dt1 = np.dtype(draw(st.sampled_from(dtypes)))
    dt2 = dt1 if draw(st.booleans()) else np.dtype(draw(st.sampled_from(dtypes)))
    n1, n2 = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    mode = draw(st.sampled_from(["omit", *MODES]))
    special1 = None if dt1.kind in "biu" else draw(st.sampled_from([None] * 6 + ["mixed", "nan"]))
    special2 = None if dt2.kind in "biu" else draw(st.sampled_from([None] * 6 + ["mixed", "nan"]))
    rng = np.random.default_rng(draw(seeds))
    a = with_layout(random_array(rng, (n1,), dt1, special=special1), draw(layouts))
    v = with_layout(random_array(rng, (n2,), dt2, special=special2), draw(layouts))
    return dict(a=a, v=v, mode=mode)


def check_convolve(case: dict[str, Any], backend: str) -> None:
    a, v, mode = case["a"], case["v"], case["mode"]
    before = snapshot(a, v)
    out = fc.convolve(a, v, backend=backend) if mode == "omit" else fc.convolve(a, v, mode, backend=backend)
    assert_unchanged(before, a, v)
    np_mode = "full" if mode == "omit" else mode
    expected_dtype = oracle_dtype(a, v)
    if expected_dtype.kind == "f":
        ref = naive.convolve(a, v, np_mode)
        bound = naive.convolve(np.abs(a.astype(np.float64)), np.abs(v.astype(np.float64)), np_mode)
        assert_close(out, ref, dtype=expected_dtype, bound=bound)
    else:
        ref = naive.convolve(a, v, np_mode, dtype=np.int64)
        assert_close(out, ref, dtype=np.int64)


@given(case=convolve_cases(FLOATS))
def test_convolve_matches_numpy(backend: str, case: dict[str, Any]) -> None:
    check_convolve(case, backend)


@given(case=convolve_cases(EXACT_INTS))
def test_convolve_integers_match_numpy_in_int64(backend: str, case: dict[str, Any]) -> None:
    check_convolve(case, backend)


def test_convolve_by_hand(backend: str) -> None:
    np.testing.assert_array_equal(fc.convolve([1, 2, 3], [0, 1, 0.5], backend=backend), [0.0, 1.0, 2.5, 4.0, 1.5])
    np.testing.assert_array_equal(fc.convolve([1, 2, 3], [0, 1, 0.5], "same", backend=backend), [1.0, 2.5, 4.0])
    np.testing.assert_array_equal(fc.convolve([1, 2, 3], [0, 1, 0.5], "valid", backend=backend), [2.5])
    # numpy swaps so that the longer input slides: the same answers with v longer than a
    np.testing.assert_array_equal(fc.convolve([0, 1, 0.5], [1, 2, 3, 4], "same", backend=backend), naive.convolve([0, 1, 0.5], [1, 2, 3, 4], "same"))
    np.testing.assert_array_equal(fc.convolve([1, 2], [1, 2, 3, 4], "valid", backend=backend), [4.0, 7.0, 10.0])
    out = fc.convolve(np.array([200, 200], np.uint8), np.array([200, 200], np.uint8), backend=backend)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [40000, 80000, 40000])


# --- array-likes and input safety ------------------------------------------------------------------------


def test_signal_accepts_nested_lists_and_tensors(backend: str) -> None:
    out = fc.convolve2d([[1, 2], [3, 4]], [[1, 1]], backend=backend)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[1, 3, 2], [3, 7, 4]])
    t1 = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    t2 = torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=torch.float64)
    out = fc.correlate2d(t1, t2, "same", "wrap", backend=backend)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, naive.correlate2d(t1.numpy(), t2.numpy(), "same", "wrap"), rtol=1e-12)
    out = fc.convolve(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]), backend=backend)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [3.0, 10.0, 8.0])


def test_signal_does_not_modify_read_only_inputs(backend: str) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 6))
    copies = snapshot(a, b)
    a.setflags(write=False)
    b.setflags(write=False)
    for mode in MODES[:2]:
        for boundary in ("fill", "wrap", "symm"):
            fc.convolve2d(a, b, mode, boundary, 1.5, backend=backend)
            fc.correlate2d(a, b, mode, boundary, 1.5, backend=backend)
    fc.convolve2d(a, b[:2, :2], "valid", backend=backend)
    fc.convolve(a[0], b[0], "same", backend=backend)
    assert_unchanged(copies, a, b)


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d", "convolve"])
def test_uint64_gives_float64_like_numpy_promotion(backend: str, name: str) -> None:
    rng = np.random.default_rng(5)
    shape, kshape = ((7, 6), (3, 2)) if name != "convolve" else ((9,), (4,))
    a = rng.integers(0, 2**40, shape).astype(np.uint64)
    v = rng.integers(0, 9, kshape).astype(np.uint64)
    out = getattr(fc, name)(a, v, backend=backend)
    assert out.dtype == np.float64
    assert_close(out, getattr(naive, name)(a, v), dtype=np.float64)
