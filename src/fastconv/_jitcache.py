"""A JIT cache for fastconv's kernels that a bad cache file cannot break.

Numba's ``cache=True`` reads its index and data files with ``pickle``; a
truncated or garbled file makes every call of that kernel raise.  Here each
cached kernel gets a :class:`KernelCache` instead, which

* keeps its files apart from numba's (``*.fastconv.nbi``/``.nbc``);
* stamps the index with fastconv's version and a hash of every kernel source
  file, so a cache left by another version or another source is not used;
* checks a SHA-256 digest of each data file before unpickling it;
* treats any failure to read or write the cache as a miss: the kernel is
  compiled and the bad index is rewritten.

It also says when a call is about to compile (:func:`announce_compiles`):
numba compiles only on a cache miss, and a kernel takes seconds, so the
first such compilation of each public operation and dtype logs one line
through the ``fastconv`` logger (``logging.getLogger("fastconv").setLevel(
logging.ERROR)`` turns it off).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from types import ModuleType

from numba.core import event, types
from numba.core.caching import FunctionCache, IndexDataCacheFile, NullCache
from numba.core.dispatcher import Dispatcher

from ._runtime import PACKAGE_DIR, VERSION

SUFFIX = ".fastconv"


def _kernel_sources_digest() -> str:
    """A hash of every source file that shapes compiled code: the backends, and the formulas they compile."""
    digest = hashlib.sha256(VERSION.encode())
    generated = PACKAGE_DIR / "_backends" / "cpu" / "_gen"  # named by the hashes of their generators already
    paths = [p for p in PACKAGE_DIR.glob("_backends/**/*.py") if generated not in p.parents]
    paths += [PACKAGE_DIR / "_calls.py", PACKAGE_DIR / "_padding.py"]
    for path in sorted(paths):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


STAMP = (VERSION, _kernel_sources_digest())


class _CheckedFiles(IndexDataCacheFile):
    def _load_data(self, name):
        with open(self._data_path(name), "rb") as f:
            blob = f.read()
        digest, data = blob[:32], blob[32:]
        if hashlib.sha256(data).digest() != digest:
            raise pickle.UnpicklingError(f"fastconv: cache file {name} does not match its digest")
        return pickle.loads(data)

    def _save_data(self, name, data):
        data = self._dump(data)
        with self._open_for_write(self._data_path(name)) as f:
            f.write(hashlib.sha256(data).digest() + data)


class KernelCache(FunctionCache):
    def __init__(self, py_func):
        super().__init__(py_func)
        base = self._impl.filename_base + SUFFIX
        self._cache_file = _CheckedFiles(self._cache_path, base, (STAMP, self._cache_file._source_stamp))

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # a garbled or unreadable cache is a miss
            warnings.warn(f"fastconv: ignoring an unreadable JIT cache entry in {self._cache_path}: {exc!r}", RuntimeWarning, stacklevel=2)
            with contextlib.suppress(Exception):
                self._cache_file.flush()  # rewrite the index, so the new compilation is saved
            return None

    def save_overload(self, sig, data):
        with contextlib.suppress(Exception):
            super().save_overload(sig, data)


def harden(module: ModuleType) -> ModuleType:
    """Give every cached CPU kernel of ``module`` a :class:`KernelCache` (or none, if that fails)."""
    for value in vars(module).values():
        if isinstance(value, Dispatcher) and type(value._cache) is FunctionCache:
            try:
                value._cache = KernelCache(value.py_func)
            except Exception:  # no writable location: compile without caching
                value._cache = NullCache()
    return module


LOG = logging.getLogger("fastconv")
SHARED_LOOP = "fastconv._backends.cpu.parallel"
PUBLIC_MODULES = ("fastconv._api", "fastconv.filters", "fastconv.nn", "fastconv.dask")


def _public_operation() -> str | None:
    """The outermost public fastconv function on the calling thread's stack (None: called from elsewhere)."""
    frame, name = sys._getframe(1), None
    while frame is not None:
        code = frame.f_code
        if frame.f_globals.get("__name__") in PUBLIC_MODULES and not code.co_name.startswith("_"):
            name = code.co_name
        frame = frame.f_back
    return name


class _CompileNotice(event.Listener):
    """Logs "compiling cpu kernels for conv2d float32 (once per machine)..." when a fastconv kernel misses the cache."""

    def __init__(self) -> None:
        self._depth = threading.local()
        self.announced: set[tuple[str, str, str]] = set()

    def on_start(self, ev: event.Event) -> None:
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        module = getattr(ev.data["dispatcher"].py_func, "__module__", "") or ""
        if depth or not module.startswith("fastconv._backends.") or module == SHARED_LOOP:
            return  # a kernel's callees compile inside it: one line for the outermost; the shared loop serves a kernel that said so
        backend = module.split(".")[2]
        dtype = next((str(t.dtype) for t in ev.data["args"] if isinstance(t, types.Array)), "")
        key = (_public_operation() or ev.data["dispatcher"].py_func.__name__, dtype, backend)
        if key not in self.announced:
            self.announced.add(key)
            LOG.warning(
                "fastconv: compiling %s kernels for %s %s (once per machine; `python -m fastconv warmup` compiles them ahead)…",
                backend, key[0], dtype,
            )

    def on_end(self, ev: event.Event) -> None:
        self._depth.n -= 1


_notice: _CompileNotice | None = None


def announce_compiles() -> _CompileNotice:
    """Register the compile notice with numba, once per process."""
    global _notice
    if _notice is None:
        _notice = _CompileNotice()
        event.register("numba:compile", _notice)
    return _notice


class _Recorder(event.Listener):
    def __init__(self) -> None:
        self.compiled: list[tuple[str, str, float]] = []
        self._started: list[float] = []

    def on_start(self, ev: event.Event) -> None:
        self._started.append(time.perf_counter())

    def on_end(self, ev: event.Event) -> None:
        seconds = time.perf_counter() - self._started.pop()
        func = ev.data["dispatcher"].py_func
        if (getattr(func, "__module__", "") or "").startswith("fastconv."):
            self.compiled.append((f"{func.__module__}.{func.__qualname__}", str(ev.data["args"]), seconds))


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[str, str, float]]]:
    """The fastconv kernel variants numba compiles in the block: (function, argument types, seconds with callees).

    Examples
    --------
    >>> with recording() as compiled:
    ...     pass
    >>> compiled
    []
    """
    recorder = _Recorder()
    with event.install_listener("numba:compile", recorder):
        yield recorder.compiled
