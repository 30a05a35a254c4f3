"""Process-wide setup for the Numba backends, done at import without importing numba.

* **Threading layer.**  Numba tries its layers in the order tbb, omp,
  workqueue.  GNU OpenMP kills fork-started children of a process that has
  used it, and workqueue aborts the process on concurrent calls from several
  threads; only tbb is safe for both.  The ``tbb`` wheel puts ``libtbb.so.12``
  in ``<prefix>/lib``, where numba does not look, so it is loaded here; numba
  then finds it when it starts its threads.  A layer chosen by the user
  (``NUMBA_THREADING_LAYER``, ``NUMBA_THREADING_LAYER_PRIORITY``) is kept.
* **Serialized launches.**  When the active layer is workqueue (or not known
  yet), :func:`kernel_lock` makes parallel kernels run one at a time.
* **JIT cache directory.**  When the package's ``__pycache__`` cannot be
  written (a read-only install) and ``NUMBA_CACHE_DIR`` is unset, it is set to
  a per-version directory under the user's cache directory, or the temporary
  directory (see :func:`cache_dir`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from pathlib import Path

VERSION = "0.1.0"
PACKAGE_DIR = Path(__file__).resolve().parent
TBB_NAMES = {"linux": "libtbb.so.12", "darwin": "libtbb.12.dylib", "win32": "tbb12.dll"}

_tbb_path: str | None = None
_lock = threading.RLock()
_layer_known_safe = False


def _tbb_candidates() -> list[Path]:
    name = TBB_NAMES.get(sys.platform)
    if name is None:
        return []
    folders = [Path(sys.prefix, "lib"), Path(sys.prefix, "Library", "bin")]
    found = [folder / name for folder in folders if (folder / name).exists()]
    if found:
        return found
    try:  # a --user or --target install: ask the wheel's record
        from importlib.metadata import PackageNotFoundError, distribution

        files = distribution("tbb").files or []
    except (ImportError, PackageNotFoundError):
        return []
    return [Path(str(f.locate())) for f in files if f.name == name]


def load_tbb() -> str | None:
    """Load the ``tbb`` wheel's library so that numba can use its tbb layer; its path, or None."""
    global _tbb_path
    if _tbb_path is None:
        import ctypes

        for path in _tbb_candidates():
            try:
                ctypes.CDLL(str(path))
            except OSError:
                continue
            _tbb_path = str(path)
            break
    return _tbb_path


def _user_cache_root() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def cache_dir() -> str | None:
    """The ``NUMBA_CACHE_DIR`` that fastconv sets, or None when the package's own ``__pycache__`` is writable.

    The first writable of ``<user cache dir>/fastconv/<version>`` and
    ``<temp dir>/fastconv-<uid>/<version>``; None also when neither is.
    """
    if _writable(PACKAGE_DIR / "__pycache__"):
        return None
    user = f"fastconv-{os.getuid()}" if hasattr(os, "getuid") else "fastconv"
    for root in (_user_cache_root() / "fastconv", Path(tempfile.gettempdir()) / user):
        if _writable(root / VERSION):
            return str(root / VERSION)
    return None


def _set_cache_dir() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = cache_dir()
    if folder is None:
        return
    os.environ["NUMBA_CACHE_DIR"] = folder
    config = getattr(sys.modules.get("numba.core.config"), "CACHE_DIR", None)
    if config is not None and not config:  # numba was imported first and read the environment already
        sys.modules["numba.core.config"].CACHE_DIR = folder


def configure() -> None:
    """Run at ``import fastconv``: make tbb findable and the JIT cache writable."""
    load_tbb()
    _set_cache_dir()


def layer_safety(layer: str | None) -> dict[str, bool | None]:
    """Whether numba's threading ``layer`` is safe for concurrent calls and for fork."""
    if layer == "omp":
        vendor = getattr(sys.modules.get("numba.np.ufunc.omppool"), "openmp_vendor", None)
        return {"thread_safe": True, "fork_safe": vendor != "GNU" if vendor else None}
    return {"tbb": {"thread_safe": True, "fork_safe": True}, "workqueue": {"thread_safe": False, "fork_safe": True}}.get(
        layer, {"thread_safe": None, "fork_safe": None}
    )


def active_layer() -> str | None:
    """Numba's threading layer, once a parallel kernel has started it; None before (or without numba)."""
    numba = sys.modules.get("numba")
    if numba is None:
        return None
    try:
        return numba.threading_layer()
    except (ValueError, AttributeError):  # no parallel kernel has run yet, or another thread is importing numba
        return None


# numba's named layer requests and the layers each allows, in its own order of preference
_LAYER_REQUESTS = {"safe": ("tbb",), "threadsafe": ("tbb", "omp"), "forksafe": ("tbb", "omp", "workqueue")}


def _loads(layer: str) -> bool:
    """Whether numba could load ``layer``'s library: imports its pool module, which starts no threads."""
    try:
        if layer == "tbb":
            from numba.np.ufunc import parallel

            parallel._check_tbb_version_compatible()
            from numba.np.ufunc import tbbpool  # noqa: F401
        elif layer == "omp":
            from numba.np.ufunc import omppool  # noqa: F401
        elif layer == "workqueue":
            from numba.np.ufunc import workqueue  # noqa: F401
        else:
            return False
    except (ImportError, OSError, AttributeError):
        return False
    return True


def expected_layer() -> str | None:
    """The threading layer numba runs: the active one, or before any parallel kernel the one it will pick.

    Follows numba's own choice (``NUMBA_THREADING_LAYER``, then
    ``NUMBA_THREADING_LAYER_PRIORITY``) by loading each candidate's library
    as numba does, without starting its threads.  None without numba, or
    when no layer can be loaded.
    """
    active = active_layer()
    if active is not None or sys.modules.get("numba") is None:
        return active
    try:
        from numba.core import config
    except ImportError:
        return None
    requested = str(config.THREADING_LAYER).lower()
    priority = [str(layer) for layer in config.THREADING_LAYER_PRIORITY]
    if requested in ("tbb", "omp", "workqueue"):
        candidates = [requested]
    else:
        allowed = _LAYER_REQUESTS.get(requested, ("tbb", "omp", "workqueue"))
        candidates = [layer for layer in priority if layer in allowed]
    return next((layer for layer in candidates if _loads(layer)), None)


def kernel_lock() -> contextlib.AbstractContextManager:
    """A lock held around parallel kernel launches while the layer may be workqueue; else no lock.

    Until the first launch has picked a layer, launches are serialized too.
    """
    global _layer_known_safe
    if _layer_known_safe:
        return contextlib.nullcontext()
    if layer_safety(active_layer())["thread_safe"]:
        _layer_known_safe = True
        return contextlib.nullcontext()
    return _lock
