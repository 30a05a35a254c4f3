"""The cpu backend's elementwise pass for networks: the residual add and its activation (``nn.Add``).

Entry: :func:`add` fills a preallocated output, no validation; :func:`suits` says whether it serves two arrays.
"""

from __future__ import annotations

import numpy as np

from ..._calls import RELU, RELU6
from . import parallel
from .common import FASTMATH, _activate, native
from .simd import vadd, vgt, vlanes, vload_masked, vlt, vselect, vsplat, vstore_masked, vzero

CHUNK = 1 << 13  # elements a task adds (32 KiB of float32): its activation's pass reads them again from L1
MIN_SIZE = 1 << 15  # below, numpy's single pass costs less than handing tasks out


def suits(a, b) -> bool:
    """Whether :func:`add` serves ``a + b``: C-contiguous float32 or float64 ndarrays of one shape and dtype."""
    return (
        type(a) is np.ndarray
        and type(b) is np.ndarray
        and a.shape == b.shape
        and a.dtype == b.dtype
        and a.dtype in (np.float32, np.float64)
        and a.size >= MIN_SIZE
        and a.flags.c_contiguous
        and b.flags.c_contiguous
    )


@native(cache=True, fastmath=FASTMATH, nogil=True)
def _add_task(i, a, b, act, out):
    """``out = act(a + b)`` over chunk ``i`` of the flat arrays: vectors, relu and relu6 in registers (NaN stays NaN:
    ordered compares), the other activations in a pass over the chunk after."""
    lo, hi = i * CHUNK, min(a.shape[0], (i + 1) * CHUNK)
    n = vlanes(out)
    zero, six = vzero(out), vsplat(out, 6.0)
    j = lo
    while j < hi:
        m = min(n, hi - j)
        v = vadd(vload_masked(a, j, m), vload_masked(b, j, m))
        if act == RELU or act == RELU6:
            v = vselect(vlt(v, zero), zero, v)
        if act == RELU6:
            v = vselect(vgt(v, six), six, v)
        vstore_masked(out, j, v, m)
        j += n
    if act > RELU6:
        _activate(out[lo:hi], act)


def add(a, b, act, out):
    """``out[:] = act(a + b)`` (``act`` a code of ``_calls.ACTIVATIONS``) for arrays that :func:`suits` accepts; returns ``out``.

    Examples
    --------
    >>> a = np.full(1 << 15, -1.0, np.float32)
    >>> add(a, a + 3, 1, np.empty_like(a))[:2].tolist()
    [1.0, 1.0]
    """
    parallel.run(_add_task, -(-a.size // CHUNK), a.reshape(-1), b.reshape(-1), act, out.reshape(-1))
    return out
