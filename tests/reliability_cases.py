"""Shared by the reliability tests (tests/ and tests_cuda/): fuzzed inputs and their oracles.

Each fuzzed case is every public operation on arrays of any real dtype, in
any memory layout (C, Fortran, strided, negative strides, read-only,
big-endian), with geometries that include empty dimensions, 1x1 inputs and
strides or dilations larger than the input.  The oracle (torch, scipy,
numpy: ``naive.py``) runs in float64 on the same values; ``check`` demands the oracle's
answer in the dtype of the README's table, or a ValueError/TypeError when
the oracle refuses the input too.
"""

from __future__ import annotations

import math
import threading

import naive
import numpy as np
from hypothesis import strategies as st
from naive import FILTER_BOUNDARIES, PADDING_MODES, UNROUNDED_RTOL

import fastconv as fc

DTYPES = ("float64", "float32", "float16", "int8", "uint8", "int32", "uint64", "bool")
LAYOUTS = ("C", "F", "strided", "reversed", "readonly", "bigendian")


def with_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """``a``'s values in the memory layout ``layout``."""
    every = (slice(None, None, 2),) * a.ndim
    backwards = (slice(None, None, -1),) * a.ndim
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros(tuple(2 * n for n in a.shape), a.dtype)
        big[every] = a
        return big[every]
    if layout == "reversed":
        return a[backwards].copy()[backwards]
    if layout == "readonly":
        a = a.copy()
        a.setflags(write=False)
        return a
    if layout == "bigendian":
        return a.astype(a.dtype.newbyteorder(">"))
    return a


@st.composite
def arrays(draw, shape, dtypes=DTYPES):
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind == "b":
        values = rng.random(shape) < 0.5
    elif dtype.kind in "iu":
        values = rng.integers(0 if dtype.kind == "u" else -4, 5, shape)
    else:
        values = rng.standard_normal(shape)
    return with_layout(values.astype(dtype), draw(st.sampled_from(LAYOUTS)))


def sizes(low=0, high=6):
    return st.integers(low, high)


def pair(low, high):
    return st.tuples(st.integers(low, high), st.integers(low, high))


def _result_type(*arrays):
    return np.result_type(*(a.dtype for a in arrays)).newbyteorder("=")


def conv_dtype(*arrays, **_):
    """README: floats keep the result type, integers and bools give int64 (uint64: float64)."""
    r = _result_type(*arrays)
    return r if r.kind == "f" else np.result_type(r, np.int64)


def filter_dtype(*arrays, **_):
    """README: floats keep the result type, integers and bools give float64."""
    r = _result_type(*arrays)
    return r if r.kind == "f" else np.dtype(np.float64)


def image_dtype(image, *kernels, **_):
    """README: a floating image keeps its dtype; integer and bool images give float32 up to 16 bits, float64 wider."""
    r = _result_type(image)
    if r.kind == "f":
        return r
    return np.dtype(np.float32 if r.itemsize <= 2 else np.float64)


def pool_dtype(a, **_):
    return _result_type(a)


def interpolate_dtype(x, mode="nearest", **_):
    """README: nearest modes keep every dtype, linear ones are filters."""
    return pool_dtype(x) if mode.startswith("nearest") else filter_dtype(x)


# --- one entry per public operation: a strategy of arguments, the fastconv call, the oracle, the dtype rule ----


@st.composite
def conv_args(draw, nd=2):
    n, groups = draw(sizes(0, 2)), draw(st.sampled_from((1, 2)))
    c, o = groups * draw(sizes(1, 2)), groups * draw(sizes(1, 2))  # torch answers wrongly for C = 0
    x = draw(arrays((n, c) + tuple(draw(sizes(0, 6)) for _ in range(nd))))
    w = draw(arrays((o, c // groups) + tuple(draw(sizes(1, 3)) for _ in range(nd))))
    bias = draw(st.one_of(st.none(), arrays((o,))))
    kwargs = dict(
        stride=draw(st.tuples(*[sizes(1, 8)] * nd)), dilation=draw(st.tuples(*[sizes(1, 7)] * nd)), groups=groups,
        padding=draw(st.one_of(st.tuples(*[sizes(0, 2)] * nd), st.sampled_from(("same", "valid")))),
        padding_mode=draw(st.sampled_from(PADDING_MODES)),
    )
    return (x, w, bias), kwargs


@st.composite
def conv_transpose_args(draw, nd=2):
    n, groups = draw(sizes(0, 2)), draw(st.sampled_from((1, 2)))
    c, o = groups * draw(sizes(1, 2)), groups * draw(sizes(1, 2))
    x = draw(arrays((n, c) + tuple(draw(sizes(0, 5)) for _ in range(nd))))
    w = draw(arrays((c, o // groups) + tuple(draw(sizes(1, 3)) for _ in range(nd))))
    bias = draw(st.one_of(st.none(), arrays((o,))))
    per_axis = lambda low, high: st.tuples(*[sizes(low, high)] * nd)
    kwargs = dict(  # output_padding may reach max(stride, dilation), which both refuse
        stride=draw(per_axis(1, 3)), padding=draw(per_axis(0, 2)), output_padding=draw(per_axis(0, 2)),
        groups=groups, dilation=draw(per_axis(1, 3)),
    )
    return (x, w, bias), kwargs


@st.composite
def pool_input(draw, high=7):
    return draw(arrays((draw(sizes(0, 2)), draw(sizes(0, 3)), draw(sizes(0, high)), draw(sizes(0, high)))))


@st.composite
def max_pool2d_args(draw):
    k = draw(pair(1, 3))
    return (draw(pool_input()),), dict(
        kernel_size=k, stride=draw(st.one_of(st.none(), pair(1, 8))), padding=draw(pair(0, 2)),
        dilation=draw(pair(1, 7)), ceil_mode=draw(st.booleans()), return_indices=draw(st.booleans()),
    )


@st.composite
def avg_pool2d_args(draw):
    return (draw(pool_input()),), dict(
        kernel_size=draw(pair(1, 3)), stride=draw(st.one_of(st.none(), pair(1, 8))), padding=draw(pair(0, 2)),
        ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
        divisor_override=draw(st.one_of(st.none(), st.integers(1, 5))),
    )


@st.composite
def adaptive_args(draw):
    size = draw(st.one_of(st.integers(1, 4), st.tuples(st.one_of(st.none(), st.integers(1, 4)), st.integers(1, 4))))
    return (draw(pool_input()),), dict(output_size=size)


@st.composite
def adaptive_max_args(draw):
    args, kwargs = draw(adaptive_args())
    return args, dict(kwargs, return_indices=draw(st.booleans()))


@st.composite
def interpolate_args(draw):
    nd = draw(st.sampled_from((1, 2)))
    mode = draw(st.sampled_from(("nearest", "nearest-exact", "linear" if nd == 1 else "bilinear")))
    x = draw(arrays((draw(sizes(0, 2)), draw(sizes(0, 3))) + tuple(draw(sizes(0, 6)) for _ in range(nd))))
    kwargs = dict(mode=mode)
    if not mode.startswith("nearest"):
        kwargs["align_corners"] = draw(st.sampled_from((None, False, True)))
    if draw(st.booleans()):
        kwargs["size"] = draw(st.one_of(sizes(1, 8), st.tuples(*[sizes(1, 8)] * nd)))
    else:
        factors = st.sampled_from((0.5, 1, 1.5, 2, 2.7, 3))
        kwargs["scale_factor"] = draw(st.one_of(factors, st.tuples(*[factors] * nd)))
        kwargs["recompute_scale_factor"] = draw(st.sampled_from((None, False, True)))
    return (x,), kwargs


def interpolate_oracle(x, **kwargs):
    return naive.interpolate(x, dtype=np.float64, **kwargs)


@st.composite
def signal_args(draw):
    a = draw(arrays((draw(sizes(0, 6)), draw(sizes(0, 6)))))
    b = draw(arrays((draw(sizes(0, 4)), draw(sizes(0, 4)))))
    return (a, b), dict(
        mode=draw(st.sampled_from(("full", "same", "valid"))),
        boundary=draw(st.sampled_from(("fill", "wrap", "symm"))),
        fillvalue=draw(st.sampled_from((0, 1.5, -2))),
        method=draw(st.sampled_from(("auto", "direct", "separable", "fft"))),
    )


def _signal_oracle(func):
    def oracle(a, b, mode, boundary, fillvalue, method):
        if a.size == 0 or b.size == 0:  # scipy dies of SIGFPE on some of these (scipy 1.16, "wrap"/"symm")
            raise ValueError("no oracle for empty inputs")
        fillvalue = float(np.asarray(fillvalue).astype(conv_dtype(a, b)))  # cast to the type computed in, as scipy does
        return func(a, b, mode, boundary, fillvalue)

    return oracle


@st.composite
def convolve_args(draw):
    return (draw(arrays((draw(sizes(0, 8)),))), draw(arrays((draw(sizes(0, 5)),)))), dict(
        mode=draw(st.sampled_from(("full", "same", "valid")))
    )


@st.composite
def filter2d_args(draw):
    shape = tuple(draw(st.lists(sizes(1, 3), max_size=1))) + (draw(sizes(0, 6)), draw(sizes(0, 6)))
    return (draw(arrays(shape)), draw(arrays(draw(pair(1, 4))))), dict(
        boundary=draw(st.sampled_from(FILTER_BOUNDARIES)), fillvalue=draw(st.sampled_from((0, 2.5))),
        method=draw(st.sampled_from(("auto", "direct", "separable", "fft"))),
    )


@st.composite
def gaussian_blur_args(draw):
    shape = (draw(sizes(0, 7)), draw(sizes(0, 7)))
    return (draw(arrays(shape)), draw(st.sampled_from((0.5, 1.0, (0.7, 1.3))))), dict(
        method=draw(st.sampled_from(("auto", "direct", "separable", "fft")))
    )


@st.composite
def sobel_args(draw):
    return (draw(arrays((draw(sizes(0, 7)), draw(sizes(0, 7))))),), dict(
        boundary=draw(st.sampled_from(FILTER_BOUNDARIES))
    )


@st.composite
def box_filter_args(draw):
    shape = tuple(draw(st.lists(sizes(1, 3), max_size=1))) + (draw(sizes(0, 7)), draw(sizes(0, 7)))
    return (draw(arrays(shape)), draw(pair(1, 5))), dict(
        normalize=draw(st.booleans()), boundary=draw(st.sampled_from(FILTER_BOUNDARIES)),
        method=draw(st.sampled_from(("auto", "direct", "separable", "fft"))),
    )


# name: (arguments, oracle, result dtype from the array arguments and the keywords); every operation of
# fastconv._samples.OPERATIONS (test_fuzz.py checks it)
CASES = {
    "conv2d": (conv_args(2), naive.conv2d, conv_dtype),
    "conv1d": (conv_args(1), naive.conv1d, conv_dtype),
    "conv_transpose2d": (conv_transpose_args(2), naive.conv_transpose2d, conv_dtype),
    "conv_transpose1d": (conv_transpose_args(1), naive.conv_transpose1d, conv_dtype),
    "max_pool2d": (max_pool2d_args(), naive.max_pool2d, pool_dtype),
    "avg_pool2d": (avg_pool2d_args(), naive.avg_pool2d, filter_dtype),
    "adaptive_avg_pool2d": (adaptive_args(), naive.adaptive_avg_pool2d, filter_dtype),
    "adaptive_max_pool2d": (adaptive_max_args(), naive.adaptive_max_pool2d, pool_dtype),
    "interpolate": (interpolate_args(), interpolate_oracle, interpolate_dtype),
    "convolve2d": (signal_args(), _signal_oracle(naive.convolve2d), conv_dtype),
    "correlate2d": (signal_args(), _signal_oracle(naive.correlate2d), conv_dtype),
    "convolve": (convolve_args(), naive.convolve, conv_dtype),
    "filter2d": (filter2d_args(), naive.filter2d, image_dtype),
    "gaussian_blur": (gaussian_blur_args(), naive.gaussian_blur, image_dtype),
    "sobel": (sobel_args(), naive.sobel, image_dtype),
    "box_filter": (box_filter_args(), naive.box_filter, image_dtype),
}


def _tolerance(dtype: np.dtype, arrays) -> float:
    if dtype.kind != "f":
        return 0.0
    scale = math.prod(float(np.abs(np.asarray(a, np.float64)).sum()) + 1 for a in arrays if isinstance(a, np.ndarray))
    return UNROUNDED_RTOL[dtype] * 8 * scale


def check(name: str, args: tuple, kwargs: dict, backend: str) -> None:
    """fastconv's ``name`` gives the oracle's answer in the README's dtype, or a ValueError/TypeError as the oracle does."""
    _, oracle, rule = CASES[name]
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    before = [a.copy() for a in arrays]
    try:
        expected = oracle(*args, **kwargs)
    except (ValueError, TypeError, RuntimeError, IndexError, ZeroDivisionError) as exc:
        expected = exc
    empty = any(a.size == 0 for a in arrays)
    try:
        got = getattr(fc, name)(*args, **kwargs, backend=backend)
    except (ValueError, TypeError) as exc:
        # fastconv may refuse empty arrays that torch passes through; nothing else the oracle accepts
        assert isinstance(expected, Exception) or empty, f"{name} raised {exc!r} where the oracle gives an answer"
        return
    finally:
        for a, b in zip(arrays, before):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} modified its input")
    if isinstance(expected, Exception):  # torch refuses some empty inputs that fastconv answers with an empty array
        results = got if isinstance(got, tuple) else (got,)
        assert empty and all(r.size == 0 for r in results), f"{name} answered where the oracle raised {expected!r}"
        return
    if isinstance(expected, tuple):
        (got, got_indices), (expected, expected_indices) = got, expected
        assert got_indices.dtype == np.int64
        # a tie may pick another position: the value there must be the maximum
        x, (h, w), (ho, wo) = arrays[0], arrays[0].shape[-2:], got_indices.shape[-2:]
        # a window whose maximum is -inf (all -inf, or no tap inside the plane) keeps torch's start
        # index, which with dilation can lie in another row or past the plane's end
        start = np.isneginf(expected)
        np.testing.assert_array_equal(got_indices[start], np.asarray(expected_indices)[start])
        flat = np.asarray(x, np.float64).reshape(x.shape[:-2] + (h * w,))
        at = np.where(start, 0, got_indices).reshape(got_indices.shape[:-2] + (ho * wo,))
        picked = np.take_along_axis(flat, at, axis=-1).reshape(expected.shape)
        np.testing.assert_array_equal(picked[~start], np.asarray(expected)[~start])
    dtype = rule(*arrays, **kwargs)
    if dtype.kind in "iub":  # a window that only covers padding: -inf in float, the lowest value otherwise
        expected = np.where(np.isneginf(expected), np.iinfo(dtype).min if dtype.kind != "b" else 0, expected)
    assert got.dtype == dtype, f"{name} gave {got.dtype}, the README says {dtype}"
    assert got.shape == expected.shape, f"{name} gave shape {got.shape}, the oracle {expected.shape}"
    np.testing.assert_allclose(got.astype(np.float64), expected.astype(dtype).astype(np.float64) if dtype.kind != "f" else expected, rtol=0, atol=_tolerance(dtype, args), equal_nan=True)


def run_threads(work, n: int = 8, timeout: float = 300) -> None:
    """Run ``work(i)`` in ``n`` threads at once; fail on a hang or on any thread's exception."""
    errors, start = [], threading.Barrier(n)

    def guarded(i):
        try:
            start.wait(timeout=60)
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
