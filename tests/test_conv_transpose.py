"""conv_transpose2d and conv_transpose1d against torch.nn.functional (CPU)."""

from __future__ import annotations

from typing import Any

import numpy as np
from conftest import EXACT_INTS, FLOATS, assert_close, assert_unchanged, int_or_tuple, layouts, random_array, seeds, snapshot, with_layout
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from naive import conv_transpose as oracle

import fastconv as fc


@st.composite
def cases(draw: Any, nd: int) -> dict[str, Any]:
    dtype = np.dtype(draw(st.sampled_from(FLOATS + EXACT_INTS)))
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    stride_arg, stride = int_or_tuple(draw, st.integers(1, 3), nd)
    dilation_arg, dilation = int_or_tuple(draw, st.integers(1, 3), nd)
    padding_arg, padding = int_or_tuple(draw, st.integers(0, 3), nd)
    limits = [max(s, d) - 1 for s, d in zip(stride, dilation)]
    output_padding = tuple(draw(st.integers(0, m)) for m in limits)
    sizes = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in zip(sizes, stride, padding, dilation, kernel, output_padding)]
    assume(min(out) >= 1)
    unbatched = draw(st.booleans())
    x_shape = (cin, *sizes) if unbatched else (draw(st.integers(0, 2)), cin, *sizes)
    floating = dtype.kind == "f"
    special = draw(st.sampled_from([None] * 4 + ["mixed"])) if floating else None
    rng = np.random.default_rng(draw(seeds))
    x = with_layout(random_array(rng, x_shape, dtype, special=special), draw(layouts))
    w = with_layout(random_array(rng, (cin, cout // groups, *kernel), dtype, special=special), draw(layouts))
    b = random_array(rng, (cout,), dtype) if draw(st.booleans()) else None
    kwargs = dict(stride=stride_arg, padding=padding_arg, output_padding=output_padding, groups=groups, dilation=dilation_arg)
    return dict(x=x, w=w, b=b, dtype=dtype, kwargs=kwargs)


def check(func: Any, nd: int, case: dict[str, Any], backend: str) -> None:
    x, w, b, dtype = case["x"], case["w"], case["b"], case["dtype"]
    before = snapshot(x, w)
    out = func(x, w, b, **case["kwargs"], backend=backend)
    assert_unchanged(before, x, w)
    if dtype.kind == "f":
        bound = oracle(np.abs(x), np.abs(w), None if b is None else np.abs(b), dtype=np.float64, **case["kwargs"])
        assert_close(out, oracle(x, w, b, dtype=np.float64, **case["kwargs"]), dtype=dtype, bound=bound)
    else:
        assert_close(out, oracle(x, w, b, dtype=np.int64, **case["kwargs"]), dtype=np.int64)


EXAMPLES = settings(max_examples=max(10, settings.default.max_examples // 3))


@EXAMPLES
@given(case=cases(nd=2))
def test_conv_transpose2d_matches_torch(backend: str, case: dict[str, Any]) -> None:
    check(fc.conv_transpose2d, 2, case, backend)


@EXAMPLES
@given(case=cases(nd=1))
def test_conv_transpose1d_matches_torch(backend: str, case: dict[str, Any]) -> None:
    check(fc.conv_transpose1d, 1, case, backend)


def test_conv_transpose2d_nan_weight_reaches_only_its_taps(backend: str) -> None:
    # torch sums input x weight products only: a NaN tap marks the outputs it lands on, not its neighbours
    w = np.ones((1, 1, 3, 3))
    w[0, 0, 0, 0] = np.nan
    out = fc.conv_transpose2d(np.ones((1, 1, 2, 2)), w, stride=2, backend=backend)
    assert_close(out, oracle(np.ones((1, 1, 2, 2)), w, None, stride=2), dtype=np.float64)
    assert np.isnan(out).sum() == 4


def test_conv_transpose2d_by_hand(backend: str) -> None:
    # stride 2 spreads each input value over its own 2 x 2 block
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = fc.conv_transpose2d(x, np.ones((1, 1, 2, 2)), np.array([0.5]), stride=2, backend=backend)
    np.testing.assert_array_equal(out[0, 0], np.kron(x[0, 0], np.ones((2, 2))) + 0.5)


def test_conv_transpose2d_float32_large_channels(backend: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 16, 6, 7)).astype(np.float32)
    w = rng.standard_normal((16, 8, 4, 4)).astype(np.float32)
    kwargs = dict(stride=2, padding=1)
    out = fc.conv_transpose2d(x, w, **kwargs, backend=backend)
    bound = oracle(np.abs(x), np.abs(w), None, dtype=np.float64, **kwargs)
    assert_close(out, oracle(x, w, None, dtype=np.float64, **kwargs), dtype=np.float32, bound=bound)


def test_conv_transpose2d_empty_batch_and_unbatched(backend: str) -> None:
    out = fc.conv_transpose2d(np.zeros((0, 2, 3, 3), np.float32), np.ones((2, 3, 2, 2), np.float32), stride=2, backend=backend)
    assert out.shape == (0, 3, 6, 6) and out.dtype == np.float32
    x = np.arange(2 * 3 * 3.0).reshape(2, 3, 3)
    w = np.ones((2, 1, 2, 2))
    out = fc.conv_transpose2d(x, w, backend=backend)
    assert out.shape == (1, 4, 4)
    assert_close(out, oracle(x, w, None, dtype=np.float64), dtype=np.float64)
