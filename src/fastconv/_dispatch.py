"""The backend registry and the resolution of ``backend="auto"``.

A backend is a module that defines one function per kernel entry point (see
``_reference`` for the list and their contracts).  Backends are imported
lazily, the first time a call resolves to them, so ``import fastconv`` never
compiles anything.

``backend="auto"`` resolves, in order, to:

1. the backend set by the innermost ``use_backend(...)`` block, if any;
2. the ``FASTCONV_BACKEND`` environment variable, if set (and not "auto");
3. the first available backend of ``AUTO_ORDER``.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

ENV_VAR = "FASTCONV_BACKEND"


@dataclass(frozen=True)
class Backend:
    name: str
    module: str
    description: str
    probe: Callable[[], str | None]  # the reason it is unavailable, or None


def _always() -> str | None:
    return None


def _numba_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("numba") is None:
        return "numba is not installed"
    return None


REGISTRY: dict[str, Backend] = {
    "numpy": Backend("numpy", "fastconv._reference", "vectorized NumPy reference", _always),
    "cpu": Backend("cpu", "fastconv._cpu", "Numba parallel CPU kernels", _numba_missing),
}
AUTO_ORDER = ("cpu", "numpy")

_selected: contextvars.ContextVar[str | None] = contextvars.ContextVar("fastconv_backend", default=None)
_modules: dict[str, ModuleType] = {}
_reasons: dict[str, str | None] = {}


def _unavailable_reason(name: str) -> str | None:
    if name not in _reasons:
        _reasons[name] = REGISTRY[name].probe()
    return _reasons[name]


def backends() -> dict[str, dict[str, Any]]:
    """Report every registered backend and whether it can run here.

    Returns
    -------
    dict
        ``{name: {"available": bool, "reason": str | None, "description": str}}``;
        ``reason`` says why an unavailable backend cannot run.

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.backends()["numpy"]["available"]
    True
    """
    report = {}
    for name, backend in REGISTRY.items():
        reason = _unavailable_reason(name)
        report[name] = {"available": reason is None, "reason": reason, "description": backend.description}
    return report


def check_name(name: Any, source: str = "backend") -> str:
    if not isinstance(name, str) or (name != "auto" and name not in REGISTRY):
        options = ", ".join(repr(n) for n in ("auto", *REGISTRY))
        raise ValueError(f"{source} must be one of {options}; got {name!r}")
    return name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Make ``name`` the backend that ``backend="auto"`` resolves to in this block.

    Examples
    --------
    >>> import fastconv as fc
    >>> with fc.use_backend("numpy"):
    ...     fc.convolve([1, 2, 3], [0, 1]).tolist()
    [0, 1, 2, 3]
    """
    token = _selected.set(check_name(name))
    try:
        yield
    finally:
        _selected.reset(token)


def resolve(backend: Any) -> str:
    """The concrete backend name that a call with ``backend=...`` runs on."""
    name = check_name(backend)
    if name == "auto":
        name = _selected.get() or "auto"
    if name == "auto":
        env = os.environ.get(ENV_VAR, "").strip()
        name = check_name(env, f"the environment variable {ENV_VAR}") if env else "auto"
    if name == "auto":
        name = next(n for n in AUTO_ORDER if _unavailable_reason(n) is None)
    reason = _unavailable_reason(name)
    if reason is not None:
        raise ValueError(f"backend {name!r} is not available here: {reason}")
    return name


def kernels(backend: Any) -> ModuleType:
    """The module of kernel entry points for ``backend``."""
    name = resolve(backend)
    module = _modules.get(name)
    if module is None:
        module = _modules[name] = importlib.import_module(REGISTRY[name].module)
    return module
