"""Numba kernels for separable filtering: a kernel ``sum_q outer(us[q], vs[q])`` as 1-D passes.

The public layer (``_methods``) factors the kernel and builds the index
tables; these kernels only compute.  Each output row is made by a vertical
pass over ``kh`` input rows into a padded row buffer, then a horizontal pass
of ``kw`` taps over that buffer, so no intermediate image is stored.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._cpu import FASTMATH

ROWS_PER_JOB = 16


@njit(parallel=True, cache=True, fastmath=FASTMATH, nogil=True)
def _separable_kernel(planes, us, vs, rows, cols, left, fill, out):
    """``out[b] = sum_q`` correlation of the padded ``planes[b]`` with ``outer(us[q], vs[q])``.

    ``rows``/``cols`` map padded coordinates to input ones (-1: ``fill``);
    ``left`` is the padding before column 0, so ``cols[left + c] == c``.
    """
    n_planes, ho, wo = out.shape
    rank, kh = us.shape
    kw = vs.shape[1]
    width = planes.shape[2]
    wp = cols.shape[0]
    blocks = (ho + ROWS_PER_JOB - 1) // ROWS_PER_JOB
    for job in prange(n_planes * blocks):
        b = job // blocks
        start = (job % blocks) * ROWS_PER_JOB
        buf = np.empty(wp, out.dtype)
        for oh in range(start, min(start + ROWS_PER_JOB, ho)):
            row = out[b, oh]
            row[:] = 0
            for q in range(rank):
                inner = buf[left : left + width]
                inner[:] = 0
                fill_col = out.dtype.type(0)
                for a in range(kh):
                    ua = us[q, a]
                    fill_col += ua * fill
                    r = rows[oh + a]
                    if r < 0:
                        for c in range(width):
                            inner[c] += ua * fill
                    else:
                        src = planes[b, r]
                        for c in range(width):
                            inner[c] += ua * src[c]
                for j in range(wp):
                    if j < left or j >= left + width:
                        c = cols[j]
                        buf[j] = buf[left + c] if c >= 0 else fill_col
                for v in range(kw):
                    vb = vs[q, v]
                    for j in range(wo):
                        row[j] += vb * buf[j + v]


def correlate(planes, us, vs, rows, cols, left, fill, out) -> np.ndarray:
    _separable_kernel(planes, us, vs, rows, cols, left, planes.dtype.type(fill), out)
    return out
