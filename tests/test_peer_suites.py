"""scipy's and numpy's own tests, run with fastconv's functions in place of theirs.

* ``TestConvolve2d`` and ``TestCorrelate2d`` from the installed
  ``scipy/signal/tests/test_signaltools.py``, with ``scipy.signal.convolve2d``
  and ``correlate2d`` (the names in that module and in ``scipy.signal``, and
  the functions in its ``parametrize`` lists) replaced by fastconv's;
* ``TestConvolve`` from numpy's ``numpy/_core/tests/test_numeric.py``, with
  ``np.convolve`` replaced by :func:`fastconv.convolve`.

The classes are subclassed here, so pytest collects them under this module.
scipy's ``xp`` fixture (from its own conftest, which pytest does not load
here) is given as NumPy's namespace, honouring ``skip_xp_backends`` for
numpy; scipy's ``slow`` test (a 2 GiB array) runs only with
``FASTCONV_PEER_SLOW=1``.  Where the installed package ships without its
tests, the suite is skipped with that reason.
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import Any

import numpy as np
import pytest

import fastconv as fc


def _import(name: str) -> tuple[Any, str | None]:
    try:
        return importlib.import_module(name), None
    except ImportError as exc:  # an install without its tests (many distributions strip them)
        return None, f"{name} is not installed here ({exc}); the peer suite cannot run"


scipy_tests, SCIPY_MISSING = _import("scipy.signal.tests.test_signaltools")
numpy_tests, NUMPY_MISSING = _import("numpy._core.tests.test_numeric")


def _with_swapped_params(cls: type, swaps: dict[Any, Any]) -> dict[str, Any]:
    """Overrides of ``cls``'s test methods whose ``parametrize`` values include a swapped function."""
    overrides = {}
    for name in dir(cls):
        method = getattr(cls, name)
        marks = getattr(method, "pytestmark", [])
        if not name.startswith("test") or not any(m.name == "parametrize" and _touches(m, swaps) for m in marks):
            continue

        @functools.wraps(method)
        def wrapper(self, *args, _method=method, **kwargs):
            return _method(self, *args, **kwargs)

        wrapper.pytestmark = [_swap_mark(m, swaps) if m.name == "parametrize" else m for m in marks]
        overrides[name] = wrapper
    return overrides


def _touches(mark: Any, swaps: dict[Any, Any]) -> bool:
    return any(_hashable(v) and v in swaps for v in mark.args[1])


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _swap_mark(mark: Any, swaps: dict[Any, Any]) -> Any:
    if not _touches(mark, swaps):
        return mark
    values = [swaps[v] if _hashable(v) and v in swaps else v for v in mark.args[1]]
    return pytest.mark.parametrize(mark.args[0], values, **mark.kwargs).mark


def _skip_slow(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("slow") and not os.environ.get("FASTCONV_PEER_SLOW"):
        pytest.skip("marked slow by its suite (a 2 GiB array); run with FASTCONV_PEER_SLOW=1")


# --- scipy.signal ------------------------------------------------------------------------------------

if scipy_tests is not None:
    import scipy.signal
    from scipy._lib._array_api import array_namespace

    SCIPY_SWAPS = {scipy.signal.convolve2d: fc.convolve2d, scipy.signal.correlate2d: fc.correlate2d}

    @pytest.fixture
    def xp(request: pytest.FixtureRequest) -> Any:
        """scipy's ``xp`` fixture, NumPy only (fastconv takes NumPy arrays)."""
        for kind, act in (("skip_xp_backends", pytest.skip), ("xfail_xp_backends", pytest.xfail)):
            for marker in request.node.iter_markers(kind):
                backends = marker.args[0] if marker.args else ()
                backends = (backends,) if isinstance(backends, str) else tuple(backends)
                if "numpy" in backends:
                    act(marker.kwargs.get("reason", f"{kind} numpy"))
        _skip_slow(request)
        return array_namespace(np.empty(0))

    class _FastconvInScipy:
        @pytest.fixture(autouse=True)
        def _fastconv_functions(self, monkeypatch: pytest.MonkeyPatch) -> None:
            for target in (scipy_tests, scipy.signal):
                monkeypatch.setattr(target, "convolve2d", fc.convolve2d)
                monkeypatch.setattr(target, "correlate2d", fc.correlate2d)

    TestScipyConvolve2d = type(
        "TestScipyConvolve2d",
        (_FastconvInScipy, scipy_tests.TestConvolve2d),
        _with_swapped_params(scipy_tests.TestConvolve2d, SCIPY_SWAPS),
    )
    TestScipyCorrelate2d = type(
        "TestScipyCorrelate2d",
        (_FastconvInScipy, scipy_tests.TestCorrelate2d),
        _with_swapped_params(scipy_tests.TestCorrelate2d, SCIPY_SWAPS),
    )
else:

    def test_scipy_suite_is_installed() -> None:
        pytest.skip(SCIPY_MISSING)


# --- numpy --------------------------------------------------------------------------------------------

if numpy_tests is not None:

    class TestNumpyConvolve(numpy_tests.TestConvolve):
        @pytest.fixture(autouse=True)
        def _fastconv_convolve(self, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
            _skip_slow(request)
            monkeypatch.setattr(np, "convolve", fc.convolve)
            monkeypatch.setattr(numpy_tests.np, "convolve", fc.convolve)
else:

    def test_numpy_suite_is_installed() -> None:
        pytest.skip(NUMPY_MISSING)


def test_the_peer_functions_are_swapped_in() -> None:
    """The suites above would pass vacuously if the swap did not take: check it once, by identity."""
    if scipy_tests is None or numpy_tests is None:
        pytest.skip(SCIPY_MISSING or NUMPY_MISSING)
    assert scipy_tests.convolve2d is scipy.signal.convolve2d is not fc.convolve2d  # restored after each test
    swapped = _with_swapped_params(scipy_tests.TestConvolve2d, SCIPY_SWAPS)
    assert "test_same_with_boundary" in swapped
    (values,) = [m.args[1] for m in swapped["test_same_with_boundary"].pytestmark if m.args[0] == "func"]
    assert values == [fc.convolve2d, fc.correlate2d]
