"""Transposed convolution as stride-phase sub-convolutions on ``direct.py``'s register-blocked micro-kernels.

Output row ``oh = ih*sh - ph + u*dh`` of a transposed convolution takes
tap ``u`` only when ``oh + ph - u*dh`` is a multiple of ``sh``; so the
output rows of one *phase* ``py = oh % sh``, ``oh = py + sh*i``, are a
stride-1 correlation of the input with the taps ``u`` of that phase, tap
``u`` reading input row ``i + (py + ph - u*dh) // sh``.  Columns likewise:
each of the ``sh*sw`` phases ``(py, px)`` is a dense stride-1 correlation
over channels (a 2x2 / stride 2 layer: four 1x1 convolutions).

* **Planes.**  The input is copied once into zero-padded flat planes
  (``pad_plane``), padded by just enough that every
  phase's taps read inside them; a layer whose taps need no padding (2x2 /
  stride 2) reads the input in place.  Every phase shares one grid of
  ``ceil(Ho/sh) x ceil(Wo/sw)`` positions, at flat position ``i*wq + j``, so
  a tap is one offset (``xoff``) as in ``direct``.
* **Weights.**  Each phase's taps are packed (one gather) as an
  ``(O, C/groups * taps)`` row-major matrix, the layout the micro-kernel
  broadcasts from.
* **Tasks.**  A task is (image, block of positions, range of o-tiles); for
  each o-tile it runs the micro-kernel once per phase into a scratch tile,
  then writes the phases' rows into the output interleaved: at column
  stride 2 by vector zips (``simd_ext.vzip_lo`` / ``vzip_hi``), at stride
  1 x 1 by ``direct``'s vector ``copy_out``, otherwise lane by lane.

The module is generated per (dtype, lanes, tile, kind of stride: ``_put_kind``)
into a file named with them and the hashes of ``simd.py``, ``simd_ext.py``,
``direct.py`` and this file.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from . import direct, generated, parallel, simd, simd_ext
from .common import SOURCE_HASH, threads, workspace

GEN_HASH = hashlib.sha256(Path(__file__).read_bytes() + SOURCE_HASH.encode()).hexdigest()[:12]
TASKS_PER_THREAD = 8
# A position block's input (all channels of a group) over this many bytes falls out of L1 while the o-tiles
# and phases pass over it: measured 1.23x slower (U-Net 2x2/s2, 128 channels: 48 KiB blocks against 32 KiB).
L1_BLOCK_BYTES, L1_PENALTY = 44 << 10, 1.25
GATHER_CHUNK = 4096  # weights packed per unit of the parallel loop

_DRIVER = '''

from fastconv._backends.cpu.simd_ext import vzip_hi, vzip_lo


@native(fastmath=FM, boundscheck=False, cache=True, nogil=True, inline="never")
def put_tile(out, obase, no, scratch, rs, ot, p, end, origin, wq, wg, ho, wo, sh, sw):
    """Write a scratch tile's flat positions p <= q = i*wq + j < end (j < wg) to the output:
    out[obase + (r*ho + py + sh*i)*wo + px + sw*j] = scratch[((py*sw + px)*ot + r)*rs + q - origin]
    for rows r < no and phases (py, px), where inside the output."""
__PUT__


@native(fastmath=FM, boundscheck=False, cache=True, nogil=True)
def run_transposed(unit, P, xoff, kstart, w, wbase, bias, out, geo):
    """Task ``unit`` = (image n, position block b, range tg of o-tiles): every phase of a tile, then its output rows.
    Its callees get borrowed views (``direct.run_task``)."""
    P, xoff, w, bias, out = borrowed(P), borrowed(xoff), borrowed(w), borrowed(bias), borrowed(out)
    plane_len, chans, groups, og = geo[5], geo[6], geo[7], geo[8]
    ho, wo, wq, wg, mpos, sh, sw, nblk, tgsize, which = geo[9], geo[10], geo[3], geo[11], geo[12], geo[13], geo[14], geo[15], geo[16], geo[17]
    ntg = (groups * ((og + OTS[which] - 1) // OTS[which]) + tgsize - 1) // tgsize
    n, b, tg = unit // ntg // nblk, unit // ntg % nblk, unit % ntg
    OT, BLK = OTS[which], N * PTS[which]
    nph = sh * sw
    rs = BLK + N  # a scratch row, with room for put_rows' last loads
    cg = chans // groups
    O = groups * og
    nt = (og + OT - 1) // OT
    u0 = tg * tgsize
    u1 = min(groups * nt, u0 + tgsize)
    p = b * BLK
    end = min(p + BLK, mpos)
    origin = mpos - BLK if mpos >= BLK and p + BLK > mpos else p  # the last block ends at the last position
    tile_len = nph * OT * rs  # a tile's scratch: its rows of every phase
    scratch_mem = empty((u1 - u0) * tile_len, DTYPE)
    scratch = borrowed(scratch_mem)
    tab_mem = empty(TAB * (u1 - u0), np.int64)
    tab = borrowed(tab_mem)
    for ph in range(nph):  # each phase's sub-convolution, all tiles in one call
        k0, k1 = kstart[ph], kstart[ph + 1]
        for u in range(u0, u1):
            o0, no, pb = tile_at(u, nt, og, OT, n, chans, cg, plane_len, origin)
            r = TAB * (u - u0)
            tab[r] = pb
            tab[r + 1] = wbase[ph] + o0 * (k1 - k0) - k0
            tab[r + 2] = no
            tab[r + 3] = (u - u0) * tile_len + ph * OT * rs
            tab[r + 4] = rs
            tab[r + 5] = o0
        uk0(P, xoff, k0, k1, w, k1 - k0, scratch, False, True, bias, 0, tab, 0, u1 - u0)
    for u in range(u0, u1):
        o0, no, pb = tile_at(u, nt, og, OT, n, chans, cg, plane_len, origin)
        put_tile(out, (n * O + o0) * ho * wo, no, scratch[(u - u0) * tile_len :], rs, OT, p, end, origin, wq, wg, ho, wo, sh, sw)
    alive(scratch_mem)
    alive(tab_mem)


@native(boundscheck=False, cache=True, nogil=True, inline="never")  # no fastmath: v - v must see inf and NaN
def gather(src, index, dst, i0, i1):
    """dst[i] = src[index[i]] for i0 <= i < i1 (packing the weights); whether those are all finite."""
    finite = True
    for i in range(i0, min(i1, index.shape[0])):
        v = src[index[i]]
        dst[i] = v
        finite &= v - v == 0
    return finite


@njit(fastmath=FM, boundscheck=False, nogil=True, inline="always")
def pad_plane(P, x, nc, h, wd, hq, wq, top, left, plane_len):
    """Plane nc of x into P with zeros around it: P[nc*plane_len + (top + i)*wq + left + j] = x[nc, i, j],
    as much of it as the hq x wq plane holds."""
    lo = min(left, wq)
    n = max(0, min(wd, wq - lo))
    for i in range(hq):
        dst = nc * plane_len + i * wq
        r = i - top
        if 0 <= r < h:
            src = (nc * h + r) * wd
            for j in range(lo):
                P[dst + j] = 0
            j = 0
            while j + N <= n:
                vstore(P, dst + lo + j, vload(x, src + j))
                j += N
            if j < n:
                vstore_masked(P, dst + lo + j, vload_masked(x, src + j, n - j), n - j)
            for j in range(lo + n, wq):
                P[dst + j] = 0
        else:
            for j in range(wq):
                P[dst + j] = 0


@native(fastmath=FM, boundscheck=False, cache=True, nogil=True)
def prepare_unit(unit, P, x, w, wsrc, index, finite, geo):
    """Work unit ``unit`` of the preparation: below geo[18], a padded plane of x into P (``pad_plane``);
    then a chunk of the weight gather (wsrc into w; finite[c]: whether chunk c's weights are finite)."""
    h, wd, hq, wq, left, plane_len = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5]
    nfill, chunk, top = geo[18], geo[19], geo[21]
    if unit < nfill:
        pad_plane(P, x, unit, h, wd, hq, wq, top, left, plane_len)
    else:
        c = unit - nfill
        finite[c] = gather(wsrc, index, w, c * chunk, (c + 1) * chunk)
'''


# put_tile walks each output row of each phase row py; __ROW__ writes its columns j <= t < jn
_PUT_ROWS = """
    i0 = p // wq
    for r in range(no):
        for py in range(sh):
            q = p
            i = i0
            j = p - i0 * wq
            while q < end:
                e = min(end, q - j + wq)
                oh = py + sh * i
                if oh >= ho:
                    break
                jn = min(wg, j + e - q)
                dst = obase + (r * ho + oh) * wo
                src = ((py * sw) * ot + r) * rs + q - origin - j  # scratch index of this row's j = 0
__ROW__
                q = e
                i += 1
                j = 0"""
# put_tile's body per kind of stride (``_put_kind``): a module compiles only the one its layers run
_PUT = {
    "one": """
    for r in range(no):  # one phase: the grid is the output's
        copy_out(out, obase + r * ho * wo, scratch, r * rs - origin, p, end, wq, wo)""",
    "zip": _PUT_ROWS.replace("__ROW__", """\
                t = j
                lim = min(2 * jn, wo)
                while t < jn:  # column stride 2: the two column phases' rows zipped
                    a = vload(scratch, src + t)
                    b = vload(scratch, src + ot * rs + t)
                    c = 2 * t
                    if c + 2 * N <= lim:
                        vstore(out, dst + c, vzip_lo(a, b))
                        vstore(out, dst + c + N, vzip_hi(a, b))
                    elif c + N < lim:
                        vstore(out, dst + c, vzip_lo(a, b))
                        vstore_masked(out, dst + c + N, vzip_hi(a, b), lim - c - N)
                    else:
                        vstore_masked(out, dst + c, vzip_lo(a, b), lim - c)
                    t += N"""),
    "lanes": _PUT_ROWS.replace("__ROW__", """\
                for px in range(sw):
                    for t in range(j, jn):
                        ow = px + sw * t
                        if ow < wo:
                            out[dst + ow] = scratch[src + px * ot * rs + t]"""),
}


def _put_kind(sh, sw):
    """Which put_tile body a layer of stride (sh, sw) runs."""
    return "one" if sh == sw == 1 else "zip" if sw == 2 else "lanes"


def kernel_module(dtype, tile=None, put="zip"):
    """The generated module for ``dtype``, ``tile`` (default: the target's first) and ``put`` (``_put_kind``) on
    the target: ``direct``'s kernels with that tile's micro-kernel alone (a call compiles only the one it runs),
    and the transposed driver."""
    dtype = np.dtype(dtype).name
    n = simd.lanes(dtype)
    tile = tuple(tile or direct.TILES[simd.VECTOR_BITS])
    name = (f"_transpose_{simd.SOURCE_HASH}_{simd_ext.SOURCE_HASH}_{direct.GEN_HASH}_{GEN_HASH}_{dtype}_n{n}"
            f"_o{tile[0]}p{tile[1]}_{put}")
    mod = generated.load(name, lambda: direct._source(dtype, n, (tile,)) + _DRIVER.replace("__PUT__", _PUT[put]))
    mod.TILES = (tile,)
    return mod


def _phase_taps(size_k, stride, pad, dilation):
    """For each phase ``r < stride``: the taps that land on it and the input offset each reads, ``(taps, offsets)``."""
    out = []
    for r in range(stride):
        taps = [k for k in range(size_k) if (r + pad - k * dilation) % stride == 0]
        out.append((taps, [(r + pad - k * dilation) // stride for k in taps]))
    return out


@functools.lru_cache(maxsize=64)  # an entry holds the weight gather table: an int per weight
def _setup(x_shape, w_shape, stride, padding, dilation, out_size, groups, dtype, threads):
    """Everything about a call but its arrays: geometry, offsets, the weight gather and the task split (a dict)."""
    nb, chans, h, wd = x_shape
    _, og, kh, kw = w_shape
    (sh, sw), (ph, pw), (dh, dw), (ho, wo) = stride, padding, dilation, out_size
    dtype = np.dtype(dtype)
    lanes = simd.lanes(dtype)
    cg = chans // groups
    hg, wg = -(-ho // sh), -(-wo // sw)
    rows_p, cols_p = _phase_taps(kh, sh, ph, dh), _phase_taps(kw, sw, pw, dw)
    d = [o for _, offs in rows_p for o in offs] or [0]
    e = [o for _, offs in cols_p for o in offs] or [0]
    top, left = max(0, -min(d)), max(0, -min(e))
    hq, wq = hg + top + max(d), wg + left + max(e)
    offs = [(top + a) * wq + left + b for a in d for b in e]
    reach = max(offs) - min(offs)  # of a block's reads in one input channel, past the block's own positions

    def factor(tile):
        return L1_PENALTY if cg * (tile[1] * lanes + reach) * dtype.itemsize > L1_BLOCK_BYTES else 1

    tile = direct.choose_tile((hg - 1) * wq + wg, og, lanes, factor)
    blk = tile[1] * lanes
    in_place = top == left == 0 and hq <= h and wq <= wd and h * wd >= blk
    if in_place:
        hq, wq = h, wd
    plane_len = hq * wq
    mpos = (hg - 1) * wq + wg
    # per phase (py, px): reduction index k = (c, a, b) -> input offset, and weight w[g*cg + c, ol, u_a, v_b]
    xoff, index, kstart, wbase = [], [], [0], [0]
    o = np.arange(groups * og)
    for (us, ds) in rows_p:
        for (vs, es) in cols_p:
            u, v = np.array(us, np.int64), np.array(vs, np.int64)
            c = np.arange(cg)
            taps = ((top + np.array(ds, np.int64))[:, None] * wq + left + np.array(es, np.int64)[None, :]).reshape(-1)
            xoff.append((c[:, None] * plane_len + taps[None, :]).reshape(-1))
            tap_w = (u[:, None] * kw + v[None, :]).reshape(-1)  # within a (c, ol) kernel
            src_c = (o // og)[:, None] * cg + c[None, :]  # (O, cg)
            flat = ((src_c[:, :, None] * og + (o % og)[:, None, None]) * (kh * kw) + tap_w[None, None, :]).reshape(-1)
            index.append(flat)
            kstart.append(kstart[-1] + cg * len(tap_w))
            wbase.append(wbase[-1] + flat.shape[0])
    nblk = -(-mpos // blk)
    nu = groups * -(-og // tile[0])
    want = TASKS_PER_THREAD * threads
    units = nb * nblk
    tgsize = nu if units >= want else max(1, -(-nu * units // want))
    which = 0  # the module holds this tile alone
    tasks = nb * nblk * -(-nu // tgsize)
    chunks = -(-sum(len(i) for i in index) // GATHER_CHUNK)
    geo = (h, wd, hq, wq, left, plane_len, chans, groups, og, ho, wo, wg, mpos, sh, sw, nblk, tgsize, which,
           0 if in_place else nb * chans, GATHER_CHUNK, tasks, top)
    return dict(
        mod=kernel_module(dtype, tile, _put_kind(sh, sw)),
        geo=np.array(geo, np.int64),
        chunks=chunks,
        in_place=in_place,
        hq=hq,
        wq=wq,
        wg=wg,
        top=top,
        left=left,
        plane_len=plane_len,
        mpos=mpos,
        blk=blk,
        xoff=np.concatenate(xoff).astype(np.int64),
        index=np.concatenate(index).astype(np.int32 if kh * kw * og * chans < 2**31 else np.int64),  # half the bytes to read
        kstart=np.array(kstart, np.int64),
        wbase=np.array(wbase, np.int64),
    )


def conv_transpose2d_direct(x, w, bias, stride, padding, dilation, groups, out):
    """``out[:] = conv_transpose2d(x, w, bias, stride, padding, dilation=dilation, groups=groups)`` (torch's semantics).

    ``x`` (N, C, H, W) and ``w`` (C, O // groups, kh, kw) C-contiguous float32 / float64,
    ``bias`` (O,) or None, ``out`` a C-contiguous (N, O, Ho, Wo) array of x's dtype (its
    size carries ``output_padding``), which is returned; or None, with ``out`` untouched, where
    the input is padded and a weight is inf or NaN (torch sums only input x weight products;
    a padding zero times inf would add a NaN).  No validation.

    >>> x, w = np.ones((1, 1, 2, 2), np.float32), np.ones((1, 1, 2, 2), np.float32)
    >>> conv_transpose2d_direct(x, w, None, (2, 2), (0, 0), (1, 1), 1, np.empty((1, 1, 4, 4), np.float32))[0, 0, 0]
    array([1., 1., 1., 1.], dtype=float32)
    """
    nb, chans, h, wd = x.shape
    g = _setup(x.shape, w.shape, tuple(stride), tuple(padding), tuple(dilation), out.shape[2:], groups, x.dtype.str,
               threads())
    bias = direct._zeros(out.shape[1], x.dtype.str) if bias is None else bias
    index = g["index"]
    wp = workspace(index.shape[0], x.dtype, "weights")
    finite = np.empty(g["chunks"], np.bool_)
    xf = x.reshape(-1)
    if g["in_place"]:
        planes = xf
    else:
        planes = workspace(nb * chans * g["plane_len"] + g["blk"], x.dtype)
        planes[-g["blk"] :] = 0
    mod, geo = g["mod"], g["geo"]
    # units handed out one at a time: the threads balance, on a shared machine too
    parallel.run(mod.prepare_unit, int(geo[18]) + finite.shape[0], planes, xf, wp,
                 w.reshape(-1), index, finite, geo, chunk=1)
    if geo[18] and not finite.all():
        return None  # a padding zero times an inf or NaN weight would add a NaN that torch's sum doesn't have
    parallel.run(mod.run_transposed, int(geo[20]), planes, g["xoff"], g["kstart"], wp, g["wbase"], bias, out.reshape(-1),
                 geo, chunk=1)
    return out


@functools.lru_cache(maxsize=256)
def workspace_bytes(image_shape, w_shape, stride, padding, dilation, out_size, groups, itemsize) -> int:
    """Bytes of the padded planes one image of ``image_shape`` (C, H, W) is copied into (0: read in place)."""
    dtype = np.float32 if itemsize == 4 else np.float64
    g = _setup((1, *image_shape), w_shape, tuple(stride), tuple(padding), tuple(dilation), tuple(out_size), groups,
               np.dtype(dtype).str, 1)
    return 0 if g["in_place"] else image_shape[0] * g["plane_len"] * itemsize
