"""conv2d and conv1d against torch.nn.functional (CPU).

The oracle, ``naive.conv``, applies ``padding_mode`` exactly as
``torch.nn.Conv2d`` does: ``F.conv2d(F.pad(x, pads, mode), w, padding=0)``,
with "same" split as ``left = total // 2``, ``right = total - left``,
``total = dilation * (k - 1)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import (
    EXACT_INTS,
    FLOATS,
    assert_close,
    assert_unchanged,
    int_or_tuple,
    layouts,
    random_array,
    seeds,
    snapshot,
    with_layout,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import PADDING_MODES, axis_pads
from naive import conv as conv_oracle

import fastconv as fc

nan = np.nan


# --- random valid configurations ---------------------------------------------------------


@st.composite
def conv_cases(draw: Any, nd: int, dtypes: list[Any] = FLOATS) -> dict[str, Any]:
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    groups = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    cin_g = 1 if depthwise else draw(st.integers(1, 2))
    cout_g = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    kwargs: dict[str, Any] = {}
    if groups != 1 or draw(st.booleans()):
        kwargs["groups"] = groups

    if draw(st.booleans()):
        # keep the dilated kernel at most 7 wide, so inputs stay tiny
        dmax = [min(3, 6 // (k - 1)) if k > 1 else 3 for k in kernel]
        if draw(st.booleans()):
            d = draw(st.integers(1, min(dmax)))
            dilation_arg, dilation = d, (d,) * nd
        else:
            dilation = tuple(draw(st.integers(1, m)) for m in dmax)
            dilation_arg = dilation
        kwargs["dilation"] = dilation_arg
    else:
        dilation_arg, dilation = 1, (1,) * nd

    padding_mode = draw(st.sampled_from(PADDING_MODES))
    if padding_mode != "zeros" or draw(st.booleans()):
        kwargs["padding_mode"] = padding_mode

    pad_form = draw(st.sampled_from(["omit", "int", "tuple", "same", "valid"]))
    if pad_form == "same":
        stride_form = draw(st.sampled_from(["omit", "int", "tuple"]))
        stride_arg: Any = {"omit": 1, "int": 1, "tuple": (1,) * nd}[stride_form]
        if stride_form != "omit":
            kwargs["stride"] = stride_arg
        padding_arg: Any = "same"
    else:
        stride_arg, _ = int_or_tuple(draw, st.integers(1, 3), nd)
        kwargs["stride"] = stride_arg
        if pad_form == "omit":
            padding_arg = 0
        elif pad_form == "valid":
            padding_arg = "valid"
        elif pad_form == "int":
            padding_arg = draw(st.integers(0, 3))
        else:
            padding_arg = tuple(draw(st.integers(0, 3)) for _ in range(nd))
    if pad_form != "omit":
        kwargs["padding"] = padding_arg

    # Spatial sizes: the smallest valid size plus a little.
    sizes = []
    for k, d, (lo, hi) in zip(kernel, dilation, axis_pads(padding_arg, kernel, dilation)):
        minimum = max(1, d * (k - 1) + 1 - lo - hi)
        if padding_mode == "reflect":
            minimum = max(minimum, max(lo, hi) + 1)
        elif padding_mode == "circular":
            minimum = max(minimum, max(lo, hi))
        sizes.append(minimum + draw(st.integers(0, 3)))

    unbatched = draw(st.booleans())
    n = draw(st.integers(0, 2))
    cin, cout = groups * cin_g, groups * cout_g
    x_shape = (cin, *sizes) if unbatched else (n, cin, *sizes)
    w_shape = (cout, cin_g, *kernel)
    has_bias = draw(st.booleans())
    floating = dtype.kind == "f"
    special = draw(st.sampled_from([None] * 6 + ["mixed", "nan"])) if floating else None
    w_special = draw(st.sampled_from([None] * 6 + ["mixed", "nan"])) if floating else None
    rng = np.random.default_rng(draw(seeds))
    x = with_layout(random_array(rng, x_shape, dtype, special=special), draw(layouts))
    w = with_layout(random_array(rng, w_shape, dtype, special=w_special), draw(layouts))
    b = random_array(rng, (cout,), dtype) if has_bias else None
    return dict(
        x=x,
        w=w,
        b=b,
        dtype=dtype,
        kwargs=kwargs,
        oracle=dict(
            stride=stride_arg,
            padding=padding_arg,
            dilation=dilation_arg,
            groups=groups,
            padding_mode=padding_mode,
        ),
    )


# torch's activations; the oracle applies them in float64 (torch's float32 CPU gelu gives NaN at +inf).
ACTIVATIONS = {"relu": F.relu, "relu6": F.relu6, "silu": F.silu, "gelu": F.gelu, "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid}


def activated(out: np.ndarray, activation: str | None) -> np.ndarray:
    if activation is None:
        return out
    return ACTIVATIONS[activation](torch.from_numpy(out)).numpy()


def run_and_check(func: Any, case: dict[str, Any], backend: str, activation: str | None = None) -> None:
    x, w, b = case["x"], case["w"], case["b"]
    before = snapshot(x, w) + ([] if b is None else snapshot(b))
    extra = {} if activation is None else {"activation": activation}
    out = func(x, w, b, backend=backend, **case["kwargs"], **extra)
    assert_unchanged(before, x, w, *([] if b is None else [b]))
    dtype = case["dtype"]
    if dtype.kind == "f":
        ref = activated(conv_oracle(x, w, b, **case["oracle"]), activation)
        bound = conv_oracle(np.abs(x), np.abs(w), None if b is None else np.abs(b), **case["oracle"])
        assert_close(out, ref, dtype=dtype, bound=bound)
    else:
        ref = activated(conv_oracle(x, w, b, dtype=np.int64, **case["oracle"]), activation)
        assert_close(out, ref, dtype=np.int64)


@given(case=conv_cases(nd=2))
def test_conv2d_matches_torch(backend: str, case: dict[str, Any]) -> None:
    run_and_check(fc.conv2d, case, backend)


@given(case=conv_cases(nd=1))
def test_conv1d_matches_torch(backend: str, case: dict[str, Any]) -> None:
    run_and_check(fc.conv1d, case, backend)


@given(case=conv_cases(nd=2, dtypes=EXACT_INTS))
def test_conv2d_integers_exact(backend: str, case: dict[str, Any]) -> None:
    """Integer and bool inputs give exact int64 results (torch int64 as oracle)."""
    run_and_check(fc.conv2d, case, backend)


@given(case=conv_cases(nd=1, dtypes=EXACT_INTS))
def test_conv1d_integers_exact(backend: str, case: dict[str, Any]) -> None:
    run_and_check(fc.conv1d, case, backend)


FUSED_EXAMPLES = settings(max_examples=max(10, settings.default.max_examples // 3))


@FUSED_EXAMPLES
@given(case=conv_cases(nd=2, dtypes=FLOATS + EXACT_INTS), activation=st.sampled_from(list(ACTIVATIONS)))
def test_conv2d_fused_activation_matches_torch(backend: str, case: dict[str, Any], activation: str) -> None:
    """conv2d(..., activation=a) is torch's F.conv2d followed by a; integer inputs take relu and relu6."""
    if case["dtype"].kind != "f" and activation not in ("relu", "relu6"):
        activation = "relu6"
    run_and_check(fc.conv2d, case, backend, activation)


@FUSED_EXAMPLES
@given(case=conv_cases(nd=1), activation=st.sampled_from(list(ACTIVATIONS)))
def test_conv1d_fused_activation_matches_torch(backend: str, case: dict[str, Any], activation: str) -> None:
    run_and_check(fc.conv1d, case, backend, activation)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("path", ["direct", "gemm-1x1", "gemm-3x3", "1x1-planes"])  # cpu: direct kernel, GEMM epilogues
def test_conv2d_activation_of_nan_inf_and_large_values(backend: str, activation: str, dtype: Any, path: str) -> None:
    # a zero weight: each output is its channel's bias, NaN, +-inf and +-1000 included
    bias = np.array([nan, np.inf, -np.inf, -1000.0, 1000.0, -7.0, -0.5, 0.0, 0.5, 3.0, 6.0, 8.0, -1e-3, 1e-3, 5.9, 6.1], dtype)
    groups, k = {"direct": (16, 3), "gemm-1x1": (1, 1), "gemm-3x3": (1, 3), "1x1-planes": (1, 1)}[path]
    plane = (1, 1) if path == "1x1-planes" else (5, 6)
    x = np.random.default_rng(0).standard_normal((2, 16, *plane)).astype(dtype)
    w = np.zeros((16, 16 // groups, k, k), dtype)
    out = fc.conv2d(x, w, bias, padding=k // 2, groups=groups, activation=activation, backend=backend)
    expected = activated(np.broadcast_to(bias.astype(np.float64)[:, None, None], out.shape[1:]).copy(), activation)
    assert_close(out, np.broadcast_to(expected.astype(dtype), out.shape), dtype=dtype)
    assert np.isnan(out[:, 0]).all()


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("batch, bias", [(1, True), (5, False)])
def test_conv2d_1x1_on_1x1_planes_matches_torch(backend: str, activation: str, dtype: Any, batch: int, bias: bool) -> None:
    # squeeze-and-excitation's convolutions: the cpu backend runs them as one matrix product over the batch
    rng = np.random.default_rng(batch)
    x, w = rng.standard_normal((batch, 24, 1, 1)).astype(dtype), rng.standard_normal((10, 24, 1, 1)).astype(dtype)
    b = rng.standard_normal(10).astype(dtype) if bias else None
    out = fc.conv2d(x, w, b, activation=activation, backend=backend)
    bound = conv_oracle(np.abs(x), np.abs(w), None if b is None else np.abs(b))
    assert out.dtype == dtype
    assert_close(out, activated(conv_oracle(x, w, b), activation), dtype=dtype, bound=bound)


def test_conv2d_1x1_on_many_1x1_planes_matches_torch(backend: str) -> None:
    # past the cpu backend's POINTWISE_SERIAL_MACS: one BLAS GEMM, then the bias and the activation
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2100, 96, 1, 1)).astype(np.float32), rng.standard_normal((96, 96, 1, 1)).astype(np.float32)
    assert x.shape[0] * 96 * 96 > (1 << 24)
    out = fc.conv2d(x, w, activation="relu", backend=backend)
    assert_close(out, activated(conv_oracle(x, w, None), "relu"), dtype=np.float32, bound=conv_oracle(np.abs(x), np.abs(w), None))


def test_conv2d_relu_keeps_large_int64_exact(backend: str) -> None:
    x = np.array([[[[2**53, 1, -5]]]], dtype=np.int64)
    w = np.array([[[[1, 1]]]], dtype=np.int64)
    out = fc.conv2d(x, w, activation="relu", backend=backend)
    assert out.dtype == np.int64
    assert out.tolist() == [[[[2**53 + 1, 0]]]]


# --- hand-computed cases -------------------------------------------------------------------


def test_conv2d_impulse_gives_flipped_kernel(backend: str) -> None:
    # conv2d is a cross-correlation: out[i, j] = sum w[a, b] x[i + a - 1, j + b - 1],
    # so a unit impulse at (2, 2) reproduces the kernel rotated by 180 degrees around it.
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    out = fc.conv2d(x, w, padding=1, backend=backend)
    expected = np.zeros((1, 1, 5, 5))
    expected[0, 0, 1:4, 1:4] = w[0, 0, ::-1, ::-1]
    np.testing.assert_array_equal(out, expected)


def test_conv2d_impulse_at_origin_without_padding(backend: str) -> None:
    x = np.zeros((1, 1, 4, 5))
    x[0, 0, 0, 0] = 1.0
    w = np.array([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]])
    out = fc.conv2d(x, w, backend=backend)
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 0, 0] = 1.0  # only the window at the origin covers the impulse, with w[0, 0]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_conv2d_nan_weight_as_torch(backend: str, padding_mode: str) -> None:
    # torch multiplies every tap, padding included: a NaN weight makes every output
    # whose window holds that tap NaN, also where the tap lands on (zero) padding.
    x = np.ones((1, 1, 3, 3))
    w = np.array([[[[nan, 1.0], [1.0, 1.0]]]])
    out = fc.conv2d(x, w, padding=1, padding_mode=padding_mode, backend=backend)
    ref = conv_oracle(x, w, None, padding=1, padding_mode=padding_mode)
    assert np.isnan(ref).all()
    assert_close(out, ref, dtype=np.float64)


def test_conv2d_dilation_by_hand(backend: str) -> None:
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2))
    out = fc.conv2d(x, w, dilation=2, backend=backend)
    # taps at (i, j), (i, j+2), (i+2, j), (i+2, j+2)
    np.testing.assert_array_equal(out, [[[[0 + 2 + 8 + 10, 1 + 3 + 9 + 11], [4 + 6 + 12 + 14, 5 + 7 + 13 + 15]]]])


def test_conv2d_stride_by_hand(backend: str) -> None:
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    w = np.zeros((1, 1, 1, 1)) + 1.0
    out = fc.conv2d(x, w, stride=(2, 3), backend=backend)
    np.testing.assert_array_equal(out, x[:, :, ::2, ::3])


@pytest.mark.parametrize(
    "padding_mode, expected",
    [
        ("zeros", [0.0, 1.0, 2.0]),  # 0 | 1 2 3 | 0
        ("reflect", [2.0, 1.0, 2.0]),  # 2 | 1 2 3 | 2
        ("replicate", [1.0, 1.0, 2.0]),  # 1 | 1 2 3 | 3
        ("circular", [3.0, 1.0, 2.0]),  # 3 | 1 2 3 | 1
    ],
)
def test_conv2d_padding_modes_by_hand(backend: str, padding_mode: str, expected: list[float]) -> None:
    # The kernel [1, 0, 0] picks each output's left neighbour in the padded row.
    x = np.array([[[[1.0, 2.0, 3.0]]]])
    w = np.array([[[[1.0, 0.0, 0.0]]]])
    out = fc.conv2d(x, w, padding=(0, 1), padding_mode=padding_mode, backend=backend)
    np.testing.assert_array_equal(out, [[[expected]]])


def test_conv2d_groups_and_bias_by_hand(backend: str) -> None:
    x = np.array([[[[5.0]], [[7.0]]]])  # (1, 2, 1, 1)
    w = np.array([[[[2.0]]], [[[3.0]]]])  # (2, 1, 1, 1): depthwise
    out = fc.conv2d(x, w, np.array([0.5, -1.0]), groups=2, backend=backend)
    np.testing.assert_array_equal(out, [[[[10.5]], [[20.0]]]])


@pytest.mark.parametrize("stride", [1, 2, (1, 2)])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_depthwise_conv2d_on_tall_narrow_planes_runs_several_bands(backend: str, stride, padding_mode) -> None:
    """Planes 300 x 20: the cpu depthwise kernel splits them into bands of rows, and groups bands into jobs."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 12, 300, 20)), rng.standard_normal((12, 1, 3, 5)), rng.standard_normal(12)
    kw = dict(stride=stride, padding=(1, 3), dilation=(2, 1), groups=12, padding_mode=padding_mode)
    out = fc.conv2d(x, w, b, **kw, activation="relu6", backend=backend)
    bound = conv_oracle(np.abs(x), np.abs(w), np.abs(b), **kw)
    assert_close(out, np.clip(conv_oracle(x, w, b, **kw), 0, 6), dtype=np.float64, bound=bound)


def test_conv2d_positional_arguments(backend: str) -> None:
    x = np.arange(2 * 5 * 5, dtype=np.float64).reshape(1, 2, 5, 5)
    w = np.ones((2, 1, 3, 3))
    b = np.array([1.0, 2.0])
    out = fc.conv2d(x, w, b, 2, 1, 1, 2, backend=backend)
    ref = conv_oracle(x, w, b, stride=2, padding=1, dilation=1, groups=2)
    assert_close(out, ref, dtype=np.float64)


def test_conv2d_unbatched_shape(backend: str) -> None:
    x = np.random.default_rng(1).standard_normal((3, 6, 7))
    w = np.random.default_rng(2).standard_normal((4, 3, 3, 2))
    out = fc.conv2d(x, w, padding="same", backend=backend)
    assert out.shape == (4, 6, 7)
    assert_close(out, conv_oracle(x, w, None, padding="same"), dtype=np.float64)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_conv2d_empty_batch(backend: str, padding_mode: str) -> None:
    x = np.zeros((0, 2, 5, 6), dtype=np.float32)
    w = np.zeros((3, 2, 3, 3), dtype=np.float32)
    out = fc.conv2d(x, w, padding=1, stride=2, padding_mode=padding_mode, backend=backend)
    assert isinstance(out, np.ndarray)
    assert out.shape == (0, 3, 3, 3)
    assert out.dtype == np.float32


def test_conv1d_same_even_kernel_by_hand(backend: str) -> None:
    # total padding 3: one before, two after; out[i] = sum_j w[j] x[i + j - 1]
    x = np.array([[[0.0, 0.0, 1.0, 0.0, 0.0]]])
    w = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    out = fc.conv1d(x, w, padding="same", backend=backend)
    np.testing.assert_array_equal(out, [[[4.0, 3.0, 2.0, 1.0, 0.0]]])


def test_conv1d_unbatched_and_empty(backend: str) -> None:
    x = np.arange(12.0).reshape(2, 6)
    w = np.ones((3, 2, 2))
    out = fc.conv1d(x, w, backend=backend)
    assert out.shape == (3, 5)
    np.testing.assert_array_equal(out, np.broadcast_to(x[0, :-1] + x[0, 1:] + x[1, :-1] + x[1, 1:], (3, 5)))
    empty = fc.conv1d(np.zeros((0, 2, 6)), w, backend=backend)
    assert empty.shape == (0, 3, 5)


# --- dtypes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", EXACT_INTS)
@pytest.mark.parametrize("op", ["conv2d", "conv1d"])
def test_conv_integer_inputs_give_int64(backend: str, op: str, dtype: Any) -> None:
    rng = np.random.default_rng(7)
    nd = 2 if op == "conv2d" else 1
    x = random_array(rng, (2, 3) + (6,) * nd, dtype, low=-9, high=9)
    w = random_array(rng, (4, 3) + (3,) * nd, dtype, low=-9, high=9)
    b = random_array(rng, (4,), dtype, low=-9, high=9)
    out = getattr(fc, op)(x, w, b, padding=1, backend=backend)
    assert_close(out, conv_oracle(x, w, b, padding=1, dtype=np.int64), dtype=np.int64)


@pytest.mark.parametrize("op", ["conv2d", "conv1d"])
def test_conv_uint64_gives_float64_like_numpy_promotion(backend: str, op: str) -> None:
    rng = np.random.default_rng(11)
    nd = 2 if op == "conv2d" else 1
    x = rng.integers(0, 2**40, (2, 3) + (5,) * nd).astype(np.uint64)
    w = rng.integers(0, 9, (4, 3) + (3,) * nd).astype(np.uint64)
    out = getattr(fc, op)(x, w, padding=1, backend=backend)
    assert out.dtype == np.float64
    assert_close(out, conv_oracle(x.astype(np.float64), w.astype(np.float64), None, padding=1, dtype=np.float64), dtype=np.float64)


def test_conv2d_uint8_never_wraps(backend: str) -> None:
    x = np.full((1, 2, 3, 3), 200, dtype=np.uint8)
    w = np.full((1, 2, 2, 2), 200, dtype=np.uint8)
    out = fc.conv2d(x, w, backend=backend)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 8 * 200 * 200, dtype=np.int64))


def test_conv1d_mixed_integer_types_give_int64(backend: str) -> None:
    x = np.array([[[250, 251, 252]]], dtype=np.uint8)
    w = np.array([[[-128, 127]]], dtype=np.int8)
    out = fc.conv1d(x, w, np.array([2**40]), backend=backend)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[[250 * -128 + 251 * 127 + 2**40, 251 * -128 + 252 * 127 + 2**40]]])


def test_conv2d_large_int64_is_exact(backend: str) -> None:
    # 2**53 + 1 is not a float64: a float path would lose the final 1.
    x = np.array([[[[2**53, 1]]]], dtype=np.int64)
    w = np.array([[[[1, 1]]]], dtype=np.int64)
    out = fc.conv2d(x, w, backend=backend)
    assert out.dtype == np.int64
    assert int(out[0, 0, 0, 0]) == 2**53 + 1


@pytest.mark.parametrize(
    "xdt, wdt, bdt",
    [
        (np.float32, np.float64, None),
        (np.float64, np.float32, None),
        (np.float32, np.float32, np.float64),
        (np.int16, np.float32, None),
        (np.int64, np.float32, None),
        (np.uint8, np.float64, np.int32),
        (np.bool_, np.float32, None),
        (np.float32, np.int32, None),
    ],
)
@pytest.mark.parametrize("op", ["conv2d", "conv1d"])
def test_conv_mixed_dtypes_follow_result_type(backend: str, op: str, xdt: Any, wdt: Any, bdt: Any) -> None:
    rng = np.random.default_rng(3)
    nd = 2 if op == "conv2d" else 1
    x = random_array(rng, (1, 2) + (5,) * nd, xdt)
    w = random_array(rng, (3, 2) + (2,) * nd, wdt)
    b = None if bdt is None else random_array(rng, (3,), bdt)
    expected_dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    assert expected_dtype.kind == "f"
    out = getattr(fc, op)(x, w, b, backend=backend)
    ref = conv_oracle(x, w, b)
    bound = conv_oracle(np.abs(x.astype(np.float64)), np.abs(w), None if b is None else np.abs(b))
    assert_close(out, ref, dtype=expected_dtype, bound=bound)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("op", ["conv2d", "conv1d"])
def test_conv_float16_stays_float16(backend: str, op: str, padding_mode: str) -> None:
    rng = np.random.default_rng(11)
    nd = 2 if op == "conv2d" else 1
    x = rng.standard_normal((2, 4) + (6,) * nd).astype(np.float16)
    w = rng.standard_normal((4, 2) + (3,) * nd).astype(np.float16)
    b = rng.standard_normal(4).astype(np.float16)
    kw = dict(padding=1, groups=2, padding_mode=padding_mode)
    out = getattr(fc, op)(x, w, b, backend=backend, **kw)
    # the oracle in float32, rounded to float16
    ref = conv_oracle(x, w, b, dtype=np.float32, **kw).astype(np.float16)
    bound = conv_oracle(np.abs(x), np.abs(w), np.abs(b), dtype=np.float32, **kw)
    assert_close(out, ref, dtype=np.float16, bound=bound)


@pytest.mark.parametrize("which", ["input", "weight", "bias"])
@pytest.mark.parametrize("op", ["conv2d", "conv1d"])
def test_conv_complex_is_a_type_error(backend: str, op: str, which: str) -> None:
    nd = 2 if op == "conv2d" else 1
    args = {
        "input": np.ones((1, 1) + (3,) * nd),
        "weight": np.ones((1, 1) + (2,) * nd),
        "bias": np.ones(1),
    }
    args[which] = args[which].astype(np.complex128)
    with pytest.raises(TypeError, match=which):
        getattr(fc, op)(args["input"], args["weight"], args["bias"], backend=backend)


# --- array-likes and input safety ----------------------------------------------------------


def test_conv2d_accepts_nested_lists(backend: str) -> None:
    out = fc.conv2d([[[[1, 2, 3], [4, 5, 6]]]], [[[[1, 1]]]], backend=backend)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[[[3, 5], [9, 11]]]])
    out = fc.conv1d([[1.0, 2.0, 4.0]], [[[0.5, 0.25]]], backend=backend)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1.0, 2.0]])


def test_conv2d_accepts_torch_tensors(backend: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 6, 6, generator=g)
    w = torch.randn(4, 3, 3, 3, generator=g)
    b = torch.randn(4, generator=g)
    out = fc.conv2d(x, w, b, padding=1, backend=backend)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float32
    ref = conv_oracle(x.numpy(), w.numpy(), b.numpy(), padding=1)
    bound = conv_oracle(np.abs(x.numpy()), np.abs(w.numpy()), np.abs(b.numpy()), padding=1)
    assert_close(out, ref, bound=bound)
    out1 = fc.conv1d(x[:, :, 0], w[:, :, 0], backend=backend)
    assert_close(out1, conv_oracle(x[:, :, 0].numpy(), w[:, :, 0].numpy(), None), dtype=np.float32,
                 bound=conv_oracle(np.abs(x[:, :, 0].numpy()), np.abs(w[:, :, 0].numpy()), None))


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("op", ["conv2d", "conv1d"])
def test_conv_does_not_modify_read_only_inputs(backend: str, op: str, padding_mode: str) -> None:
    rng = np.random.default_rng(5)
    nd = 2 if op == "conv2d" else 1
    x = rng.standard_normal((2, 2) + (5,) * nd)
    w = rng.standard_normal((2, 1) + (3,) * nd)
    b = rng.standard_normal(2)
    copies = snapshot(x, w, b)
    for a in (x, w, b):
        a.setflags(write=False)
    out = getattr(fc, op)(x, w, b, padding=1, groups=2, padding_mode=padding_mode, backend=backend)
    assert_unchanged(copies, x, w, b)
    ref = conv_oracle(copies[0], copies[1], copies[2], padding=1, groups=2, padding_mode=padding_mode)
    assert_close(out, ref, dtype=np.float64)
