"""The cpu backend's convolutions: ``conv2d`` and ``conv_transpose2d``.

``conv2d`` picks its kernel family per call (see :func:`conv2d`):

- float 1 x 1 layers on 1 x 1 planes (squeeze-and-excitation, heads,
  ``nn.Linear``): a matrix product, small ones as dot products on one thread
  (the SIMD kernel would fill 1 lane of each vector, and BLAS's threads, woken
  between numba's parallel kernels, took up to 100x longer), large ones one
  BLAS GEMM;
- dense and grouped float32 / float64 layers: the register-blocked
  explicit-SIMD kernel of ``direct.py``, on a target with AVX2 or AVX-512,
  as many images at a time as its padded copy of the input fits in
  ``DIRECT_WORKSPACE_BYTES`` (an image larger than that runs the GEMM path,
  whose workspace is a 4 MiB tile);
- depthwise float32 / float64 layers: the explicit-SIMD band kernel of
  ``depthwise.py`` (``bands.py``) on a target with AVX2 or AVX-512, where
  its L1-sized bands suit the plane width (``depthwise.suits``); else the
  banded depthwise kernel here for planes up to ``DEPTHWISE_MAX_WIDTH``
  wide and the direct tiled correlation beyond;
- on a target without SIMD vectors: BLAS GEMMs on im2col tiles for dense
  float layers (``_uses_gemm``), the direct tiled correlation otherwise;
- integers: the direct tiled correlation (exact int64).

Each kernel parallelizes over disjoint outputs (``prange``, or ``parallel.run`` over jobs), so that a
single image still uses every core.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..._calls import ConvCall, ConvTransposeCall, conv_out_size
from ..._padding import SKIP
from . import depthwise as simd_depthwise
from . import direct, parallel, transpose
from .common import FASTMATH, KERNEL, _activate, _fill_band, _fill_phases, _inside, _nine_taps, _tables, _tap_span, _three_taps, jit, native, threads


@jit(cache=True, fastmath=FASTMATH, nogil=True)
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
def _correlate(job, x, w, bias, rows, cols, sh, sw, dh, dw, left, groups, fill, fill_row, tile_h, tile_w, act, out, unit_stride):
    """Direct grouped cross-correlation of job ``job``: one (image, out channel, tile of output).

    Within a tile the taps run outermost, so the bounds of each tap's stretch
    are found once per tile rather than once per output row.  ``unit_stride``
    is a constant in each caller: LLVM then keeps only the loop it needs and
    vectorizes it, which it fails to do when both stay.
    """
    n_out, cg, kh, kw = w.shape
    ho, wo, width = out.shape[2], out.shape[3], x.shape[3]
    og = n_out // groups
    tiles_h, tiles_w = (ho + tile_h - 1) // tile_h, (wo + tile_w - 1) // tile_w
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


@native(cache=True, fastmath=FASTMATH, nogil=True)
def _correlate_unit_stride_job(job, x, w, bias, rows, cols, sh, dh, dw, left, groups, fill, fill_row, tile_h, tile_w, act, out):
    _correlate(job, x, w, bias, rows, cols, sh, 1, dh, dw, left, groups, fill, fill_row, tile_h, tile_w, act, out, True)


@native(cache=True, fastmath=FASTMATH, nogil=True)
def _correlate_job(job, x, w, bias, rows, cols, sh, sw, dh, dw, left, groups, fill, fill_row, tile_h, tile_w, act, out):
    _correlate(job, x, w, bias, rows, cols, sh, sw, dh, dw, left, groups, fill, fill_row, tile_h, tile_w, act, out, False)


@jit(cache=True, fastmath=FASTMATH, nogil=True)
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


def _run_correlation(x, w, bias, pads, stride, dilation, groups, boundary, fill, out, act=0):
    """Fill ``out`` by direct correlation, in tiles of at most TILE_BYTES that fit the L1 cache."""
    rows, cols = _tables(x.shape, pads, boundary)
    tile_w = min(out.shape[3], TILE_WIDTH)
    tile_h = max(1, min(out.shape[2], TILE_BYTES // (tile_w * out.itemsize)))
    (sh, sw), (dh, dw), left = stride, dilation, pads[2]
    fill_row = np.full(x.shape[3], fill, x.dtype)
    n, o, ho, wo = out.shape
    jobs = n * o * -(-ho // tile_h) * -(-wo // tile_w)  # (image, out channel, tile)
    if sw == 1:
        parallel.run(_correlate_unit_stride_job, jobs, x, w, bias, rows, cols, sh, dh, dw, left, groups, fill, fill_row,
                     tile_h, tile_w, act, out)
    else:
        parallel.run(_correlate_job, jobs, x, w, bias, rows, cols, sh, sw, dh, dw, left, groups, fill, fill_row, tile_h,
                     tile_w, act, out)


DEPTHWISE_BAND_BYTES = 32 << 10  # the padded input rows one depthwise band copies
# Wider planes run faster in the general direct kernel, which reads the input in place (measured:
# 3 x 3, 1 to 32 channels, widths 64 to 1024, stride 1 and 2).
DEPTHWISE_MAX_WIDTH = 64
DEPTHWISE_JOBS_PER_THREAD = 8  # bands are grouped into this many jobs per thread, which share their buffers


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
    per_job = max(1, units // (DEPTHWISE_JOBS_PER_THREAD * threads()))
    _depthwise_kernel(
        x, w, bias, rows, cols, sh, sw, dh, dw, call.pads[2], x.dtype.type(0), band_rows, per_job, call.activation, out
    )


DIRECT_WORKSPACE_BYTES = 32 << 20  # the SIMD kernel's padded copy of the input: a call takes as many images as fit


def _direct_images(x: np.ndarray, w: np.ndarray, call: ConvCall) -> int:
    """How many images one call of the SIMD kernel takes (0: one image's planes exceed the workspace)."""
    per_image = direct.workspace_bytes(x.shape[1:], w.shape, call.stride, call.pads, call.dilation, x.itemsize)
    return x.shape[0] if per_image == 0 else min(x.shape[0], DIRECT_WORKSPACE_BYTES // per_image)


POINTWISE_SERIAL_MACS = 1 << 24  # up to here numba's tasks; beyond (about 2 ms on one core), a BLAS GEMM's threads pay for waking
POINTWISE_TASK_MACS = 1 << 18  # multiply-adds per task of the parallel loop over output features: about 0.1 ms
POINTWISE_PARALLEL_MACS = 1 << 21  # below, one task on the calling thread (batch 1 classifiers ran 1.2-1.4x slower on two)


def _is_pointwise_on_points(x: np.ndarray, w: np.ndarray, call: ConvCall) -> bool:
    """A dense float 1 x 1 convolution of 1 x 1 planes, without padding: a matrix product."""
    return x.dtype.kind == "f" and call.groups == 1 and x.shape[2:] == (1, 1) and w.shape[2:] == (1, 1) and not any(call.pads)


@native(cache=True, fastmath=FASTMATH, nogil=True)
def _pointwise_on_points_task(j, x, w, bias, act, per, out):
    """``out[:, o] = act(x @ w[o] + bias[o])`` for the output features ``o`` of task ``j`` (``per`` a task), x (N, K),
    w (O, K), out (N, O)."""
    o0, o1 = j * per, min(w.shape[0], (j + 1) * per)
    for o in range(o0, o1):
        for n in range(x.shape[0]):
            acc = bias[o]
            for k in range(x.shape[1]):
                acc += w[o, k] * x[n, k]
            out[n, o] = acc
    if act:
        for n in range(x.shape[0]):
            _activate(out[n, o0:o1], act)


def _conv2d_pointwise_on_points(x, w, call: ConvCall, out):
    x2, w2, out2 = x.reshape(x.shape[0], -1), w.reshape(w.shape[0], -1), out.reshape(out.shape[0], -1)
    bias = np.zeros(w.shape[0], x.dtype) if call.bias is None else np.ascontiguousarray(call.bias)
    if x2.shape[0] * w2.size <= POINTWISE_SERIAL_MACS:
        # the output features in tasks on numba's threads, awake between a network's kernels (MobileNetV3's
        # classifier at batch 8, 960 -> 1280 -> 1000: 0.5 + 0.65 ms on one core, 0.33 + 0.36 on two)
        macs = x2.shape[0] * w2.size
        per = max(1, POINTWISE_TASK_MACS // max(1, x2.shape[0] * x2.shape[1])) if macs > POINTWISE_PARALLEL_MACS else w2.shape[0]
        parallel.run(_pointwise_on_points_task, -(-w2.shape[0] // per), x2, w2, bias, call.activation, per, out2)
        return
    np.matmul(x2, w2.T, out=out2)
    out2 += bias
    _activate(out.reshape(-1), call.activation)


def conv2d(call: ConvCall) -> np.ndarray:
    x, w = np.ascontiguousarray(call.input), np.ascontiguousarray(call.weight)
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    top, bottom, left, right = call.pads
    (sh, sw), (dh, dw) = call.stride, call.dilation
    ho, wo = conv_out_size(h, kh, top + bottom, sh, dh), conv_out_size(wd, kw, left + right, sw, dw)
    out = np.empty((n, o, ho, wo), x.dtype)
    if out.size == 0:
        return out
    if _is_pointwise_on_points(x, w, call):
        _conv2d_pointwise_on_points(x, w, call, out)
        return out
    depthwise = call.groups == x.shape[1] == o
    per_call = _direct_images(x, w, call) if not depthwise and direct.supported(x.dtype) else 0
    if per_call:
        bias = None if call.bias is None else np.ascontiguousarray(call.bias)
        for i in range(0, n, per_call):
            direct.conv2d_direct(x[i : i + per_call], w, bias, call.stride, call.pads, call.dilation, call.boundary, call.activation, out[i : i + per_call])
        return out
    if _uses_gemm(x, w, call.groups):
        bias = None if call.bias is None else np.ascontiguousarray(call.bias)
        _conv2d_gemm(x, w, bias, *_tables(x.shape, call.pads, call.boundary), call, out)
        return out
    bias = np.zeros(o, x.dtype) if call.bias is None else np.ascontiguousarray(call.bias)
    if depthwise and simd_depthwise.supported(x.dtype) and simd_depthwise.suits(x.shape, (kh, kw), call.stride, call.pads, call.dilation, x.itemsize):
        simd_depthwise.conv2d_depthwise(x, w, bias, call.stride, call.pads, call.dilation, call.boundary, call.activation, out)
        return out
    if depthwise and wo <= DEPTHWISE_MAX_WIDTH:
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
    """Transposed convolution: float32 / float64 on a SIMD target by stride-phase sub-convolutions
    (``transpose.py``), as many images per call as their padded planes fit in ``DIRECT_WORKSPACE_BYTES``
    (at least one); integers, targets without SIMD vectors, and padded planes with an inf or NaN
    weight (see ``transpose.conv_transpose2d_direct``), by the scatter kernel ``_conv_transpose2d_kernel``."""
    x, w = np.ascontiguousarray(call.input), np.ascontiguousarray(call.weight)
    out = np.empty((x.shape[0], w.shape[1] * call.groups, *call.out_size), x.dtype)
    if out.size == 0:
        return out
    if direct.supported(x.dtype):
        bias = None if call.bias is None else np.ascontiguousarray(call.bias)
        per_image = transpose.workspace_bytes(x.shape[1:], w.shape, call.stride, call.padding, call.dilation, call.out_size, call.groups, x.itemsize)
        per_call = max(1, DIRECT_WORKSPACE_BYTES // max(per_image, 1))
        for i in range(0, x.shape[0], per_call):
            part = out[i : i + per_call]
            if transpose.conv_transpose2d_direct(x[i : i + per_call], w, bias, call.stride, call.padding, call.dilation, call.groups, part) is None:
                break
        else:
            return out
    bias = np.zeros(out.shape[1], x.dtype) if call.bias is None else np.ascontiguousarray(call.bias)
    (sh, sw), (ph, pw), (dh, dw) = call.stride, call.padding, call.dilation
    _conv_transpose2d_kernel(x, w, bias, sh, sw, ph, pw, dh, dw, call.groups, out)
    return out
