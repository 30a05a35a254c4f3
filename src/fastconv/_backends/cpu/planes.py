"""The cpu backend's plane correlations: ``correlate_planes`` and the separable passes of ``correlate_separable``.

Float planes correlate on the explicit-SIMD layer (``_plane_job``) where numba's target
has vectors; the scalar-loop kernels serve the other targets, integers and np.convolve's rows."""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from ..._calls import PlaneCall, conv_out_size
from . import parallel, simd
from .common import FASTMATH, KERNEL, STREAM_BYTES, _fill_band, _tables, alive, borrowed, empty, native, output
from .conv import _run_correlation
from .simd import vbload, vfma, vlanes, vload, vstore, vstore_masked, vzero
from .simd_ext import stream_fence, vstore_stream

BAND_ROWS = 32
BAND_COLS = 512


@njit(inline="always")
def _nine_pass(dst, band, r, tap_rows, tap_cols, weights, g):
    """``dst += `` the nine taps ``g:g + 9`` of the (row, column, weight) tap lists, read from ``band``."""
    n = dst.shape[0]
    s0 = band[r + tap_rows[g], tap_cols[g] : tap_cols[g] + n]
    s1 = band[r + tap_rows[g + 1], tap_cols[g + 1] : tap_cols[g + 1] + n]
    s2 = band[r + tap_rows[g + 2], tap_cols[g + 2] : tap_cols[g + 2] + n]
    s3 = band[r + tap_rows[g + 3], tap_cols[g + 3] : tap_cols[g + 3] + n]
    s4 = band[r + tap_rows[g + 4], tap_cols[g + 4] : tap_cols[g + 4] + n]
    s5 = band[r + tap_rows[g + 5], tap_cols[g + 5] : tap_cols[g + 5] + n]
    s6 = band[r + tap_rows[g + 6], tap_cols[g + 6] : tap_cols[g + 6] + n]
    s7 = band[r + tap_rows[g + 7], tap_cols[g + 7] : tap_cols[g + 7] + n]
    s8 = band[r + tap_rows[g + 8], tap_cols[g + 8] : tap_cols[g + 8] + n]
    w0, w1, w2, w3, w4 = weights[g], weights[g + 1], weights[g + 2], weights[g + 3], weights[g + 4]
    w5, w6, w7, w8 = weights[g + 5], weights[g + 6], weights[g + 7], weights[g + 8]
    for i in range(n):
        dst[i] += (
            w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i] + w4 * s4[i]
            + w5 * s5[i] + w6 * s6[i] + w7 * s7[i] + w8 * s8[i]
        )


@njit(inline="always")
def _three_pass(dst, band, r, tap_rows, tap_cols, weights, g):
    n = dst.shape[0]
    s0 = band[r + tap_rows[g], tap_cols[g] : tap_cols[g] + n]
    s1 = band[r + tap_rows[g + 1], tap_cols[g + 1] : tap_cols[g + 1] + n]
    s2 = band[r + tap_rows[g + 2], tap_cols[g + 2] : tap_cols[g + 2] + n]
    w0, w1, w2 = weights[g], weights[g + 1], weights[g + 2]
    for i in range(n):
        dst[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i]


@njit(inline="always")
def _one_pass(dst, band, r, tap_rows, tap_cols, weights, g):
    n = dst.shape[0]
    s0 = band[r + tap_rows[g], tap_cols[g] : tap_cols[g] + n]
    w0 = weights[g]
    for i in range(n):
        dst[i] += w0 * s0[i]


@native(cache=True, fastmath=FASTMATH, nogil=True)
def _correlate_planes_job(job, planes, tap_rows, tap_cols, weights, kh, kw, rows, cols, left, fill, out):
    """Correlate one (plane, band of rows, band of columns) of the planes with the taps.

    The job copies its padded input window into a small ``band`` once, so
    that the taps then run as branch-free passes of nine (or three, or one)
    taps over each output row, with no edge handling left in them.
    """
    ho, wo = out.shape[1], out.shape[2]
    n_taps = weights.shape[0]
    row_bands = (ho + BAND_ROWS - 1) // BAND_ROWS
    col_bands = (wo + BAND_COLS - 1) // BAND_COLS
    b = job // (row_bands * col_bands)
    r0 = ((job // col_bands) % row_bands) * BAND_ROWS
    c0 = (job % col_bands) * BAND_COLS
    r1, c1 = min(r0 + BAND_ROWS, ho), min(c0 + BAND_COLS, wo)
    band = np.empty((r1 - r0 + kh - 1, c1 - c0 + kw - 1), out.dtype)
    _fill_band(band, planes[b], rows, cols, r0, c0, left, fill)
    for r in range(r1 - r0):
        dst = out[b, r0 + r, c0:c1]
        dst[:] = 0
        g = 0
        while g + 9 <= n_taps:
            _nine_pass(dst, band, r, tap_rows, tap_cols, weights, g)
            g += 9
        while g + 3 <= n_taps:
            _three_pass(dst, band, r, tap_rows, tap_cols, weights, g)
            g += 3
        while g < n_taps:
            _one_pass(dst, band, r, tap_rows, tap_cols, weights, g)
            g += 1


@njit(boundscheck=False, cache=True, nogil=True, inline="always")
def _store4(out, o, n, a0, a1, a2, a3, stream=False):
    """Four vectors into ``out`` from ``o``; with ``stream``, past the caches (``o`` on a vector boundary)."""
    if stream:
        vstore_stream(out, o, a0)
        vstore_stream(out, o + n, a1)
        vstore_stream(out, o + 2 * n, a2)
        vstore_stream(out, o + 3 * n, a3)
    else:
        vstore(out, o, a0)
        vstore(out, o + n, a1)
        vstore(out, o + 2 * n, a2)
        vstore(out, o + 3 * n, a3)


@njit(fastmath=FASTMATH, boundscheck=False, cache=True, nogil=True, inline="always")
def _rows_of_two(flat, bw, rb, cb, weights, kh, kw, out, ob, wo, nr, nc, stream):
    """The band's output rows two at a time (``out`` from ``ob``, ``nr`` x ``nc``); returns the rows done.
    With ``stream``, the blocks on vector boundaries are stored past the caches (``out``'s rows start on them)."""
    n = vlanes(flat)
    r = 0
    while r + 2 <= nr:
        o = ob + r * wo
        c = 0
        while c < nc and nc >= 4 * n:
            c = min(c, nc - 4 * n)  # the last block overlaps the one before: the same values again
            a0, a1, a2, a3, b0, b1, b2, b3 = _two_rows(flat, bw, rb + r, cb + c, weights, kh, kw)
            _store4(out, o + c, n, a0, a1, a2, a3, stream and c % n == 0)
            _store4(out, o + wo + c, n, b0, b1, b2, b3, stream and c % n == 0)
            c += 4 * n
        while c < nc:
            vstore_masked(out, o + c, _one_vector(flat, bw, rb + r, cb + c, weights, kh, kw), min(n, nc - c))
            vstore_masked(out, o + wo + c, _one_vector(flat, bw, rb + r + 1, cb + c, weights, kh, kw), min(n, nc - c))
            c += n
        r += 2
    return r


@njit(fastmath=FASTMATH, boundscheck=False, cache=True, nogil=True, inline="always")
def _two_rows(flat, bw, r, c, weights, kh, kw):
    """Output rows r and r + 1 of the band at columns c .. c + 4 vectors: each input vector
    loaded serves both rows (tap u of row r, u - 1 of row r + 1); eight FMA chains."""
    n = vlanes(flat)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = vzero(flat)
    for u in range(kh + 1):
        p = (r + u) * bw + c
        for v in range(kw):
            x0, x1, x2, x3 = vload(flat, p + v), vload(flat, p + v + n), vload(flat, p + v + 2 * n), vload(flat, p + v + 3 * n)
            if u < kh:
                w = vbload(weights, u * kw + v)
                a0, a1, a2, a3 = vfma(x0, w, a0), vfma(x1, w, a1), vfma(x2, w, a2), vfma(x3, w, a3)
            if u > 0:
                w = vbload(weights, (u - 1) * kw + v)
                b0, b1, b2, b3 = vfma(x0, w, b0), vfma(x1, w, b1), vfma(x2, w, b2), vfma(x3, w, b3)
    return a0, a1, a2, a3, b0, b1, b2, b3


@njit(fastmath=FASTMATH, boundscheck=False, cache=True, nogil=True, inline="always")
def _one_row(flat, bw, r, c, weights, kh, kw):
    """Output row r of the band at columns c .. c + 4 vectors (four FMA chains: a single row, np.convolve's)."""
    n = vlanes(flat)
    a0 = a1 = a2 = a3 = vzero(flat)
    for u in range(kh):
        p = (r + u) * bw + c
        for v in range(kw):
            w = vbload(weights, u * kw + v)
            a0, a1 = vfma(vload(flat, p + v), w, a0), vfma(vload(flat, p + v + n), w, a1)
            a2, a3 = vfma(vload(flat, p + v + 2 * n), w, a2), vfma(vload(flat, p + v + 3 * n), w, a3)
    return a0, a1, a2, a3


@njit(fastmath=FASTMATH, boundscheck=False, cache=True, nogil=True, inline="always")
def _one_vector(flat, bw, r, c, weights, kh, kw):
    """Output row r of the band at columns c .. c + 1 vector."""
    a = vzero(flat)
    for u in range(kh):
        p = (r + u) * bw + c
        for v in range(kw):
            a = vfma(vload(flat, p + v), vbload(weights, u * kw + v), a)
    return a


@native(fastmath=FASTMATH, boundscheck=False, cache=True, nogil=True, inline="never")
def _plane_job(job, planes, weights, kh, kw, rows, cols, top, left, fill, row_bands, col_starts, streamed, out):
    """One (plane, band of rows, band of columns) of the correlation on the explicit-SIMD layer.

    A band whose taps all fall inside the plane reads it in place; one that meets the padding
    first copies its padded window into a flat band."""
    n_planes, ho, wo = out.shape
    h, wd = planes.shape[1], planes.shape[2]
    col_bands = col_starts.shape[0] - 1
    b = job // (row_bands * col_bands)
    r0 = ((job // col_bands) % row_bands) * BAND_ROWS
    c0, c1 = col_starts[job % col_bands], col_starts[job % col_bands + 1]
    r1 = min(r0 + BAND_ROWS, ho)
    nc, nr = c1 - c0, r1 - r0
    n = vlanes(out)
    inside = r0 >= top and r1 + kh - 1 <= top + h and c0 >= left and c1 + kw - 1 + n <= left + wd
    bw = wd if inside else c1 - c0 + kw - 1
    flat_mem = empty(0 if inside else (nr + kh - 1) * bw + 4 * n, out.dtype)  # + slack: a row's last vectors read on
    weights, out = borrowed(weights), borrowed(out)  # no counting per vector
    if inside:
        flat, rb, cb = borrowed(planes.reshape(-1)), b * h + r0 - top, c0 - left
    else:
        flat, rb, cb = borrowed(flat_mem), 0, 0
        flat[-4 * n :] = 0
        _fill_band(flat[: (nr + kh - 1) * bw].reshape((nr + kh - 1, bw)), planes[b], rows, cols, r0, c0, left, fill)
    ob = (b * ho + r0) * wo + c0
    stream = streamed and wo % n == 0 and c0 % n == 0  # ``out`` (from common.output) and its rows on vector boundaries
    r = _rows_of_two(flat, bw, rb, cb, weights, kh, kw, out, ob, wo, nr, nc, stream)
    if stream:
        stream_fence()
    if r < nr:
        o = (b * ho + r0 + r) * wo + c0
        c = 0
        while c + 4 * n <= nc:
            a0, a1, a2, a3 = _one_row(flat, bw, rb + r, cb + c, weights, kh, kw)
            _store4(out, o + c, n, a0, a1, a2, a3)
            c += 4 * n
        while c < nc:
            vstore_masked(out, o + c, _one_vector(flat, bw, rb + r, cb + c, weights, kh, kw), min(n, nc - c))
            c += n
    alive(flat_mem)


@functools.lru_cache(maxsize=64)
def column_bands(wo: int, wd: int, kw: int, left: int, lanes: int) -> np.ndarray:
    """The first output column of each column band, and ``wo`` after the last.

    Past ``BAND_COLS`` outputs, the tiles whose taps (and a vector's tail) stay inside the plane go in
    bands of up to ``BAND_COLS`` that read it in place; the padded edges either side are bands of their own.

    Examples
    --------
    >>> column_bands(2048, 2048, 5, 2, 16).tolist()
    [0, 64, 512, 1024, 1472, 1984, 2048]
    """
    tile = 4 * lanes
    lo = min(-(-left // tile) * tile, wo)
    tiles = max(min(left + wd - kw + 1 - lanes, wo) - lo, 0) // tile
    bands = -(-tiles * tile // BAND_COLS) if wo > BAND_COLS else 0  # a narrow plane: one band, copied
    cuts = [0, *(lo + tiles * i // bands * tile for i in range(bands + 1)), wo] if bands else [0, wo]
    starts = np.array(sorted(set(cuts)), np.int64)
    starts.flags.writeable = False
    return starts


def correlate_planes(call: PlaneCall) -> np.ndarray:
    planes = np.ascontiguousarray(call.planes)
    kernel = np.ascontiguousarray(call.kernel)
    b, h, wd = planes.shape
    kh, kw = kernel.shape
    top, bottom, left, right = call.pads
    out = output((b, h + top + bottom - kh + 1, wd + left + right - kw + 1), planes.dtype)
    fill = planes.dtype.type(call.fillvalue)
    if out.size == 0:
        return out
    boundary = call.boundary
    if boundary == "overlap" and np.isfinite(kernel).all():
        boundary, fill = "constant", fill.dtype.type(0)  # no term, or a zero term: the same sum, with finite weights
    if boundary != "overlap" and simd.supported(planes.dtype):
        rows, cols = _tables(planes.shape, call.pads, boundary)
        # each job runs the taps over vectors along its output rows, reading the plane in place or a copy of its padded window
        row_bands = -(-out.shape[1] // BAND_ROWS)
        col_starts = column_bands(out.shape[2], wd, kw, left, simd.vector_lanes(planes.dtype))
        parallel.run(_plane_job, b * row_bands * (col_starts.size - 1), planes, kernel.ravel(), kh, kw, rows, cols, top, left, fill,
                     row_bands, col_starts, out.nbytes >= STREAM_BYTES, out)
        return out
    if call.boundary == "overlap" or (kh <= 3 and kw <= 3):
        # np.convolve's one long row with no term outside the input; and kernels that fit the
        # nine-tap register block, memory-bound, for which copying a band would cost more than it saves.
        _run_correlation(planes[:, None], kernel[None, None], np.zeros(1, planes.dtype), call.pads, (1, 1), (1, 1), 1, call.boundary, fill, out[:, None])
        return out
    rows, cols = _tables(planes.shape, call.pads, call.boundary)
    tap_rows, tap_cols = (a.ravel() for a in np.indices((kh, kw)))
    jobs = b * -(-out.shape[1] // BAND_ROWS) * -(-out.shape[2] // BAND_COLS)
    parallel.run(_correlate_planes_job, jobs, planes, tap_rows, tap_cols, kernel.ravel(), kh, kw, rows, cols, left, fill, out)
    return out


ROWS_PER_JOB = 16


@njit(**KERNEL)
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
        buf = empty(wp, out.dtype)
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


def correlate_separable(call: PlaneCall, planes: np.ndarray, us: np.ndarray, vs: np.ndarray) -> np.ndarray:
    """The correlation of the padded ``planes`` with ``sum_q outer(us[q], vs[q])``, as 1-D passes.

    Each output row is made by a vertical pass over ``kh`` input rows into a
    padded row buffer, then a horizontal pass of ``kw`` taps over that
    buffer, so no intermediate image is stored.
    """
    planes = np.ascontiguousarray(planes)
    b, h, w = planes.shape
    top, bottom, left, right = call.pads
    rows, cols = _tables(planes.shape, call.pads, call.boundary)
    out = np.empty((b, conv_out_size(h, us.shape[1], top + bottom, 1, 1), conv_out_size(w, vs.shape[1], left + right, 1, 1)), planes.dtype)
    _separable_kernel(planes, us, vs, rows, cols, left, planes.dtype.type(call.fillvalue), out)
    return out
