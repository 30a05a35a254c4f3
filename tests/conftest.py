"""Shared fixtures, the hypothesis profile and comparison helpers.

Every oracle test takes the ``backend`` fixture, which is parametrized over
the backends that ``fastconv.backends()`` reports available here, so a new
backend (the Numba ``"cpu"`` one, the CUDA one) is run through the whole suite
as soon as it registers itself.

Helpers are imported by the test modules with ``from conftest import ...``
(pytest puts this directory on ``sys.path``; the tests are not a package).

Hypothesis runs the "ci" profile (300 examples per property, derandomized);
``FASTCONV_HYPOTHESIS_PROFILE=dev`` runs 30 while editing tests.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from naive import rtol as default_rtol

import fastconv as fc

# "ci" is the default; "dev" is a quick profile for editing the tests, never used by CI.
for _name, _examples in (("ci", 300), ("dev", 30)):
    settings.register_profile(
        _name, max_examples=_examples, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
    )
settings.load_profile(os.environ.get("FASTCONV_HYPOTHESIS_PROFILE", "ci"))


# --- backends ----------------------------------------------------------------------


def _is_available(info: Any) -> bool:
    if isinstance(info, dict):
        return bool(info["available"])
    return bool(info.available)


def available_backends() -> list[str]:
    return sorted(name for name, info in fc.backends().items() if _is_available(info))


def unavailable_backends() -> list[str]:
    return sorted(name for name, info in fc.backends().items() if not _is_available(info))


@pytest.fixture(scope="session", params=available_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """Every backend that can run here, by name."""
    return request.param


# --- comparison ---------------------------------------------------------------------


def assert_nan_mask_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    """NaN positions must match exactly."""
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    if not np.array_equal(nan_a, nan_e):
        extra = np.argwhere(nan_a & ~nan_e)[:5].tolist()
        missing = np.argwhere(~nan_a & nan_e)[:5].tolist()
        raise AssertionError(
            f"NaN masks differ: NaN where the oracle is not at {extra}; "
            f"not NaN where the oracle is NaN at {missing}"
        )


def assert_close(
    actual: Any,
    expected: Any,
    *,
    dtype: Any = None,
    bound: Any = None,
    rtol: float | None = None,
    atol: Any = 0.0,
) -> None:
    """Compare a result with its oracle.

    ``dtype`` is the dtype the result must have.  Integer and bool results must
    be equal.  Floating results must have the same shape, the same NaN mask and
    the same infinities; elsewhere ``|actual - expected| <= rtol * (|expected| +
    bound) + atol`` where ``bound`` is the magnitude of the sum that produced each
    element (for a convolution ``sum(|x| * |w|)``, i.e. the oracle applied to the
    absolute values), so cancellation is measured against the terms summed.
    ``rtol`` defaults to the result dtype's :data:`naive.RTOL`; ``rtol=0`` with
    ``atol`` gives an absolute tolerance.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray)
    assert actual.shape == expected.shape, f"shape {actual.shape} != oracle shape {expected.shape}"
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype} != expected {np.dtype(dtype)}"
    if actual.dtype.kind in "biu" and expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected)
        return
    if rtol is None:
        rtol = default_rtol(actual.dtype)
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    assert_nan_mask_equal(a, e)
    inf = np.isinf(a) | np.isinf(e)
    if inf.any():
        np.testing.assert_array_equal(a[inf], e[inf], err_msg="infinities differ")
    finite = np.isfinite(a) & np.isfinite(e)
    scale = np.abs(e) if bound is None else np.abs(e) + np.broadcast_to(np.abs(np.asarray(bound, np.float64)), e.shape)
    allowed = rtol * scale + np.broadcast_to(np.asarray(atol, np.float64), e.shape)
    err = np.zeros(a.shape)
    err[finite] = np.abs(a[finite] - e[finite])
    bad = finite & ~(err <= allowed)
    if bad.any():
        where = tuple(np.argwhere(bad)[0])
        raise AssertionError(
            f"{int(bad.sum())} of {a.size} elements differ beyond rtol={rtol}, atol; first at {where}: "
            f"got {a[where]!r}, oracle {e[where]!r}, allowed error {allowed[where]!r}\n"
            f"max abs error {err[finite].max()!r}"
        )


def assert_same_values(actual: Any, expected: Any, *, dtype: Any = None) -> None:
    """Exact equality (values picked, not computed: max pooling), NaN == NaN."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != oracle shape {expected.shape}"
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype} != expected {np.dtype(dtype)}"
    if actual.dtype.kind == "f":
        assert_nan_mask_equal(actual, expected)
    np.testing.assert_array_equal(actual, expected)


# --- random data ------------------------------------------------------------------

FLOATS = [np.float32, np.float64]
INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]
# Convolutions give exact int64 for these; uint64 follows np.result_type(uint64, int64) = float64.
EXACT_INTS = [t for t in INTS if t is not np.uint64]
SPECIALS = np.array([np.nan, np.inf, -np.inf])


def random_array(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    dtype: Any,
    *,
    ties: bool = False,
    special: str | None = None,
    low: int = -5,
    high: int = 5,
    nonzero: bool = False,
) -> np.ndarray:
    """Random values of ``dtype``.

    ``ties``: floats drawn from a few small integers, so equal values occur.
    ``special``: None, "mixed" (some NaN, +inf, -inf), "nan", "neginf" (mostly -inf).
    ``nonzero``: no exact zeros.
    Integers are drawn from [low, high] clipped to the dtype's range.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        if nonzero:
            return np.ones(shape, dtype=bool)
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(low, int(info.min)), min(high, int(info.max))
        values = rng.integers(lo, hi, size=shape, endpoint=True)
        if nonzero:
            values[values == 0] = hi
        return values.astype(dtype)
    if ties:
        values = rng.integers(-3, 4, size=shape).astype(np.float64)
        if nonzero:
            values[values == 0] = 4.0
    else:
        values = rng.standard_normal(shape)
        if nonzero:
            values[values == 0] = 1.0
    if special is not None and values.size:
        if special == "neginf":
            mask = rng.random(shape) < 0.8
            values[mask] = -np.inf
        else:
            mask = rng.random(shape) < 0.15
            pool = SPECIALS if special == "mixed" else SPECIALS[:1]
            values[mask] = rng.choice(pool, size=int(mask.sum()))
    return values.astype(dtype)


LAYOUTS = ["C", "F", "step", "transpose", "reversed"]


def with_layout(x: np.ndarray, layout: str) -> np.ndarray:
    """The same values as ``x`` in another memory layout (mostly non-contiguous).

    The skipped elements of the "step" layout hold garbage (NaN or a large
    value), so a backend that ignores strides shows it.
    """
    x = np.asarray(x)
    if layout == "C" or x.ndim == 0:
        return np.ascontiguousarray(x)
    if layout == "F":
        return np.asfortranarray(x)
    if layout == "step":
        big_shape = x.shape[:-1] + (2 * x.shape[-1],)
        if x.dtype.kind == "f":
            big = np.full(big_shape, np.nan, dtype=x.dtype)
        elif x.dtype.kind == "b":
            big = np.ones(big_shape, dtype=x.dtype)
        else:
            big = np.full(big_shape, np.iinfo(x.dtype).max // 2 + 1, dtype=x.dtype)
        big[..., ::2] = x
        return big[..., ::2]
    if layout == "transpose":
        if x.ndim < 2:
            return x[::-1].copy()[::-1]
        return np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    if layout == "reversed":
        return x[..., ::-1].copy()[..., ::-1]
    raise AssertionError(layout)


layouts = st.sampled_from(LAYOUTS)
seeds = st.integers(0, 2**32 - 1)


def int_or_tuple(draw: Any, values: st.SearchStrategy[int], n: int) -> tuple[Any, tuple[int, ...]]:
    """Draw an argument given as an int or an n-tuple; return (argument, per-axis tuple)."""
    if draw(st.booleans()):
        v = draw(values)
        return v, (v,) * n
    t = tuple(draw(values) for _ in range(n))
    return t, t


def snapshot(*arrays: Any) -> list[np.ndarray]:
    return [np.array(a, copy=True) for a in arrays]


def assert_unchanged(before: list[np.ndarray], *arrays: Any) -> None:
    """Inputs are never modified."""
    for old, new in zip(before, arrays):
        np.testing.assert_array_equal(np.asarray(new), old, err_msg="an input was modified")


def asm_blocks(asm: str) -> list[list[str]]:
    """The instructions of each basic block of a function's assembly (labels split blocks; directives dropped)."""
    blocks, cur = [], []
    for line in asm.splitlines():
        s = line.strip()
        if re.match(r"^\.?[A-Za-z0-9_$.]+:", s):
            blocks.append(cur)
            cur = []
        elif s and not s.startswith((".", "#")):
            cur.append(s)
    blocks.append(cur)
    return blocks
