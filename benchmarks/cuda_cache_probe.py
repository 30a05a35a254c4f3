"""Does numba-cuda's ``cache=True`` work for fastconv's cuda kernels?  One phase of the check, per process.

``benchmarks/gpu_check.sh`` runs this twice in fresh processes with the same
empty ``NUMBA_CACHE_DIR``: ``--phase cold`` compiles every kernel a set of
public-API calls needs and saves it; ``--phase warm`` should load each one
from that cache (hits == kernels, misses == 0) and make its first calls much
faster, with the same results.  fastconv itself does not pass ``cache=True``
yet: this probe turns it on from outside, by wrapping ``numba.cuda.jit`` before
the backend compiles anything (the backend calls ``cuda.jit`` lazily, on first
use), so it needs no private module path and no change to the backend.
Device functions (``device=True``) are left uncached: they are inlined into
the kernels.

    NUMBA_CACHE_DIR=/tmp/c python benchmarks/cuda_cache_probe.py --phase cold --out cache.json
    NUMBA_CACHE_DIR=/tmp/c python benchmarks/cuda_cache_probe.py --phase warm --out cache.json

Each phase adds its entry to the JSON file at ``--out``.  The first-call times
are wall-clock, synchronized (host arrays in, host arrays out).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

import numpy as np
from numba import cuda

KERNELS: list = []  # every dispatcher made through the wrapped cuda.jit
_jit = cuda.jit


@functools.wraps(_jit)
def _cached_jit(func_or_sig=None, *args, **kwargs):
    if kwargs.get("device"):
        return _jit(func_or_sig, *args, **kwargs)
    kwargs.setdefault("cache", True)
    made = _jit(func_or_sig, *args, **kwargs)
    if callable(func_or_sig) or hasattr(made, "py_func"):
        KERNELS.append(made)
        return made

    def decorate(func):  # cuda.jit(**options)(func)
        kernel = made(func)
        KERNELS.append(kernel)
        return kernel

    return decorate


cuda.jit = _cached_jit  # before fastconv compiles anything

import fastconv as fc  # noqa: E402


def calls(rng: np.random.Generator, simulated: bool) -> dict:
    """One call of each kernel family, float32, through the public API (tiled dense and depthwise convs, pools, ...).

    The simulator runs each GPU thread in Python: there the shapes are tiny.
    """
    n, c, h, w = (1, 2, 6, 5) if simulated else (2, 8, 33, 31)
    x = rng.standard_normal((n, c, h, w), np.float32)
    return {
        "conv2d dense": lambda: fc.conv2d(x, rng.standard_normal((2 * c, c, 3, 3), np.float32), padding=1, backend="cuda"),
        "conv2d depthwise": lambda: fc.conv2d(x, rng.standard_normal((c, 1, 3, 3), np.float32), padding=1, groups=c, backend="cuda"),
        "filter2d": lambda: fc.filter2d(x[0, 0], rng.standard_normal((5, 5), np.float32), backend="cuda"),
        "max_pool2d": lambda: fc.max_pool2d(x, 3, 2, 1, backend="cuda"),
        "avg_pool2d": lambda: fc.avg_pool2d(x, 2, backend="cuda"),
        "adaptive_avg_pool2d": lambda: fc.adaptive_avg_pool2d(x, 3, backend="cuda"),
        "conv_transpose2d": lambda: fc.conv_transpose2d(x, rng.standard_normal((c, 4, 3, 3), np.float32), stride=2, backend="cuda"),
        "interpolate": lambda: fc.interpolate(x, scale_factor=2, mode="bilinear", backend="cuda"),
    }


def _stats(kernel) -> tuple[int, int] | None:
    stats = getattr(kernel, "stats", None)
    if stats is None:  # the simulator's kernels keep none
        return None
    return sum(stats.cache_hits.values()), sum(stats.cache_misses.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=["cold", "warm"], required=True)
    parser.add_argument("--out", required=True)
    opts = parser.parse_args()
    entry = {"phase": opts.phase, "cache_dir": os.environ.get("NUMBA_CACHE_DIR"), "simulated": os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
             "first_call_s": {}, "second_call_s": {}, "checksum": {}, "errors": {}}
    started = time.perf_counter()
    for name, call in calls(np.random.default_rng(0), entry["simulated"]).items():
        try:
            t0 = time.perf_counter()
            out = call()
            t1 = time.perf_counter()
            call()
            t2 = time.perf_counter()
        except Exception as exc:  # record and go on: the other kernels still say something
            entry["errors"][name] = f"{type(exc).__name__}: {exc}"[:500]
            continue
        entry["first_call_s"][name], entry["second_call_s"][name] = t1 - t0, t2 - t1
        entry["checksum"][name] = float(np.asarray(out, np.float64).sum())
    entry["total_s"] = time.perf_counter() - started
    stats = {f"{i}:{getattr(getattr(k, 'py_func', None), '__qualname__', repr(k))}": _stats(k) for i, k in enumerate(KERNELS)}
    counted = [s for s in stats.values() if s is not None]
    entry["kernels"] = len(KERNELS)
    entry["cache_hits"] = sum(h for h, _ in counted) if counted else None
    entry["cache_misses"] = sum(m for _, m in counted) if counted else None
    entry["per_kernel_hits_misses"] = stats
    if entry["cache_dir"] and os.path.isdir(entry["cache_dir"]):
        entry["cache_files"] = sum(len(files) for _, _, files in os.walk(entry["cache_dir"]))
    record = []
    if os.path.exists(opts.out):
        with open(opts.out) as f:
            record = json.load(f)
    record.append(entry)
    if opts.phase == "warm" and record and record[0].get("phase") == "cold":
        cold = record[0]
        same = {k: cold["checksum"].get(k) == v for k, v in entry["checksum"].items()}
        cold_s, warm_s = sum(cold["first_call_s"].values()), sum(entry["first_call_s"].values())
        record.append({
            "verdict": {
                "cold_compiled_and_saved": bool(cold["cache_misses"]) and bool(cold.get("cache_files")),
                "warm_loaded_every_kernel": entry["cache_misses"] == 0 and bool(entry["cache_hits"]),
                "same_results": all(same.values()) and bool(same),
                "warm_first_calls_under_half_cold": warm_s < 0.5 * cold_s,
                "first_calls_s": {"cold": cold_s, "warm": warm_s},
            }
        })
    with open(opts.out, "w") as f:
        json.dump(record, f, indent=1, default=str)
    print(json.dumps(record[-1], default=str))


if __name__ == "__main__":
    main()
