"""Generated kernel sources: written once to a real file and imported, so that numba's ``cache=True`` works.

Code that ``exec`` runs has no file for numba's cache to key on, so each
generated module is written to ``_gen/`` beside this file, or, where the
package cannot be written, to a folder under ``NUMBA_CACHE_DIR`` or the
temporary directory.  Callers name a module with the hashes of the sources
that shape its code (the generator, ``simd.py``), so a kernel cached against
other intrinsics is never loaded.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
_modules: dict[str, ModuleType] = {}
_lock = threading.Lock()


def folder() -> Path:
    """The first writable folder for generated sources."""
    user = os.getuid() if hasattr(os, "getuid") else 0
    for candidate in (HERE / "_gen", Path(os.environ.get("NUMBA_CACHE_DIR") or tempfile.gettempdir()) / f"fastconv-gen-{user}"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            probe = candidate / f".probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
            return candidate
        except OSError:
            continue
    raise OSError("fastconv: no writable folder for the generated SIMD kernels")


def load(name: str, source: Callable[[], str]) -> ModuleType:
    """The module ``name``, whose text ``source()`` gives: written (only when it differs) and imported once per process."""
    mod = _modules.get(name)
    if mod is not None:
        return mod
    with _lock:
        mod = _modules.get(name)
        if mod is None:
            path, text = folder() / f"{name}.py", source()
            if not path.exists() or path.read_text() != text:
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text(text)
                os.replace(tmp, path)
            spec = importlib.util.spec_from_file_location(f"fastconv._backends.cpu._gen.{name}", path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            spec.loader.exec_module(mod)
            _modules[name] = mod
    return mod
