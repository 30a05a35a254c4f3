"""The ``cpu`` backend: Numba ``parallel=True`` kernels.

The entry points (same names and contracts as ``_reference``) allocate the
output and call a private ``_*_kernel`` that fills it.  Kernels do no
validation.  Each parallelizes with ``prange`` over (plane, output row), so
that a single image still uses every core.  Padding never copies the input:
``_source_index`` tables map every padded coordinate of an axis to an input
coordinate, or to -1 for the constant fill.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._validate import AdaptiveCall, ConvCall, PlaneCall, PoolCall

# fastmath without nnan/ninf, so that NaN and inf keep their IEEE behaviour.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
KERNEL = dict(parallel=True, cache=True, fastmath=FASTMATH, nogil=True)


def _source_index(size: int, before: int, length: int, mode: str) -> np.ndarray:
    """Input coordinate of each of ``length`` padded positions starting at ``-before``; -1 means fill."""
    pos = np.arange(length, dtype=np.int64) - before
    inside = (pos >= 0) & (pos < size)
    if mode == "constant" or size == 0:
        return np.where(inside, pos, -1)
    if mode == "edge":
        return np.clip(pos, 0, size - 1)
    if mode == "wrap":
        return pos % size
    if mode == "reflect":
        period = max(2 * size - 2, 1)
        folded = pos % period
        return np.where(folded < size, folded, period - folded)
    folded = pos % (2 * size)  # symmetric
    return np.where(folded < size, folded, 2 * size - 1 - folded)


@njit(**KERNEL)
def _conv2d_kernel(x, w, bias, rows, cols, stride_h, stride_w, dil_h, dil_w, groups, out):
    n_batch, _, _, _ = x.shape
    n_out, cg, kh, kw = w.shape
    _, _, ho, wo = out.shape
    og = n_out // groups
    for job in prange(n_batch * n_out * ho):
        n = job // (n_out * ho)
        o = (job // ho) % n_out
        oh = job % ho
        ci0 = (o // og) * cg
        row = out[n, o, oh]
        for ow in range(wo):
            row[ow] = bias[o]
        for c in range(cg):
            plane = x[n, ci0 + c]
            for u in range(kh):
                r = rows[oh * stride_h + u * dil_h]
                if r < 0:
                    continue
                src = plane[r]
                for v in range(kw):
                    wv = w[o, c, u, v]
                    for ow in range(wo):
                        col = cols[ow * stride_w + v * dil_w]
                        if col >= 0:
                            row[ow] += wv * src[col]


def conv2d(call: ConvCall) -> np.ndarray:
    x, w = np.ascontiguousarray(call.input), np.ascontiguousarray(call.weight)
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    top, bottom, left, right = call.pads
    (sh, sw), (dh, dw) = call.stride, call.dilation
    hp, wp = h + top + bottom, wd + left + right
    ho, wo = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    out = np.empty((n, o, ho, wo), x.dtype)
    bias = np.zeros(o, x.dtype) if call.bias is None else np.ascontiguousarray(call.bias)
    if out.size:
        rows = _source_index(h, top, hp, call.boundary)
        cols = _source_index(wd, left, wp, call.boundary)
        _conv2d_kernel(x, w, bias, rows, cols, sh, sw, dh, dw, call.groups, out)
    return out


@njit(**KERNEL)
def _correlate_planes_kernel(planes, kernel, rows, cols, fill, out):
    n_planes, ho, wo = out.shape
    kh, kw = kernel.shape
    for job in prange(n_planes * ho):
        b = job // ho
        oh = job % ho
        row = out[b, oh]
        row[:] = 0
        for u in range(kh):
            r = rows[oh + u]
            for v in range(kw):
                kv = kernel[u, v]
                if r < 0:
                    for ow in range(wo):
                        row[ow] += kv * fill
                    continue
                src = planes[b, r]
                for ow in range(wo):
                    col = cols[ow + v]
                    row[ow] += kv * (src[col] if col >= 0 else fill)


def correlate_planes(call: PlaneCall) -> np.ndarray:
    planes, kernel = np.ascontiguousarray(call.planes), np.ascontiguousarray(call.kernel)
    b, h, wd = planes.shape
    kh, kw = kernel.shape
    top, bottom, left, right = call.pads
    hp, wp = h + top + bottom, wd + left + right
    out = np.empty((b, hp - kh + 1, wp - kw + 1), planes.dtype)
    rows = _source_index(h, top, hp, call.boundary)
    cols = _source_index(wd, left, wp, call.boundary)
    _correlate_planes_kernel(planes, kernel, rows, cols, planes.dtype.type(call.fillvalue), out)
    return out


@njit(**KERNEL)
def _max_pool2d_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, out, indices):
    n_batch, chans, h, wd = x.shape
    _, _, ho, wo = out.shape
    for job in prange(n_batch * chans * ho):
        n = job // (chans * ho)
        c = (job // ho) % chans
        oh = job % ho
        plane = x[n, c]
        h0 = oh * sh - ph
        for ow in range(wo):
            w0 = ow * sw - pw
            best = plane[0, 0]
            where = -1
            for u in range(kh):
                ih = h0 + u * dh
                if ih < 0 or ih >= h:
                    continue
                for v in range(kw):
                    iw = w0 + v * dw
                    if iw < 0 or iw >= wd:
                        continue
                    val = plane[ih, iw]
                    if where < 0 or val > best or val != val:
                        best = val
                        where = ih * wd + iw
            out[n, c, oh, ow] = best
            indices[n, c, oh, ow] = where


def _as_comparable(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.view(np.uint8) if x.dtype == np.bool_ else x)


def max_pool2d(call: PoolCall, return_indices: bool):
    x = _as_comparable(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    indices = np.empty(out.shape, np.int64)
    if out.size:
        _max_pool2d_kernel(x, *call.kernel, *call.stride, *call.padding, *call.dilation, out, indices)
    out = out.view(call.input.dtype)
    return (out, indices) if return_indices else out


@njit(**KERNEL)
def _avg_pool2d_kernel(x, kh, kw, sh, sw, ph, pw, count_include_pad, divisor, out):
    n_batch, chans, h, wd = x.shape
    _, _, ho, wo = out.shape
    for job in prange(n_batch * chans * ho):
        n = job // (chans * ho)
        c = (job // ho) % chans
        oh = job % ho
        plane = x[n, c]
        h0 = oh * sh - ph
        h1 = min(h0 + kh, h + ph)
        rows = h1 - h0
        h0, h1 = max(h0, 0), min(h1, h)
        for ow in range(wo):
            w0 = ow * sw - pw
            w1 = min(w0 + kw, wd + pw)
            cols = w1 - w0
            w0, w1 = max(w0, 0), min(w1, wd)
            total = 0.0
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    total += plane[ih, iw]
            if divisor > 0:
                count = divisor
            elif count_include_pad:
                count = rows * cols
            else:
                count = (h1 - h0) * (w1 - w0)
            out[n, c, oh, ow] = total / count


def avg_pool2d(call: PoolCall, count_include_pad: bool, divisor_override: int | None):
    x = np.ascontiguousarray(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    if out.size:
        _avg_pool2d_kernel(x, *call.kernel, *call.stride, *call.padding, count_include_pad, divisor_override or 0, out)
    return out


@njit(**KERNEL)
def _adaptive_pool2d_kernel(x, take_max, out, indices):
    n_batch, chans, h, wd = x.shape
    _, _, ho, wo = out.shape
    for job in prange(n_batch * chans * ho):
        n = job // (chans * ho)
        c = (job // ho) % chans
        oh = job % ho
        plane = x[n, c]
        h0 = (oh * h) // ho
        h1 = ((oh + 1) * h + ho - 1) // ho
        for ow in range(wo):
            w0 = (ow * wd) // wo
            w1 = ((ow + 1) * wd + wo - 1) // wo
            best = plane[h0, w0]
            where = h0 * wd + w0
            total = 0.0
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    val = plane[ih, iw]
                    total += val
                    if val > best or val != val:
                        best = val
                        where = ih * wd + iw
            if take_max:
                out[n, c, oh, ow] = best
                indices[n, c, oh, ow] = where
            else:
                out[n, c, oh, ow] = total / ((h1 - h0) * (w1 - w0))


def _adaptive(call: AdaptiveCall, take_max: bool):
    x = _as_comparable(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    indices = np.empty(out.shape if take_max else (0, 0, 0, 0), np.int64)
    if out.size:
        _adaptive_pool2d_kernel(x, take_max, out, indices)
    return out.view(call.input.dtype), indices


def adaptive_avg_pool2d(call: AdaptiveCall) -> np.ndarray:
    return _adaptive(call, False)[0]


def adaptive_max_pool2d(call: AdaptiveCall, return_indices: bool):
    out, indices = _adaptive(call, True)
    return (out, indices) if return_indices else out
