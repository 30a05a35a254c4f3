"""backends(), use_backend() and the FASTCONV_BACKEND environment variable.

With only available backends the choice cannot be seen in the results, so the
precedence and restoring rules are observed through a bogus FASTCONV_BACKEND
(every "auto" call then fails, unless a use_backend block overrides it) and,
where this machine has one, through an unavailable backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
from conftest import available_backends, unavailable_backends

import fastconv as fc


def info_field(info: Any, field: str) -> Any:
    return info[field] if isinstance(info, dict) else getattr(info, field)


def test_backends_reports_every_backend() -> None:
    report = fc.backends()
    assert isinstance(report, dict)
    assert "numpy" in report
    assert info_field(report["numpy"], "available") is True
    for name, info in report.items():
        assert isinstance(name, str) and name not in ("auto", "")
        available = info_field(info, "available")
        assert isinstance(available, bool)
        reason = info_field(info, "reason")
        if available:
            assert reason in (None, "")
        else:
            assert isinstance(reason, str) and reason.strip(), f"{name} is unavailable without a reason"


def test_backends_is_a_fresh_report() -> None:
    # mutating the returned dict must not break the registry
    report = fc.backends()
    report.clear()
    assert "numpy" in fc.backends()


@pytest.mark.parametrize("name", available_backends())
def test_explicit_and_context_backends_agree(name: str) -> None:
    x = np.arange(2 * 3 * 6 * 5, dtype=np.float64).reshape(2, 3, 6, 5) % 7 - 3
    w = (np.arange(4 * 3 * 3 * 2, dtype=np.float64).reshape(4, 3, 3, 2) % 5) - 2
    expected = fc.conv2d(x, w, padding=1, backend="numpy")
    np.testing.assert_array_equal(fc.conv2d(x, w, padding=1, backend=name), expected)
    with fc.use_backend(name):
        np.testing.assert_array_equal(fc.conv2d(x, w, padding=1), expected)
        np.testing.assert_array_equal(fc.conv2d(x, w, padding=1, backend="auto"), expected)


@pytest.mark.parametrize("bad", ["gpu2", "", "nonexistent"])
def test_use_backend_unknown_name_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="(?s)(?=.*backend)(?=.*" + repr(bad) + ")"):
        with fc.use_backend(bad):
            fc.convolve([1.0], [1.0])


def test_use_backend_restores_after_an_exception() -> None:
    name = available_backends()[-1]
    with pytest.raises(ZeroDivisionError):
        with fc.use_backend(name):
            raise ZeroDivisionError
    np.testing.assert_array_equal(fc.convolve([1, 2], [1, 1]), [1, 3, 2])


@pytest.mark.parametrize("name", unavailable_backends())
def test_unavailable_backend_is_a_value_error_naming_it(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        fc.convolve([1.0], [1.0], backend=name)
    with pytest.raises(ValueError, match=name):
        with fc.use_backend(name):
            fc.convolve([1.0], [1.0])
    # and the default is back afterwards
    np.testing.assert_array_equal(fc.convolve([1.0], [2.0]), [2.0])


@pytest.mark.parametrize("name", unavailable_backends())
def test_use_backend_nesting_with_an_unavailable_backend(name: str) -> None:
    good = available_backends()[0]
    with fc.use_backend(good):
        fc.convolve([1.0], [1.0])
        with pytest.raises(ValueError, match=name):
            with fc.use_backend(name):
                fc.convolve([1.0], [1.0])
        # the outer block's backend is back
        np.testing.assert_array_equal(fc.convolve([1.0], [3.0]), [3.0])


# --- FASTCONV_BACKEND, in fresh processes ------------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import json, sys
    results = {}

    def attempt(key, fn):
        try:
            results[key] = ["ok", repr(fn())]
        except Exception as exc:
            results[key] = [type(exc).__name__, str(exc)]

    try:
        import fastconv as fc
    except Exception as exc:
        print(json.dumps({"import": [type(exc).__name__, str(exc)]}))
        sys.exit(0)
    call = lambda **k: fc.convolve([1.0, 2.0], [1.0, 1.0], **k).tolist()
    attempt("auto", call)
    attempt("explicit_numpy", lambda: call(backend="numpy"))
    def nested():
        out = []
        with fc.use_backend("numpy"):
            out.append(call())
            with fc.use_backend(sys.argv[1]):
                out.append(call())
            out.append(call())  # the outer block is restored
        return out
    attempt("nested", nested)
    attempt("after", call)  # the environment default is restored
    print(json.dumps(results))
    """
)


def other_backend() -> str:
    """An available backend other than numpy where there is one."""
    others = [n for n in available_backends() if n != "numpy"]
    return others[0] if others else "numpy"


def run_with_env(value: str | None, inner: str = "numpy") -> dict[str, list[str]]:
    env = dict(os.environ)
    env.pop("FASTCONV_BACKEND", None)
    if value is not None:
        env["FASTCONV_BACKEND"] = value
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, inner], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("value", [None, "auto", *available_backends()])
def test_env_var_with_a_valid_backend(value: str | None) -> None:
    results = run_with_env(value, inner=other_backend())
    assert "import" not in results, results
    assert results["auto"] == ["ok", "[1.0, 3.0, 2.0]"], results
    assert results["explicit_numpy"] == ["ok", "[1.0, 3.0, 2.0]"], results
    assert results["nested"][0] == "ok", results
    assert results["after"] == ["ok", "[1.0, 3.0, 2.0]"], results


def test_env_var_is_honoured_and_overridden_by_use_backend() -> None:
    results = run_with_env("gpu2", inner=other_backend())
    assert "import" not in results, f"importing fastconv must not fail on a bad {results}"
    # auto calls read the variable: an unknown name is a ValueError naming it
    kind, message = results["auto"]
    assert kind == "ValueError" and "gpu2" in message and ("backend" in message.lower()), results
    # an explicit backend ignores it
    assert results["explicit_numpy"] == ["ok", "[1.0, 3.0, 2.0]"], results
    # use_backend blocks take precedence, nest, and restore the outer choice
    assert results["nested"] == ["ok", repr([[1.0, 3.0, 2.0]] * 3)], results
    # and after the block the variable applies again
    assert results["after"][0] == "ValueError" and "gpu2" in results["after"][1], results


@pytest.mark.parametrize("name", unavailable_backends())
def test_env_var_naming_an_unavailable_backend(name: str) -> None:
    results = run_with_env(name)
    assert "import" not in results, results
    assert results["auto"][0] == "ValueError" and name in results["auto"][1], results
    assert results["explicit_numpy"] == ["ok", "[1.0, 3.0, 2.0]"], results
    assert results["nested"] == ["ok", repr([[1.0, 3.0, 2.0]] * 3)], results
