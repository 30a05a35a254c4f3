"""The ``cpu`` backend: Numba ``parallel=True`` kernels.

The entry points (same names and contracts as ``_reference``) allocate the
output and call a private ``_*_kernel`` that fills it.  Kernels do no
validation.  Each parallelizes with ``prange`` over (plane, output row), so
that a single image still uses every core.  Padding never copies the input:
``_padding.source_index`` tables map every padded coordinate of an axis to an input
coordinate, or to -1 for the constant fill.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from ._padding import FILL, SKIP, source_index
from ._reference import _lowest
from ._validate import AdaptiveCall, ConvCall, ConvTransposeCall, InterpolateCall, PlaneCall, PoolCall, avg_pool_counts

# fastmath without nnan/ninf, so that NaN and inf keep their IEEE behaviour.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
KERNEL = dict(parallel=True, cache=True, fastmath=FASTMATH, nogil=True)


@njit(inline="always")
def _inside(count, width, off, step):
    """The range ``lo <= j < hi`` of ``j < count`` for which ``0 <= off + j * step < width``."""
    if step == 1:
        lo = min(max(0, -off), count)
        return lo, max(min(count, width - off), lo)
    lo = min(max(0, (step - 1 - off) // step), count)
    return lo, max(min(count, (width - 1 - off) // step + 1), lo)


@njit(inline="always")
def _edge_term(dst, j, src, weight, col, fill):
    if col >= 0:
        dst[j] += weight * src[col]
    elif col == FILL:
        dst[j] += weight * fill


@njit(inline="always")
def _tap_span(dst, src, weight, cols, first, step, off, lo, hi, fill):
    """``dst[j] += weight * x[first + j * step]``, ``x`` being ``src`` padded so that ``x[first] = src[off]``.

    ``[lo, hi)`` is where that reads inside ``src`` (see ``_inside``) and runs
    without the ``cols`` table, so it vectorizes; elsewhere ``cols`` maps each
    padded column to ``src``, or to -1 for ``fill``.
    """
    for j in range(lo):
        _edge_term(dst, j, src, weight, cols[first + j * step], fill)
    inner = dst[lo:hi]
    if step == 1:
        contiguous = src[off + lo : off + hi]
        for j in range(inner.shape[0]):
            inner[j] += weight * contiguous[j]
    else:
        strided = src[off + lo * step : off + (hi - 1) * step + 1 : step]
        for j in range(inner.shape[0]):
            inner[j] += weight * strided[j]
    for j in range(hi, dst.shape[0]):
        _edge_term(dst, j, src, weight, cols[first + j * step], fill)


@njit(inline="always")
def _column_term(dst, j, src, weight, cols, column, left, fill):
    """``dst[j] += weight * x[column]`` for one padded ``column`` of the row ``src``."""
    col = column - left
    if 0 <= col < src.shape[0]:
        dst[j] += weight * src[col]
    else:
        _edge_term(dst, j, src, weight, cols[column], fill)


@njit(inline="always")
def _three_taps(dst, src, w_a, w_b, w_c, cols, first, dw, left, fill):
    """Three unit-stride taps at padded columns ``first``, ``+ dw``, ``+ 2 dw`` in one pass over ``dst``.

    One load and store of ``dst`` per three multiply-adds instead of per one.
    """
    count, off = dst.shape[0], first - left
    lo = min(max(0, -off), count)
    hi = max(min(count, src.shape[0] - off - 2 * dw), lo)
    for j in range(lo):
        _three_column_terms(dst, j, src, w_a, w_b, w_c, cols, first + j, dw, left, fill)
    inner = dst[lo:hi]
    a, b, c = src[off + lo : off + hi], src[off + dw + lo : off + dw + hi], src[off + 2 * dw + lo : off + 2 * dw + hi]
    for i in range(inner.shape[0]):
        inner[i] += w_a * a[i] + w_b * b[i] + w_c * c[i]
    for j in range(hi, count):
        _three_column_terms(dst, j, src, w_a, w_b, w_c, cols, first + j, dw, left, fill)


@njit(inline="always")
def _nine_taps(dst, a, b, c, block, cols, first, dw, left, fill):
    """A 3 x 3 block of unit-stride taps (rows ``a``, ``b``, ``c``; columns as in
    ``_three_taps``) in one pass over ``dst``, the nine weights held in registers."""
    count, off = dst.shape[0], first - left
    lo = min(max(0, -off), count)
    hi = max(min(count, a.shape[0] - off - 2 * dw), lo)
    for j in range(lo):
        _nine_column_terms(dst, j, a, b, c, block, cols, first + j, dw, left, fill)
    w00, w01, w02 = block[0, 0], block[0, 1], block[0, 2]
    w10, w11, w12 = block[1, 0], block[1, 1], block[1, 2]
    w20, w21, w22 = block[2, 0], block[2, 1], block[2, 2]
    inner = dst[lo:hi]
    s, t, e = off + lo, off + dw + lo, off + 2 * dw + lo
    n = inner.shape[0]
    a0, a1, a2 = a[s : s + n], a[t : t + n], a[e : e + n]
    b0, b1, b2 = b[s : s + n], b[t : t + n], b[e : e + n]
    c0, c1, c2 = c[s : s + n], c[t : t + n], c[e : e + n]
    for i in range(n):
        inner[i] += (
            w00 * a0[i] + w01 * a1[i] + w02 * a2[i]
            + w10 * b0[i] + w11 * b1[i] + w12 * b2[i]
            + w20 * c0[i] + w21 * c1[i] + w22 * c2[i]
        )
    for j in range(hi, count):
        _nine_column_terms(dst, j, a, b, c, block, cols, first + j, dw, left, fill)


@njit(inline="always")
def _nine_column_terms(dst, j, a, b, c, block, cols, column, dw, left, fill):
    _three_column_terms(dst, j, a, block[0, 0], block[0, 1], block[0, 2], cols, column, dw, left, fill)
    _three_column_terms(dst, j, b, block[1, 0], block[1, 1], block[1, 2], cols, column, dw, left, fill)
    _three_column_terms(dst, j, c, block[2, 0], block[2, 1], block[2, 2], cols, column, dw, left, fill)


@njit(inline="always")
def _three_column_terms(dst, j, src, w_a, w_b, w_c, cols, column, dw, left, fill):
    _column_term(dst, j, src, w_a, cols, column, left, fill)
    _column_term(dst, j, src, w_b, cols, column + dw, left, fill)
    _column_term(dst, j, src, w_c, cols, column + 2 * dw, left, fill)


@njit(inline="always")
def _add_tap(dst, src, weight, cols, first, step, left, fill):
    lo, hi = _inside(dst.shape[0], src.shape[0], first - left, step)
    _tap_span(dst, src, weight, cols, first, step, first - left, lo, hi, fill)


@njit(inline="always")
def _activate(dst, act):
    """Apply ``_validate.ACTIVATIONS[act]`` to the 1-D ``dst`` in place; NaN stays NaN.

    silu and gelu are computed in float64 (they never run on integer outputs).
    """
    if act == 1:
        for j in range(dst.shape[0]):
            v = dst[j]
            dst[j] = 0 if v < 0 else v
    elif act == 2:
        for j in range(dst.shape[0]):
            v = dst[j]
            dst[j] = 0 if v < 0 else (6 if v > 6 else v)
    elif act == 3:
        for j in range(dst.shape[0]):
            v = float(dst[j])
            dst[j] = v / (1.0 + math.exp(-v))
    elif act == 4:
        for j in range(dst.shape[0]):
            v = float(dst[j])
            dst[j] = 0.5 * v * (1.0 + math.erf(v * 0.7071067811865476))


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _epilogue_kernel(tile, bias, act):
    """Add ``bias[o]`` to row ``o`` of a GEMM result tile (O, R) and apply activation ``act``, while the tile is in cache.

    Serial, as ``_im2col_kernel``.
    """
    for o in range(tile.shape[0]):
        row = tile[o]
        b = bias[o]
        for j in range(row.shape[0]):
            row[j] += b
        _activate(row, act)


@njit(inline="always")
def _correlate(x, w, bias, rows, cols, sh, sw, dh, dw, left, groups, fill, tile_h, tile_w, act, out, unit_stride):
    """Direct grouped cross-correlation, one (image, out channel, tile of output) per job.

    Within a tile the taps run outermost, so the bounds of each tap's stretch
    are found once per tile rather than once per output row.  ``unit_stride``
    is a constant in each caller: LLVM then keeps only the loop it needs and
    vectorizes it, which it fails to do when both stay.
    """
    n_out, cg, kh, kw = w.shape
    ho, wo, width = out.shape[2], out.shape[3], x.shape[3]
    og = n_out // groups
    fill_row = np.full(width, fill, x.dtype)
    tiles_h, tiles_w = (ho + tile_h - 1) // tile_h, (wo + tile_w - 1) // tile_w
    for job in prange(x.shape[0] * n_out * tiles_h * tiles_w):
        n = job // (n_out * tiles_h * tiles_w)
        o = (job // (tiles_h * tiles_w)) % n_out
        h0 = ((job // tiles_w) % tiles_h) * tile_h
        w0 = (job % tiles_w) * tile_w
        h1, w1 = min(h0 + tile_h, ho), min(w0 + tile_w, wo)
        for oh in range(h0, h1):
            out[n, o, oh, w0:w1] = bias[o]
        for c in range(cg):
            plane = x[n, (o // og) * cg + c]
            v = 0
            while unit_stride and v + 3 <= kw:
                first = w0 + v * dw
                u = 0
                while u + 3 <= kh:
                    block = w[o, c, u : u + 3, v : v + 3]
                    for oh in range(h0, h1):
                        base = oh * sh + u * dh
                        ra, rb, rc = rows[base], rows[base + dh], rows[base + 2 * dh]
                        dst = out[n, o, oh, w0:w1]
                        if ra != SKIP and rb != SKIP and rc != SKIP:
                            a = plane[ra] if ra >= 0 else fill_row
                            b = plane[rb] if rb >= 0 else fill_row
                            r3 = plane[rc] if rc >= 0 else fill_row
                            _nine_taps(dst, a, b, r3, block, cols, first, dw, left, fill)
                        else:
                            for k in range(3):
                                r = rows[base + k * dh]
                                if r != SKIP:
                                    src = plane[r] if r >= 0 else fill_row
                                    _three_taps(dst, src, block[k, 0], block[k, 1], block[k, 2], cols, first, dw, left, fill)
                    u += 3
                while u < kh:
                    w_a, w_b, w_c = w[o, c, u, v], w[o, c, u, v + 1], w[o, c, u, v + 2]
                    for oh in range(h0, h1):
                        r = rows[oh * sh + u * dh]
                        if r != SKIP:
                            src = plane[r] if r >= 0 else fill_row
                            _three_taps(out[n, o, oh, w0:w1], src, w_a, w_b, w_c, cols, first, dw, left, fill)
                    u += 1
                v += 3
            while v < kw:
                first = w0 * sw + v * dw
                lo, hi = _inside(w1 - w0, width, first - left, sw)
                for u in range(kh):
                    weight = w[o, c, u, v]
                    for oh in range(h0, h1):
                        r = rows[oh * sh + u * dh]
                        if r != SKIP:
                            src = plane[r] if r >= 0 else fill_row
                            step = 1 if unit_stride else sw
                            _tap_span(out[n, o, oh, w0:w1], src, weight, cols, first, step, first - left, lo, hi, fill)
                v += 1
        if act:
            for oh in range(h0, h1):
                _activate(out[n, o, oh, w0:w1], act)


@njit(**KERNEL)
def _correlate_unit_stride_kernel(x, w, bias, rows, cols, sh, dh, dw, left, groups, fill, tile_h, tile_w, act, out):
    _correlate(x, w, bias, rows, cols, sh, 1, dh, dw, left, groups, fill, tile_h, tile_w, act, out, True)


@njit(**KERNEL)
def _correlate_kernel(x, w, bias, rows, cols, sh, sw, dh, dw, left, groups, fill, tile_h, tile_w, act, out):
    _correlate(x, w, bias, rows, cols, sh, sw, dh, dw, left, groups, fill, tile_h, tile_w, act, out, False)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _im2col_kernel(x, n, c0, kh, kw, rows, cols, sh, sw, dh, dw, left, oh0, buf):
    """Fill ``buf`` (cg * kh * kw, R, Wo) with the zero-padded input taps of output rows ``oh0:oh0 + R``.

    A plain copy, with each tap's in-bounds column range found once for all
    rows: the rows of deep layers are a few elements long, and adding each
    tap into a zeroed row, row by row, made im2col cost twice the GEMM.

    Serial on purpose: the GEMM that follows runs on BLAS's own threads, and
    on a small machine two thread pools that take turns, each spinning while
    the other works, made the convolution 3 to 50 times slower.
    """
    taps, n_rows, wo = buf.shape
    for k in range(taps):
        c, u, v = k // (kh * kw), (k // kw) % kh, k % kw
        first = v * dw
        off = first - left
        lo, hi = _inside(wo, x.shape[3], off, sw)
        plane = x[n, c0 + c]
        block = buf[k]
        for rr in range(n_rows):
            r = rows[(oh0 + rr) * sh + u * dh]
            if r < 0:
                for j in range(wo):
                    block[rr, j] = 0
                continue
            for j in range(lo):
                col = cols[first + j * sw]
                block[rr, j] = plane[r, col] if col >= 0 else 0
            if sw == 1:
                for j in range(lo, hi):
                    block[rr, j] = plane[r, off + j]
            else:
                for j in range(lo, hi):
                    block[rr, j] = plane[r, off + j * sw]
            for j in range(hi, wo):
                col = cols[first + j * sw]
                block[rr, j] = plane[r, col] if col >= 0 else 0


GEMM_TILE_BYTES = 4 << 20


def _uses_gemm(x: np.ndarray, w: np.ndarray, groups: int) -> bool:
    """Dense enough for BLAS: float, and each group's GEMM has M >= 16 and K >= 16."""
    out_per_group, cg, kh, kw = w.shape[0] // groups, *w.shape[1:]
    return x.dtype.kind == "f" and out_per_group >= 16 and cg * kh * kw >= 16


def _conv2d_gemm(x, w, bias, rows, cols, call: ConvCall, out):
    """Convolution as GEMMs of the weights with im2col tiles of a few output rows.

    A tile holds at most GEMM_TILE_BYTES, and at most half of input + output
    or GEMM_TILE_BYTES / 2, whichever is more: the temporary memory stays
    below the size of the input plus the output, or 2 MiB for small ones
    (smaller tiles made the GEMMs of deep layers, 7 x 7 or 14 x 14 images,
    one row at a time, up to 4 times slower).
    The bias and the activation are applied to each GEMM result while it is
    in cache (``bias`` None and no activation: nothing to apply).
    """
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    _, _, ho, wo = out.shape
    groups, og, taps = call.groups, o // call.groups, cg * kh * kw
    (sh, sw), (dh, dw) = call.stride, call.dilation
    act = call.activation
    finish = bias is not None or act
    if finish and bias is None:
        bias = np.zeros(o, x.dtype)
    if (kh, kw, sh, sw) == (1, 1, 1, 1) and not any(call.pads) and groups == 1:
        for i in range(n):
            dst = out[i].reshape(o, ho * wo)
            np.matmul(w.reshape(o, c), x[i].reshape(c, h * wd), out=dst)
            if finish:
                _epilogue_kernel(dst, bias, act)
        return
    row_bytes = taps * wo * x.itemsize
    budget = min(GEMM_TILE_BYTES, max((x.nbytes + out.nbytes) // 2, GEMM_TILE_BYTES // 2))
    tile_rows = max(1, min(ho, budget // row_bytes))
    buf = np.empty(taps * tile_rows * wo, x.dtype)
    wmat = w.reshape(groups, og, taps)
    for i in range(n):
        for g in range(groups):
            for oh0 in range(0, ho, tile_rows):
                rr = min(tile_rows, ho - oh0)
                tile = buf[: taps * rr * wo].reshape(taps, rr, wo)
                _im2col_kernel(x, i, g * cg, kh, kw, rows, cols, sh, sw, dh, dw, call.pads[2], oh0, tile)
                dst = out[i, g * og : (g + 1) * og, oh0 : oh0 + rr].reshape(og, rr * wo)
                np.matmul(wmat[g], tile.reshape(taps, rr * wo), out=dst)
                if finish:
                    _epilogue_kernel(dst, bias[g * og : (g + 1) * og], act)


TILE_BYTES = 16 << 10
TILE_WIDTH = 4096


def _tables(shape, pads, boundary):
    """The row and column ``_padding.source_index`` tables of an (..., H, W) input padded by ``pads``."""
    (h, wd), (top, bottom, left, right) = shape[-2:], pads
    return source_index(h, top, h + top + bottom, boundary), source_index(wd, left, wd + left + right, boundary)


def _run_correlation(x, w, bias, pads, stride, dilation, groups, boundary, fill, out, act=0):
    """Fill ``out`` by direct correlation, in tiles of at most TILE_BYTES that fit the L1 cache."""
    rows, cols = _tables(x.shape, pads, boundary)
    tile_w = min(out.shape[3], TILE_WIDTH)
    tile_h = max(1, min(out.shape[2], TILE_BYTES // (tile_w * out.itemsize)))
    (sh, sw), (dh, dw), left = stride, dilation, pads[2]
    if sw == 1:
        _correlate_unit_stride_kernel(x, w, bias, rows, cols, sh, dh, dw, left, groups, fill, tile_h, tile_w, act, out)
    else:
        _correlate_kernel(x, w, bias, rows, cols, sh, sw, dh, dw, left, groups, fill, tile_h, tile_w, act, out)


DEPTHWISE_BAND_BYTES = 32 << 10  # the padded input rows one depthwise band copies
# Wider planes run faster in the general direct kernel, which reads the input in place (measured:
# 3 x 3, 1 to 32 channels, widths 64 to 1024, stride 1 and 2).
DEPTHWISE_MAX_WIDTH = 64
DEPTHWISE_JOBS_PER_THREAD = 8  # bands are grouped into this many jobs per thread, which share their buffers


@njit(inline="always")
def _fill_phases(phases, plane, rows, cols, r0, sh, sw, fill):
    """``phases[p * sw + q, i, j]`` = the padded plane at row ``r0 + p + i * sh``, column ``q + j * sw``."""
    _, hq, wq = phases.shape
    for p in range(sh):
        for i in range(hq):
            r = r0 + p + i * sh
            src_row = rows[r] if r < rows.shape[0] else -1
            for q in range(sw):
                dst = phases[p * sw + q, i]
                if src_row < 0:
                    dst[:] = fill
                    continue
                src = plane[src_row]
                for j in range(wq):
                    col = q + j * sw
                    k = cols[col] if col < cols.shape[0] else -1
                    dst[j] = src[k] if k >= 0 else fill


@njit(**KERNEL)
def _depthwise_kernel(x, w, bias, rows, cols, sh, sw, dh, dw, left, fill, band_rows, per_job, act, out):
    """One filter per channel (groups = in = out channels), by bands of output rows, ``per_job`` bands per job.

    Each band's padded input rows are copied once, through the index
    tables, split by stride phase (``_fill_phases``; at unit stride a plain
    copy), so every tap reads a unit-stride window of one phase and no tap
    loop has edge cases.  Each group of three taps is then one pass over the
    band's outputs as a flat vector, the phase's extra columns computed and
    dropped, not one short loop per output row: the many-channel planes of
    depthwise layers are 7 to 56 wide.  A job reuses its buffers.
    """
    chans, kh, kw = x.shape[1], w.shape[2], w.shape[3]
    ho, wo = out.shape[2], out.shape[3]
    bands = (ho + band_rows - 1) // band_rows
    units = x.shape[0] * chans * bands
    hq = min(band_rows, ho) + (kh - 1) * dh // sh  # rows and columns of each phase
    wq = wo + (kw - 1) * dw // sw
    taps = kh * kw
    for job in prange((units + per_job - 1) // per_job):
        phases = np.empty((sh * sw, hq, wq), x.dtype)
        flat = phases.reshape(sh * sw * hq * wq)
        acc_buf = np.empty((min(band_rows, ho) - 1) * wq + wo, x.dtype)
        starts, weights = np.zeros(3, np.int64), np.zeros(3, x.dtype)
        for unit in range(job * per_job, min((job + 1) * per_job, units)):
            n, c, h0 = unit // (chans * bands), (unit // bands) % chans, (unit % bands) * band_rows
            h1 = min(h0 + band_rows, ho)
            if sh == 1 and sw == 1:
                _fill_band(phases[0, : h1 - h0 + (kh - 1) * dh], x[n, c], rows, cols, h0, 0, left, fill)
            else:
                _fill_phases(phases, x[n, c], rows, cols, h0 * sh, sh, sw, fill)
            acc = acc_buf[: (h1 - h0 - 1) * wq + wo]
            acc[:] = bias[c]
            for t in range(0, taps, 3):  # up to three taps per pass
                count = min(3, taps - t)
                for k in range(count):
                    u, v = (t + k) // kw, (t + k) % kw
                    phase = ((u * dh) % sh) * sw + (v * dw) % sw
                    starts[k] = (phase * hq + (u * dh) // sh) * wq + (v * dw) // sw
                    weights[k] = w[c, 0, u, v]
                a, b, d = flat[starts[0] :], flat[starts[1] :], flat[starts[2] :]
                w0, w1, w2 = weights[0], weights[1], weights[2]
                if count == 3:
                    for i in range(acc.shape[0]):
                        acc[i] += w0 * a[i] + w1 * b[i] + w2 * d[i]
                elif count == 2:
                    for i in range(acc.shape[0]):
                        acc[i] += w0 * a[i] + w1 * b[i]
                else:
                    for i in range(acc.shape[0]):
                        acc[i] += w0 * a[i]
            if act:
                _activate(acc, act)
            for oh in range(h0, h1):
                out[n, c, oh] = acc[(oh - h0) * wq : (oh - h0) * wq + wo]


def _conv2d_depthwise(x, w, bias, call: ConvCall, out):
    rows, cols = _tables(x.shape, call.pads, call.boundary)
    (sh, sw), (dh, dw), kh = call.stride, call.dilation, w.shape[2]
    band_rows = max(1, DEPTHWISE_BAND_BYTES // (cols.shape[0] * sh * x.itemsize) - (kh - 1) * dh // sh)
    units = x.shape[0] * x.shape[1] * -(-out.shape[2] // band_rows)
    per_job = max(1, units // (DEPTHWISE_JOBS_PER_THREAD * numba.get_num_threads()))
    _depthwise_kernel(
        x, w, bias, rows, cols, sh, sw, dh, dw, call.pads[2], x.dtype.type(0), band_rows, per_job, call.activation, out
    )


def conv2d(call: ConvCall) -> np.ndarray:
    x, w = np.ascontiguousarray(call.input), np.ascontiguousarray(call.weight)
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    top, bottom, left, right = call.pads
    (sh, sw), (dh, dw) = call.stride, call.dilation
    ho = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    out = np.empty((n, o, ho, wo), x.dtype)
    if out.size == 0:
        return out
    if _uses_gemm(x, w, call.groups):
        bias = None if call.bias is None else np.ascontiguousarray(call.bias)
        _conv2d_gemm(x, w, bias, *_tables(x.shape, call.pads, call.boundary), call, out)
        return out
    bias = np.zeros(o, x.dtype) if call.bias is None else np.ascontiguousarray(call.bias)
    if call.groups == x.shape[1] == o and wo <= DEPTHWISE_MAX_WIDTH:
        _conv2d_depthwise(x, w, bias, call, out)
        return out
    _run_correlation(
        x, w, bias, call.pads, call.stride, call.dilation, call.groups, call.boundary, x.dtype.type(0), out, call.activation
    )
    return out


@njit(**KERNEL)
def _conv_transpose2d_kernel(x, w, bias, sh, sw, ph, pw, dh, dw, groups, out):
    """Transposed convolution, one (image, out channel, output row) per job.

    Row ``oh`` takes input row ``ih`` through tap ``u`` when ``oh = ih * sh - ph + u * dh``;
    each such (input row, weight) pair is added along the output row at
    columns ``iw * sw - pw + v * dw``, which this job alone writes.
    """
    n_batch, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    _, n_out, ho, wo = out.shape
    cig = cin // groups
    for job in prange(n_batch * n_out * ho):
        n, o, oh = job // (n_out * ho), (job // ho) % n_out, job % ho
        g, ol = o // cog, o % cog
        row = out[n, o, oh]
        for j in range(wo):
            row[j] = bias[o]
        for u in range(kh):
            t = oh + ph - u * dh
            if t < 0 or t % sh != 0 or t // sh >= h:
                continue
            for c in range(g * cig, (g + 1) * cig):
                src = x[n, c, t // sh]
                for v in range(kw):
                    weight = w[c, ol, u, v]
                    off = v * dw - pw
                    lo, hi = _inside(wd, wo, off, sw)
                    if sw == 1:
                        dst, part = row[off + lo : off + hi], src[lo:hi]
                        for j in range(dst.shape[0]):
                            dst[j] += weight * part[j]
                    else:
                        for iw in range(lo, hi):
                            row[off + iw * sw] += weight * src[iw]


def conv_transpose2d(call: ConvTransposeCall) -> np.ndarray:
    x, w = np.ascontiguousarray(call.input), np.ascontiguousarray(call.weight)
    out = np.empty((x.shape[0], w.shape[1] * call.groups, *call.out_size), x.dtype)
    if out.size:
        bias = np.zeros(out.shape[1], x.dtype) if call.bias is None else np.ascontiguousarray(call.bias)
        (sh, sw), (ph, pw), (dh, dw) = call.stride, call.padding, call.dilation
        _conv_transpose2d_kernel(x, w, bias, sh, sw, ph, pw, dh, dw, call.groups, out)
    return out


BAND_ROWS = 32
BAND_COLS = 512


@njit(inline="always")
def _fill_band(band, plane, rows, cols, r0, c0, left, fill):
    """``band`` = the padded plane's rows ``r0:`` and columns ``c0:``, read through the index tables."""
    height, width = band.shape
    lo = min(max(left - c0, 0), width)
    hi = max(min(left + plane.shape[1] - c0, width), lo)
    for r in range(height):
        dst = band[r]
        src_row = rows[r0 + r]
        if src_row < 0:
            dst[:] = fill
            continue
        src = plane[src_row]
        inner = dst[lo:hi]
        contiguous = src[c0 + lo - left : c0 + hi - left]
        for j in range(inner.shape[0]):
            inner[j] = contiguous[j]
        for j in range(lo):
            col = cols[c0 + j]
            dst[j] = src[col] if col >= 0 else fill
        for j in range(hi, width):
            col = cols[c0 + j]
            dst[j] = src[col] if col >= 0 else fill


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


@njit(**KERNEL)
def _correlate_planes_kernel(planes, tap_rows, tap_cols, weights, kh, kw, rows, cols, left, fill, out):
    """Correlate every plane with the taps, one (plane, band of rows, band of columns) per job.

    Each job copies its padded input window into a small ``band`` once, so
    that the taps then run as branch-free passes of nine (or three, or one)
    taps over each output row, with no edge handling left in them.
    """
    n_planes, ho, wo = out.shape
    n_taps = weights.shape[0]
    row_bands = (ho + BAND_ROWS - 1) // BAND_ROWS
    col_bands = (wo + BAND_COLS - 1) // BAND_COLS
    for job in prange(n_planes * row_bands * col_bands):
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
    if call.boundary == "overlap" or (kh <= 3 and kw <= 3):
        # np.convolve's one long row with no term outside the input; and kernels that fit the
        # nine-tap register block, memory-bound, for which copying a band would cost more than it saves.
        _run_correlation(planes[:, None], kernel[None, None], np.zeros(1, planes.dtype), call.pads, (1, 1), (1, 1), 1, call.boundary, fill, out[:, None])
        return out
    rows, cols = _tables(planes.shape, call.pads, call.boundary)
    tap_rows, tap_cols = (a.ravel() for a in np.indices((kh, kw)))
    _correlate_planes_kernel(planes, tap_rows, tap_cols, kernel.ravel(), kh, kw, rows, cols, left, fill, out)
    return out


@njit(inline="always")
def _max_tap(dst, src, off, step):
    """``dst[j] = max(dst[j], src[off + j * step])`` with NaN winning, where that reads inside ``src``."""
    lo, hi = _inside(dst.shape[0], src.shape[0], off, step)
    inner = dst[lo:hi]
    if step == 1:
        contiguous = src[off + lo : off + hi]
        for j in range(inner.shape[0]):
            a, b = contiguous[j], inner[j]
            inner[j] = a if (a > b or a != a) else b
    else:
        strided = src[off + lo * step : off + (hi - 1) * step + 1 : step]
        for j in range(inner.shape[0]):
            a, b = strided[j], inner[j]
            inner[j] = a if (a > b or a != a) else b


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
                    if val > best or val != val:
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
    if out.size and return_indices:
        _max_pool2d_indices_kernel(x, *geometry, _lowest(x.dtype), out, indices)
    elif out.size:
        _max_pool2d_kernel(x, *geometry, _lowest(x.dtype), out)
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
def avg_pool2d(call: PoolCall, count_include_pad: bool, divisor_override: int | None):
    x = np.ascontiguousarray(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    if out.size:
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


@njit(inline="always")
def _adaptive_span(i, size, out):
    """Start and end of adaptive window ``i`` of ``out`` over ``size`` (``_validate.adaptive_windows``)."""
    return (i * size) // out, ((i + 1) * size + out - 1) // out


@njit(**KERNEL)
def _adaptive_avg_pool2d_kernel(x, out):
    n_batch, chans, h, wd = x.shape
    _, _, ho, wo = out.shape
    for job in prange(n_batch * chans * ho):
        n, c, oh = job // (chans * ho), (job // ho) % chans, job % ho
        h0, h1 = _adaptive_span(oh, h, ho)
        for ow in range(wo):
            w0, w1 = _adaptive_span(ow, wd, wo)
            total = 0.0
            for ih in range(h0, h1):
                segment = x[n, c, ih, w0:w1]
                for j in range(segment.shape[0]):
                    total += segment[j]
            out[n, c, oh, ow] = total / ((h1 - h0) * (w1 - w0))


@njit(**KERNEL)
def _adaptive_max_pool2d_kernel(x, lowest, out, indices):
    """Adaptive max with torch's flat indices (see ``_window_max``)."""
    n_batch, chans, h, wd = x.shape
    _, _, ho, wo = out.shape
    for job in prange(n_batch * chans * ho):
        n, c, oh = job // (chans * ho), (job // ho) % chans, job % ho
        h0, h1 = _adaptive_span(oh, h, ho)
        for ow in range(wo):
            w0, w1 = _adaptive_span(ow, wd, wo)
            best, where = _window_max(x[n, c], h0, w0, h1 - h0, w1 - w0, 1, 1, lowest, h0 * wd + w0)
            out[n, c, oh, ow] = best
            indices[n, c, oh, ow] = where


@njit(**KERNEL)
def _global_avg_pool_kernel(planes, out):
    """Mean of each row of ``planes`` (B, H * W): global average pooling."""
    for b in prange(planes.shape[0]):
        plane = planes[b]
        total = 0.0
        for j in range(plane.shape[0]):
            total += plane[j]
        out[b] = total / plane.shape[0]


def adaptive_avg_pool2d(call: AdaptiveCall) -> np.ndarray:
    x = np.ascontiguousarray(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    if out.size and call.out_size == (1, 1):
        _global_avg_pool_kernel(x.reshape(out.size, -1), out.reshape(-1))
    elif out.size:
        _adaptive_avg_pool2d_kernel(x, out)
    return out


def adaptive_max_pool2d(call: AdaptiveCall, return_indices: bool):
    x = _as_comparable(call.input)
    out = np.empty(x.shape[:2] + call.out_size, x.dtype)
    indices = np.empty(out.shape, np.int64)
    if out.size:
        _adaptive_max_pool2d_kernel(x, _lowest(x.dtype), out, indices)
    out = out.view(call.input.dtype)
    return (out, indices) if return_indices else out


@njit(**KERNEL)
def _interpolate_kernel(x, r0, r1, a0, a1, c0, c1, b0, b1, linear, two_d, out):
    """One (plane, output row) per job: ``_reference.interpolate``'s formula element by element."""
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
