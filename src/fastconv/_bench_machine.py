"""What the benchmark records about the machine: description, measured peaks, import time and first-call latency."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import fastconv as fc

from ._samples import sample_args

# Distributions whose versions every result file records, when installed.
DISTRIBUTIONS = (
    "fastconv", "numpy", "scipy", "numba", "llvmlite", "numba-cuda", "torch", "opencv-python-headless", "opencv-python",
    "scikit-image", "matplotlib", "rich", "tqdm", "pytest-benchmark", "asv",
)


# Environment variables that change how many threads run, and how they wait.
THREAD_ENV = ("NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OPENBLAS_THREAD_TIMEOUT")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def loadavg() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def llvm_cpu() -> str:
    """LLVM's name for this CPU: what Numba compiles for."""
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_name()


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in DISTRIBUTIONS:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        found["numpy blas"] = f"{blas.get('name')} {blas.get('version')}"
    except (TypeError, KeyError):
        pass
    return found


def threading_layer() -> str | None:
    """Numba's threading layer, making a small ``cpu`` call first if no parallel kernel has run yet (None without one)."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        pass
    if not fc.backends().get("cpu", {}).get("available"):
        return None
    fc.avg_pool2d(**sample_args("avg_pool2d"), backend="cpu")
    return numba.threading_layer()


def machine_info() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "llvm_cpu": llvm_cpu(),
        "cores": cores(),
        "cpu_count": os.cpu_count(),
        "threads": thread_counts(),
        "thread_env": {k: v for k, v in os.environ.items() if k in THREAD_ENV},
        "threading_layer": threading_layer(),
        "hardware": fc.hardware(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "loadavg": loadavg(),
        "versions": versions(),
        "backends": fc.backends(),
    }


def measure_peaks(n: int = 2048, copy_mib: int = 128, repeats: int = 5) -> dict[str, float]:
    """The compute peak and the copy bandwidth that every row is reported against.

    ``gflops`` is the float32 FMA peak measured with the cpu backend's vector
    type (``_backends/cpu/peak.py``) where numba's target has SIMD vectors,
    else the float32 GEMM rate (``np.matmul``, n x n), which is recorded too
    as ``gemm_gflops``; ``gbps`` is ``np.copyto``'s bandwidth, read + write.
    """
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    src = np.ones(copy_mib * 2**20 // 4, np.float32)
    dst = np.empty_like(src)

    def best(f: Callable[[], Any], times: int) -> float:
        f()
        seconds = []
        for _ in range(times):
            start = time.perf_counter()
            f()
            seconds.append(time.perf_counter() - start)
        return min(seconds)

    gemm = 2 * n**3 / best(lambda: np.matmul(a, b, out=c), repeats) / 1e9
    copy = best(lambda: np.copyto(dst, src), 2 * repeats)
    peaks = {"gflops": gemm, "gemm_gflops": gemm, "peak_kind": "gemm", "gbps": 2 * src.nbytes / copy / 1e9, "gemm_n": n, "copy_mib": copy_mib}
    if fc.backends().get("cpu", {}).get("available"):
        from ._backends.cpu import peak, simd

        if simd.VECTOR_BITS is not None:
            peaks.update(gflops=peak.fma_peak(np.float32), peak_kind=f"fma{simd.VECTOR_BITS}")
    return peaks


# Runs in a fresh interpreter: import fastconv, then (if an op is given) call it twice on small float32 arguments.
_PROBE = """
import json, sys, time
start = time.perf_counter()
import fastconv
imported = time.perf_counter()
result = {"import_s": imported - start, "numba_imported": "numba" in sys.modules}
op, backend = sys.argv[1:3]
if op:
    from fastconv._jitcache import recording
    from fastconv._samples import sample_args
    func, args = getattr(fastconv, op), sample_args(op, sys.argv[3])
    c0, t0 = time.process_time(), time.perf_counter()
    with recording() as compiled:
        func(**args, backend=backend)
    c1, t1 = time.process_time(), time.perf_counter()
    func(**args, backend=backend)
    t2 = time.perf_counter()
    slowest = sorted(compiled, key=lambda c: -c[2])[:3]
    result.update(first_s=t1 - t0, first_cpu_s=c1 - c0, second_s=t2 - t1, variants=len(compiled),
                  slowest=[[name.rsplit(".", 1)[-1], round(s, 2)] for name, _, s in slowest])
print(json.dumps(result))
"""


def _python(code: str, *argv: str, src: str | None = None, **env: str) -> Any:
    """Run ``code`` in a fresh interpreter that imports this fastconv (or the one in the folder ``src``); return the JSON it prints last."""
    src = src or os.path.dirname(os.path.dirname(os.path.abspath(fc.__file__)))
    env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    out = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"fresh process {argv} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def probe(op: str = "", backend: str = "", cache_dir: str | None = None, dtype: str = "float32", src: str | None = None) -> dict[str, Any]:
    """Import time (and first-call latency of ``op`` on ``dtype``) in a fresh process, with ``NUMBA_CACHE_DIR=cache_dir``
    (and the fastconv in the folder ``src``, another checkout's, if given).

    With ``op``, also the process's CPU seconds in the first call (compiling
    is single-threaded: on a loaded machine, nearer than the wall time to
    what an idle one takes), the kernel variants it compiled and the slowest three.
    """
    return _python(_PROBE, op, backend, dtype, src=src, **({} if cache_dir is None else {"NUMBA_CACHE_DIR": cache_dir}))


def isolated(name: str, *args: Any) -> Any:
    """``fastconv.bench.<name>(*args)`` in a fresh process whose allocator returns large freed buffers to the system."""
    code = "import json, sys; from fastconv import bench; print(json.dumps(getattr(bench, sys.argv[1])(*json.loads(sys.argv[2]))))"
    return _python(code, name, json.dumps(args), MALLOC_MMAP_THRESHOLD_=str(128 * 1024))


def first_call(op: str, backend: str, dtype: str = "float32", src: str | None = None) -> dict[str, Any]:
    """First-call seconds of ``op`` in a fresh process with an empty Numba cache, then in a second one with the cache it left.

    Also the cold call's CPU seconds, the kernel variants it compiled and the slowest of them (see :func:`probe`).
    """
    with tempfile.TemporaryDirectory(prefix="fastconv-numba-cache-") as cache:
        cold, warm = probe(op, backend, cache, dtype, src), probe(op, backend, cache, dtype, src)
    return {"cold_s": cold["first_s"], "warm_s": warm["first_s"], "steady_s": min(cold["second_s"], warm["second_s"]),
            "cold_cpu_s": cold["first_cpu_s"], "variants": cold["variants"], "slowest": cold["slowest"]}


def latency(ops: list[str], backends: list[str], progress: Callable[[str], None] = lambda line: None, imports: int = 3) -> dict[str, Any]:
    """Import time of fastconv (median of ``imports`` fresh processes) and the first-call latency of every op on every compiled backend."""
    progress("import time")
    probes = [probe() for _ in range(imports)]
    rows = []
    for backend in (b for b in backends if b != "numpy"):
        for op in ops:
            progress(f"first call {op} [{backend}], cold and warm cache")
            rows.append({"op": op, "impl": f"fastconv[{backend}]", **first_call(op, backend)})
    return {"import_s": statistics.median(p["import_s"] for p in probes), "numba_imported": any(p["numba_imported"] for p in probes), "first_call": rows}


def _blas_threads(n: int | None = None) -> int | None:
    """Threads of NumPy's BLAS (which the cpu backend's GEMM tiles call), first set to ``n`` if given; None without threadpoolctl."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    if n is not None:
        threadpoolctl.threadpool_limits(n, user_api="blas")
    return max((i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"), default=None)


def _numba_threads(n: int | None = None) -> int:
    import numba

    if n is not None:
        numba.set_num_threads(n)
    return numba.get_num_threads()


def _module_threads(module: str, get: str, set_: str) -> Callable[[int | None], int | None]:
    def threads(n: int | None = None) -> int | None:
        try:
            lib = importlib.import_module(module)
        except ImportError:
            return None
        if n is not None:
            getattr(lib, set_)(n)
        return getattr(lib, get)()

    return threads


# Each thread pool: a function that sets its size (if given one) and returns it, or None where absent.
THREAD_POOLS: dict[str, Callable[[int | None], int | None]] = {
    "numba": _numba_threads,
    "blas": _blas_threads,
    "torch": _module_threads("torch", "get_num_threads", "set_num_threads"),
    "cv2": _module_threads("cv2", "getNumThreads", "setNumThreads"),
}


def thread_counts() -> dict[str, int]:
    """The size of every thread pool present (numba, NumPy's BLAS, torch, cv2)."""
    return {name: n for name, pool in THREAD_POOLS.items() if (n := pool()) is not None}
