"""The backend registry and the resolution of ``backend="auto"``.

A backend is a module that defines one function per kernel entry point (see
``fastconv._backends`` for the list and their contracts).  Backends are imported
lazily, the first time a call resolves to them, so ``import fastconv`` never
compiles anything.

``backend="auto"`` resolves, in order, to:

1. the backend set by the innermost ``use_backend(...)`` block, if any;
2. the ``FASTCONV_BACKEND`` environment variable, if set (and not "auto");
3. the first available backend of ``AUTO_ORDER``;

and then, per call, when the choice was automatic (no ``use_backend`` and no
``FASTCONV_BACKEND``): a call whose arrays are CUDA device arrays runs on
"cuda", and a call on host arrays runs on "cuda" only when a GPU is present and
the measured cost model (``_cost``: transfers plus compute) predicts it beats
the CPU.  Device arrays given to a host backend by name raise ``ValueError``.

Every public operation reaches its kernels through :func:`run`, the one
funnel: it picks the backend for the call, and for plane correlations the
method (``_methods.plan``: direct, separable or FFT); inside a backend, each
entry point picks its kernel family (for ``conv2d``, see
``_backends/cpu/conv.py``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import _cost, _methods
from ._device import first_device, holds_device, to_caller
from ._runtime import kernel_lock

ENV_VAR = "FASTCONV_BACKEND"


@dataclass(frozen=True)
class Backend:
    name: str
    module: str
    description: str
    probe: Callable[[], str | None]  # the reason it is unavailable, or None
    parallel: bool = False  # runs numba parallel=True kernels


def _always() -> str | None:
    return None


def _numba_unusable() -> str | None:
    """Why numba cannot run here: not installed, or failing to import (e.g. a NumPy it does not support)."""
    try:
        import numba  # noqa: F401
    except Exception as exc:  # ImportError, or whatever a broken install raises
        return f"numba cannot be imported ({type(exc).__name__}: {exc})"
    return None


def simulated() -> bool:
    """Whether numba.cuda runs in its simulator (NUMBA_ENABLE_CUDASIM=1)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0").strip() not in ("", "0")


def _cuda_missing() -> str | None:
    """Why the cuda backend cannot run, found without compiling anything."""
    import ctypes.util
    import glob
    import importlib.util

    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install 'fastconv[cuda]')"
    if (reason := _numba_unusable()) is not None:
        return reason
    if simulated():
        return None  # NUMBA_ENABLE_CUDASIM=1: kernels run in the CUDA simulator, for tests
    if not (ctypes.util.find_library("cuda") or glob.glob("/dev/nvidia[0-9]*") or glob.glob("/usr/lib/wsl/lib/libcuda*")):
        return "no CUDA driver or GPU was found (no libcuda, no /dev/nvidia*)"
    from numba import cuda

    if not cuda.is_available():
        return "no usable CUDA GPU: " + " ".join((cuda.cuda_error() or "numba.cuda found no device").split())
    return None


REGISTRY: dict[str, Backend] = {
    "numpy": Backend("numpy", "fastconv._backends.numpy", "vectorized NumPy reference", _always),
    "cpu": Backend("cpu", "fastconv._backends.cpu", "Numba parallel CPU kernels", _numba_unusable, parallel=True),
    "cuda": Backend("cuda", "fastconv._backends.cuda", "numba.cuda GPU kernels", _cuda_missing),
}
AUTO_ORDER = ("cpu", "numpy")

_simulator_lock = threading.RLock()
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


def _choose(backend: Any) -> tuple[str, bool]:
    """The backend name for ``backend=...`` and whether ``auto`` chose it."""
    name = check_name(backend)
    if name == "auto":
        name = _selected.get() or "auto"
    if name == "auto":
        env = os.environ.get(ENV_VAR, "").strip()
        name = check_name(env, f"the environment variable {ENV_VAR}") if env else "auto"
    automatic = name == "auto"
    if automatic:
        name = next(n for n in AUTO_ORDER if _unavailable_reason(n) is None)
    reason = _unavailable_reason(name)
    if reason is not None:
        raise ValueError(f"backend {name!r} is not available here: {reason}")
    return name, automatic


def resolve(backend: Any) -> str:
    """The concrete backend name that a call with ``backend=...`` on host arrays runs on."""
    return _choose(backend)[0]


def load(dotted: str) -> ModuleType:
    """Import a backend; its Numba kernels get a cache that bad files cannot break (``_jitcache``)."""
    module = importlib.import_module(dotted)
    if "numba" in sys.modules:
        from ._jitcache import announce_compiles, harden

        announce_compiles()
        for name, sub in list(sys.modules.items()):
            if sub is not None and (name == dotted or name.startswith(dotted + ".")):
                harden(sub)
    return module


def module(name: str) -> ModuleType:
    """The kernel module of backend ``name``, imported on first use."""
    module = _modules.get(name)
    if module is None:
        module = _modules[name] = load(REGISTRY[name].module)
    return module


def serialized(name: str) -> contextlib.AbstractContextManager:
    """Held around a call to backend ``name``: one at a time if its threading layer is not thread-safe.

    Calls to the CUDA simulator are serialized too: it swaps the ``cuda``
    module's globals while a kernel runs.
    """
    if REGISTRY[name].parallel:
        return kernel_lock()
    return _simulator_lock if name == "cuda" and simulated() else contextlib.nullcontext()


def gpu_present() -> bool:
    """Whether a real GPU can run the cuda backend (the simulator does not count)."""
    return not simulated() and _unavailable_reason("cuda") is None


_rates: _cost.Calibration | None = None


def prefers_gpu(entry: str, call: tuple) -> bool:
    """Whether the cost model, calibrated here on first use, predicts this host-array call runs faster on the GPU."""
    global _rates
    if _rates is None:
        _rates = _cost.calibrate(module("cpu"), module("cuda"))
    return _cost.gpu_is_faster(_cost.work(entry, call), _rates)


def choose(backend: Any, entry: str, call: tuple) -> str:
    """The backend that runs kernel ``entry`` on ``call`` for ``backend=...``.

    Device arrays go to cuda under "auto" (and are refused by a host backend
    named explicitly); host arrays go to cuda under "auto" only when a real GPU
    is present and its cost model predicts a win.
    """
    name, automatic = _choose(backend)
    if holds_device(call) and name != "cuda":
        if not automatic:
            raise ValueError(
                f"backend {name!r} runs on host arrays, but a CUDA device array was passed: "
                "use backend='cuda' or 'auto', or copy the array to the host"
            )
        reason = _unavailable_reason("cuda")
        if reason is not None:
            raise ValueError(f"a CUDA device array was passed, but backend 'cuda' is not available here: {reason}")
        return "cuda"
    if automatic and name != "cuda" and gpu_present() and prefers_gpu(entry, call):
        return "cuda"
    return name


def run(entry: str, call: tuple, *args: Any, backend: Any = "auto", method: str = "direct") -> Any:
    """Run kernel ``entry`` of the backend chosen for ``call``: the one way from the public layer to the kernels.

    ``args`` are the entry's own arguments after the call record; ``method``
    (checked) applies to ``correlate_planes`` and ``filter_image``.
    """
    name = choose(backend, entry, call)
    kernels = module(name)
    with serialized(name):
        if entry == "correlate_planes":
            return _methods.correlate(call, method, name, kernels)
        if entry == "filter_image":
            return _methods.filter_image(call, method, name, kernels)
        return getattr(kernels, entry)(call, *args)


def bound(entry: str, call: tuple, backend: Any = "auto") -> Callable[[tuple], Any]:
    """``run``'s choice of backend for ``call``, made once: a function of call records of the same geometry.

    The caller (``_api.conv2d_repeatable``) re-runs it on records that differ
    from ``call`` only in the input array.
    """
    name = choose(backend, entry, call)
    kernel = getattr(module(name), entry)

    def go(record: tuple) -> Any:
        with serialized(name):
            return kernel(record)

    return go


def keeps_device_type(func: Callable) -> Callable:
    """Wrap a public operation so that device-array inputs give results of the caller's type."""

    @functools.wraps(func)
    def call(*args, **kwargs):
        like = first_device(args, kwargs)
        if like is not None and _unavailable_reason("cuda") is None:
            module("cuda")  # registers the device-array operations that checking the call may use
        result = func(*args, **kwargs)
        return result if like is None else to_caller(result, like)

    return call
