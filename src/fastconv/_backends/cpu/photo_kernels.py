"""Photo kernels: filters over interleaved (B, H, W * C) rows in the image's own dtype, on the vector layer.

A row holds W pixels of C channels side by side; a horizontal tap moves by C
elements, so every vector runs across the interleaved row and a grey plane is
C = 1.  Input rows are read in their dtype (uint8, uint16, ... widened in
registers by ``vload_as``); results are stored in the output's dtype
(``vstore_as``: cv2's rounding and saturation for integers).  ``rows`` and
``cols`` map padded coordinates to input ones (-1: ``fill``), and ``left``
is the padding before column 0.  ``n`` is the lanes of the compute dtype's
vectors (``simd.vector_lanes``).

uint8 images have 16-bit integer kernels too (``simd_int.py``: twice a
float32 vector's lanes, exact): box sums (``box16``, ``box16_div``, whose
uint8 means are divided in those lanes) and separable passes of small
integer weights (``separable16``: Sobel, Scharr, Prewitt).

This file is imported through ``generated.load`` under a name carrying
``simd.SOURCE_HASH`` and ``simd_int.SOURCE_HASH`` (see ``photo.py``), so numba's cache never holds these
kernels compiled against other intrinsics.
"""

import numpy as np
from numba import njit

from fastconv._backends.cpu.common import KERNEL, alive, borrowed, empty, native
from fastconv._backends.cpu.simd import sload, vadd, vfma, vhsum, vload, vload_as, vmul, vsplat, vstore, vstore_as, vstore_masked, vsub, vzero
from fastconv._backends.cpu.simd_int import (
    ivadd,
    ivdiv_round,
    ivhigh_as,
    ivlanes,
    ivload,
    ivlow_as,
    ivmin,
    ivmul,
    ivmulhi_shift,
    ivshigh_as,
    ivslow_as,
    ivsplat,
    ivstore,
    ivstore_u8,
    ivsub,
)

JOB = {k: v for k, v in KERNEL.items() if k != "parallel"}  # a job of parallel.run: one block of output rows
ROWS_PER_JOB = 16
ROW_BLOCK = 4  # output rows whose vertical pass loads each input row once (``_vertical_block``)
BOX_ROWS_PER_JOB = 64  # rows a box job's running sums run before they are summed afresh (bounds float error)
HORIZONTAL_RUN = 128  # outputs a float horizontal running sum runs before it is summed afresh
SHORT_BOX = 16  # box widths up to this sum their taps directly (vectorized); wider ones run a sum along the row


@njit(inline="always")
def _job_rows(job, ho, per_job):
    """Job ``job``'s plane and its output rows ``[r0, r1)``, for ``ho`` rows cut ``per_job`` at a time."""
    blocks = (ho + per_job - 1) // per_job
    r0 = (job % blocks) * per_job
    return job // blocks, r0, min(r0 + per_job, ho)


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
    for j in range(left):
        _pad_column(buf, cols[j], j, left, c, fill)
    for j in range(left + width, cols.shape[0]):
        _pad_column(buf, cols[j], j, left, c, fill)


@njit(inline="always")
def _pad_column(buf, col, j, left, c, fill):
    for ch in range(c):
        buf[j * c + ch] = buf[(left + col) * c + ch] if col >= 0 else fill


@njit(inline="always")
def _rows_finite(image, b, rows, first, count, like, n):
    """Whether the input rows that padded rows ``first : first + count`` of plane ``b`` read hold no NaN or inf
    (read in ``like``'s float dtype, of ``n`` lanes, which holds the image's exactly).

    ``x - x`` is NaN exactly there; the vector layer's subtract carries no
    fast-math flag that could fold it to 0.
    """
    _, h, wc = image.shape
    chk = vzero(like)
    tail = 0.0
    flat = image.reshape(-1)
    for i in range(count):
        r = rows[first + i]
        if r < 0:
            continue
        base = (b * h + r) * wc
        e = 0
        while e + n <= wc:
            x = vload_as(image, base + e, like)
            chk = vadd(chk, vsub(x, x))
            e += n
        for j in range(e, wc):
            if not np.isfinite(like.dtype.type(flat[base + j])):
                tail = np.nan
    return vhsum(chk) == 0 and tail == 0


@njit(inline="always")
def _taps(image, b, w, rows, first, fill, offs, ws):
    """The vertical taps of padded rows ``first:`` of plane ``b`` that read the image: ``offs``/``ws`` get their
    flat row offsets and weights (zero weights left out); returns their count and the sum of the other (``fill``) terms."""
    _, h, wc = image.shape
    m, rest = 0, ws.dtype.type(0)
    for a in range(w.shape[0]):
        r = rows[first + a]
        if w[a] == 0:
            continue
        if r >= 0:
            offs[m], ws[m] = (b * h + r) * wc, w[a]
            m += 1
        else:
            rest += w[a] * fill
    return m, rest


@njit(inline="always")
def _nonzero_taps(w, c, offs, ws):
    """The horizontal taps of ``w`` with a nonzero weight: ``offs``/``ws`` get their offsets (``t * c``) and weights."""
    m = 0
    for t in range(w.shape[0]):
        if w[t] != 0:
            offs[m], ws[m] = t * c, w[t]
            m += 1
    return m


@njit(inline="always")
def _vertical(src, offs, ws, m, rest, buf, at, e0, width, n):
    """``buf[at + e] = rest + sum_{a < m} ws[a] * src.flat[offs[a] + e]`` for ``e0 <= e < width``, four vectors a step."""
    e = e0
    r = vsplat(buf, rest)
    while e + 4 * n <= width:
        v0 = v1 = v2 = v3 = r
        for a in range(m):
            k, o = vsplat(buf, sload(ws, a)), sload(offs, a) + e
            v0 = vfma(k, vload_as(src, o, buf), v0)
            v1 = vfma(k, vload_as(src, o + n, buf), v1)
            v2 = vfma(k, vload_as(src, o + 2 * n, buf), v2)
            v3 = vfma(k, vload_as(src, o + 3 * n, buf), v3)
        vstore(buf, at + e, v0)
        vstore(buf, at + e + n, v1)
        vstore(buf, at + e + 2 * n, v2)
        vstore(buf, at + e + 3 * n, v3)
        e += 4 * n
    while e + n <= width:
        v = r
        for a in range(m):
            v = vfma(vsplat(buf, sload(ws, a)), vload_as(src, sload(offs, a) + e, buf), v)
        vstore(buf, at + e, v)
        e += n
    flat = src.reshape(-1)
    for i in range(e, width):
        s = rest
        for a in range(m):
            s += ws[a] * flat[offs[a] + i]
        buf[at + i] = s


@njit(inline="always")
def _blocks_apply(w):
    """Whether the vertical weights ``w`` can run :func:`_vertical_block`: at least ``ROW_BLOCK - 1`` of them and
    none 0 (which :func:`_taps` leaves out, NaN times 0 included)."""
    if w.shape[0] < ROW_BLOCK - 1:
        return False
    for a in range(w.shape[0]):
        if w[a] == 0:
            return False
    return True


@njit(inline="always")
def _block_rows(image, b, rows, first, kh, offs):
    """Whether padded rows ``first : first + ROW_BLOCK`` read only image rows (no ``fill``) with ``kh`` taps, and
    if so those input rows' flat offsets into ``offs``."""
    _, h, wc = image.shape
    for i in range(kh + ROW_BLOCK - 1):
        r = rows[first + i]
        if r < 0:
            return False
        offs[i] = (b * h + r) * wc
    return True


@njit(inline="always")
def _vertical_block(src, offs, w, buf, stride, at, width, n):
    """:func:`_vertical` for the ``ROW_BLOCK`` (4) padded rows ``j`` whose input rows start at ``offs[j:]``, into
    ``buf[j * stride + at:]``: each input row is loaded (and widened) once for the four, one vector a step.
    Returns the first column left to :func:`_vertical`.  Each output sums its taps in :func:`_vertical`'s order,
    so the two agree bit for bit."""
    kh = w.shape[0]
    e = 0
    while e + n <= width:
        x = vload_as(src, sload(offs, 0) + e, buf)
        p0 = vmul(vsplat(buf, sload(w, 0)), x)
        x = vload_as(src, sload(offs, 1) + e, buf)
        p0 = vfma(vsplat(buf, sload(w, 1)), x, p0)
        p1 = vmul(vsplat(buf, sload(w, 0)), x)
        x = vload_as(src, sload(offs, 2) + e, buf)
        p0 = vfma(vsplat(buf, sload(w, 2)), x, p0)
        p1 = vfma(vsplat(buf, sload(w, 1)), x, p1)
        p2 = vmul(vsplat(buf, sload(w, 0)), x)
        p3 = vzero(buf)
        for i in range(3, kh):
            x = vload_as(src, sload(offs, i) + e, buf)
            p0 = vfma(vsplat(buf, sload(w, i)), x, p0)
            p1 = vfma(vsplat(buf, sload(w, i - 1)), x, p1)
            p2 = vfma(vsplat(buf, sload(w, i - 2)), x, p2)
            p3 = vfma(vsplat(buf, sload(w, i - 3)), x, p3)
        x = vload_as(src, sload(offs, kh) + e, buf)
        p1 = vfma(vsplat(buf, sload(w, kh - 1)), x, p1)
        p2 = vfma(vsplat(buf, sload(w, kh - 2)), x, p2)
        p3 = vfma(vsplat(buf, sload(w, kh - 3)), x, p3)
        x = vload_as(src, sload(offs, kh + 1) + e, buf)
        p2 = vfma(vsplat(buf, sload(w, kh - 1)), x, p2)
        p3 = vfma(vsplat(buf, sload(w, kh - 2)), x, p3)
        x = vload_as(src, sload(offs, kh + 2) + e, buf)
        p3 = vfma(vsplat(buf, sload(w, kh - 1)), x, p3)
        vstore(buf, at + e, p0)
        vstore(buf, stride + at + e, p1)
        vstore(buf, 2 * stride + at + e, p2)
        vstore(buf, 3 * stride + at + e, p3)
        e += n
    return e


@njit(inline="always")
def _horizontal(buf, w, c, acc, out, at, first, last, lo, hi, rounds, n):
    """``acc[e] (+)= sum_t w[t] * buf[e + t * c]``; on the ``last`` term stored into ``out.flat[at + e]`` instead.

    One vector a step: four, as in :func:`_vertical`, cost 2 s more compile time for under 10%.
    """
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


@native(**JOB)
def separable(job, image, us, vs, rows, cols, left, c, fill, lo, hi, rounds, n, check, flags, out):
    """``out = sum_q`` the correlation with ``outer(us[q], vs[q])``: per output row a vertical pass into a padded row, then a horizontal one.

    A rank-1 kernel runs the vertical pass of four rows at once where they read no ``fill``.

    With ``check``, a job whose input rows hold NaN or inf sets its ``flags``
    entry and stops (the caller then runs ``direct``, which places them as
    the taps do).
    """
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    rank, kh = us.shape
    width = wc // c
    b, r0, r1 = _job_rows(job, ho, ROWS_PER_JOB)
    if check and not _rows_finite(image, b, rows, r0, r1 - r0 + kh - 1, us, n):
        flags[job] = 1
        return
    stride = cols.shape[0] * c
    buf_mem, acc_mem = empty(ROW_BLOCK * stride, us.dtype), empty(woc, us.dtype)
    offs_mem, ws_mem, boffs_mem = empty(kh, np.int64), empty(kh, us.dtype), empty(kh + ROW_BLOCK - 1, np.int64)
    buf, acc, offs, ws, boffs = borrowed(buf_mem), borrowed(acc_mem), borrowed(offs_mem), borrowed(ws_mem), borrowed(boffs_mem)
    image, us, vs, rows, cols, out = borrowed(image), borrowed(us), borrowed(vs), borrowed(rows), borrowed(cols), borrowed(out)
    blocks = rank == 1 and _blocks_apply(us[0])
    oh = r0
    while oh < r1:
        block = blocks and oh + ROW_BLOCK <= r1 and _block_rows(image, b, rows, oh, kh, boffs)
        count = ROW_BLOCK if block else 1
        for q in range(rank):
            e = _vertical_block(image, boffs, us[q], buf, stride, left * c, wc, n) if block else 0
            for j in range(count):
                row = buf[j * stride : (j + 1) * stride]
                m, rest = _taps(image, b, us[q], rows, oh + j, fill, offs, ws)
                _vertical(image, offs, ws, m, rest, row, left * c, e, wc, n)
                _pad_edges(row, cols, left, width, c, us[q].sum() * fill)
                _horizontal(row, vs[q], c, acc, out, (b * ho + oh + j) * woc, q == 0, q == rank - 1, lo, hi, rounds, n)
        oh += count
    alive(buf_mem)
    alive(acc_mem)
    alive(offs_mem)
    alive(ws_mem)
    alive(boffs_mem)


@native(**JOB)
def direct(job, image, kernel, rows, cols, left, c, fill, lo, hi, rounds, n, out):
    """The correlation with ``kernel`` tap by tap: each job converts its padded rows into a band once."""
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    kh, kw = kernel.shape
    width = wc // c
    wpc = cols.shape[0] * c
    b, r0, r1 = _job_rows(job, ho, ROWS_PER_JOB)
    one_mem, offs_mem, ws_mem = np.ones(1, kernel.dtype), empty(1, np.int64), empty(1, kernel.dtype)
    band_mem, rows2_mem = empty((r1 - r0 + kh - 1) * wpc, kernel.dtype), empty(kh + 1, np.int64)
    one, offs, ws, band, rows2 = borrowed(one_mem), borrowed(offs_mem), borrowed(ws_mem), borrowed(band_mem), borrowed(rows2_mem)
    image, kernel, rows, cols, out = borrowed(image), borrowed(kernel), borrowed(rows), borrowed(cols), borrowed(out)
    for i in range(r1 - r0 + kh - 1):
        row = band[i * wpc : (i + 1) * wpc]
        m, rest = _taps(image, b, one, rows, r0 + i, fill, offs, ws)
        _vertical(image, offs, ws, m, rest, row, left * c, 0, wc, n)
        _pad_edges(row, cols, left, width, c, fill)
    zero = kernel.dtype.type(0)
    oh = r0
    while oh + 2 <= r1:
        at, base = (b * ho + oh) * woc, (oh - r0) * wpc
        for a in range(kh + 1):
            rows2[a] = base + a * wpc
        e = 0
        while e + 4 * n <= woc:
            _store_two_rows(out, at, e, n, _two_rows_at(band, rows2, kernel, kh, kw, c, e, n, zero, zero))
            e += 4 * n
        _row_rest(band, kernel, base, wpc, c, out, at, e, lo, hi, rounds, n)
        _row_rest(band, kernel, base + wpc, wpc, c, out, at + woc, e, lo, hi, rounds, n)
        oh += 2
    if oh < r1:
        _row_rest(band, kernel, (oh - r0) * wpc, wpc, c, out, (b * ho + oh) * woc, 0, lo, hi, rounds, n)
    alive(one_mem)
    alive(offs_mem)
    alive(ws_mem)
    alive(band_mem)
    alive(rows2_mem)


@native(**JOB)
def direct_rows(job, image, kernel, rows, cols, left, c, fill, n, out):
    """``direct`` for a float image in the kernel's dtype and a finite ``fill``, read straight from the image rows
    (no band).  The interior runs as vectors, two output rows at a time (``_pairs``); a padded row (``rows`` -1) is
    its constant ``fill`` terms; the columns that read padding, as scalars.  ``direct_rows_3x3`` (5x5, 7x7) is the
    same with constant tap counts in the vector loop, which unroll: each compiles only when a call needs it."""
    kh, kw = kernel.shape
    _direct_rows(job, image, kernel, rows, cols, left, c, fill, n, out, kh, kw)


@native(**JOB)
def direct_rows_3x3(job, image, kernel, rows, cols, left, c, fill, n, out):
    _direct_rows(job, image, kernel, rows, cols, left, c, fill, n, out, 3, 3)


@native(**JOB)
def direct_rows_5x5(job, image, kernel, rows, cols, left, c, fill, n, out):
    _direct_rows(job, image, kernel, rows, cols, left, c, fill, n, out, 5, 5)


@native(**JOB)
def direct_rows_7x7(job, image, kernel, rows, cols, left, c, fill, n, out):
    _direct_rows(job, image, kernel, rows, cols, left, c, fill, n, out, 7, 7)


@njit(inline="always")
def _direct_rows(job, image, kernel, rows, cols, left, c, fill, n, out, th, tw):
    """``direct_rows`` with the vector loop's taps ``th`` x ``tw`` (the kernel's shape; constants where the caller gives them)."""
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    kh, kw = kernel.shape
    b, r0, r1 = _job_rows(job, ho, ROWS_PER_JOB)
    offs_mem = empty(kh + 1, np.int64)
    flat, offs, kernel, rows, cols, out = borrowed(image.reshape(-1)), borrowed(offs_mem), borrowed(kernel), borrowed(rows), borrowed(cols), borrowed(out)
    e_lo, e_hi = left * c, min(woc, wc - (kw - 1 - left) * c)  # outputs whose taps all read inside the row
    oh = r0
    while oh < r1:
        if oh + 1 == r1 and oh > r0:
            oh -= 1  # the job's last row alone: paired with the row before, which gets the same values again
        two = oh + 1 < r1  # else a job of one row: scalars
        for a in range(kh + 1 if two else kh):
            r = rows[oh + a]
            offs[a] = (b * h + r) * wc if r >= 0 else -1
        ca, cb = _fill_terms(kernel, offs, fill, two)
        at = (b * ho + oh) * woc
        e = _pairs(flat, offs, kernel, th, tw, c, e_lo, e_hi, n, ca, cb, out, at) if two else e_lo
        for q in range(2 if two else 1):
            _scalars(flat, offs, q, kernel, cols, c, fill, ca if q == 0 else cb, e_lo, e, out, at + q * woc)
        oh += 2 if two else 1
    alive(offs_mem)


@njit(inline="always")
def _pairs(flat, offs, kernel, kh, kw, c, e_lo, e_hi, n, ca, cb, out, at):
    """The interior of output rows r, r + 1 (at ``at`` and ``at + woc``) four vectors at a time from ``e_lo``, the
    last block ending at ``e_hi`` (overlapping the one before: the same values again); returns where it stopped
    (``e_lo`` where the interior is narrower than four vectors)."""
    if e_hi - e_lo < 4 * n:
        return e_lo
    e = e_lo
    while e < e_hi:
        e = min(e, e_hi - 4 * n)
        _store_two_rows(out, at, e, n, _two_rows_at(flat, offs, kernel, kh, kw, c, e - e_lo, n, ca, cb))
        e += 4 * n
    return e_hi


@njit(inline="always")
def _fill_terms(kernel, offs, fill, two):
    """The sums of the ``fill`` terms of output rows r and (``two``) r + 1: their tap rows a whose input row is
    padding (offs[a] < 0, offs[1 + a] < 0)."""
    kh, kw = kernel.shape
    s0 = s1 = kernel.dtype.type(0)
    for a in range(kh):
        row = kernel.dtype.type(0)
        for t in range(kw):
            row += kernel[a, t] * fill
        if offs[a] < 0:
            s0 += row
        if two and offs[a + 1] < 0:
            s1 += row
    return s0, s1


@njit(inline="always")
def _two_rows_at(flat, offs, kernel, kh, kw, c, e, n, ca, cb):
    """Output rows r, r + 1 at ``e .. e + 4n`` (``e`` counted from the first output, whose tap 0 reads element 0 of
    the rows at ``offs``, -1: padding, of ``flat``: the image or a band): each vector loaded serves both rows (tap
    row a of r, a - 1 of r + 1), in eight independent FMA chains."""
    a0 = a1 = a2 = a3 = vsplat(flat, ca)
    b0 = b1 = b2 = b3 = vsplat(flat, cb)
    for a in range(kh + 1):
        if offs[a] < 0:
            continue
        for t in range(kw):
            p = offs[a] + e + t * c
            x0, x1, x2, x3 = vload(flat, p), vload(flat, p + n), vload(flat, p + 2 * n), vload(flat, p + 3 * n)
            if a < kh:
                k = vsplat(flat, kernel[a, t])
                a0, a1, a2, a3 = vfma(k, x0, a0), vfma(k, x1, a1), vfma(k, x2, a2), vfma(k, x3, a3)
            if a > 0:
                k = vsplat(flat, kernel[a - 1, t])
                b0, b1, b2, b3 = vfma(k, x0, b0), vfma(k, x1, b1), vfma(k, x2, b2), vfma(k, x3, b3)
    return a0, a1, a2, a3, b0, b1, b2, b3


@njit(inline="always")
def _store_two_rows(out, at, e, n, v):
    """The eight vectors ``v`` of ``_two_rows_at`` into output rows r (at ``at``) and r + 1, from element ``e``."""
    woc = out.shape[2]
    a0, a1, a2, a3, b0, b1, b2, b3 = v
    vstore_as(out, at + e, a0)
    vstore_as(out, at + e + n, a1)
    vstore_as(out, at + e + 2 * n, a2)
    vstore_as(out, at + e + 3 * n, a3)
    vstore_as(out, at + woc + e, b0)
    vstore_as(out, at + woc + e + n, b1)
    vstore_as(out, at + woc + e + 2 * n, b2)
    vstore_as(out, at + woc + e + 3 * n, b3)


@njit(inline="always")
def _scalars(flat, offs, q, kernel, cols, c, fill, const, e_lo, e, out, at):
    """The output elements of row r + q that ``_pairs`` left, ``[0, e_lo)`` and ``[e, woc)``, tap by tap through the
    column table (``cols``: padded column -> input column, -1 ``fill``).  Each is the same chain of fused
    multiply-adds as a vector lane's (from the padded rows' ``const``, in tap order), so a result does not depend on
    which path computed it: a tile of the image (Dask's chunks) gives the whole image's values."""
    kh, kw = kernel.shape
    woc = out.shape[2]
    for side in range(2):
        lo, hi = (0, min(e_lo, woc)) if side == 0 else (max(e_lo, e), woc)
        for i in range(lo, hi):
            j, ch = i // c, i % c
            v = vsplat(flat, const)
            for a in range(kh):
                base = offs[q + a]
                if base < 0:
                    continue
                for t in range(kw):
                    col = cols[j + t]
                    x = flat[base + col * c + ch] if col >= 0 else fill
                    v = vfma(vsplat(flat, kernel[a, t]), vsplat(flat, x), v)
            vstore_masked(out, at + i, v, 1)


@njit(inline="always")
def _row_rest(band, kernel, base, wpc, c, out, at, e, lo, hi, rounds, n):
    """One output row (band row at ``base``) from output element ``e`` on: a vector, then scalars, at a time."""
    kh, kw = kernel.shape
    woc = out.shape[2]
    while e + n <= woc:
        v = vzero(band)
        for a in range(kh):
            for t in range(kw):
                v = vfma(vsplat(band, kernel[a, t]), vload(band, base + a * wpc + t * c + e), v)
        vstore_as(out, at + e, v)
        e += n
    flat = out.reshape(-1)
    for i in range(e, woc):
        s = kernel.dtype.type(0)
        for a in range(kh):
            for t in range(kw):
                s += kernel[a, t] * band[base + a * wpc + t * c + i]
        flat[at + i] = _saturate(s, lo, hi, rounds)


@njit(inline="always")
def _move_rows(sums, image, b, enter, leave, fill, at, n):
    """``sums[at + e] += x[enter, e] - x[leave, e]`` over the input rows of plane ``b`` (-1: ``fill``; ``leave`` -2: none)."""
    _, h, wc = image.shape
    base = b * h * wc
    e = 0
    if enter >= 0 and leave >= 0:
        while e + n <= wc:
            x = vsub(vload_as(image, base + enter * wc + e, sums), vload_as(image, base + leave * wc + e, sums))
            vstore(sums, at + e, vadd(vload(sums, at + e), x))
            e += n
    elif enter >= 0 and leave == -2:
        while e + n <= wc:
            vstore(sums, at + e, vadd(vload(sums, at + e), vload_as(image, base + enter * wc + e, sums)))
            e += n
    for i in range(e, wc):
        new = sums.dtype.type(image[b, enter, i]) if enter >= 0 else fill
        old = sums.dtype.type(0) if leave == -2 else (sums.dtype.type(image[b, leave, i]) if leave >= 0 else fill)
        sums[at + i] += new - old


@njit(inline="always")
def _box_row(sums, kw, c, scale, exact, acc, out, at, lo, hi, rounds, n):
    """``out.flat[at + e] = saturate(scale * sum_{t < kw} sums[e + t * c])``: taps summed in registers, or a sum run along the row."""
    woc = acc.shape[0]
    k = vsplat(sums, scale)
    e = 0
    if kw <= SHORT_BOX:
        while e + n <= woc:
            v = vload(sums, e)
            for t in range(1, kw):
                v = vadd(v, vload(sums, e + t * c))
            vstore_as(out, at + e, vmul(v, k))
            e += n
        for i in range(e, woc):
            s = sums[i]
            for t in range(1, kw):
                s += sums[i + t * c]
            acc[i] = s
    else:
        for i in range(woc):
            if i < c or (not exact and (i // c) % HORIZONTAL_RUN == 0):
                s = sums.dtype.type(0)
                for t in range(kw):
                    s += sums[i + t * c]
                acc[i] = s
            else:
                acc[i] = acc[i - c] + sums[i + (kw - 1) * c] - sums[i - c]
        while e + n <= woc:
            vstore_as(out, at + e, vmul(vload(acc, e), k))
            e += n
    flat = out.reshape(-1)
    for i in range(e, woc):
        flat[at + i] = _saturate(scale * acc[i], lo, hi, rounds)


@native(**JOB)
def box(job, image, kh, kw, rows, cols, left, c, fill, scale, sums_like, exact, lo, hi, rounds, n, check, flags, out):
    """``scale`` times the sum over each kh x kw window, by running sums: O(1) work per pixel down the columns.

    Each job keeps the column sums of ``kh`` padded rows in ``sums_like``'s
    float dtype (``exact``: integer images whose sums that dtype holds
    exactly), moves them down a row by adding the row that enters and
    subtracting the one that leaves, and sums each row's windows across.  A
    job starts its sums afresh, which bounds their float error.  ``check``
    and ``flags`` as in :func:`separable` (running sums would carry a NaN or
    inf past its window).
    """
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    width = wc // c
    b, r0, r1 = _job_rows(job, ho, BOX_ROWS_PER_JOB)
    if check and not _rows_finite(image, b, rows, r0, r1 - r0 + kh - 1, sums_like, n):
        flags[job] = 1
        return
    sums_mem, acc_mem = np.zeros(cols.shape[0] * c, sums_like.dtype), empty(woc, sums_like.dtype)
    sums, acc, image, rows, cols, out = borrowed(sums_mem), borrowed(acc_mem), borrowed(image), borrowed(rows), borrowed(cols), borrowed(out)
    for a in range(kh):
        _move_rows(sums, image, b, rows[r0 + a], -2, fill, left * c, n)
    for oh in range(r0, r1):
        if oh > r0:
            _move_rows(sums, image, b, rows[oh + kh - 1], rows[oh - 1], fill, left * c, n)
        _pad_edges(sums, cols, left, width, c, kh * fill)
        _box_row(sums, kw, c, scale, exact, acc, out, (b * ho + oh) * woc, lo, hi, rounds, n)
    alive(sums_mem)
    alive(acc_mem)


@njit(inline="always")
def _move_rows16(sums, image, b, enter, leave, fill, at):
    """:func:`_move_rows` on uint16 ``sums`` of a uint8 image, ``M`` 16-bit lanes a vector (wrapping, so exact)."""
    _, h, wc = image.shape
    m = ivlanes(sums)
    base = b * h * wc
    e = 0
    if enter >= 0 and leave >= 0:
        while e + m <= wc:
            x = ivsub(ivload(image, base + enter * wc + e), ivload(image, base + leave * wc + e))
            ivstore(sums, at + e, ivadd(ivload(sums, at + e), x))
            e += m
    elif enter >= 0 and leave == -2:
        while e + m <= wc:
            ivstore(sums, at + e, ivadd(ivload(sums, at + e), ivload(image, base + enter * wc + e)))
            e += m
    for i in range(e, wc):
        new = np.int64(image[b, enter, i]) if enter >= 0 else fill
        old = 0 if leave == -2 else (np.int64(image[b, leave, i]) if leave >= 0 else fill)
        sums[at + i] = np.uint16((np.int64(sums[at + i]) + new - old) & 0xFFFF)


@njit(inline="always")
def _window16(sums, e, kw, c):
    """The 16-bit lanes ``sum_{t < kw} sums[e + t * c + lane]`` (wrapping: exact below 2**16)."""
    v = ivload(sums, e)
    for t in range(1, kw):
        v = ivadd(v, ivload(sums, e + t * c))
    return v


@njit(inline="always")
def _window16_at(sums, i, kw, c):
    """:func:`_window16` of one position, as an int64."""
    s = np.int64(0)
    for t in range(kw):
        s += np.int64(sums[i + t * c])
    return s & 0xFFFF


@njit(inline="always")
def _column_sums16(sums, image, b, rows, cols, oh, r0, kh, left, width, c, fill):
    """The uint16 column sums of output row oh's kh padded rows: summed afresh at the job's first row r0, then
    moved down a row (:func:`_move_rows16`); their padding columns filled."""
    if oh == r0:
        for a in range(kh):
            _move_rows16(sums, image, b, rows[r0 + a], -2, fill, left * c)
    else:
        _move_rows16(sums, image, b, rows[oh + kh - 1], rows[oh - 1], fill, left * c)
    _pad_edges(sums, cols, left, width, c, np.uint16(kh * fill))


@njit(inline="always")
def _box_row16(sums, kw, c, scale, out, at, woc, lo, hi, rounds, n):
    """``out.flat[at + e] = saturate(scale * sum_{t < kw} sums[e + t * c])``: 16-bit sums of ``M = 2n`` lanes,
    each half converted to float32 (exactly: the sums are below 2**16) and scaled as :func:`_box_row` does."""
    m = ivlanes(sums)
    k = vsplat(scale, scale)
    e = 0
    while e + 2 * m <= woc:
        v, u = _window16(sums, e, kw, c), _window16(sums, e + m, kw, c)
        vstore_as(out, at + e, vmul(ivlow_as(v, scale), k))
        vstore_as(out, at + e + n, vmul(ivhigh_as(v, scale), k))
        vstore_as(out, at + e + m, vmul(ivlow_as(u, scale), k))
        vstore_as(out, at + e + m + n, vmul(ivhigh_as(u, scale), k))
        e += 2 * m
    while e + m <= woc:
        v = _window16(sums, e, kw, c)
        vstore_as(out, at + e, vmul(ivlow_as(v, scale), k))
        vstore_as(out, at + e + n, vmul(ivhigh_as(v, scale), k))
        e += m
    flat = out.reshape(-1)
    for i in range(e, woc):
        s = _window16_at(sums, i, kw, c)
        flat[at + i] = _saturate(scale * np.float32(s), lo, hi, rounds)


@native(**JOB)
def box16(job, image, kh, kw, rows, cols, left, c, fill, scale, lo, hi, rounds, n, out):
    """:func:`box` on a uint8 image whose window sums stay below 2**16 (``kh * kw * max(255, fill) < 2**16``):
    the running column sums and the row sums in 16-bit lanes, twice a float32 vector's, read in the image's
    bytes with no conversion; each sum is converted to float32 once, to be scaled and stored.  Exact, as the
    float32 sums of :func:`box` are, so it gives their results; ``fill`` an integer in [0, 255]."""
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    width = wc // c
    b, r0, r1 = _job_rows(job, ho, BOX_ROWS_PER_JOB)
    sums_mem = np.zeros(cols.shape[0] * c, np.uint16)
    sums, image, rows, cols, out = borrowed(sums_mem), borrowed(image), borrowed(rows), borrowed(cols), borrowed(out)
    for oh in range(r0, r1):
        _column_sums16(sums, image, b, rows, cols, oh, r0, kh, left, width, c, fill)
        _box_row16(sums, kw, c, scale, out, (b * ho + oh) * woc, woc, lo, hi, rounds, n)
    alive(sums_mem)


@njit(inline="always")
def _box_row16_div(sums, kw, c, d, fast_m, fast_s, out, at, woc):
    """``out.flat[at + e] = round(sum_{t < kw} sums[e + t * c] / d)`` in 16-bit lanes, exactly (halves to
    even), ``out`` uint8; ``d`` 1 saturates the sum at 255 instead.  ``fast_m`` > 0 (odd ``d``): the rounding
    is ``ivmulhi_shift(sum, d // 2, fast_m, fast_s)``, checked exact over every sum by the caller."""
    m = ivlanes(sums)
    e = 0
    if fast_m > 0:
        half = d // 2
        while e + 2 * m <= woc:
            v, u = _window16(sums, e, kw, c), _window16(sums, e + m, kw, c)
            ivstore_u8(out, at + e, ivmulhi_shift(v, half, fast_m, fast_s))
            ivstore_u8(out, at + e + m, ivmulhi_shift(u, half, fast_m, fast_s))
            e += 2 * m
        while e + m <= woc:
            v = _window16(sums, e, kw, c)
            ivstore_u8(out, at + e, ivmulhi_shift(v, half, fast_m, fast_s))
            e += m
    elif d > 1:
        magic = (1 << 16) // d
        while e + 2 * m <= woc:
            v, u = _window16(sums, e, kw, c), _window16(sums, e + m, kw, c)
            ivstore_u8(out, at + e, ivdiv_round(v, d, magic))
            ivstore_u8(out, at + e + m, ivdiv_round(u, d, magic))
            e += 2 * m
        while e + m <= woc:
            v = _window16(sums, e, kw, c)
            ivstore_u8(out, at + e, ivdiv_round(v, d, magic))
            e += m
    else:
        top = ivsplat(255)
        while e + m <= woc:
            v = _window16(sums, e, kw, c)
            ivstore_u8(out, at + e, ivmin(v, top))
            e += m
    flat = out.reshape(-1)
    for i in range(e, woc):
        s = _window16_at(sums, i, kw, c)
        flat[at + i] = min(s, 255) if d == 1 else _round_div(s, d)


@njit(inline="always")
def _round_div(s, d):
    """``round(s / d)`` of integers, halves to even."""
    q, r = divmod(s, d)
    return q + 1 if 2 * r > d or (2 * r == d and q % 2 == 1) else q


@native(**JOB)
def box16_div(job, image, kh, kw, rows, cols, left, c, fill, d, fast_m, fast_s, out):
    """:func:`box16` for a uint8 result of a box whose weight is ``1 / d`` (``d`` in 1..256): each window sum is
    divided by ``d`` and rounded in 16-bit lanes (``simd_int.ivdiv_round``), exactly, with no float conversion."""
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    width = wc // c
    b, r0, r1 = _job_rows(job, ho, BOX_ROWS_PER_JOB)
    sums_mem = np.zeros(cols.shape[0] * c, np.uint16)
    sums, image, rows, cols, out = borrowed(sums_mem), borrowed(image), borrowed(rows), borrowed(cols), borrowed(out)
    for oh in range(r0, r1):
        _column_sums16(sums, image, b, rows, cols, oh, r0, kh, left, width, c, fill)
        _box_row16_div(sums, kw, c, d, fast_m, fast_s, out, (b * ho + oh) * woc, woc)
    alive(sums_mem)


@njit(inline="always")
def _signed16(x):
    x = np.int64(x)
    return x - 65536 if x >= 32768 else x


@native(**JOB)
def separable16(job, image, us, vs, rows, cols, left, c, fill, scale, lo, hi, rounds, n, out):
    """:func:`separable` for a uint8 image and a rank-1 kernel ``scale * outer(us, vs)`` of small integers
    (``sum|us| * sum|vs| * max(255, fill) < 2**15``: Sobel, Scharr, Prewitt, ...): both passes in 16-bit lanes,
    twice a float32 vector's, exact, on the image's bytes; each result converted to float32 once.

    The two passes are written out in the row loop rather than as inlined functions: numba increfs and decrefs
    each array argument of an inlined function at every call, and per row those atomic operations took a
    quarter of the kernel's time."""
    nb, h, wc = image.shape
    _, ho, woc = out.shape
    kh, kw = us.shape[0], vs.shape[0]
    width = wc // c
    b, r0, r1 = _job_rows(job, ho, ROWS_PER_JOB)
    buf_mem, offs_mem, ws_mem = empty(cols.shape[0] * c, np.uint16), empty(kh, np.int64), empty(kh, np.int64)
    hoffs_mem, hws_mem = empty(kw, np.int64), empty(kw, np.int64)
    buf, offs, ws, hoffs, hws = borrowed(buf_mem), borrowed(offs_mem), borrowed(ws_mem), borrowed(hoffs_mem), borrowed(hws_mem)
    image, us, vs, rows, cols, out = borrowed(image), borrowed(us), borrowed(vs), borrowed(rows), borrowed(cols), borrowed(out)
    hm = _nonzero_taps(vs, c, hoffs, hws)
    lanes = ivlanes(buf)
    k = vsplat(scale, scale)
    flat_in = image.reshape(-1)
    flat_out = out.reshape(-1)
    edge_fill = np.uint16((us.sum() * fill) & 0xFFFF)
    for oh in range(r0, r1):
        # the vertical taps into the padded row buf (two's complement sums, two vectors a step)
        m, rest = _taps(image, b, us, rows, oh, fill, offs, ws)
        at = left * c
        e = 0
        rv = ivsplat(rest & 0xFFFF)
        while e + 2 * lanes <= wc:
            v0 = v1 = rv
            for a in range(m):
                kk, o = ivsplat(sload(ws, a)), sload(offs, a) + e
                v0 = ivadd(v0, ivmul(kk, ivload(image, o)))
                v1 = ivadd(v1, ivmul(kk, ivload(image, o + lanes)))
            ivstore(buf, at + e, v0)
            ivstore(buf, at + e + lanes, v1)
            e += 2 * lanes
        while e + lanes <= wc:
            v = rv
            for a in range(m):
                v = ivadd(v, ivmul(ivsplat(sload(ws, a)), ivload(image, sload(offs, a) + e)))
            ivstore(buf, at + e, v)
            e += lanes
        for i in range(e, wc):
            s = np.int64(rest & 0xFFFF)
            for a in range(m):
                s += ws[a] * np.int64(flat_in[offs[a] + i])
            buf[at + i] = np.uint16(s & 0xFFFF)
        _pad_edges(buf, cols, left, width, c, edge_fill)
        # the horizontal taps, each half of the 16-bit sums then converted (signed) to float32, scaled and stored
        ato = (b * ho + oh) * woc
        e = 0
        while e + lanes <= woc:
            v = ivmul(ivsplat(sload(hws, 0)), ivload(buf, e + sload(hoffs, 0)))
            for t in range(1, hm):
                v = ivadd(v, ivmul(ivsplat(sload(hws, t)), ivload(buf, e + sload(hoffs, t))))
            vstore_as(out, ato + e, vmul(ivslow_as(v, scale), k))
            vstore_as(out, ato + e + n, vmul(ivshigh_as(v, scale), k))
            e += lanes
        for i in range(e, woc):
            s = np.int64(0)
            for t in range(hm):
                s += hws[t] * _signed16(buf[i + hoffs[t]])
            flat_out[ato + i] = _saturate(scale * np.float32(_signed16(s & 0xFFFF)), lo, hi, rounds)
    alive(buf_mem)
    alive(offs_mem)
    alive(ws_mem)
    alive(hoffs_mem)
    alive(hws_mem)
