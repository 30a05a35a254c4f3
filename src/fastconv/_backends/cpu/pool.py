"""The cpu backend's pooling: max (with torch's indices), average, adaptive and global.

On a target with SIMD vectors, float max and average pooling run on the
explicit-SIMD band kernels (``pool_simd.py``, ``bands.py``), as do global
average pooling and adaptive pooling whose windows divide evenly into few
taps; 2 x 2 average pooling at
stride 2 is one pass over each pair of rows.  The plain kernels here run the
other dtypes and targets, and the other adaptive windows: each window's rows
reduce column by column in one vector pass per row, then its columns.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..._calls import AdaptiveCall, PoolCall, adaptive_windows, avg_pool_counts, lowest, wins
from ..._padding import source_index
from . import pool_simd
from .common import KERNEL, _add_tap, _inside, units_per_job

_wins = njit(inline="always")(wins)


@njit(inline="always")
def _max_tap(dst, src, off, step):
    """``dst[j] = max(dst[j], src[off + j * step])`` with NaN winning, where that reads inside ``src``."""
    lo, hi = _inside(dst.shape[0], src.shape[0], off, step)
    inner = dst[lo:hi]
    if step == 1:
        contiguous = src[off + lo : off + hi]
        for j in range(inner.shape[0]):
            a, b = contiguous[j], inner[j]
            inner[j] = a if _wins(a, b) else b
    else:
        strided = src[off + lo * step : off + (hi - 1) * step + 1 : step]
        for j in range(inner.shape[0]):
            a, b = strided[j], inner[j]
            inner[j] = a if _wins(a, b) else b


@njit(**KERNEL)
def _max_pool2d_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, lowest, out):
    """Max pooling values, one (plane, output row) per job, a row of taps at a time."""
    n_chans, h = x.shape[0] * x.shape[1], x.shape[2]
    ho = out.shape[2]
    for job in prange(n_chans * ho):
        n, c, oh = job // (x.shape[1] * ho), (job // ho) % x.shape[1], job % ho
        row = out[n, c, oh]
        for j in range(row.shape[0]):
            row[j] = lowest
        for u in range(kh):
            ih = oh * sh - ph + u * dh
            if 0 <= ih < h:
                for v in range(kw):
                    _max_tap(row, x[n, c, ih], v * dw - pw, sw)


@njit(**KERNEL)
def _max_pool2d_indices_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, lowest, out, indices):
    """Max pooling with torch's flat indices: scan each window row by row from its
    first position >= 0, taking ``val > best or isnan(val)`` (first of equal
    maxima, last NaN)."""
    n_batch, chans, h, wd = x.shape
    _, _, ho, wo = out.shape
    for job in prange(n_batch * chans * ho):
        n = job // (chans * ho)
        c = (job // ho) % chans
        oh = job % ho
        plane = x[n, c]
        h0 = oh * sh - ph
        h_first = h0 + max(0, (-h0 + dh - 1) // dh) * dh
        for ow in range(wo):
            w0 = ow * sw - pw
            start = h_first * wd + w0 + max(0, (-w0 + dw - 1) // dw) * dw
            out[n, c, oh, ow], indices[n, c, oh, ow] = _window_max(plane, h0, w0, kh, kw, dh, dw, lowest, start)


@njit(inline="always")
def _window_max(plane, h0, w0, kh, kw, dh, dw, lowest, start):
    """torch's max over a (dilated) window and its flat index: scanning row by
    row, take ``val > best or isnan(val)``; positions outside ``plane`` are
    skipped, and ``start`` is the index kept when no value beats ``lowest``."""
    h, wd = plane.shape
    best, where = lowest, start
    for u in range(kh):
        ih = h0 + u * dh
        if 0 <= ih < h:
            for v in range(kw):
                iw = w0 + v * dw
                if 0 <= iw < wd:
                    val = plane[ih, iw]
                    if _wins(val, best):
                        best = val
                        where = ih * wd + iw
    return best, where


def _as_comparable(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.view(np.uint8) if x.dtype == np.bool_ else x)


def max_pool2d(call: PoolCall, return_indices: bool):
    x = _as_comparable(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    geometry = (*call.kernel, *call.stride, *call.padding, *call.dilation)
    indices = np.empty(out.shape, np.int64) if return_indices else None
    simd = pool_simd.supported(x.dtype) and (
        not return_indices or pool_simd.supports_indices(x.shape, call.kernel, call.padding, call.dilation, x.dtype)
    )
    if out.size and simd:
        pool_simd.max_pool2d(x, call.kernel, call.stride, call.padding, call.dilation, call.out_size, out, indices)
    elif out.size and return_indices:
        _max_pool2d_indices_kernel(x, *geometry, lowest(x.dtype), out, indices)
    elif out.size:
        _max_pool2d_kernel(x, *geometry, lowest(x.dtype), out)
    out = out.view(call.input.dtype)
    return (out, indices) if return_indices else out


@njit(**KERNEL)
def _avg_pool2d_kernel(x, kh, kw, sh, sw, ph, ph_w, cols, divisor, out):
    """Window sums, one (plane, output row) per job, then ``/ divisor[oh, ow]``."""
    h = x.shape[2]
    ho = out.shape[2]
    for job in prange(x.shape[0] * x.shape[1] * ho):
        n, c, oh = job // (x.shape[1] * ho), (job // ho) % x.shape[1], job % ho
        row = out[n, c, oh]
        for j in range(row.shape[0]):
            row[j] = 0
        for u in range(kh):
            ih = oh * sh - ph + u
            if 0 <= ih < h:
                for v in range(kw):
                    _add_tap(row, x[n, c, ih], 1, cols, v, sw, ph_w, 0)
        scale = divisor[oh]
        for j in range(row.shape[0]):
            row[j] /= scale[j]


@njit(**KERNEL)
def _avg_pool_2x2_kernel(planes, divisor, per_job, out):
    """2 x 2 windows at stride 2 without padding over ``planes`` (B, H, W): one pass over each pair
    of input rows, ``per_job`` (plane, output row) units per job."""
    ho, wo = out.shape[1], out.shape[2]
    units = planes.shape[0] * ho
    for job in prange((units + per_job - 1) // per_job):
        for unit in range(job * per_job, min((job + 1) * per_job, units)):
            b, oh = unit // ho, unit % ho
            upper, lower, dst = planes[b, 2 * oh], planes[b, 2 * oh + 1], out[b, oh]
            for j in range(wo):
                dst[j] = (upper[2 * j] + upper[2 * j + 1] + lower[2 * j] + lower[2 * j + 1]) / divisor


def _is_2x2(shape, kernel, stride, padding, out_size) -> bool:
    """Whether a pooling is 2 x 2 windows at stride 2 that all lie inside the input."""
    return kernel == stride == (2, 2) and padding == (0, 0) and out_size == (shape[2] // 2, shape[3] // 2)


def _avg_pool_2x2(x, divisor, out):
    planes = x.reshape(-1, *x.shape[2:])
    _avg_pool_2x2_kernel(planes, x.dtype.type(divisor), units_per_job(planes.shape[0] * out.shape[2]), out.reshape(planes.shape[0], *out.shape[2:]))


def avg_pool2d(call: PoolCall, count_include_pad: bool, divisor_override: int | None):
    x = np.ascontiguousarray(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    if out.size and x.dtype.kind == "f" and _is_2x2(x.shape, call.kernel, call.stride, call.padding, call.out_size):
        _avg_pool_2x2(x, divisor_override or 4, out)
    elif out.size and pool_simd.supported(x.dtype):
        pool_simd.avg_pool2d(x, call.kernel, call.stride, call.padding, call.out_size, count_include_pad, divisor_override, out)
    elif out.size:
        (kh, kw), (sh, sw), (ph, pw) = call.kernel, call.stride, call.padding
        if divisor_override:
            divisor = np.full(call.out_size, divisor_override, x.dtype)
        else:
            rows, cols = (
                avg_pool_counts(size, n, k, s, p, count_include_pad)
                for size, n, k, s, p in zip(x.shape[2:], call.out_size, call.kernel, call.stride, call.padding)
            )
            divisor = np.multiply.outer(rows, cols).astype(x.dtype)
        table = source_index(x.shape[3], pw, (call.out_size[1] - 1) * sw + kw, "constant")
        _avg_pool2d_kernel(x, kh, kw, sh, sw, ph, pw, table, divisor, out)
    return out


@njit(**KERNEL)
def _adaptive_avg_pool2d_kernel(planes, rows, cols, per_job, out):
    """Adaptive averages of ``planes`` (B, H, W), ``per_job`` consecutive (plane, output row) units
    per job: the window's rows (``rows[0][i]:rows[1][i]``) summed column by column, one vector pass
    per row, then each window's columns."""
    ho, wo, wd = out.shape[1], out.shape[2], planes.shape[2]
    (r0, r1), (c0, c1) = rows, cols
    units = planes.shape[0] * ho
    for job in prange((units + per_job - 1) // per_job):
        acc = np.empty(wd, out.dtype)
        for unit in range(job * per_job, min((job + 1) * per_job, units)):
            b, oh = unit // ho, unit % ho
            src, h0, h1 = planes[b], r0[oh], r1[oh]
            for j in range(wd):
                acc[j] = src[h0, j]
            for ih in range(h0 + 1, h1):
                for j in range(wd):
                    acc[j] += src[ih, j]
            for ow in range(wo):
                total = acc[c0[ow]]
                for j in range(c0[ow] + 1, c1[ow]):
                    total += acc[j]
                out[b, oh, ow] = total / ((h1 - h0) * (c1[ow] - c0[ow]))


@njit(**KERNEL)
def _adaptive_max_pool2d_kernel(planes, rows, cols, per_job, out, indices):
    """Adaptive max of ``planes`` (B, H, W) with torch's flat indices, ``per_job`` units as above.

    The window's rows reduce column by column (``best``, and ``first`` the row
    it came from: ``_wins`` keeps the first of equal maxima, the last NaN), then
    its columns, breaking ties as torch's row-major scan does (``_window_max``).
    """
    ho, wo, wd = out.shape[1], out.shape[2], planes.shape[2]
    (r0, r1), (c0, c1) = rows, cols
    units = planes.shape[0] * ho
    for job in prange((units + per_job - 1) // per_job):
        best, first = np.empty(wd, planes.dtype), np.empty(wd, np.int32)
        for unit in range(job * per_job, min((job + 1) * per_job, units)):
            b, oh = unit // ho, unit % ho
            src, h0 = planes[b], r0[oh]
            for j in range(wd):
                best[j], first[j] = src[h0, j], h0
            for ih in range(h0 + 1, r1[oh]):
                for j in range(wd):
                    v = src[ih, j]
                    take = _wins(v, best[j])
                    best[j] = v if take else best[j]
                    first[j] = ih if take else first[j]
            for ow in range(wo):
                value, r, col = best[c0[ow]], first[c0[ow]], c0[ow]
                for j in range(c0[ow] + 1, c1[ow]):
                    v, rv = best[j], first[j]
                    # a NaN beats a number, and a later NaN (row-major) an earlier one; a number must be
                    # greater, or equal and from an earlier row (columns come in order)
                    if (v > value or (v == value and rv < r)) if v == v else (value == value or rv >= r):
                        value, r, col = v, rv, j
                out[b, oh, ow] = value
                indices[b, oh, ow] = r * wd + col


@njit(**KERNEL)
def _global_avg_pool_kernel(planes, out):
    """Mean of each row of ``planes`` (B, H * W): global average pooling."""
    for b in prange(planes.shape[0]):
        plane = planes[b]
        total = 0.0
        for j in range(plane.shape[0]):
            total += plane[j]
        out[b] = total / plane.shape[0]


@njit(**KERNEL)
def _global_max_pool_kernel(planes, out, indices):
    """Max of each row of ``planes`` (B, H * W) and its flat index, scanned in order with torch's rule."""
    for b in prange(planes.shape[0]):
        plane = planes[b]
        best, where = plane[0], 0
        for j in range(1, plane.shape[0]):
            if _wins(plane[j], best):
                best, where = plane[j], j
        out[b], indices[b] = best, where


def _small_even_window(x, out_size) -> tuple[int, int] | None:
    """The window ``k`` when adaptive pooling is plain pooling with kernel = stride = ``k`` (every axis
    divides evenly) and the band kernels (``pool_simd``) run it faster: up to 16 taps (phase slots); else None."""
    if not pool_simd.supported(x.dtype) or any(size % n for size, n in zip(x.shape[2:], out_size)):
        return None
    window = tuple(size // n for size, n in zip(x.shape[2:], out_size))
    return window if window[0] * window[1] <= 16 else None


def _adaptive_args(x, out):
    """The adaptive kernels' planes, row and column windows and units per job."""
    (h, wd), (ho, wo) = x.shape[2:], out.shape[2:]
    planes = x.reshape(-1, h, wd)
    return planes, adaptive_windows(h, ho), adaptive_windows(wd, wo), units_per_job(planes.shape[0] * ho)


def adaptive_avg_pool2d(call: AdaptiveCall) -> np.ndarray:
    x = np.ascontiguousarray(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    if out.size and call.out_size == (1, 1) and pool_simd.supported(x.dtype):
        pool_simd.global_avg_pool2d(x, out)
    elif out.size and call.out_size == (1, 1):
        _global_avg_pool_kernel(x.reshape(out.size, -1), out.reshape(-1))
    elif out.size and call.out_size == x.shape[2:]:  # windows of one element
        np.copyto(out, x)
    elif out.size and x.shape[2:] == (2 * call.out_size[0], 2 * call.out_size[1]):
        _avg_pool_2x2(x, 4, out)
    elif out.size and (window := _small_even_window(x, call.out_size)):
        pool_simd.avg_pool2d(x, window, window, (0, 0), call.out_size, True, None, out)
    elif out.size:
        _adaptive_avg_pool2d_kernel(*_adaptive_args(x, out), out.reshape(-1, *call.out_size))
    return out


def adaptive_max_pool2d(call: AdaptiveCall, return_indices: bool):
    x = _as_comparable(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    indices = np.empty(out.shape, np.int64)
    window = _small_even_window(x, call.out_size) if out.size else None
    if window and return_indices and not pool_simd.supports_indices(x.shape, window, (0, 0), (1, 1), x.dtype):
        window = None
    if out.size and call.out_size == (1, 1):
        _global_max_pool_kernel(x.reshape(out.size, -1), out.reshape(-1), indices.reshape(-1))
    elif out.size and call.out_size == x.shape[2:]:
        np.copyto(out, x)
        indices[:] = np.arange(out[0, 0].size).reshape(call.out_size)
    elif window:
        pool_simd.max_pool2d(x, window, window, (0, 0), (1, 1), call.out_size, out, indices if return_indices else None)
    elif out.size:
        _adaptive_max_pool2d_kernel(*_adaptive_args(x, out), out.reshape(-1, *call.out_size), indices.reshape(-1, *call.out_size))
    out = out.view(call.input.dtype)
    return (out, indices) if return_indices else out
