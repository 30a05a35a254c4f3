"""The cpu backend's plane correlations: ``correlate_planes`` and the separable passes of ``correlate_separable``.

Float planes correlate on the explicit-SIMD layer (``_plane_job``) where numba's target
has vectors; the scalar-loop kernels serve the other targets, integers and np.convolve's rows."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..._calls import PlaneCall, conv_out_size
from . import parallel, simd
from .common import FASTMATH, KERNEL, _fill_band, _tables, alive, borrowed, empty, native
from .conv import _run_correlation
from .simd import vbload, vfma, vlanes, vload, vstore, vstore_masked, vzero

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
def _plane_job(job, planes, weights, kh, kw, rows, cols, left, fill, row_bands, col_bands, out):
    """One (plane, band of rows, band of columns) of the correlation on the explicit-SIMD layer."""
    n_planes, ho, wo = out.shape
    b = job // (row_bands * col_bands)
    r0 = ((job // col_bands) % row_bands) * BAND_ROWS
    c0 = (job % col_bands) * BAND_COLS
    r1, c1 = min(r0 + BAND_ROWS, ho), min(c0 + BAND_COLS, wo)
    bw, nc, nr = c1 - c0 + kw - 1, c1 - c0, r1 - r0
    n = vlanes(out)
    flat_mem = empty((nr + kh - 1) * bw + 4 * n, out.dtype)  # + slack: a row's last vectors read on
    flat, weights, planes, out = borrowed(flat_mem), borrowed(weights), borrowed(planes), borrowed(out)  # no counting per vector
    flat[-4 * n :] = 0
    _fill_band(flat[: (nr + kh - 1) * bw].reshape((nr + kh - 1, bw)), planes[b], rows, cols, r0, c0, left, fill)
    for r in range(0, nr - 1, 2):
        o = (b * ho + r0 + r) * wo + c0
        c = 0
        while c + 4 * n <= nc:
            a0, a1, a2, a3, b0, b1, b2, b3 = _two_rows(flat, bw, r, c, weights, kh, kw)
            vstore(out, o + c, a0)
            vstore(out, o + c + n, a1)
            vstore(out, o + c + 2 * n, a2)
            vstore(out, o + c + 3 * n, a3)
            vstore(out, o + wo + c, b0)
            vstore(out, o + wo + c + n, b1)
            vstore(out, o + wo + c + 2 * n, b2)
            vstore(out, o + wo + c + 3 * n, b3)
            c += 4 * n
        while c < nc:
            vstore_masked(out, o + c, _one_vector(flat, bw, r, c, weights, kh, kw), min(n, nc - c))
            vstore_masked(out, o + wo + c, _one_vector(flat, bw, r + 1, c, weights, kh, kw), min(n, nc - c))
            c += n
    if nr % 2:
        o = (b * ho + r1 - 1) * wo + c0
        c = 0
        while c + 4 * n <= nc:
            a0, a1, a2, a3 = _one_row(flat, bw, nr - 1, c, weights, kh, kw)
            vstore(out, o + c, a0)
            vstore(out, o + c + n, a1)
            vstore(out, o + c + 2 * n, a2)
            vstore(out, o + c + 3 * n, a3)
            c += 4 * n
        while c < nc:
            vstore_masked(out, o + c, _one_vector(flat, bw, nr - 1, c, weights, kh, kw), min(n, nc - c))
            c += n
    alive(flat_mem)


def correlate_planes(call: PlaneCall) -> np.ndarray:
    planes = np.ascontiguousarray(call.planes)
    kernel = np.ascontiguousarray(call.kernel)
    b, h, wd = planes.shape
    kh, kw = kernel.shape
    top, bottom, left, right = call.pads
    out = np.empty((b, h + top + bottom - kh + 1, wd + left + right - kw + 1), planes.dtype)
    fill = planes.dtype.type(call.fillvalue)
    if out.size == 0:
        return out
    boundary = call.boundary
    if boundary == "overlap" and np.isfinite(kernel).all():
        boundary, fill = "constant", fill.dtype.type(0)  # no term, or a zero term: the same sum, with finite weights
    if boundary != "overlap" and simd.supported(planes.dtype):
        rows, cols = _tables(planes.shape, call.pads, boundary)
        # each job copies its padded window into a flat band, then runs the taps over vectors along each output row
        row_bands, col_bands = -(-out.shape[1] // BAND_ROWS), -(-out.shape[2] // BAND_COLS)
        parallel.run(_plane_job, b * row_bands * col_bands, planes, kernel.ravel(), kh, kw, rows, cols, left, fill,
                     row_bands, col_bands, out)
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
