"""The cpu backend's ``interpolate``: nearest and (bi)linear resampling through the call's tables.

Both kernels take ``units_per_job`` consecutive (plane, output row) units per
job and reuse what the row before computed: nearest copies an output row
that reads the same input row as the one before, and linear keeps the
column-interpolated input rows that the next output row reads again.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..._calls import InterpolateCall
from .common import KERNEL, units_per_job
from .pool import _as_comparable


@njit(**KERNEL)
def _nearest_kernel(x, rows, cols, doubled, per_job, out):
    """``out[n, c, i, j] = x[n, c, rows[i], cols[j]]``; ``doubled``: ``cols[j] == j // 2``."""
    chans, ho, wo = x.shape[1], out.shape[2], out.shape[3]
    units = x.shape[0] * chans * ho
    for job in prange((units + per_job - 1) // per_job):
        start = job * per_job
        for unit in range(start, min(start + per_job, units)):
            n, c, oh = unit // (chans * ho), (unit // ho) % chans, unit % ho
            dst = out[n, c, oh]
            if unit > start and oh > 0 and rows[oh] == rows[oh - 1]:  # the row before is this job's
                dst[:] = out[n, c, oh - 1]
            elif doubled:
                src = x[n, c, rows[oh]]
                for j in range(wo // 2):
                    v = src[j]
                    dst[2 * j] = v
                    dst[2 * j + 1] = v
            else:
                src = x[n, c, rows[oh]]
                for j in range(wo):
                    dst[j] = src[cols[j]]


@njit(inline="always")
def _along_row(dst, src, c0, c1, b0, b1):
    for j in range(dst.shape[0]):
        dst[j] = src[c0[j]] * b0[j] + src[c1[j]] * b1[j]


@njit(**KERNEL)
def _linear_kernel(x, r0, r1, a0, a1, c0, c1, b0, b1, two_d, per_job, out):
    """The numpy backend's linear formula: input rows ``r0[i]``, ``r1[i]`` interpolated along
    columns (``_along_row``), then weighed by ``a0[i]``, ``a1[i]`` (``two_d``)."""
    chans, ho, wo = x.shape[1], out.shape[2], out.shape[3]
    units = x.shape[0] * chans * ho
    for job in prange((units + per_job - 1) // per_job):
        upper, lower = np.empty(wo, out.dtype), np.empty(wo, out.dtype)
        held_upper = held_lower = -1  # the input rows upper and lower hold, in this plane
        start = job * per_job
        for unit in range(start, min(start + per_job, units)):
            n, c, oh = unit // (chans * ho), (unit // ho) % chans, unit % ho
            plane, dst = x[n, c], out[n, c, oh]
            if oh == 0 or unit == start:
                held_upper = held_lower = -1
            if not two_d:
                _along_row(dst, plane[r0[oh]], c0, c1, b0, b1)
                continue
            if r0[oh] == held_lower:
                upper, lower = lower, upper
                held_upper, held_lower = held_lower, held_upper
            if r0[oh] != held_upper:
                _along_row(upper, plane[r0[oh]], c0, c1, b0, b1)
                held_upper = r0[oh]
            if r1[oh] != held_lower:
                _along_row(lower, plane[r1[oh]], c0, c1, b0, b1)
                held_lower = r1[oh]
            w_upper, w_lower = a0[oh], a1[oh]
            for j in range(wo):
                dst[j] = upper[j] * w_upper + lower[j] * w_lower


def interpolate(call: InterpolateCall) -> np.ndarray:
    x = _as_comparable(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    per_job = units_per_job(out.shape[0] * out.shape[1] * out.shape[2])
    (r0, r1), (c0, c1) = call.rows, call.cols
    if out.size and call.linear:
        _linear_kernel(x, r0, r1, *call.row_weights, c0, c1, *call.col_weights, call.two_d, per_job, out)
    elif out.size:
        wd, wo = x.shape[3], out.shape[3]
        doubled = wo == 2 * wd and np.array_equal(c0, np.arange(wo) // 2)
        _nearest_kernel(x, r0, c0, doubled, per_job, out)
    return out.view(call.input.dtype)
