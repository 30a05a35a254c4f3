"""Photo kernels: filters over interleaved (B, H, W * C) rows in the image's own dtype, on the vector layer.

A row holds W pixels of C channels side by side; a horizontal tap moves by C
elements, so every vector runs across the interleaved row and a grey plane is
C = 1.  Input rows are read in their dtype (uint8, uint16, ... widened in
registers by ``vload_as``); results are stored in the output's dtype
(``vstore_as``: cv2's rounding and saturation for integers).  ``rows`` and
``cols`` map padded coordinates to input ones (-1: ``fill``), and ``left``
is the padding before column 0.  ``n`` is the lanes of the compute dtype's
vectors (``simd.vector_lanes``).

This file is imported through ``generated.load`` under a name carrying
``simd.SOURCE_HASH`` (see ``photo.py``), so numba's cache never holds these
kernels compiled against other intrinsics.
"""

import numpy as np
from numba import njit, prange

from fastconv._backends.cpu.common import KERNEL
from fastconv._backends.cpu.simd import vfma, vload, vload_as, vsplat, vstore, vstore_as, vzero

ROWS_PER_JOB = 16
BOX_ROWS_PER_JOB = 32  # rows a box job's running sums run before they are summed afresh (bounds float error)
HORIZONTAL_RUN = 128  # outputs a float horizontal running sum runs before it is summed afresh
SHORT_BOX = 16  # box widths up to this sum their taps directly (vectorized); wider ones run a sum along the row


@njit(inline="always")
def _saturate(v, lo, hi, rounds):
    """``v`` as cv2's ``saturate_cast``: rounded half to even and clamped when ``rounds`` (NaN gives ``lo``)."""
    if rounds:
        v = np.rint(v)
        v = v if v > lo else lo
        v = v if v < hi else hi
    return v


@njit(inline="always")
def _pad_edges(buf, cols, left, width, c, fill):
    """The padded columns of ``buf`` (padded row, C interleaved): copies of the inner columns, or ``fill``."""
    for j in range(cols.shape[0]):
        if j < left or j >= left + width:
            col = cols[j]
            for ch in range(c):
                buf[j * c + ch] = buf[(left + col) * c + ch] if col >= 0 else fill


@njit(inline="always")
def _vertical(image, b, w, rows, first, fill, buf, at, n):
    """``buf[at + e] = sum_a w[a] * x[first + a, e]``: the padded rows of plane ``b`` read through ``rows``."""
    _, h, wc = image.shape
    base = b * h * wc
    e = 0
    while e + n <= wc:
        v = vzero(buf)
        for a in range(w.shape[0]):
            r = rows[first + a]
            x = vload_as(image, base + r * wc + e, buf) if r >= 0 else vsplat(buf, fill)
            v = vfma(vsplat(buf, w[a]), x, v)
        vstore(buf, at + e, v)
        e += n
    for i in range(e, wc):
        s = buf.dtype.type(0)
        for a in range(w.shape[0]):
            r = rows[first + a]
            s += w[a] * (buf.dtype.type(image[b, r, i]) if r >= 0 else fill)
        buf[at + i] = s


@njit(inline="always")
def _horizontal(buf, w, c, acc, out, at, first, last, lo, hi, rounds, n):
    """``acc[e] (+)= sum_t w[t] * buf[e + t * c]``; on the ``last`` term stored into ``out.flat[at + e]`` instead."""
    woc = acc.shape[0]
    e = 0
    while e + n <= woc:
        v = vzero(buf) if first else vload(acc, e)
        for t in range(w.shape[0]):
            v = vfma(vsplat(buf, w[t]), vload(buf, e + t * c), v)
        if last:
            vstore_as(out, at + e, v)
        else:
            vstore(acc, e, v)
        e += n
    flat = out.reshape(-1)
    for i in range(e, woc):
        s = buf.dtype.type(0) if first else acc[i]
        for t in range(w.shape[0]):
            s += w[t] * buf[i + t * c]
        if last:
            flat[at + i] = _saturate(s, lo, hi, rounds)
        else:
            acc[i] = s


@njit(**KERNEL)
def separable(image, us, vs, rows, cols, left, c, fill, lo, hi, rounds, n, out):
    """``out = sum_q`` the correlation with ``outer(us[q], vs[q])``: per output row a vertical pass into a padded row, then a horizontal one."""
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    rank = us.shape[0]
    width = wc // c
    blocks = (ho + ROWS_PER_JOB - 1) // ROWS_PER_JOB
    for job in prange(nb * blocks):
        b = job // blocks
        r0 = (job % blocks) * ROWS_PER_JOB
        buf = np.empty(cols.shape[0] * c, us.dtype)
        acc = np.empty(woc, us.dtype)
        for oh in range(r0, min(r0 + ROWS_PER_JOB, ho)):
            for q in range(rank):
                _vertical(image, b, us[q], rows, oh, fill, buf, left * c, n)
                _pad_edges(buf, cols, left, width, c, us[q].sum() * fill)
                _horizontal(buf, vs[q], c, acc, out, (b * ho + oh) * woc, q == 0, q == rank - 1, lo, hi, rounds, n)


@njit(**KERNEL)
def direct(image, kernel, rows, cols, left, c, fill, lo, hi, rounds, n, out):
    """The correlation with ``kernel`` tap by tap: each job converts its padded rows into a band once."""
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    kh, kw = kernel.shape
    width = wc // c
    wpc = cols.shape[0] * c
    blocks = (ho + ROWS_PER_JOB - 1) // ROWS_PER_JOB
    one = np.ones(1, kernel.dtype)
    for job in prange(nb * blocks):
        b = job // blocks
        r0 = (job % blocks) * ROWS_PER_JOB
        r1 = min(r0 + ROWS_PER_JOB, ho)
        band = np.empty((r1 - r0 + kh - 1) * wpc, kernel.dtype)
        for i in range(r1 - r0 + kh - 1):
            row = band[i * wpc : (i + 1) * wpc]
            _vertical(image, b, one, rows, r0 + i, fill, row, left * c, n)
            _pad_edges(row, cols, left, width, c, fill)
        flat = out.reshape(-1)
        for oh in range(r0, r1):
            at, base = (b * ho + oh) * woc, (oh - r0) * wpc
            e = 0
            while e + n <= woc:
                v = vzero(band)
                for a in range(kh):
                    for t in range(kw):
                        v = vfma(vsplat(band, kernel[a, t]), vload(band, base + a * wpc + t * c + e), v)
                vstore_as(out, at + e, v)
                e += n
            for i in range(e, woc):
                s = kernel.dtype.type(0)
                for a in range(kh):
                    for t in range(kw):
                        s += kernel[a, t] * band[base + a * wpc + t * c + i]
                flat[at + i] = _saturate(s, lo, hi, rounds)


@njit(inline="always")
def _add_row(sums, image, b, r, sign, fill, at):
    """``sums[at + e] += sign * x[r, e]`` (``sign`` 1 or -1) for the input row ``r`` of plane ``b`` (``fill`` when ``r`` is -1)."""
    inner = sums[at : at + image.shape[2]]
    if r < 0:
        for e in range(inner.shape[0]):
            inner[e] += sign * fill
        return
    src = image[b, r]
    if sign > 0:
        for e in range(inner.shape[0]):
            inner[e] += src[e]
    else:
        for e in range(inner.shape[0]):
            inner[e] -= src[e]


@njit(inline="always")
def _box_row(sums, kw, c, scale, exact, acc, dst, lo, hi, rounds):
    """``dst[e] = saturate(scale * sum_{t < kw} sums[e + t * c])``: taps summed directly, or a sum run along the row."""
    woc = dst.shape[0]
    if kw <= SHORT_BOX:
        acc[:] = sums[:woc]
        for t in range(1, kw):
            shifted = sums[t * c : t * c + woc]
            for e in range(woc):
                acc[e] += shifted[e]
    else:
        for e in range(woc):
            if e < c or (not exact and (e // c) % HORIZONTAL_RUN == 0):
                s = sums.dtype.type(0)
                for t in range(kw):
                    s += sums[e + t * c]
                acc[e] = s
            else:
                acc[e] = acc[e - c] + sums[e + (kw - 1) * c] - sums[e - c]
    for e in range(woc):
        dst[e] = _saturate(scale * acc[e], lo, hi, rounds)


@njit(**KERNEL)
def box(image, kh, kw, rows, cols, left, c, fill, scale, sums_like, exact, lo, hi, rounds, out):
    """``scale`` times the sum over each kh x kw window, by running sums: O(1) work per pixel down the columns.

    Each job keeps the column sums of ``kh`` padded rows (in ``sums_like``'s
    dtype: int32 or int64 for integer images, ``exact``; the float dtype
    otherwise, with ``fill`` in it), moves them down a row by adding the row that enters and
    subtracting the one that leaves, and sums each row's windows across.
    """
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    width = wc // c
    blocks = (ho + BOX_ROWS_PER_JOB - 1) // BOX_ROWS_PER_JOB
    for job in prange(nb * blocks):
        b = job // blocks
        r0 = (job % blocks) * BOX_ROWS_PER_JOB
        sums = np.zeros(cols.shape[0] * c, sums_like.dtype)
        acc = np.empty(woc, sums_like.dtype)
        for a in range(kh):
            _add_row(sums, image, b, rows[r0 + a], 1, fill, left * c)
        for oh in range(r0, min(r0 + BOX_ROWS_PER_JOB, ho)):
            if oh > r0:
                _add_row(sums, image, b, rows[oh + kh - 1], 1, fill, left * c)
                _add_row(sums, image, b, rows[oh - 1], -1, fill, left * c)
            _pad_edges(sums, cols, left, width, c, kh * fill)
            _box_row(sums, kw, c, scale, exact, acc, out[b, oh], lo, hi, rounds)


@njit(**KERNEL)
def finite(image):
    """Whether every value of the (B, H, W * C) ``image`` is finite (a NaN or inf makes a row's ``x - x`` NaN)."""
    nb, h, wc = image.shape
    bad = 0
    for job in prange(nb * h):
        row = image[job // h, job % h]
        s = row.dtype.type(0)
        for e in range(wc):
            s += row[e] - row[e]
        if s != s:
            bad += 1
    return bad == 0
