"""The machine's FMA peak, measured with the explicit-SIMD vector type: 24 independent accumulators per thread, prange over threads.

``python -m fastconv bench`` reports every compute-bound row against it.
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import njit, prange

from . import simd
from .common import FASTMATH
from .simd import vadd, vfma, vload, vsplat, vstore

NACC = 24
_src = [
    "@njit(parallel=True, fastmath=FASTMATH, cache=False)",
    "def _peak(x, iters, out):",
    "    for t in prange(out.shape[0] // LANES):",
]
_src += [f"        a{i} = vsplat(x, {i})" for i in range(NACC)]
_src += [
    "        m = vload(x, 0)",
    "        c = vload(x, LANES)",
    "        for _ in range(iters):",
]
_src += [f"            a{i} = vfma(a{i}, m, c)" for i in range(NACC)]
_src += (
    ["        s = a0"]
    + [f"        s = vadd(s, a{i})" for i in range(1, NACC)]
    + ["        vstore(out, t * LANES, s)"]
)


def fma_peak(dtype=np.float32, seconds=0.3, threads=None) -> float:
    """GFLOP/s of NACC independent vector FMAs per thread (2 flops per lane), the best of runs of about 10 ms
    for ``seconds`` (5 at least): on a shared machine a run that lost a thread for a while counts as slow, not as the peak.

    Examples
    --------
    >>> fma_peak(threads=1, seconds=0.05) > 1.0
    True
    """
    lanes = simd.lanes(dtype) or 4
    ns = {
        "njit": njit,
        "FASTMATH": FASTMATH,
        "prange": prange,
        "vsplat": vsplat,
        "vload": vload,
        "vfma": vfma,
        "vadd": vadd,
        "vstore": vstore,
        "LANES": lanes,
    }
    exec(compile("\n".join(_src), "<peak>", "exec"), ns)
    peak = ns["_peak"]
    threads = threads or numba.get_num_threads()
    x = np.full(2 * lanes, 0.999999, dtype)
    x[lanes:] = 1e-7
    out = np.empty(threads * lanes, dtype)
    peak(x, 10, out)
    iters = 1_500_000
    best, runs, start = 0.0, 0, time.perf_counter()
    while runs < 5 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        peak(x, iters, out)
        dt = time.perf_counter() - t
        best, runs = max(best, 2 * NACC * lanes * iters * threads / dt / 1e9), runs + 1
    return best

