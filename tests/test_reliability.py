"""Reliability: threads, fork and spawn, int64 indexing, bounded memory, and a JIT cache that cannot break.

The process-level tests run a script in a subprocess with a timeout, so that
a crash or a hang fails the test instead of killing or blocking the suite.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from naive import FLOAT32_PATHS_RTOL
from reliability_cases import run_threads

import fastconv as fc
from fastconv import _runtime, _samples

SRC = Path(fc.__file__).resolve().parents[1]
BACKENDS = [name for name, info in fc.backends().items() if info["available"]]
COMPILED = [name for name in BACKENDS if name != "numpy"]
needs_cpu = pytest.mark.skipif("cpu" not in BACKENDS, reason="threading layers and the JIT cache belong to the cpu backend")

rng = np.random.default_rng(7)

# One call of every public operation (fastconv._samples' table), on small arrays; the extra arguments
# send the signal and filter functions down each method and make the max pools return their indices.
EXTRAS = {
    "max_pool2d": dict(return_indices=True),
    "adaptive_max_pool2d": dict(return_indices=True),
    "convolve2d": dict(method="direct"),
    "correlate2d": dict(method="separable"),
    "filter2d": dict(method="fft"),
}
ARGS = {op: {**_samples.sample_args(op), **EXTRAS.get(op, {})} for op in _samples.OPERATIONS}
OPERATIONS = {op: (lambda b, op=op: getattr(fc, op)(**ARGS[op], backend=b)) for op in ARGS}
REFERENCE = {name: op("numpy") for name, op in OPERATIONS.items()}


def assert_matches(got, expected, name):
    for g, e in zip(got, expected) if isinstance(expected, tuple) else [(got, expected)]:
        assert g.dtype == e.dtype, name
        np.testing.assert_allclose(g, e, rtol=FLOAT32_PATHS_RTOL, atol=FLOAT32_PATHS_RTOL, err_msg=name)


def run_script(code: str, tmp_path: Path, env: dict | None = None, timeout: float = 240) -> str:
    """Run ``code`` in a fresh interpreter; fail on a non-zero exit, a crash or a timeout."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    environment = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    environment = {k: v for k, v in environment.items() if v is not None}
    try:
        done = subprocess.run([sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the script hung for {timeout} s:\n{exc.stdout}\n{exc.stderr}")
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- threads --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_eight_threads_calling_every_operation_at_once_get_the_reference_results(backend):
    def work(offset):
        names = list(OPERATIONS)
        for name in names[offset:] + names[:offset]:  # each thread in another order
            for _ in range(3):
                assert_matches(OPERATIONS[name](backend), REFERENCE[name], name)

    run_threads(work)


THREADS_SCRIPT = """
    import threading, numpy as np, fastconv as fc, numba
    x = np.random.default_rng(0).standard_normal((2, 8, 40, 40))
    w = np.random.default_rng(1).standard_normal((8, 8, 3, 3))
    expected = fc.conv2d(x, w, padding=1, backend="numpy"), fc.max_pool2d(x, 3, backend="numpy")
    failures = []
    def work():
        for _ in range(20):
            got = fc.conv2d(x, w, padding=1, backend="cpu"), fc.max_pool2d(x, 3, backend="cpu")
            if not all(np.allclose(g, e) for g, e in zip(got, expected)):
                failures.append(1)
    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(numba.threading_layer(), len(failures))
"""


@needs_cpu
@pytest.mark.parametrize("layer", ["tbb", "omp", "workqueue"])
def test_threads_are_safe_on_every_threading_layer(layer, tmp_path):
    """workqueue aborts the process on concurrent launches: fastconv serializes them there."""
    assert run_script(THREADS_SCRIPT, tmp_path, {"NUMBA_THREADING_LAYER": layer}).split() == [layer, "0"]


# --- fork and spawn ------------------------------------------------------------------------


POOL_SCRIPT = """
    import multiprocessing as mp, numpy as np, fastconv as fc, numba

    x = np.random.default_rng(0).standard_normal((2, 8, 40, 40))

    def work(scale):
        return fc.conv2d(x * scale, x[:4, :, :3, :3], padding=1, backend="cpu")

    if __name__ == "__main__":
        expected = [work(s) for s in range(4)]  # the parent runs parallel kernels first
        with mp.get_context("{method}").Pool(2) as pool:
            got = pool.map_async(work, range(4)).get(timeout=180)
        assert all(np.allclose(g, e) for g, e in zip(got, expected))
        print(numba.threading_layer())
"""


@needs_cpu
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_process_pool_works_after_the_parent_ran_parallel_kernels(method, tmp_path):
    if method not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip(f"{method} does not exist on this platform")
    layer = run_script(POOL_SCRIPT.format(method=method), tmp_path).strip()
    assert _runtime.layer_safety(layer)["fork_safe"] is not False, layer


@pytest.mark.skipif(not _runtime.TBB_NAMES.get(sys.platform) or "cpu" not in BACKENDS, reason="no tbb wheel here")
def test_the_tbb_wheel_is_found_and_numba_picks_its_layer(tmp_path):
    """pyproject installs tbb where a wheel exists; fastconv loads it so that numba's default order takes it."""
    code = """
        import numpy as np, fastconv as fc
        fc.max_pool2d(np.ones((1, 1, 4, 4)), 2, backend="cpu")
        layer = fc.hardware()["cpu"]["threading_layer"]
        print(layer["active"], layer["thread_safe"], layer["fork_safe"], layer["tbb"] is not None)
    """
    assert run_script(code, tmp_path, {"NUMBA_THREADING_LAYER": None}).split() == ["tbb", "True", "True", "True"]


def test_a_threading_layer_chosen_by_the_user_is_kept(tmp_path):
    code = """
        import numpy as np, fastconv as fc
        fc.max_pool2d(np.ones((1, 1, 4, 4)), 2, backend="cpu")
        print(fc.hardware()["cpu"]["threading_layer"]["active"])
    """
    assert run_script(code, tmp_path, {"NUMBA_THREADING_LAYER": "workqueue"}).strip() == "workqueue"


def test_without_a_usable_numba_auto_runs_every_operation_on_numpy(tmp_path):
    """A numba that fails to import (here: a finder that refuses it) leaves the numpy backend, chosen by auto."""
    code = f"""
        import importlib.abc, json, pickle, sys
        import numpy as np

        class BrokenNumba(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "numba" or name.startswith("numba."):
                    raise ImportError("numba is broken in this test")

        sys.meta_path.insert(0, BrokenNumba())
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import fastconv as fc
        from test_reliability import OPERATIONS
        with open("auto.pickle", "wb") as results:
            pickle.dump({{name: op("auto") for name, op in OPERATIONS.items()}}, results)
        try:
            fc.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), backend="cpu")
        except ValueError as exc:
            refused = str(exc)
        backends = {{name: info["reason"] for name, info in fc.backends().items()}}
        print(json.dumps([backends, refused, fc.hardware()["cpu"]["threading_layer"]["active"], "numba" in sys.modules]))
    """
    backends, refused, layer, loaded = json.loads(run_script(code, tmp_path).splitlines()[-1])
    assert backends["numpy"] is None and not loaded and layer is None
    assert backends["cpu"] == "numba cannot be imported (ImportError: numba is broken in this test)"
    assert refused == f"backend 'cpu' is not available here: {backends['cpu']}"
    got = pickle.loads((tmp_path / "auto.pickle").read_bytes())
    for name, expected in REFERENCE.items():
        assert_matches(got[name], expected, name)


def test_import_loads_no_numba_and_compiles_nothing(tmp_path):
    code = """
        import sys, fastconv
        print("numba" in sys.modules, "fastconv._backends.cpu" in sys.modules)
    """
    assert run_script(code, tmp_path).split() == ["False", "False"]


# --- indexing past 2**31 -------------------------------------------------------------------


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as info:
            return next(int(line.split()[1]) * 1024 for line in info if line.startswith("MemAvailable"))
    except (OSError, StopIteration):
        return 0


@pytest.mark.skipif(_available_memory() < 6 << 30, reason="needs 6 GB of free memory (4.3 GB of arrays)")
@pytest.mark.parametrize("backend", COMPILED)  # numpy indexes with intp itself; its reference would need ~10 GB here
def test_indexing_past_two_to_the_31_elements(backend):
    """A uint8 max_pool2d (kernel 1, stride 1) over 2**31 + 98305 elements: ~10 s, 4.3 GB."""
    shape = (1, 1, 2**16 + 1, 2**15 + 1)
    x = np.zeros(shape, np.uint8)
    assert x.size > 2**31
    marks = {(-1, -1): 7, (-1, 5): 3, (2**16 - 3, 2**15): 9, (2**16, 0): 5}
    for (i, j), value in marks.items():
        x[0, 0, i, j] = value
    y = fc.max_pool2d(x, 1, backend=backend)
    assert y.shape == shape and y.dtype == np.uint8
    assert all(y[0, 0, i, j] == value for (i, j), value in marks.items())
    assert int(y.sum(dtype=np.int64)) == sum(marks.values())


# --- memory ----------------------------------------------------------------------------------


def _peak_extra(op) -> tuple[int, int]:
    """Peak bytes allocated during ``op()`` beyond its result, and the result's bytes (tracemalloc)."""
    op()  # compile first
    tracemalloc.start()
    try:
        result = op()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    nbytes = sum(r.nbytes for r in result) if isinstance(result, tuple) else result.nbytes
    return peak - nbytes, nbytes


M = rng.standard_normal((2, 16, 128, 128)).astype(np.float32)
MW = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
PLANE = rng.standard_normal((512, 512)).astype(np.float32)
MIB = 1 << 20
# op, input bytes, taps per output (the numpy reference gathers every tap), extra workspace the cpu backend may use
MEMORY_CASES = {
    "conv2d": (lambda b: fc.conv2d(M, MW, padding=1, backend=b), M.nbytes, 144, 4 * MIB),  # the GEMM tile
    "conv2d_depthwise": (lambda b: fc.conv2d(M, MW[:, :1], padding=1, groups=16, backend=b), M.nbytes, 9, 0),
    "max_pool2d": (lambda b: fc.max_pool2d(M, 3, 2, 1, return_indices=True, backend=b), M.nbytes, 9, 0),
    "avg_pool2d": (lambda b: fc.avg_pool2d(M, 3, 2, 1, backend=b), M.nbytes, 9, 0),
    "adaptive_avg_pool2d": (lambda b: fc.adaptive_avg_pool2d(M, 7, backend=b), M.nbytes, 400, 0),
    "adaptive_max_pool2d": (lambda b: fc.adaptive_max_pool2d(M, 7, True, backend=b), M.nbytes, 400, 0),
    "convolve2d": (lambda b: fc.convolve2d(PLANE, PLANE[:5, :5], "same", method="direct", backend=b), PLANE.nbytes, 25, 0),
    "correlate2d": (lambda b: fc.correlate2d(PLANE, PLANE[:5, :5], "same", method="separable", backend=b), PLANE.nbytes, 25, 0),
    "filter2d": (lambda b: fc.filter2d(PLANE, PLANE[:31, :31], method="fft", backend=b), PLANE.nbytes, 1, 4 * PLANE.nbytes),
    "gaussian_blur": (lambda b: fc.gaussian_blur(PLANE, 2.0, backend=b), PLANE.nbytes, 17, 0),
    "sobel": (lambda b: fc.sobel(PLANE, backend=b), PLANE.nbytes, 9, PLANE.nbytes),  # one gradient kept
    # the cpu kernel's padded-column table, 8 bytes per sample (2x this float32 input), and the temporaries building it
    "convolve": (lambda b: fc.convolve(PLANE.ravel(), PLANE[0, :9], backend=b), PLANE.nbytes, 9, 5 * PLANE.nbytes),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(MEMORY_CASES))
def test_peak_extra_memory_is_bounded(name, backend):
    """cpu: result + workspace + 256 KiB; numpy, which gathers every tap: (taps + 4) x (input + result)."""
    op, in_bytes, taps, workspace = MEMORY_CASES[name]
    extra, out_bytes = _peak_extra(lambda: op(backend))
    if backend == "numpy":
        bound = (taps + 4) * (in_bytes + out_bytes)
    else:
        bound = workspace + (256 << 10)
    assert extra <= bound, f"{name} on {backend}: {extra / MIB:.2f} MiB beyond its {out_bytes / MIB:.2f} MiB result"


@needs_cpu
def test_a_3x3_conv2d_on_64_1024x1024_channels_needs_only_its_result_and_a_small_workspace(tmp_path):
    """(1, 64, 1024, 1024) float32 in, 16 channels out (64 out: the same bound, 4x the time; README)."""
    code = """
        import resource, tracemalloc, numpy as np, fastconv as fc
        x = np.random.default_rng(0).standard_normal((1, 64, 1024, 1024), dtype=np.float32)
        w = np.random.default_rng(1).standard_normal((16, 64, 3, 3), dtype=np.float32)
        fc.conv2d(x[:, :, :32, :32], w, padding=1, backend="cpu")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        y = fc.conv2d(x, w, padding=1, backend="cpu")
        peak = tracemalloc.get_traced_memory()[1]
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) * 1024
        print(peak - y.nbytes, grown - y.nbytes)
    """
    traced, rss = map(int, run_script(code, tmp_path).split())
    workspace = 8 << 20  # the GEMM tile (4 MiB) and BLAS's buffers
    assert traced <= workspace, f"{traced / MIB:.1f} MiB beyond the result (tracemalloc)"
    assert rss <= workspace + (16 << 20), f"{rss / MIB:.1f} MiB beyond the result (peak RSS, page granularity)"


# --- the JIT cache ---------------------------------------------------------------------------

CACHE_SCRIPT = """
    import os, warnings, numpy as np, fastconv as fc
    warnings.simplefilter("ignore")
    x = np.arange(64).reshape(1, 1, 8, 8)  # int64: the plain kernel (floats run the generated SIMD ones)
    assert (fc.max_pool2d(x, 2, backend="cpu") == fc.max_pool2d(x, 2, backend="numpy")).all()
    from fastconv._backends.cpu import pool
    stats = pool._max_pool2d_kernel.stats
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), stats.cache_path)
"""


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the fastconv package in a temporary directory, with no cache."""
    root = tmp_path / "site"
    shutil.copytree(Path(fc.__file__).parent, root / "fastconv", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _run_cached(root: Path, tmp_path: Path, **env) -> tuple[int, int, str]:
    env = {"PYTHONPATH": str(root), "NUMBA_CACHE_DIR": None, "XDG_CACHE_HOME": str(tmp_path / "user-cache"), **env}
    hits, misses, path = run_script(CACHE_SCRIPT, tmp_path, env).split()
    return int(hits), int(misses), path


@needs_cpu
def test_the_cache_is_reused_next_to_the_package(package_copy, tmp_path):
    assert _run_cached(package_copy, tmp_path)[:2] == (0, 1)
    hits, misses, path = _run_cached(package_copy, tmp_path)
    assert (hits, misses, path) == (1, 0, str(package_copy / "fastconv" / "_backends" / "cpu" / "__pycache__"))


@needs_cpu
def test_a_read_only_package_caches_in_a_versioned_user_directory(package_copy, tmp_path):
    (package_copy / "fastconv" / "__pycache__").write_text("not a directory: nothing can be written here, even by root")
    expected = str(tmp_path / "user-cache" / "fastconv" / fc.__version__)
    hits, misses, path = _run_cached(package_copy, tmp_path)
    assert (hits, misses) == (0, 1) and path.startswith(expected)
    assert _run_cached(package_copy, tmp_path)[:2] == (1, 0)


@needs_cpu
def test_a_user_cache_dir_is_kept(package_copy, tmp_path):
    (package_copy / "fastconv" / "__pycache__").write_text("read-only")
    mine = tmp_path / "mine"
    assert _run_cached(package_copy, tmp_path, NUMBA_CACHE_DIR=str(mine))[2].startswith(str(mine))


@needs_cpu
def test_a_cache_left_by_another_version_is_not_used(package_copy, tmp_path):
    _run_cached(package_copy, tmp_path)
    runtime = package_copy / "fastconv" / "_runtime.py"
    runtime.write_text(runtime.read_text().replace(f'VERSION = "{fc.__version__}"', 'VERSION = "99.0"'))
    assert _run_cached(package_copy, tmp_path)[:2] == (0, 1)
    assert _run_cached(package_copy, tmp_path)[:2] == (1, 0)


@needs_cpu
@pytest.mark.parametrize("damage", ["garbage index", "empty index", "garbage data", "flipped byte in data", "truncated data"])
def test_a_corrupted_cache_file_breaks_neither_import_nor_calls(damage, package_copy, tmp_path):
    _run_cached(package_copy, tmp_path)
    cache = package_copy / "fastconv" / "_backends" / "cpu" / "__pycache__"
    target = next(cache.glob("pool._max_pool2d_kernel-*" + (".nbi" if "index" in damage else ".nbc")))
    blob = bytearray(target.read_bytes())
    if damage.startswith("garbage"):
        blob = bytearray(os.urandom(len(blob)))
    elif damage == "empty index":
        blob = bytearray()
    elif damage == "flipped byte in data":
        blob[len(blob) // 2] ^= 0xFF
    else:
        blob = blob[: len(blob) // 2]
    target.write_bytes(bytes(blob))
    assert _run_cached(package_copy, tmp_path)[:2] == (0, 1)  # recompiled, and the cache repaired:
    assert _run_cached(package_copy, tmp_path)[:2] == (1, 0)
