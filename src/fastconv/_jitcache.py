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
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import warnings
from types import ModuleType

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
