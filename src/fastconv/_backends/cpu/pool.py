"""The cpu backend's pooling: max (with torch's indices), average, adaptive and global.

On a target with SIMD vectors, float max and average pooling run on the
explicit-SIMD band kernels (``pool_simd.py``, ``bands.py``), as does adaptive
pooling whose windows divide evenly into few taps; 2 x 2 average pooling at
stride 2 is one pass over each pair of rows.  The plain kernels here run the
other dtypes and targets, and the other adaptive windows: each window's rows
reduce column by column in one vector pass per row, then its columns.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..._calls import AdaptiveCall, PoolCall, adaptive_windows, avg_pool_counts, lowest, wins
from ..._padding import source_index
from . import parallel, pool_simd
from .common import JOB, _add_tap, _inside, units_per_job

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


@njit(**JOB)
def _max_pool2d_job(job, x, kh, kw, sh, sw, ph, pw, dh, dw, lowest, out):
    """Max pooling values of job = (plane, output row), a row of taps at a time."""
    h, ho = x.shape[2], out.shape[2]
    n, c, oh = job // (x.shape[1] * ho), (job // ho) % x.shape[1], job % ho
    row = out[n, c, oh]
    for j in range(row.shape[0]):
        row[j] = lowest
    for u in range(kh):
        ih = oh * sh - ph + u * dh
        if 0 <= ih < h:
            for v in range(kw):
                _max_tap(row, x[n, c, ih], v * dw - pw, sw)


@njit(**JOB)
def _max_pool2d_indices_job(job, x, kh, kw, sh, sw, ph, pw, dh, dw, lowest, out, indices):
    """Max pooling of job = (plane, output row) with torch's flat indices: scan each window row by row
    from its first position >= 0, taking ``val > best or isnan(val)`` (first of equal maxima, last NaN)."""
    chans, wd = x.shape[1], x.shape[3]
    ho, wo = out.shape[2], out.shape[3]
    n, c, oh = job // (chans * ho), (job // ho) % chans, job % ho
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
        parallel.run(_max_pool2d_indices_job, out.shape[0] * out.shape[1] * out.shape[2], x, *geometry, lowest(x.dtype), out, indices)
    elif out.size:
        parallel.run(_max_pool2d_job, out.shape[0] * out.shape[1] * out.shape[2], x, *geometry, lowest(x.dtype), out)
    out = out.view(call.input.dtype)
    return (out, indices) if return_indices else out


@njit(**JOB)
def _avg_pool2d_job(job, x, kh, kw, sh, sw, ph, ph_w, cols, divisor, out):
    """Window sums of job = (plane, output row), then ``/ divisor[oh, ow]``."""
    h, ho = x.shape[2], out.shape[2]
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


@njit(**JOB)
def _avg_pool_2x2_job(job, planes, divisor, per_job, out):
    """2 x 2 windows at stride 2 without padding over ``planes`` (B, H, W): one pass over each pair
    of input rows, for the ``per_job`` (plane, output row) units of job ``job``."""
    ho, wo = out.shape[1], out.shape[2]
    for unit in range(job * per_job, min((job + 1) * per_job, planes.shape[0] * ho)):
        b, oh = unit // ho, unit % ho
        upper, lower, dst = planes[b, 2 * oh], planes[b, 2 * oh + 1], out[b, oh]
        for j in range(wo):
            dst[j] = (upper[2 * j] + upper[2 * j + 1] + lower[2 * j] + lower[2 * j + 1]) / divisor


def _is_2x2(shape, kernel, stride, padding, out_size) -> bool:
    """Whether a pooling is 2 x 2 windows at stride 2 that all lie inside the input."""
    return kernel == stride == (2, 2) and padding == (0, 0) and out_size == (shape[2] // 2, shape[3] // 2)


def _avg_pool_2x2(x, divisor, out):
    planes = x.reshape(-1, *x.shape[2:])
    units = planes.shape[0] * out.shape[2]
    per_job = units_per_job(units)
    parallel.run(_avg_pool_2x2_job, -(-units // per_job), planes, x.dtype.type(divisor), per_job, out.reshape(planes.shape[0], *out.shape[2:]))


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
        parallel.run(_avg_pool2d_job, out.shape[0] * out.shape[1] * out.shape[2], x, kh, kw, sh, sw, ph, pw, table, divisor, out)
    return out


@njit(**JOB)
def _adaptive_avg_pool2d_job(job, planes, r0, r1, c0, c1, per_job, out):
    """Adaptive averages of ``planes`` (B, H, W) for the ``per_job`` consecutive (plane, output row) units
    of job ``job``: the window's rows (``r0[i]:r1[i]``) summed column by column, one vector pass per
    row, then each window's columns (``c0[j]:c1[j]``)."""
    ho, wo, wd = out.shape[1], out.shape[2], planes.shape[2]
    acc = np.empty(wd, out.dtype)
    for unit in range(job * per_job, min((job + 1) * per_job, planes.shape[0] * ho)):
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


@njit(**JOB)
def _adaptive_max_pool2d_job(job, planes, r0, r1, c0, c1, per_job, out, indices):
    """Adaptive max of ``planes`` (B, H, W) with torch's flat indices, ``per_job`` units per job as above.

    The window's rows reduce column by column (``best``, and ``first`` the row
    it came from: ``_wins`` keeps the first of equal maxima, the last NaN), then
    its columns, breaking ties as torch's row-major scan does (``_window_max``).
    """
    ho, wo, wd = out.shape[1], out.shape[2], planes.shape[2]
    best, first = np.empty(wd, planes.dtype), np.empty(wd, np.int32)
    for unit in range(job * per_job, min((job + 1) * per_job, planes.shape[0] * ho)):
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


@njit(**JOB)
def _global_avg_pool_job(b, planes, out):
    """Mean of row ``b`` of ``planes`` (B, H * W): global average pooling."""
    plane = planes[b]
    total = 0.0
    for j in range(plane.shape[0]):
        total += plane[j]
    out[b] = total / plane.shape[0]


@njit(**JOB)
def _global_max_pool_job(b, planes, out, indices):
    """Max of row ``b`` of ``planes`` (B, H * W) and its flat index, scanned in order with torch's rule."""
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


def _adaptive_pool(job, x, out, *more):
    """Run adaptive job ``job`` over x's planes, with their row and column windows, into ``out`` (and ``more``)."""
    (h, wd), (ho, wo) = x.shape[2:], out.shape[2:]
    planes = x.reshape(-1, h, wd)
    units = planes.shape[0] * ho
    per_job = units_per_job(units)
    parallel.run(job, -(-units // per_job), planes, *adaptive_windows(h, ho), *adaptive_windows(wd, wo), per_job,
                 out.reshape(-1, ho, wo), *(m.reshape(-1, ho, wo) for m in more))


def adaptive_avg_pool2d(call: AdaptiveCall) -> np.ndarray:
    x = np.ascontiguousarray(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    if out.size and call.out_size == (1, 1):
        parallel.run(_global_avg_pool_job, out.size, x.reshape(out.size, -1), out.reshape(-1))
    elif out.size and call.out_size == x.shape[2:]:  # windows of one element
        np.copyto(out, x)
    elif out.size and x.shape[2:] == (2 * call.out_size[0], 2 * call.out_size[1]):
        _avg_pool_2x2(x, 4, out)
    elif out.size and (window := _small_even_window(x, call.out_size)):
        pool_simd.avg_pool2d(x, window, window, (0, 0), call.out_size, True, None, out)
    elif out.size:
        _adaptive_pool(_adaptive_avg_pool2d_job, x, out)
    return out


def adaptive_max_pool2d(call: AdaptiveCall, return_indices: bool):
    x = _as_comparable(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    indices = np.empty(out.shape, np.int64)
    window = _small_even_window(x, call.out_size) if out.size else None
    if window and return_indices and not pool_simd.supports_indices(x.shape, window, (0, 0), (1, 1), x.dtype):
        window = None
    if out.size and call.out_size == (1, 1):
        parallel.run(_global_max_pool_job, out.size, x.reshape(out.size, -1), out.reshape(-1), indices.reshape(-1))
    elif out.size and call.out_size == x.shape[2:]:
        np.copyto(out, x)
        indices[:] = np.arange(out[0, 0].size).reshape(call.out_size)
    elif window:
        pool_simd.max_pool2d(x, window, window, (0, 0), (1, 1), call.out_size, out, indices if return_indices else None)
    elif out.size:
        _adaptive_pool(_adaptive_max_pool2d_job, x, out, indices)
    out = out.view(call.input.dtype)
    return (out, indices) if return_indices else out
