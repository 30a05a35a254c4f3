"""The cpu backend's ``interpolate``: nearest and (bi)linear resampling through the call's tables."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..._calls import InterpolateCall
from .common import KERNEL
from .pool import _as_comparable


@njit(**KERNEL)
def _interpolate_kernel(x, r0, r1, a0, a1, c0, c1, b0, b1, linear, two_d, out):
    """One (plane, output row) per job: the numpy backend's ``interpolate`` formula element by element."""
    chans, ho, wo = x.shape[1], out.shape[2], out.shape[3]
    for job in prange(x.shape[0] * chans * ho):
        n, c, oh = job // (chans * ho), (job // ho) % chans, job % ho
        dst, top = out[n, c, oh], x[n, c, r0[oh]]
        if not linear:
            for j in range(wo):
                dst[j] = top[c0[j]]
        elif not two_d:
            for j in range(wo):
                dst[j] = top[c0[j]] * b0[j] + top[c1[j]] * b1[j]
        else:
            bottom, w_top, w_bottom = x[n, c, r1[oh]], a0[oh], a1[oh]
            for j in range(wo):
                upper = top[c0[j]] * b0[j] + top[c1[j]] * b1[j]
                lower = bottom[c0[j]] * b0[j] + bottom[c1[j]] * b1[j]
                dst[j] = upper * w_top + lower * w_bottom


def interpolate(call: InterpolateCall) -> np.ndarray:
    x = _as_comparable(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    if out.size:
        _interpolate_kernel(x, *call.rows, *call.row_weights, *call.cols, *call.col_weights, call.linear, call.two_d, out)
    return out.view(call.input.dtype)
