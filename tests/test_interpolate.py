"""interpolate and upsample against torch.nn.functional.interpolate (CPU).

Nearest modes must pick exactly torch's pixels; linear modes match to the
float tolerances, measured against the interpolation of ``|x|``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import FLOATS, assert_close, assert_same_values, assert_unchanged, layouts, random_array, seeds, snapshot, with_layout
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import interpolate as oracle

import fastconv as fc


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    nd = draw(st.sampled_from([1, 2]))
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear" if nd == 1 else "bilinear"]))
    linear = mode in ("linear", "bilinear")
    dtype = np.dtype(draw(st.sampled_from(FLOATS + ([np.uint8, np.int32, np.bool_] if not linear else [np.uint8]))))
    sizes = tuple(draw(st.integers(1, 9)) for _ in range(nd))
    kwargs: dict[str, Any] = dict(mode=mode)
    if linear:
        kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
    if draw(st.booleans()):
        out = tuple(draw(st.integers(1, 12)) for _ in range(nd))
        kwargs["size"] = out[0] if nd == 1 or draw(st.booleans()) and out[0] == out[-1] else out
    else:
        factor = st.one_of(st.integers(1, 3), st.floats(0.3, 3.5).map(lambda f: round(f, 3)))
        scales = tuple(draw(factor) for _ in range(nd))
        if any(int(n * s) < 1 for n, s in zip(sizes, scales)):
            scales = tuple(max(s, 1) for s in scales)
        kwargs["scale_factor"] = scales[0] if nd == 1 or draw(st.booleans()) and scales[0] == scales[-1] else scales
        if draw(st.booleans()):
            kwargs["recompute_scale_factor"] = draw(st.booleans())
    rng = np.random.default_rng(draw(seeds))
    special = draw(st.sampled_from([None, None, None, "mixed"])) if dtype.kind == "f" else None
    shape = (draw(st.integers(0, 2)), draw(st.integers(1, 3)), *sizes)
    x = with_layout(random_array(rng, shape, dtype, special=special, low=0, high=255), draw(layouts))
    return dict(x=x, dtype=dtype, kwargs=kwargs)


@settings(max_examples=max(10, settings.default.max_examples // 2))
@given(case=cases())
def test_interpolate_matches_torch(backend: str, case: dict[str, Any]) -> None:
    x, dtype, kwargs = case["x"], case["dtype"], case["kwargs"]
    before = snapshot(x)
    out = fc.interpolate(x, **kwargs, backend=backend)
    assert_unchanged(before, x)
    if kwargs["mode"].startswith("nearest"):
        # torch refuses most integer types here: compare the picked values through float64
        expected = oracle(x, dtype=None if dtype in (np.uint8, *FLOATS) else np.float64, **kwargs).astype(dtype)
        assert_same_values(out, expected, dtype=dtype)
    elif dtype.kind == "f":
        assert_close(out, oracle(x, **kwargs), dtype=dtype, bound=oracle(np.abs(x), **kwargs))
    else:  # integers give float64 (torch rounds back to uint8)
        assert_close(out, oracle(x, dtype=np.float64, **kwargs), dtype=np.float64)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("size", [(1, 1), (5, 3), (11, 17), (64, 31)])
def test_bilinear_align_corners_sizes(backend: str, dtype: Any, size: tuple[int, int]) -> None:
    x = np.random.default_rng(1).standard_normal((1, 2, 6, 9)).astype(dtype)
    for align in (False, True):
        kwargs = dict(size=size, mode="bilinear", align_corners=align)
        out = fc.interpolate(x, **kwargs, backend=backend)
        assert_close(out, oracle(x, **kwargs), dtype=dtype, bound=oracle(np.abs(x), **kwargs))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_picks_torch_pixels_for_awkward_scales(backend: str, mode: str) -> None:
    # scales whose float32 products land near integers, where a float64 computation would pick other pixels
    x = np.arange(1 * 1 * 37 * 41, dtype=np.float32).reshape(1, 1, 37, 41)
    for kwargs in [dict(scale_factor=(1.1, 0.7)), dict(scale_factor=2.9), dict(size=(53, 29)), dict(scale_factor=1 / 3)]:
        out = fc.interpolate(x, mode=mode, **kwargs, backend=backend)
        assert_same_values(out, oracle(x, mode=mode, **kwargs), dtype=np.float32)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(scale_factor=2, mode="nearest"),
        dict(size=(45, 70), mode="nearest"),
        dict(scale_factor=(2, 1.5), mode="nearest-exact"),
        dict(scale_factor=2, mode="bilinear"),
        dict(scale_factor=2, mode="bilinear", align_corners=True),
        dict(size=(13, 51), mode="bilinear"),
        dict(size=(61, 35), mode="bilinear", align_corners=True),
    ],
)
def test_interpolate_many_rows_match_torch(backend: str, dtype: Any, kwargs: dict[str, Any]) -> None:
    """Planes of many rows and batches of planes: the rows one job shares with the row before it (a
    copied nearest row, a column-interpolated input row kept), across planes and job boundaries."""
    x = random_array(np.random.default_rng(5), (2, 7, 23, 35), dtype, special="mixed")
    out = fc.interpolate(x, **kwargs, backend=backend)
    if kwargs["mode"].startswith("nearest"):
        assert_same_values(out, oracle(x, **kwargs), dtype=dtype)
    else:
        assert_close(out, oracle(x, **kwargs), dtype=dtype, bound=oracle(np.abs(x), **kwargs))


def test_upsample_is_interpolate(backend: str) -> None:
    x = np.random.default_rng(3).standard_normal((2, 1, 4, 5))
    np.testing.assert_array_equal(
        fc.upsample(x, scale_factor=2, mode="bilinear", backend=backend),
        fc.interpolate(x, scale_factor=2, mode="bilinear", backend=backend),
    )
    assert fc.upsample(x, size=3, backend=backend).shape == (2, 1, 3, 3)


def test_interpolate_keeps_dtypes_and_empty_batch(backend: str) -> None:
    x = random_array(np.random.default_rng(4), (0, 2, 3, 3), np.float32)
    assert fc.interpolate(x, scale_factor=2, backend=backend).shape == (0, 2, 6, 6)
    b = np.array([[[True, False, True]]])
    assert_same_values(fc.interpolate(b, size=5, backend=backend), oracle(b.astype(np.uint8), size=5).astype(bool), dtype=bool)
    h = np.ones((1, 1, 2, 2), np.float16)
    assert fc.interpolate(h, scale_factor=2, mode="bilinear", backend=backend).dtype == np.float16
    i = np.arange(4).reshape(1, 1, 4)
    assert fc.interpolate(i, size=7, mode="linear", backend=backend).dtype == np.float64
