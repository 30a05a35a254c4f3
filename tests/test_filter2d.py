"""filter2d against scipy.ndimage.correlate, plane by plane.

filter2d is a same-size correlation anchored at ``k // 2`` (ndimage's centre
with ``origin=0``, for odd and even kernels).  Boundary names map to ndimage
modes: fill -> constant (cval=fillvalue), wrap -> grid-wrap, symm -> reflect
(``d c b a | a b c d``), reflect -> mirror (``d c b | a b c d``), nearest ->
nearest.

ndimage skips zero kernel weights, so where an image holds NaN or inf the
kernels drawn here have no zeros (NaN * 0 is NaN everywhere else).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from conftest import (
    FLOATS,
    INTS,
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
from naive import FILTER_BOUNDARIES as BOUNDARIES
from naive import filter2d as filter_oracle

import fastconv as fc


def expected_dtype(image: np.ndarray, kernel: np.ndarray) -> np.dtype:
    if image.dtype.kind == "f":  # a floating image keeps its dtype, the kernel is cast to it
        return image.dtype.newbyteorder("=")
    return np.dtype(np.float32 if image.dtype.itemsize <= 2 else np.float64)  # integers: float32 up to 16 bits


@st.composite
def filter_cases(draw: Any, dtypes: list[Any]) -> dict[str, Any]:
    lead = draw(st.sampled_from([(), (1,), (2,), (0,), (2, 3), (1, 0), (3, 1)]))
    shape = (*lead, draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    kshape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))  # even, odd and larger than the image
    dt_image = np.dtype(draw(st.sampled_from(dtypes)))
    dt_kernel = dt_image if draw(st.booleans()) else np.dtype(draw(st.sampled_from(dtypes)))
    boundary = draw(st.sampled_from(BOUNDARIES))
    kwargs: dict[str, Any] = {}
    if boundary != "reflect" or draw(st.booleans()):
        kwargs["boundary"] = boundary
    fillvalue = 0.0
    if boundary == "fill" and draw(st.booleans()):
        fillvalue = draw(st.sampled_from([-1.5, 0.25, 2.0, 3]))
        kwargs["fillvalue"] = fillvalue
    special = draw(st.sampled_from([None] * 6 + ["mixed", "nan"])) if dt_image.kind == "f" else None
    rng = np.random.default_rng(draw(seeds))
    image = with_layout(random_array(rng, shape, dt_image, special=special, low=-20, high=300), draw(layouts))
    kernel = with_layout(random_array(rng, kshape, dt_kernel, nonzero=special is not None, low=1, high=5), draw(layouts))
    return dict(image=image, kernel=kernel, boundary=boundary, fillvalue=fillvalue, kwargs=kwargs)


def check_filter(case: dict[str, Any], backend: str) -> None:
    image, kernel = case["image"], case["kernel"]
    before = snapshot(image, kernel)
    out = fc.filter2d(image, kernel, backend=backend, **case["kwargs"])
    assert_unchanged(before, image, kernel)
    dtype = expected_dtype(image, kernel)
    ref = filter_oracle(image, kernel, case["boundary"], float(case["fillvalue"]))
    bound = filter_oracle(np.abs(image.astype(np.float64)), np.abs(kernel.astype(np.float64)), case["boundary"], abs(float(case["fillvalue"])))
    assert_close(out, ref, dtype=dtype, bound=bound)


@given(case=filter_cases(FLOATS))
def test_filter2d_matches_ndimage(backend: str, case: dict[str, Any]) -> None:
    check_filter(case, backend)


@given(case=filter_cases(FLOATS + INTS))
def test_filter2d_mixed_and_integer_dtypes_match_ndimage(backend: str, case: dict[str, Any]) -> None:
    check_filter(case, backend)


# --- hand-computed cases -------------------------------------------------------------------------


ROW = np.array([[1.0, 2.0, 3.0, 4.0]])


@pytest.mark.parametrize(
    "boundary, left, right, left2",
    [
        # out = ext[j - 1] with [1, 0, 0]; ext[j + 1] with [0, 0, 1]; ext[j - 2] with [1, 0, 0, 0] (anchor 4 // 2 = 2)
        ("fill", [9, 1, 2, 3], [2, 3, 4, 9], [9, 9, 1, 2]),  # 9 9 | 1 2 3 4 | 9 9 (fillvalue 9)
        ("wrap", [4, 1, 2, 3], [2, 3, 4, 1], [3, 4, 1, 2]),  # 3 4 | 1 2 3 4 | 1 2
        ("symm", [1, 1, 2, 3], [2, 3, 4, 4], [2, 1, 1, 2]),  # 2 1 | 1 2 3 4 | 4 3
        ("reflect", [2, 1, 2, 3], [2, 3, 4, 3], [3, 2, 1, 2]),  # 3 2 | 1 2 3 4 | 3 2
        ("nearest", [1, 1, 2, 3], [2, 3, 4, 4], [1, 1, 1, 2]),  # 1 1 | 1 2 3 4 | 4 4
    ],
)
def test_filter2d_boundaries_on_one_row_by_hand(
    backend: str, boundary: str, left: list[float], right: list[float], left2: list[float]
) -> None:
    kw = dict(boundary=boundary, fillvalue=9.0, backend=backend)
    np.testing.assert_array_equal(fc.filter2d(ROW, np.array([[1.0, 0.0, 0.0]]), **kw), [left])
    np.testing.assert_array_equal(fc.filter2d(ROW, np.array([[0.0, 0.0, 1.0]]), **kw), [right])
    np.testing.assert_array_equal(fc.filter2d(ROW, np.array([[1.0, 0.0, 0.0, 0.0]]), **kw), [left2])


def test_filter2d_default_boundary_is_reflect(backend: str) -> None:
    np.testing.assert_array_equal(fc.filter2d(ROW, np.array([[1.0, 0.0, 0.0]]), backend=backend), [[2.0, 1.0, 2.0, 3.0]])


def test_filter2d_anchor_of_even_kernels_by_hand(backend: str) -> None:
    image = np.zeros((5, 6))
    image[2, 3] = 1.0
    kernel = np.arange(1.0, 13.0).reshape(3, 4)
    out = fc.filter2d(image, kernel, "fill", backend=backend)
    # out[i, j] = sum k[a, b] image[i + a - 1, j + b - 2]: the kernel rotated by 180 degrees,
    # with k[1, 2] (the anchor) landing on the impulse
    expected = np.zeros((5, 6))
    expected[1:4, 2:6] = kernel[::-1, ::-1]
    np.testing.assert_array_equal(out, expected)


def test_filter2d_every_plane_of_a_4d_stack(backend: str) -> None:
    rng = np.random.default_rng(0)
    image = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    kernel = rng.standard_normal((3, 3)).astype(np.float32)
    out = fc.filter2d(image, kernel, backend=backend)
    assert out.shape == image.shape and out.dtype == np.float32
    for i in range(2):
        for c in range(3):
            single = fc.filter2d(image[i, c], kernel, backend=backend)
            assert_close(out[i, c], single, bound=filter_oracle(np.abs(image[i, c]), np.abs(kernel)))
    assert_close(out, filter_oracle(image, kernel), bound=filter_oracle(np.abs(image), np.abs(kernel)))


# --- dtypes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", INTS)
def test_filter2d_integer_images_give_floats_and_never_wrap(backend: str, dtype: Any) -> None:
    image = np.full((4, 5), 1 if dtype == np.bool_ else 100, dtype=dtype)
    kernel = np.full((3, 3), 3, dtype=np.uint8)
    for boundary in BOUNDARIES:
        out = fc.filter2d(image, kernel, boundary, backend=backend)
        assert out.dtype == expected_dtype(image, kernel)
        np.testing.assert_array_equal(out, filter_oracle(image, kernel, boundary))


def test_filter2d_uint8_never_saturates(backend: str) -> None:
    image = np.full((3, 3), 255, dtype=np.uint8)
    out = fc.filter2d(image, np.ones((3, 3), dtype=np.uint8), "nearest", backend=backend)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.full((3, 3), 9 * 255.0))
    out = fc.filter2d(image, -np.ones((3, 3), dtype=np.float64), "nearest", backend=backend)
    np.testing.assert_array_equal(out, np.full((3, 3), -9 * 255.0))


@pytest.mark.parametrize(
    "t_image, t_kernel",
    [(np.uint8, np.float32), (np.float32, np.float64), (np.float64, np.float32), (np.int16, np.float32), (np.float16, np.float16), (np.uint8, np.float16)],
)
def test_filter2d_result_type_when_floating(backend: str, t_image: Any, t_kernel: Any) -> None:
    rng = np.random.default_rng(4)
    image = random_array(rng, (2, 5, 6), t_image, low=0, high=9)
    kernel = random_array(rng, (3, 2), t_kernel)
    dtype = expected_dtype(image, kernel)
    out = fc.filter2d(image, kernel, "symm", backend=backend)
    if dtype == np.float16:
        ref = filter_oracle(image, kernel, "symm", dtype=np.float32).astype(np.float16)
    else:
        ref = filter_oracle(image, kernel, "symm")
    bound = filter_oracle(np.abs(image.astype(np.float64)), np.abs(kernel.astype(np.float64)), "symm")
    assert_close(out, ref, dtype=dtype, bound=bound)


# --- array-likes and input safety ------------------------------------------------------------------------


def test_filter2d_accepts_nested_lists_and_tensors(backend: str) -> None:
    out = fc.filter2d([[1, 2, 3, 4]], [[1, 0, 0]], backend=backend)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[2.0, 1.0, 2.0, 3.0]])
    t = torch.arange(20, dtype=torch.float32).reshape(4, 5)
    k = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    out = fc.filter2d(t, k, "wrap", backend=backend)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert_close(out, filter_oracle(t.numpy(), k.numpy(), "wrap"), bound=filter_oracle(np.abs(t.numpy()), np.abs(k.numpy()), "wrap"))


def test_filter2d_does_not_modify_read_only_inputs(backend: str) -> None:
    rng = np.random.default_rng(6)
    image, kernel = rng.standard_normal((2, 5, 4)), rng.standard_normal((3, 4))
    copies = snapshot(image, kernel)
    image.setflags(write=False)
    kernel.setflags(write=False)
    for boundary in BOUNDARIES:
        out = fc.filter2d(image, kernel, boundary, 0.5, backend=backend)
        assert_close(out, filter_oracle(copies[0], copies[1], boundary, 0.5), dtype=np.float64,
                     bound=filter_oracle(np.abs(copies[0]), np.abs(copies[1]), boundary, 0.5))
    assert_unchanged(copies, image, kernel)
