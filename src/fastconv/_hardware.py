"""``fastconv.hardware()``: what this machine offers the backends."""

from __future__ import annotations

import os
import platform
from typing import Any

from ._dispatch import _unavailable_reason, simulated
from ._runtime import active_layer, expected_layer, layer_safety, load_tbb

# Widest first: the first flag the CPU has names its SIMD level.
SIMD_LEVELS = (
    ("avx512f", "AVX-512"),
    ("avx2", "AVX2"),
    ("avx", "AVX"),
    ("sse4.2", "SSE4.2"),
    ("sve", "SVE"),
    ("neon", "NEON"),
    ("asimd", "NEON"),
)


def _cpu_flags() -> set[str]:
    try:
        from llvmlite import binding

        return {f[1:] for f in binding.get_host_cpu_features().flatten().split(",") if f.startswith("+")}
    except Exception:  # no llvmlite, or an LLVM without host feature detection
        try:
            with open("/proc/cpuinfo") as info:
                for line in info:
                    if line.startswith(("flags", "Features")):
                        return {f.replace("_", ".") for f in line.split(":", 1)[1].split()}
        except OSError:
            pass
    return set()


def _threading_layer() -> dict[str, Any]:
    """Numba's threading layer: as configured, the one it runs (``layer``, known before any kernel), and its safety.

    ``active`` is the layer once a parallel kernel has started it (None
    before); ``layer`` is that one, or before the first kernel the layer
    numba will pick, found by loading the candidates' libraries as numba
    does without starting any threads; ``started`` says which.
    """
    try:
        import numba
    except Exception:  # not installed, or broken: _dispatch reports why
        return {"configured": None, "layer": None, "started": False, "active": None, "threads": None, "tbb": None, **layer_safety(None)}
    active = active_layer()
    layer = active if active is not None else expected_layer()
    return {
        "configured": numba.config.THREADING_LAYER,
        "layer": layer,
        "started": active is not None,
        "active": active,
        "threads": numba.config.NUMBA_NUM_THREADS,
        "tbb": load_tbb(),
        **layer_safety(layer),
    }


def _cpu() -> dict[str, Any]:
    flags = _cpu_flags()
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "machine": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(affinity) if affinity is not None else os.cpu_count(),
        "simd": next((name for flag, name in SIMD_LEVELS if flag in flags), "none detected"),
        "threading_layer": _threading_layer(),
    }


def _gpu() -> dict[str, Any]:
    reason = _unavailable_reason("cuda")
    if simulated():
        reason = "NUMBA_ENABLE_CUDASIM=1: numba.cuda runs kernels in its CPU simulator, there is no GPU"
    if reason is not None:
        return {"available": False, "reason": reason}
    from numba import cuda

    device = cuda.get_current_device()
    free, total = cuda.current_context().get_memory_info()
    name = device.name
    return {
        "available": True,
        "name": name.decode() if isinstance(name, bytes) else name,
        "compute_capability": tuple(device.compute_capability),
        "multiprocessors": device.MULTIPROCESSOR_COUNT,
        "memory_bytes": int(total),
        "free_memory_bytes": int(free),
    }


def hardware() -> dict[str, Any]:
    """Describe the CPU and the GPU that fastconv's backends can use.

    Returns
    -------
    dict
        ``{"cpu": {...}, "gpu": {...}}``.  The CPU entry gives the cores, the
        widest SIMD level and numba's threading layer (``layer``: the one it
        runs, known before any kernel has started it); the GPU entry gives the
        name, compute capability and memory, or ``available: False`` and the
        reason there is none.

    Examples
    --------
    >>> import fastconv as fc
    >>> sorted(fc.hardware())
    ['cpu', 'gpu']
    """
    return {"cpu": _cpu(), "gpu": _gpu()}
