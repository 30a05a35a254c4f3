"""max/avg/adaptive pooling against torch.nn.functional (CPU).

Max pooling picks values, so values and indices must equal torch's exactly,
NaN included: torch keeps a NaN and its index rule is
``if (val > maxval) || isnan(val)`` over the window in row-major order (the
last NaN wins, equal values keep the first, an all -inf window gives its first
non-padded position).
"""

from __future__ import annotations

from typing import Any

import naive
import numpy as np
import pytest
import torch
from conftest import (
    FLOATS,
    INTS,
    assert_close,
    assert_same_values,
    assert_unchanged,
    layouts,
    random_array,
    seeds,
    snapshot,
    with_layout,
)
from hypothesis import assume, given
from hypothesis import strategies as st

import fastconv as fc

nan, inf = np.nan, np.inf


# --- random valid configurations --------------------------------------------------------------


def draw_pair(draw: Any, per_axis: list[st.SearchStrategy[int]]) -> tuple[Any, tuple[int, int]]:
    """An int (when both axes allow it, sometimes) or a 2-tuple."""
    a, b = (draw(s) for s in per_axis)
    if draw(st.booleans()):
        # an int form: the value must be valid for both axes
        v = min(a, b)
        return v, (v, v)
    return (a, b), (a, b)


def pool_out_size(size: int, k: int, p: int, s: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling output length."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def every_window_touches_input(size: int, k: int, p: int, s: int, d: int, ceil_mode: bool) -> bool:
    out = pool_out_size(size, k, p, s, d, ceil_mode)
    return all(any(0 <= o * s - p + t * d < size for t in range(k)) for o in range(out))


@st.composite
def pool_cases(draw: Any, kind: str, dtypes: list[Any] = FLOATS) -> dict[str, Any]:
    """kind: "max" or "avg"."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    kernel_arg, kernel = draw_pair(draw, [st.integers(1, 4), st.integers(1, 4)])
    kwargs: dict[str, Any] = {}
    stride_form = draw(st.sampled_from(["omit", "None", "pair"]))
    if stride_form == "omit":
        stride = kernel
    elif stride_form == "None":
        kwargs["stride"] = None
        stride = kernel
    else:
        kwargs["stride"], stride = draw_pair(draw, [st.integers(1, 3), st.integers(1, 3)])
    padding_arg, padding = draw_pair(draw, [st.integers(0, kernel[0] // 2), st.integers(0, kernel[1] // 2)])
    if padding != (0, 0) or draw(st.booleans()):
        kwargs["padding"] = padding_arg
    dilation = (1, 1)
    if kind == "max" and draw(st.booleans()):
        kwargs["dilation"], dilation = draw_pair(draw, [st.integers(1, 3), st.integers(1, 3)])
    if draw(st.booleans()):
        kwargs["ceil_mode"] = draw(st.booleans())
    if kind == "max":
        kwargs["return_indices"] = draw(st.booleans())
    else:
        if draw(st.booleans()):
            kwargs["count_include_pad"] = draw(st.booleans())
        if draw(st.booleans()):
            kwargs["divisor_override"] = draw(st.integers(1, 5))
    sizes = [
        max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
        for k, p, d in zip(kernel, padding, dilation)
    ]
    # With dilation a window can fall entirely in the padding (every tap misses the
    # input); that degenerate case has its own test below.
    ceil_mode = kwargs.get("ceil_mode", False)
    assume(
        all(
            every_window_touches_input(n, k, p, s, d, ceil_mode)
            for n, k, p, s, d in zip(sizes, kernel, padding, stride, dilation)
        )
    )
    unbatched = draw(st.booleans())
    n = draw(st.integers(0, 2))
    c = draw(st.integers(1, 3))
    shape = (c, *sizes) if unbatched else (n, c, *sizes)
    ties = draw(st.booleans())
    special = draw(st.sampled_from([None] * 5 + ["mixed", "nan", "neginf"])) if dtype.kind == "f" else None
    rng = np.random.default_rng(draw(seeds))
    x = with_layout(random_array(rng, shape, dtype, ties=ties, special=special), draw(layouts))
    oracle_kwargs = {k: v for k, v in kwargs.items() if k != "return_indices"}
    oracle_kwargs.setdefault("padding", 0)
    oracle_kwargs["kernel_size"] = kernel_arg
    return dict(x=x, kernel_size=kernel_arg, kwargs=kwargs, oracle=oracle_kwargs, dtype=dtype)


@st.composite
def adaptive_cases(draw: Any, dtypes: list[Any] = FLOATS) -> dict[str, Any]:
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    form = draw(st.sampled_from(["int", "tuple", "list"]))
    if form == "int":
        output_size: Any = draw(st.integers(1, 9))
    else:
        pair = [draw(st.one_of(st.none(), st.integers(1, 9))) for _ in range(2)]
        output_size = tuple(pair) if form == "tuple" else pair
    unbatched = draw(st.booleans())
    n = draw(st.integers(0, 2))
    c = draw(st.integers(1, 3))
    shape = (c, h, w) if unbatched else (n, c, h, w)
    ties = draw(st.booleans())
    special = draw(st.sampled_from([None] * 5 + ["mixed", "nan", "neginf"])) if dtype.kind == "f" else None
    rng = np.random.default_rng(draw(seeds))
    x = with_layout(random_array(rng, shape, dtype, ties=ties, special=special), draw(layouts))
    return dict(x=x, output_size=output_size, dtype=dtype)


# --- property tests ------------------------------------------------------------------------------


def check_max_pool(case: dict[str, Any], backend: str) -> None:
    x = case["x"]
    before = snapshot(x)
    result = fc.max_pool2d(x, case["kernel_size"], backend=backend, **case["kwargs"])
    assert_unchanged(before, x)
    ref_values, ref_indices = naive.max_pool_exact(x, "max_pool2d", **case["oracle"])
    if case["kwargs"]["return_indices"]:
        assert isinstance(result, tuple) and len(result) == 2
        values, indices = result
        assert_same_values(indices, ref_indices, dtype=np.int64)
    else:
        values = result
    assert_same_values(values, ref_values, dtype=x.dtype)


@given(case=pool_cases("max"))
def test_max_pool2d_matches_torch(backend: str, case: dict[str, Any]) -> None:
    check_max_pool(case, backend)


@given(case=pool_cases("max", dtypes=INTS + [np.float16]))
def test_max_pool2d_other_dtypes_match_torch(backend: str, case: dict[str, Any]) -> None:
    check_max_pool(case, backend)


def check_avg_pool(case: dict[str, Any], backend: str) -> None:
    x = case["x"]
    before = snapshot(x)
    out = fc.avg_pool2d(x, case["kernel_size"], backend=backend, **case["kwargs"])
    assert_unchanged(before, x)
    if x.dtype == np.float16:
        ref = naive.avg_pool2d(x, dtype=np.float32, **case["oracle"]).astype(np.float16)
    else:
        ref = naive.avg_pool2d(x, **case["oracle"])
    bound = naive.avg_pool2d(np.abs(x.astype(np.float64)), **case["oracle"])
    expected_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    assert_close(out, ref, dtype=expected_dtype, bound=bound)


@given(case=pool_cases("avg"))
def test_avg_pool2d_matches_torch(backend: str, case: dict[str, Any]) -> None:
    check_avg_pool(case, backend)


@given(case=pool_cases("avg", dtypes=INTS + [np.float16]))
def test_avg_pool2d_other_dtypes_match_torch(backend: str, case: dict[str, Any]) -> None:
    check_avg_pool(case, backend)


@given(case=adaptive_cases(dtypes=FLOATS + INTS + [np.float16]))
def test_adaptive_avg_pool2d_matches_torch(backend: str, case: dict[str, Any]) -> None:
    x = case["x"]
    before = snapshot(x)
    out = fc.adaptive_avg_pool2d(x, case["output_size"], backend=backend)
    assert_unchanged(before, x)
    if x.dtype == np.float16:
        ref = naive.adaptive_avg_pool2d(x, case["output_size"], dtype=np.float32).astype(np.float16)
    else:
        ref = naive.adaptive_avg_pool2d(x, case["output_size"])
    bound = naive.adaptive_avg_pool2d(np.abs(x.astype(np.float64)), case["output_size"])
    expected_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    assert_close(out, ref, dtype=expected_dtype, bound=bound)


@given(case=adaptive_cases(dtypes=FLOATS + INTS + [np.float16]), return_indices=st.booleans())
def test_adaptive_max_pool2d_matches_torch(backend: str, case: dict[str, Any], return_indices: bool) -> None:
    x = case["x"]
    before = snapshot(x)
    result = fc.adaptive_max_pool2d(x, case["output_size"], return_indices=return_indices, backend=backend)
    assert_unchanged(before, x)
    ref_values, ref_indices = naive.max_pool_exact(x, "adaptive_max_pool2d", case["output_size"])
    if return_indices:
        assert isinstance(result, tuple) and len(result) == 2
        values, indices = result
        assert_same_values(indices, ref_indices, dtype=np.int64)
    else:
        values = result
    assert_same_values(values, ref_values, dtype=x.dtype)


# --- hand-computed cases ----------------------------------------------------------------------------


def test_max_pool2d_known_4x4(backend: str) -> None:
    x = np.array([[1, 2, 5, 6], [3, 4, 7, 8], [9, 10, 13, 14], [11, 12, 15, 16]], dtype=np.float64)
    values, indices = fc.max_pool2d(x[None, None], 2, return_indices=True, backend=backend)
    np.testing.assert_array_equal(values, [[[[4, 8], [12, 16]]]])
    np.testing.assert_array_equal(indices, [[[[5, 7], [13, 15]]]])
    assert indices.dtype == np.int64
    # unbatched (C, H, W), stride 1, padding 1
    values = fc.max_pool2d(x[None], 3, stride=1, padding=1, backend=backend)
    np.testing.assert_array_equal(
        values, [[[4, 7, 8, 8], [10, 13, 14, 14], [12, 15, 16, 16], [12, 15, 16, 16]]]
    )


def test_max_pool2d_ceil_mode_by_hand(backend: str) -> None:
    x = np.array([[[[1.0, 2.0, 3.0, 4.0, 5.0]]]])
    np.testing.assert_array_equal(fc.max_pool2d(x, (1, 2), 2, backend=backend), [[[[2.0, 4.0]]]])
    np.testing.assert_array_equal(fc.max_pool2d(x, (1, 2), 2, ceil_mode=True, backend=backend), [[[[2.0, 4.0, 5.0]]]])


def test_max_pool2d_nan_rules(backend: str) -> None:
    # the last NaN of the window gives the index
    values, indices = fc.max_pool2d(np.array([[[[1.0, nan], [nan, 0.0]]]]), 2, return_indices=True, backend=backend)
    assert np.isnan(values[0, 0, 0, 0])
    assert indices[0, 0, 0, 0] == 2
    # equal values: the first gives the index
    values, indices = fc.max_pool2d(np.full((1, 1, 2, 2), 5.0), 2, return_indices=True, backend=backend)
    assert values[0, 0, 0, 0] == 5.0 and indices[0, 0, 0, 0] == 0
    # NaN beats +inf wherever it is
    values, indices = fc.max_pool2d(np.array([[[[nan, inf, 3.0]]]], np.float32), (1, 3), return_indices=True, backend=backend)
    assert np.isnan(values[0, 0, 0, 0]) and indices[0, 0, 0, 0] == 0
    assert values.dtype == np.float32


def test_max_pool2d_all_neginf_windows_point_at_first_unpadded(backend: str) -> None:
    x = np.full((1, 1, 3, 3), -inf)
    values, indices = fc.max_pool2d(x, 3, stride=2, padding=1, return_indices=True, backend=backend)
    np.testing.assert_array_equal(values, np.full((1, 1, 2, 2), -inf))
    np.testing.assert_array_equal(indices, [[[[0, 1], [3, 4]]]])
    # with dilation 2 the first unpadded tap of the first window is (1, 1)
    x = np.full((1, 1, 5, 5), -inf)
    values, indices = fc.max_pool2d(x, 2, stride=2, padding=1, dilation=2, return_indices=True, backend=backend)
    np.testing.assert_array_equal(indices, [[[[6, 6, 8], [6, 6, 8], [16, 16, 18]]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.uint8])
def test_max_pool2d_window_entirely_in_padding(backend: str, dtype: Any) -> None:
    # H = 1, kernel 2, dilation 2, padding 1: the window's taps are rows -1 and 1, both
    # outside the input.  torch gives the lowest value of the dtype (-inf for floats).
    x = np.array([[[[5]]]], dtype=dtype)
    ref_values = naive.max_pool2d(x, (2, 1), padding=(1, 0), dilation=(2, 1), dtype=x.dtype)
    values = fc.max_pool2d(x, (2, 1), padding=(1, 0), dilation=(2, 1), backend=backend)
    lowest = -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min
    assert ref_values[0, 0, 0, 0] == lowest
    assert_same_values(values, np.full((1, 1, 1, 1), lowest, dtype=dtype), dtype=dtype)
    values, _ = fc.max_pool2d(x, (2, 1), padding=(1, 0), dilation=(2, 1), return_indices=True, backend=backend)
    assert_same_values(values, np.full((1, 1, 1, 1), lowest, dtype=dtype), dtype=dtype)


def test_max_pool2d_window_entirely_in_padding_index_as_torch(backend: str) -> None:
    # torch's index for a window with no input element is where its first tap would
    # land after stepping past the padding (row 1 here: flat index 1, past the plane).
    x = np.array([[[[5.0]]]])
    _, ref_indices = naive.max_pool_exact(x, "max_pool2d", kernel_size=(2, 1), padding=(1, 0), dilation=(2, 1))
    _, indices = fc.max_pool2d(x, (2, 1), padding=(1, 0), dilation=(2, 1), return_indices=True, backend=backend)
    assert ref_indices[0, 0, 0, 0] == 1
    assert_same_values(indices, ref_indices, dtype=np.int64)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(count_include_pad=True), [[0.25, 0.5], [0.75, 1.0]]),  # each corner window: 1 value + 3 pads
        (dict(count_include_pad=False), [[1.0, 2.0], [3.0, 4.0]]),
        (dict(divisor_override=2), [[0.5, 1.0], [1.5, 2.0]]),
        (dict(count_include_pad=False, divisor_override=2), [[0.5, 1.0], [1.5, 2.0]]),
    ],
)
def test_avg_pool2d_corners_by_hand(backend: str, kwargs: dict[str, Any], expected: list[list[float]]) -> None:
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = fc.avg_pool2d(x, 2, 2, 1, backend=backend, **kwargs)
    np.testing.assert_array_equal(out, [[expected]])


def test_avg_pool2d_ceil_mode_by_hand(backend: str) -> None:
    x = np.array([[[[1.0, 2.0, 3.0, 4.0, 5.0]]]])
    np.testing.assert_array_equal(fc.avg_pool2d(x, (1, 2), 2, ceil_mode=True, backend=backend), [[[[1.5, 3.5, 5.0]]]])
    # window 3 starts at 3 and is cut at the right padding (W + pad = 6): divisor 3 with the pad counted
    np.testing.assert_array_equal(
        fc.avg_pool2d(x, (1, 3), 2, (0, 1), ceil_mode=True, backend=backend), [[[[1.0, 3.0, 3.0]]]]
    )
    np.testing.assert_array_equal(
        fc.avg_pool2d(x, (1, 3), 2, (0, 1), ceil_mode=True, count_include_pad=False, backend=backend),
        [[[[1.5, 3.0, 4.5]]]],
    )


def test_adaptive_pools_by_hand(backend: str) -> None:
    # windows of 5 -> 3: [0, 2), [1, 4), [3, 5)
    x = np.array([[[[3.0, 1.0, 4.0, 1.0, 5.0]]]])
    np.testing.assert_allclose(fc.adaptive_avg_pool2d(x, (1, 3), backend=backend), [[[[2.0, 2.0, 3.0]]]], rtol=1e-15)
    values, indices = fc.adaptive_max_pool2d(x, (1, 3), return_indices=True, backend=backend)
    np.testing.assert_array_equal(values, [[[[3.0, 4.0, 5.0]]]])
    np.testing.assert_array_equal(indices, [[[[0, 2, 4]]]])
    # None keeps the input size
    assert fc.adaptive_avg_pool2d(np.zeros((2, 3, 5, 4)), (None, 2), backend=backend).shape == (2, 3, 5, 2)
    assert fc.adaptive_max_pool2d(np.zeros((3, 5, 4)), (3, None), backend=backend).shape == (3, 3, 4)
    # global average pooling
    g = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(fc.adaptive_avg_pool2d(g, 1, backend=backend), g.mean(axis=(2, 3), keepdims=True), rtol=1e-12)


def test_adaptive_max_pool2d_ties_go_as_torch_row_major_scan(backend: str) -> None:
    # one 2 x 2 window each: the first of equal maxima and the last NaN in row-major order, whichever
    # column holds them, and a zero's sign from the first zero scanned
    windows = [[[1, 5], [5, 1]], [[nan, 1], [1, nan]], [[1, nan], [nan, 1]], [[-1, -0.0], [0.0, -1]], [[-inf, -inf], [-inf, -inf]]]
    x = np.array(windows, dtype=np.float32)[None]
    values, indices = fc.adaptive_max_pool2d(x, 1, return_indices=True, backend=backend)
    np.testing.assert_array_equal(indices.reshape(-1), [1, 3, 2, 1, 0])
    np.testing.assert_array_equal(values.reshape(-1), [5, nan, nan, 0, -inf])
    exact_zero = backend != "numpy"  # the reference takes np.max's value, which may be the other zero
    assert np.signbit(values.reshape(-1)[3]) or not exact_zero
    big = np.tile(x, (1, 1, 9, 10))  # windows of 6 x 7 over 18 x 20: every tie inside a window of many rows
    values, indices = fc.adaptive_max_pool2d(big, (3, 3), return_indices=True, backend=backend)
    ref_values, ref_indices = naive.max_pool_exact(big, "adaptive_max_pool2d", (3, 3))
    assert_same_values(indices, ref_indices, dtype=np.int64)
    assert_same_values(values, ref_values, dtype=np.float32)
    assert np.array_equal(np.signbit(values), np.signbit(ref_values)) or not exact_zero


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, output_size", [((2, 3, 56, 56), 7), ((1, 4, 37, 45), (5, 6)), ((2, 5, 7, 7), 1), ((1, 2, 19, 33), (19, 4)), ((2, 3, 7, 9), (7, 9)), ((2, 3, 28, 42), (14, 14))])
def test_adaptive_pools_on_wide_planes_match_torch(backend: str, dtype: Any, shape: Any, output_size: Any) -> None:
    """Planes wider than a vector, divisible or not: the column passes' vector loops and their tails."""
    rng = np.random.default_rng(3)
    for special in (None, "mixed"):
        x = random_array(rng, shape, dtype, ties=True, special=special)
        values, indices = fc.adaptive_max_pool2d(x, output_size, return_indices=True, backend=backend)
        ref_values, ref_indices = naive.max_pool_exact(x, "adaptive_max_pool2d", output_size)
        assert_same_values(indices, ref_indices, dtype=np.int64)
        assert_same_values(values, ref_values, dtype=x.dtype)
        out = fc.adaptive_avg_pool2d(x, output_size, backend=backend)
        bound = naive.adaptive_avg_pool2d(np.abs(x.astype(np.float64)), output_size)
        assert_close(out, naive.adaptive_avg_pool2d(x, output_size), dtype=x.dtype, bound=bound)


@pytest.mark.parametrize(
    "op, args",
    [
        ("max_pool2d", (2,)),
        ("avg_pool2d", (2,)),
        ("adaptive_avg_pool2d", (2,)),
        ("adaptive_max_pool2d", (2,)),
    ],
)
def test_pools_empty_batch(backend: str, op: str, args: tuple[Any, ...]) -> None:
    out = getattr(fc, op)(np.zeros((0, 3, 5, 4), dtype=np.float32), *args, backend=backend)
    assert isinstance(out, np.ndarray)
    assert out.shape == (0, 3, 2, 2)
    assert out.dtype == np.float32
    if "max" in op:
        values, indices = getattr(fc, op)(np.zeros((0, 3, 5, 4)), *args, return_indices=True, backend=backend)
        assert values.shape == indices.shape == (0, 3, 2, 2)
        assert values.dtype == np.float64
        assert indices.dtype == np.int64


# --- dtypes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", INTS + [np.float16, np.float32, np.float64])
def test_max_pools_keep_every_real_dtype(backend: str, dtype: Any) -> None:
    x = random_array(np.random.default_rng(2), (2, 3, 5, 5), dtype, low=-100, high=100)
    ref_values, ref_indices = naive.max_pool_exact(x, "max_pool2d", kernel_size=3, stride=2, padding=1)
    values, indices = fc.max_pool2d(x, 3, 2, 1, return_indices=True, backend=backend)
    assert_same_values(values, ref_values, dtype=dtype)
    assert_same_values(indices, ref_indices, dtype=np.int64)
    ref_values, ref_indices = naive.max_pool_exact(x, "adaptive_max_pool2d", (2, 3))
    values, indices = fc.adaptive_max_pool2d(x, (2, 3), return_indices=True, backend=backend)
    assert_same_values(values, ref_values, dtype=dtype)
    assert_same_values(indices, ref_indices, dtype=np.int64)


@pytest.mark.parametrize(
    "dtype, big",
    [(np.int64, 2**62 + 1), (np.uint64, 2**64 - 1), (np.int64, -(2**63) + 1)],
)
def test_max_pools_are_exact_on_64_bit_integers(backend: str, dtype: Any, big: int) -> None:
    # these values are not float64s: a float path would round them
    x = np.array([[[[big, big - 1], [big - 1, big - 1]]]], dtype=dtype)
    for out in (fc.max_pool2d(x, 2, backend=backend), fc.adaptive_max_pool2d(x, 1, backend=backend)):
        assert out.dtype == dtype
        assert int(out[0, 0, 0, 0]) == big


@pytest.mark.parametrize("dtype", INTS + [np.float16, np.float32, np.float64])
def test_avg_pools_dtype(backend: str, dtype: Any) -> None:
    x = random_array(np.random.default_rng(4), (2, 3, 5, 5), dtype, low=0, high=255)
    expected = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
    oracle_dtype = np.float32 if dtype == np.float16 else np.float64
    out = fc.avg_pool2d(x, 3, 2, 1, backend=backend)
    ref = naive.avg_pool2d(x, 3, 2, 1, dtype=oracle_dtype).astype(expected)
    assert_close(out, ref, dtype=expected, bound=naive.avg_pool2d(np.abs(x.astype(np.float64)), 3, 2, 1))
    out = fc.adaptive_avg_pool2d(x, (2, 3), backend=backend)
    ref = naive.adaptive_avg_pool2d(x, (2, 3), dtype=oracle_dtype).astype(expected)
    assert_close(out, ref, dtype=expected, bound=naive.adaptive_avg_pool2d(np.abs(x.astype(np.float64)), (2, 3)))


def test_avg_pool2d_uint8_never_wraps(backend: str) -> None:
    x = np.full((1, 1, 4, 4), 200, dtype=np.uint8)
    out = fc.avg_pool2d(x, 2, backend=backend)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 200.0))
    out = fc.adaptive_avg_pool2d(x, 1, backend=backend)
    np.testing.assert_array_equal(out, np.full((1, 1, 1, 1), 200.0))


# --- array-likes and input safety ------------------------------------------------------------------------


def test_pools_accept_nested_lists_and_tensors(backend: str) -> None:
    nested = [[[1, 2], [3, 4]]]  # (C, H, W) of Python ints -> int64
    out = fc.max_pool2d(nested, 2, backend=backend)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[[4]]])
    out = fc.avg_pool2d(nested, 2, backend=backend)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[[2.5]]])
    t = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    out = fc.adaptive_avg_pool2d(t, 2, backend=backend)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, naive.adaptive_avg_pool2d(t.numpy(), 2, dtype=np.float32))
    values, indices = fc.adaptive_max_pool2d(t, 2, return_indices=True, backend=backend)
    ref = naive.adaptive_max_pool2d(t.numpy(), 2, True, dtype=np.float32)
    np.testing.assert_array_equal(values, ref[0])
    np.testing.assert_array_equal(indices, ref[1])


def test_pools_do_not_modify_read_only_inputs(backend: str) -> None:
    x = np.random.default_rng(9).standard_normal((2, 2, 5, 5))
    x[0, 0, 1, 1] = nan
    copy = x.copy()
    x.setflags(write=False)
    fc.max_pool2d(x, 2, 1, 1, return_indices=True, backend=backend)
    fc.avg_pool2d(x, 3, 1, 1, count_include_pad=False, backend=backend)
    fc.adaptive_avg_pool2d(x, (3, 2), backend=backend)
    fc.adaptive_max_pool2d(x, (3, 2), return_indices=True, backend=backend)
    np.testing.assert_array_equal(x, copy)
