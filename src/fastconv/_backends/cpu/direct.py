"""Register-blocked direct convolution, NCHW in and out, on the explicit-SIMD layer (``simd.py``).

No weight packing and no layout conversion:

* **Flat phase planes.**  Each (image, input channel) plane is copied once,
  padded (through ``_padding.source_index`` tables) and split by stride phase,
  as ``common._fill_phases`` does: phase ``(p, q)`` holds padded rows
  ``p, p+sh, ...`` and columns ``q, q+sw, ...`` in a ``hq x wq`` block (only
  the phases some tap reads are kept).  Tap ``(u, v)`` then reads phase
  ``((u*dh) % sh, (v*dw) % sw)`` at flat offset
  ``((u*dh)//sh)*wq + (v*dw)//sw``, and output ``(oh, ow)`` is flat position
  ``oh*wq + ow``, so every tap of every output is a contiguous vector load,
  for any kernel size, stride, dilation and padding mode.  Positions
  ``ow >= wo`` of each flat row are computed and dropped.  A 1x1 stride-1
  convolution without padding reads the input planes in place.
* **Micro-kernel.**  ``OT`` output channels x ``PT`` vectors of positions in
  ``OT*PT`` register accumulators (generated source: one local per
  accumulator).  The reduction runs over ``k = c*kh*kw + t``, which is also
  the flat index of the weight in an OIHW row, so the weights are broadcast
  straight from the caller's array; ``xoff[k]`` is the input's offset.
  Bias and relu / relu6 are applied in registers (the other activations in a pass
  after).  A few tiles per target (``TILE_CHOICES``); ``choose_tile`` takes
  the one with the fewest FMAs, plus the copy into phase planes where a tile's blocks are too long to
  read the input in place, counting the lanes wasted on a plane's last
  block and on a group's last o-tile (a tile with fewer rows than ``OT``
  reads a valid weight row and stores only its own rows).
* **Blocking.**  A task is (image, a position block, a range of tiles
  u = (group, o-tile)), the tiles innermost, so a block's input is reused
  from L1 by all of them.  The reduction runs in chunks of ``kc`` (sized so
  that a chunk's input of one block stays in L1); partial sums go through
  the destination: the output itself where flat positions are output
  positions (``wq == wo``), else a scratch copied to the output rows at once
  (with one chunk) or at the end.  The last block of a plane is shifted back
  to end at the last position (no overrun), and tiny planes read into zeroed
  slack.
* **Parallel.**  ``parallel.run`` over the (plane, phase) units of the fill
  (``fill_unit``), then over the tasks (``run_task``), handed out one at a
  time (``chunk=1``).  The other activations run in a loop of their own
  (``activate_unit``), compiled only by the calls that use them.

The kernels are generated per (dtype, lanes, tile), so that a call compiles
only the micro-kernel it runs, into a file named with the hash of ``simd.py``
and of this file, so ``cache=True`` never loads a kernel compiled against
other intrinsics.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numba
import numpy as np

from ..._calls import ACTIVATIONS, conv_out_size
from ..._padding import source_index
from . import generated, parallel, simd
from .common import SOURCE_HASH, threads, workspace

GEN_HASH = hashlib.sha256(
    Path(simd.__file__).read_bytes() + Path(__file__).read_bytes() + SOURCE_HASH.encode()
).hexdigest()[:12]

# Tiles (output channels, position vectors) per vector width: the accumulators, and the PT input
# vectors or the OT weight broadcasts, fit the register file (32 zmm / 16 ymm).  The first is the
# default; choose_tile takes another where it wastes fewer lanes (small planes, few channels), or where its
# shorter blocks read a 1 x 1 layer's small planes in place, with no copy (MobileNet's 7 x 7 and 14 x 14 layers).
# The AVX-512 default follows the CPU family of numba's target: on Zen 4, 4 x 6; on Intel's cores (every other
# target) 8 x 3, whose hot loop ran 1.03-1.09x faster than 4 x 6 on ResNet-18's 3 x 3 layers and the stem
# (benchmarks/tile_ab.py), but 0.8x on an output-bound layer (MobileNetV2's 16 -> 96 at 112^2: a reduction of 16).
TILE_FAMILY = "zen" if simd.target_name().startswith("znver") else "intel"
TILE_CHOICES = {
    512: {"zen": ((4, 6), (6, 4), (10, 2)), "intel": ((8, 3), (4, 6), (6, 4), (10, 2))}[TILE_FAMILY],
    256: ((2, 6), (3, 4)),
}
TILES = {bits: choices[0] for bits, choices in TILE_CHOICES.items()}
TILE_PENALTY = (
    1.05  # measured speed of the other tiles against the default's, hot in L1
)
# below a reduction of SHALLOW_K per output (output-bound) the default's role goes to SHALLOW_TILE, where the family
# has one: fewer rows, fewer output streams (Intel: 4 x 6 ran 16 -> 96 at 112^2 1.11x faster than 6 x 4, 1.25x than 8 x 3)
SHALLOW_K, SHALLOW_TILE = 64, {"zen": None, "intel": (4, 6)}[TILE_FAMILY]
L1_INPUT_BYTES = 24 << 10  # a position block's input, per tap, in one reduction chunk
TASKS_PER_THREAD = 4
FILL_CHUNK_ELEMENTS = 4096  # a phase plane smaller than this is filled in chunks of units of about this many elements
# the fill's cost in vector FMAs (one a cycle), per row and per element, measured on one thread (Zen 4: 960 planes of
# 7 x 7, 67 us; 64 of 58 x 58, 58 us): what choose_tile adds for a tile whose blocks are too long to read in place
FILL_ROW_FMAS, FILL_ELEMENT_FMAS = 30, 0.5


def supported(dtype) -> bool:
    """Whether the SIMD path exists for ``dtype`` on numba's target."""
    return simd.supported(dtype)


# --- source generation ---------------------------------------------------------------

_HEADER = '''"""Generated by fastconv._backends.cpu.direct (simd {shash}, generator {ghash}); do not edit."""
import numpy as np
from numba import njit
from fastconv._backends.cpu.simd import sload, vbias_act, vbload, vfma, vload, vload_even, vload_even_masked, vload_masked, vload_or_zero, vsplat, vstore, vstore_masked
from fastconv._backends.cpu.common import FASTMATH as FM, _activate, alive, borrowed, empty, native

N = {n}
OTS = {ots}  # the tiles (output channels, position vectors) of uk0, uk1, ...
PTS = {pts}
DTYPE = np.{dtype}
TAB = {tab}
'''


TAB = 6  # a micro-kernel call's table row per tile: input offset, weight offset, rows, dst offset, dst row stride, bias offset


def _microkernel(ot: int, pt: int, n: int, name: str = "uk") -> str:
    acc = [[f"a{i}_{j}" for j in range(pt)] for i in range(ot)]
    L = [
        "@native(fastmath=FM, boundscheck=False, cache=True, nogil=True, inline='never')",
        f"def {name}(P, xoff, k0, k1, w, wstride, dst, accum, fin, bias, act, tab, t0, t1):",
        f'    """For each tile t0 <= t < t1, with (pb, wb, no, db, dstride, ob) = tab[{TAB}*t : {TAB}*t + {TAB}]:',
        f'    dst[db + i*dstride + p] (+)= sum_k w[wb + i*wstride + k] * P[pb + xoff[k] + p], i < no (<= {ot}), p < {pt * n}.',
        '    One call for all the tiles of a block: a call passes five arrays, and its calls of the runtime spill the accumulators."""',
        "    for t in range(t0, t1):",
        f"        r = {TAB} * t",
        "        pb = sload(tab, r); wb = sload(tab, r + 1); no = sload(tab, r + 2)",
        "        db = sload(tab, r + 3); dstride = sload(tab, r + 4); ob = sload(tab, r + 5)",
    ]
    ind8 = "        "
    for i in range(ot):
        L.append(f"{ind8}w{i} = wb + {f'min({i}, no - 1)' if i else '0'} * wstride")
    L.append(f"{ind8}l0 = accum")  # the rows past no are not dst's: they start at zero, read nothing
    for i in range(1, ot):
        L.append(f"{ind8}l{i} = accum and no > {i}")
    for i in range(ot):
        L.append(ind8 + "; ".join(f"{acc[i][j]} = vload_or_zero(dst, db + {i} * dstride + {j * n}, l{i})" for j in range(pt)))
    L.append(f"{ind8}for k in range(k0, k1):")
    L.append(f"{ind8}    xo = pb + sload(xoff, k)")
    if pt <= ot:  # the PT input vectors in registers, one weight broadcast at a time: OT*PT + PT + 1 registers
        L.append(f"{ind8}    " + "; ".join(f"x{j} = vload(P, xo + {j * n})" for j in range(pt)))
        for i in range(ot):
            L.append(f"{ind8}    b = vbload(w, w{i} + k)")
            L.append(f"{ind8}    " + "; ".join(f"{acc[i][j]} = vfma(x{j}, b, {acc[i][j]})" for j in range(pt)))
    else:  # the OT weight broadcasts in registers, one input vector at a time: OT*PT + OT + 1 registers
        L.append(f"{ind8}    " + "; ".join(f"b{i} = vbload(w, w{i} + k)" for i in range(ot)))
        for j in range(pt):
            L.append(f"{ind8}    x = vload(P, xo + {j * n})")
            L.append(f"{ind8}    " + "; ".join(f"{acc[i][j]} = vfma(x, b{i}, {acc[i][j]})" for i in range(ot)))
    L.append(f"{ind8}if fin:")  # bias, then relu / relu6 (act 1, 2), in registers
    for i in range(ot):
        L.append(f"{ind8}    b = vsplat(P, bias[ob + {f'min({i}, no - 1)' if i else '0'}])")
        L.append(f"{ind8}    " + "; ".join(f"{acc[i][j]} = vbias_act({acc[i][j]}, b, act)" for j in range(pt)))
    for i in range(ot):
        ind = ind8
        if i:
            L.append(f"{ind8}if no > {i}:")
            ind = ind8 + "    "
        L.append(ind + "; ".join(f"vstore(dst, db + {i} * dstride + {j * n}, {acc[i][j]})" for j in range(pt)))
    return "\n".join(L) + "\n"


_PLANES = '''

@njit(fastmath=FM, boundscheck=False, nogil=True, inline="always")  # into fill_unit, its one caller
def fill_phase(P, x, nc, s, h, wd, rows, cols, slots, hq, wq, plane_len, left, fill_value):
    """Phase slot s of plane nc of x into P."""
    p, q, sh, sw = slots[s, 0], slots[s, 1], slots[s, 2], slots[s, 3]
    # columns q + j*sw - left inside [0, wd) read themselves; the others go through the table
    jlo = min(wq, max(0, (left - q + sw - 1) // sw))
    jhi = min(wq, max(jlo, (left + wd - q + sw - 1) // sw))
    off = q - left
    base = nc * plane_len + s * hq * wq
    for i in range(hq):
        dst = base + i * wq
        row = p + i * sh
        src_row = rows[row] if row < rows.shape[0] else -1
        if src_row < 0:
            for j in range(wq):
                P[dst + j] = fill_value
            continue
        src = (nc * h + src_row) * wd
        for j in range(jlo):
            col = q + j * sw
            k = cols[col] if col < cols.shape[0] else -1
            P[dst + j] = x[src + k] if k >= 0 else fill_value
        src_in = src + off
        j = jlo
        if sw == 1:
            while j + N <= jhi:
                vstore(P, dst + j, vload(x, src_in + j))
                j += N
            if j < jhi:
                vstore_masked(P, dst + j, vload_masked(x, src_in + j, jhi - j), jhi - j)
                j = jhi
        elif sw == 2:
            while j + N < jhi:
                vstore(P, dst + j, vload_even(x, src_in + 2 * j))
                j += N
            if j < jhi:
                vstore_masked(P, dst + j, vload_even_masked(x, src_in + 2 * j, jhi - j), jhi - j)
                j = jhi
        for j in range(j, jhi):
            P[dst + j] = x[src_in + j * sw]
        for j in range(jhi, wq):
            col = q + j * sw
            k = cols[col] if col < cols.shape[0] else -1
            P[dst + j] = x[src + k] if k >= 0 else fill_value


@native(cache=True, nogil=True, inline="never")
def activate_plane(out, r, m, act):
    """silu, gelu, hardswish, hardsigmoid (codes 3-6) of out[r*m : (r+1)*m], as ``common._activate``."""
    _activate(out[r * m : (r + 1) * m], act)
'''

_DRIVER = '''

@native(fastmath=FM, boundscheck=False, cache=True, nogil=True, inline="never")
def copy_out(out, dst, scratch, src, p, end, wq, wo):
    """out[dst + oh*wo + ow] = scratch[src + q] for the flat positions p <= q = oh*wq + ow < end with ow < wo."""
    oh = p // wq
    ow = p - oh * wq
    q = p
    d = dst + oh * wo - oh * wq  # out index of flat position q, in row oh: d + q
    while q < end:
        if ow < wo:
            e = min(end, q + wo - ow)
            j = q
            while j + N <= e:
                vstore(out, d + j, vload(scratch, src + j))
                j += N
            if j < e:
                vstore_masked(out, d + j, vload(scratch, src + j), e - j)
        q += wq - ow
        ow = 0
        d -= wq - wo


@native(fastmath=FM, boundscheck=False, cache=True, nogil=True)
def fill_unit(unit, P, x, ns, h, wd, rows, cols, slots, hq, wq, plane_len, left, fill_value):
    """Work unit ``unit`` = (plane, phase slot) of the phase planes of x into P (a task of ``parallel.run``)."""
    fill_phase(P, x, unit // ns, unit % ns, h, wd, rows, cols, slots, hq, wq, plane_len, left, fill_value)


@native(cache=True, nogil=True)
def activate_unit(r, out, m, act):
    """silu, gelu, hardswish, hardsigmoid (act 3-6) of plane r of ``m`` values of out: apart, so that the other calls do not compile it."""
    activate_plane(out, r, m, act)


@njit(boundscheck=False, cache=True, nogil=True, inline="always")
def tile_at(u, nt, og, ot, n, chans, cg, plane_len, origin):
    """Tile u = (group, o-tile) of image n: its first output channel, its rows (<= ot), and its input's offset in P."""
    g = u // nt
    t = u - g * nt
    return g * og + t * ot, min(ot, og - t * ot), (n * chans + g * cg) * plane_len + origin


@native(fastmath=FM, boundscheck=False, cache=True, nogil=True)
def run_task(unit, P, plane_len, chans, xoff, kc, w, bias, act, out, groups, og, ho, wo, wq, mpos, bgsize, tgsize, which):
    """Task ``unit`` = (image n, group bg of bgsize position blocks, range tg of tgsize tiles): tiles
    u = (group, o-tile) are numbered across the groups, and in a task the tiles are the innermost loop,
    so a block's input is reused from L1 by all of them.  The micro-kernels get borrowed views: a call
    per tile would otherwise count references to five arrays, atomically."""
    P, xoff, w, bias, out = borrowed(P), borrowed(xoff), borrowed(w), borrowed(bias), borrowed(out)
    K = xoff.shape[0]
    OT, BLK = OTS[which], N * PTS[which]
    cg = chans // groups
    O = groups * og
    hwo = ho * wo
    nt = (og + OT - 1) // OT
    nu = groups * nt
    nblk = (mpos + BLK - 1) // BLK
    ntg = (nu + tgsize - 1) // tgsize
    nbg = (nblk + bgsize - 1) // bgsize
    n, bg, tg = unit // ntg // nbg, unit // ntg % nbg, unit % ntg
    direct = wq == wo
    shift = mpos >= BLK
    sstride = bgsize * BLK
    u0 = tg * tgsize
    u1 = min(nu, u0 + tgsize)
    b0 = bg * bgsize
    b1 = min(nblk, b0 + bgsize)
    # partial sums of the positions that don't go straight to out: with one reduction chunk, a block's
    # worth, copied to out at once (hot in L1); with several, all of the task's
    single = kc >= K
    rows = BLK if single else sstride
    scratch_mem = empty((u1 - u0) * OT * rows + N, DTYPE)  # + N: copy_out's last load
    scratch = borrowed(scratch_mem)
    tab_mem = empty(TAB * (u1 - u0), np.int64)
    tab = borrowed(tab_mem)
    for k0 in range(0, K, kc):
        k1 = min(K, k0 + kc)
        for b in range(b0, b1):
            p = b * BLK
            end = min(p + BLK, mpos)
            origin = p
            to_out = direct and p + BLK <= hwo
            if shift and p + BLK > mpos:
                origin = mpos - BLK
                to_out = False
            for u in range(u0, u1):
                o0, no, pb = tile_at(u, nt, og, OT, n, chans, cg, plane_len, origin)
                r = TAB * (u - u0)
                tab[r] = pb
                tab[r + 1] = o0 * K
                tab[r + 2] = no
                tab[r + 3] = (n * O + o0) * hwo + p if to_out else (u - u0) * OT * rows + (0 if single else (b - b0) * BLK)
                tab[r + 4] = hwo if to_out else rows
                tab[r + 5] = o0
            dst = out if to_out else scratch
__UK_CALLS__            if to_out or k1 < K:
                continue
            for u in range(u0, u1):
                r = TAB * (u - u0)
                o0, no, at = tab[r + 5], tab[r + 2], tab[r + 3]
                for i in range(no):
                    copy_out(out, (n * O + o0 + i) * hwo, scratch, at + i * rows - origin, p, end, wq, wo)
    alive(scratch_mem)
    alive(tab_mem)
'''


_UK_CALL = "uk{i}(P, xoff, k0, k1, w, K, dst, k0 > 0, k1 == K, bias, act, tab, 0, u1 - u0)"


def _uk_calls(count: int) -> str:
    """run_task's call of micro-kernel ``which``: a module compiles every micro-kernel it calls, so one tile, one call."""
    if count == 1:
        return " " * 12 + _UK_CALL.format(i=0) + "\n"
    branches = [f"{'if' if i == 0 else 'elif'} which == {i}:" for i in range(count - 1)] + ["else:"]
    return "".join(f"{' ' * 12}{b}\n{' ' * 16}{_UK_CALL.format(i=i)}\n" for i, b in enumerate(branches))


def _source(dtype: str, n: int, tiles) -> str:
    head = (
        _HEADER.format(
            shash=simd.SOURCE_HASH,
            ghash=GEN_HASH,
            n=n,
            ots=tuple(t[0] for t in tiles),
            pts=tuple(t[1] for t in tiles),
            dtype=dtype,
            tab=TAB,
        )
        + "\n"
    )
    uks = "\n\n".join(
        _microkernel(ot, pt, n, f"uk{i}") for i, (ot, pt) in enumerate(tiles)
    )
    return head + "\n" + uks + _PLANES + _DRIVER.replace("__UK_CALLS__", _uk_calls(len(tiles)))


def kernel_module(dtype, n: int | None = None, tiles=None):
    """The generated module of kernels for ``dtype`` and ``n`` lanes, with a micro-kernel ``uk{i}`` per tile of
    ``tiles`` ((OT, PT) pairs; default: the target's TILE_CHOICES), and ``tile_index(tile)``."""
    dtype = np.dtype(dtype).name
    n = n or simd.lanes(dtype)
    tiles = tuple(tuple(t) for t in (tiles or TILE_CHOICES[simd.VECTOR_BITS]))
    tag = "_".join(f"o{ot}p{pt}" for ot, pt in tiles)
    mod = generated.load(f"_direct_{simd.SOURCE_HASH}_{GEN_HASH}_{dtype}_n{n}_{tag}", lambda: _source(dtype, n, tiles))
    mod.TILES = tiles
    return mod


def module_for(dtype, tile):
    """(module, index of ``tile`` in it): the module of ``tile`` alone, so that a call compiles only the micro-kernel it runs."""
    return kernel_module(dtype, None, (tuple(tile),)), 0


def microkernel_signature(dtype):
    """The numba signature ``run_task`` calls ``uk`` with (for ``uk.compile`` / ``uk.inspect_asm``)."""
    from numba import types

    arr = types.Array(numba.from_dtype(np.dtype(dtype)), 1, "C")
    i, b, iarr = types.int64, types.boolean, types.Array(types.int64, 1, "C")
    return (arr, iarr, i, i, arr, i, arr, b, b, arr, i, iarr, i, i)


def microkernel_asm(dtype, tile=None) -> str:
    """The assembly of the micro-kernel for ``dtype`` (compiled afresh: numba can't inspect cached code)."""
    mod, i = module_for(dtype, tile or TILES[simd.VECTOR_BITS])
    fresh = numba.njit(
        fastmath=mod.FM, boundscheck=False, nogil=True, inline="never", cache=False
    )(getattr(mod, f"uk{i}").py_func)
    sig = microkernel_signature(dtype)
    fresh.compile(sig)
    return fresh.inspect_asm(sig)


# --- the entry point ---------------------------------------------------------------


def choose_tile(mpos: int, og: int, lanes: int, factor=None, fill=None, k: int = 1, depth: int = SHALLOW_K) -> tuple[int, int]:
    """The tile of TILE_CHOICES with the fewest FMAs for ``mpos`` flat positions and ``og`` outputs per group, each
    tile's count times ``factor(tile)`` where given (a caller's own measured slow-down); with ``fill``, the count per
    reduction step times ``k`` (the steps) plus ``fill(tile)``, the cost in FMAs of the copy the tile needs.
    ``depth`` is the reduction's length per output (below SHALLOW_K, SHALLOW_TILE is the default where there is one)."""
    choices = TILE_CHOICES[simd.VECTOR_BITS]
    default = SHALLOW_TILE if depth < SHALLOW_K and SHALLOW_TILE in choices else choices[0]

    def cost(tile):
        ot, pt = tile
        fmas = (
            -(-mpos // (pt * lanes))
            * pt
            * -(-og // ot)
            * ot
            * (1 if tile == default else TILE_PENALTY)
            * (factor(tile) if factor else 1)
        )
        return fmas * k + (fill(tile) if fill else 0)

    return min(choices, key=cost)


def plan(x_shape, w_shape, stride, pads, dilation, boundary, itemsize, tile):
    """The geometry of one call: phase slots, plane sizes, reduction offsets (a dict)."""
    _, _, h, wd = x_shape
    _, cg, kh, kw = w_shape
    (sh, sw), (dh, dw) = stride, dilation
    top, bottom, left, right = pads
    ho, wo = conv_out_size(h, kh, top + bottom, sh, dh), conv_out_size(wd, kw, left + right, sw, dw)
    pt = tile[1]
    blk = pt * (simd.VECTOR_BITS // (8 * itemsize))
    u, v = np.divmod(np.arange(kh * kw), kw)
    pu, pv = (u * dh) % sh, (v * dw) % sw
    phase = pu * sw + pv
    used = sorted(set(phase.tolist()))
    in_place = kh == kw == 1 and sh == sw == 1 and not any(pads) and h * wd >= blk
    if in_place:
        hq, wq = h, wd
    else:
        hq, wq = ho + (kh - 1) * dh // sh, wo + (kw - 1) * dw // sw
    plane_len = len(used) * hq * wq
    slot = np.array([used.index(p) for p in phase.tolist()])
    taps = slot * hq * wq + ((u * dh) // sh) * wq + (v * dw) // sw
    xoff = (
        (np.arange(cg)[:, None] * plane_len + taps[None, :])
        .reshape(-1)
        .astype(np.int64)
    )
    slots = np.array([[p // sw, p % sw, sh, sw] for p in used], np.int64)
    within = ((u * dh) // sh) * wq + (v * dw) // sw
    span = sum(
        blk + int(within[slot == i].max()) for i in range(len(used))
    )  # a block's input of one channel
    return dict(
        span=span,
        ho=ho,
        wo=wo,
        hq=hq,
        wq=wq,
        plane_len=plane_len,
        slots=slots,
        xoff=xoff,
        in_place=in_place,
        blk=blk,
        mpos=(ho - 1) * wq + wo,
    )


@functools.lru_cache(maxsize=256)
def _setup(
    x_shape,
    w_shape,
    stride,
    pads,
    dilation,
    boundary,
    dtype,
    tile,
    kc,
    bgsize,
    tgsize,
    threads,
):
    """Everything about a call but its arrays (cached: a call's Python overhead is a few microseconds)."""
    nb, chans, h, wd = x_shape
    o, cg, kh, kw = w_shape
    dtype = np.dtype(dtype)
    groups = chans // cg
    og = o // groups
    if tile is None:
        g = plan(
            x_shape,
            w_shape,
            stride,
            pads,
            dilation,
            boundary,
            dtype.itemsize,
            TILES[simd.VECTOR_BITS],
        )

        def fill(t):
            p = plan(x_shape, w_shape, stride, pads, dilation, boundary, dtype.itemsize, t)
            rows = p["slots"].shape[0] * p["hq"]
            return 0 if p["in_place"] else nb * chans * (rows * FILL_ROW_FMAS + p["plane_len"] * FILL_ELEMENT_FMAS)

        tile = choose_tile(g["mpos"], og, simd.lanes(dtype), fill=fill, k=groups * g["xoff"].shape[0] * nb, depth=g["xoff"].shape[0])
    g = plan(x_shape, w_shape, stride, pads, dilation, boundary, dtype.itemsize, tile)
    g["mod"], g["which"] = module_for(dtype, tile)
    g["tile"] = tile
    g["groups"], g["og"] = chans // cg, o // (chans // cg)
    top, bottom, left, right = pads
    g["rows"] = source_index(h, top, h + top + bottom, boundary)
    g["cols"] = source_index(wd, left, wd + left + right, boundary)
    K, blk = g["xoff"].shape[0], g["blk"]
    if kc is None:
        # chunk the channels so that a block's input stays in L1 while the task's o-tiles pass over it;
        # taps that reuse a channel's lines (kh*kw > 1) bring fewer new lines per step, and stand more
        span = g["span"] * dtype.itemsize
        kc = max(1, (L1_INPUT_BYTES * kh * kw) // span) * kh * kw
    g["kc"] = min(kc, K)
    nblk = -(-g["mpos"] // blk)
    nu = groups * -(-og // tile[0])  # (group, o-tile) pairs
    if bgsize is None:
        bgsize = 1
    # all tiles of the image in a task, unless that leaves too few tasks: then the tiles in groups of one size
    want = TASKS_PER_THREAD * threads
    units = nb * -(-nblk // bgsize)
    if tgsize is None:
        tgsize = nu if units >= want else -(-nu // -(-want // units))
    g["tgsize"] = tgsize
    # fill units handed out one at a time, but small planes by the chunk: each unit handed out costs about 80 ns
    # (960 planes of 7 x 7 on one thread: 143 us one at a time, 67 us by 83)
    g["fill_chunk"] = max(1, FILL_CHUNK_ELEMENTS // (g["hq"] * g["wq"]))
    g["tasks"] = nb * -(-nblk // bgsize) * -(-nu // tgsize)
    g["bgsize"] = bgsize
    return g


@functools.lru_cache(maxsize=64)
def _zeros(n, dtype):
    return np.zeros(n, dtype)


@functools.lru_cache(maxsize=256)
def workspace_bytes(image_shape, w_shape, stride, pads, dilation, itemsize) -> int:
    """Bytes of the flat phase planes one image of ``image_shape`` (C, H, W) is copied into (0: read in place)."""
    g = plan((1, *image_shape), w_shape, stride, pads, dilation, None, itemsize, TILES[simd.VECTOR_BITS])
    return 0 if g["in_place"] else image_shape[0] * g["plane_len"] * itemsize


def conv2d_direct(
    x,
    w,
    bias,
    stride,
    pads,
    dilation,
    boundary,
    activation,
    out,
    tile=None,
    kc=None,
    bgsize=None,
    tgsize=None,
):
    """``out[:] = conv2d(pad(x, pads, boundary), w, bias, stride, dilation, groups = C // w.shape[1])`` + activation.

    ``x`` (N, C, H, W) and ``w`` (O, C//groups, kh, kw) C-contiguous float32 / float64,
    ``bias`` (O,) or None, ``stride`` and ``dilation`` pairs, ``pads`` (top, bottom, left,
    right), ``boundary`` one of "constant" (zeros), "reflect", "edge", "wrap", "symmetric",
    ``activation`` a code (an index of ``_calls.ACTIVATIONS``) or its name, ``out``
    a C-contiguous (N, O, Ho, Wo) array of x's dtype, which is returned.  No validation.
    ``tile``, ``kc``, ``bgsize`` and ``tgsize`` override the tuning (tests, benchmarks).
    """
    act = (
        activation
        if isinstance(activation, (int, np.integer))
        else ACTIVATIONS.index(activation)
    )
    g = _setup(
        x.shape,
        w.shape,
        tuple(stride),
        tuple(pads),
        tuple(dilation),
        boundary,
        x.dtype.str,
        tile,
        kc,
        bgsize,
        tgsize,
        threads(),
    )
    mod, plane_len = g["mod"], g["plane_len"]
    nb, chans, h, wd = x.shape
    xf = x.reshape(-1)
    zero = x.dtype.type(0)
    bias = _zeros(w.shape[0], x.dtype.str) if bias is None else bias
    flat = out.reshape(-1)
    wf = w.reshape(-1)
    if g["in_place"]:
        planes = xf
    else:
        blk = g["blk"]
        planes = workspace(nb * chans * plane_len + blk, x.dtype)
        planes[-blk:] = 0
        ns = g["slots"].shape[0]
        parallel.run(mod.fill_unit, nb * chans * ns, planes, xf, ns, h, wd, g["rows"], g["cols"], g["slots"],
                     g["hq"], g["wq"], plane_len, pads[2], zero, chunk=g["fill_chunk"])
    # units handed out one at a time: the threads balance, on a shared machine too
    parallel.run(mod.run_task, g["tasks"], planes, plane_len, chans, g["xoff"], g["kc"], wf, bias, act, flat,
                 g["groups"], g["og"], g["ho"], g["wo"], g["wq"], g["mpos"], g["bgsize"], g["tgsize"], g["which"], chunk=1)
    if act >= 3:
        parallel.run(mod.activate_unit, nb * w.shape[0], flat, g["ho"] * g["wo"], act)
    return out
