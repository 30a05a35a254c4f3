"""The cuda backend's convolutions: ``conv2d`` and ``conv_transpose2d``.

``conv2d`` (and ``correlate_planes``, in ``planes``) share one tiled,
register-blocked kernel: a block of ``CONV_BLOCK`` threads stages,
``CHANNEL_STAGE`` input channels per barrier, the input patch under its
output tile and the weights of its output channels in shared memory; each
thread accumulates in registers ``CONV_ROWS`` output rows times
``OC_BLOCK`` output channels (dense and grouped) or one channel (depthwise,
filter2d), so each weight read (a broadcast) and each patch read feed
several FMAs.  Launch bounds keep float32 within 128 registers (2 blocks of
256 threads per SM).  Padding is read through ``_padding.source_index``
tables, so no padded copy is made.  Patches larger than ``SHARED_BYTES`` use
a direct kernel that reads global memory.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, uint64
from numba.np import numpy_support

from ..._calls import ConvCall, ConvTransposeCall, conv_out_size
from ..._padding import SKIP
from . import common
from .common import SIMULATED, _device_call, _device_id, _flat_launch, _index_table, _jit, _on_device, _result, _store, _stream, _zeros


def _conv_tiled_source(dtype, bx: int, by: int, rh: int, ocb: int):
    """The tiled conv kernel for one dtype, thread block (bx, by), ``rh`` rows and ``ocb`` channels per thread.

    Block ``(blockIdx.x, blockIdx.y)`` computes output channels ``o0 ..
    o0 + ocb`` of image ``n`` (both from ``blockIdx.x // tiles``) on a
    ``bx`` x ``by * rh`` output tile.  Per ``stage`` input channels, shared
    memory holds their patches under the tile, then their weights, the
    ``ocb`` of a tap side by side (zero past the group's last output channel,
    so the inner loop has no test).  Indices (all >= 0) are cast to unsigned,
    which spares numba's negative-index wraparound: fewer registers, and the
    inner loop's shared addresses become a base plus constant offsets.
    """
    dtype = np.dtype(dtype) if SIMULATED else numpy_support.from_dtype(dtype)
    tile = rh * ocb

    def conv_tiled(x, w, bias, rows, cols, sh, sw, dh, dw, groups, fill, act, stage, out):
        shared = cuda.shared.array(0, dtype)
        acc = cuda.local.array(tile, dtype)  # acc[k * ocb + j]: row oh0 + ty + k * by, channel o0 + j
        weight = cuda.local.array(ocb, dtype)
        n_out, cg, kh, kw = w.shape
        ho, wo = out.shape[2], out.shape[3]
        hp, wp = rows.shape[0], cols.shape[0]
        og = n_out // groups
        chunks = (og + ocb - 1) // ocb
        ph, pw = (by * rh - 1) * sh + (kh - 1) * dh + 1, (bx - 1) * sw + (kw - 1) * dw + 1
        taps = kh * kw
        weights = stage * ph * pw  # shared[weights + ((c * kh + u) * kw + v) * ocb + j] = w[o0 + j, ci + c, u, v]
        tiles = (wo + bx - 1) // bx
        z = cuda.blockIdx.x // tiles
        n, g = z // (groups * chunks), (z // chunks) % groups
        o0 = g * og + (z % chunks) * ocb
        count = min(ocb, (g + 1) * og - o0)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid, threads = ty * bx + tx, bx * by
        oh0, ow = cuda.blockIdx.y * by * rh, (cuda.blockIdx.x % tiles) * bx + tx
        r0, c0 = oh0 * sh, (ow - tx) * sw
        # The loaders walk the patch row-major, tid + m * threads, with no division in the loop.
        row0, col0, drow, dcol = tid // pw, tid % pw, threads // pw, threads % pw
        for i in range(tile):
            acc[i] = 0
        for ci in range(0, cg, stage):
            cs = min(stage, cg - ci)
            cuda.syncthreads()
            for c in range(cs):
                row, col = row0, col0
                for i in range(tid, ph * pw, threads):
                    val = fill
                    if r0 + row < hp and c0 + col < wp:
                        r, s = rows[r0 + row], cols[c0 + col]
                        if r >= 0 and s >= 0:
                            val = x[uint64(n), uint64(g * cg + ci + c), uint64(r), uint64(s)]
                    shared[uint64(c * ph * pw + i)] = val
                    row, col = row + drow, col + dcol
                    if col >= pw:
                        row, col = row + 1, col - pw
            for i in range(tid, cs * taps, threads):
                c, u, v = i // taps, (i % taps) // kw, i % kw
                for j in range(ocb):
                    val = 0
                    if j < count:
                        val = w[uint64(o0 + j), uint64(ci + c), uint64(u), uint64(v)]
                    shared[uint64(weights + i * ocb + j)] = val
            cuda.syncthreads()
            for c in range(cs):
                for u in range(kh):
                    base = (c * ph + ty * sh + u * dh) * pw + tx * sw
                    for v in range(kw):
                        tap = weights + (c * taps + u * kw + v) * ocb
                        for j in range(ocb):
                            weight[j] = shared[uint64(tap + j)]
                        for k in range(rh):
                            val = shared[uint64(base + k * by * sh * pw + v * dw)]
                            for j in range(ocb):
                                acc[k * ocb + j] += weight[j] * val
        for k in range(rh):
            oh = oh0 + ty + k * by
            if oh < ho and ow < wo:
                for j in range(ocb):
                    if j < count:
                        out[n, o0 + j, oh, ow] = acc[k * ocb + j] + bias[o0 + j]
        if act != 0:  # a second pass, so that the stores above index acc by constants only
            for k in range(rh):
                oh = oh0 + ty + k * by
                if oh < ho and ow < wo:
                    for j in range(count):
                        _store(out, n, o0 + j, oh, ow, out[n, o0 + j, oh, ow], act)

    return conv_tiled


def _conv_direct(x, w, bias, rows, cols, sh, sw, dh, dw, groups, fill, act, zero, out):
    n_out, cg, kh, kw = w.shape
    ho, wo = out.shape[2], out.shape[3]
    og = n_out // groups
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        ow, oh = idx % wo, (idx // wo) % ho
        o, n = (idx // (wo * ho)) % n_out, idx // (wo * ho * n_out)
        ci0 = (o // og) * cg
        acc = zero
        for c in range(cg):
            for u in range(kh):
                r = rows[oh * sh + u * dh]
                for v in range(kw):
                    col = cols[ow * sw + v * dw]
                    if r >= 0 and col >= 0:
                        acc += w[o, c, u, v] * x[n, ci0 + c, r, col]
                    elif r != SKIP and col != SKIP:
                        acc += w[o, c, u, v] * fill
        _store(out, n, o, oh, ow, acc + bias[o], act)


def _conv_transpose(x, w, bias, sh, sw, ph, pw, dh, dw, groups, zero, out):
    """One thread per output: gather every (input, tap) pair with ``o = i * stride - pad + k * dilation``."""
    cin, h, wd = x.shape[1], x.shape[2], x.shape[3]
    cog, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    n_out, ho, wo = out.shape[1], out.shape[2], out.shape[3]
    cig = cin // groups
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        ow, oh = idx % wo, (idx // wo) % ho
        o, n = (idx // (wo * ho)) % n_out, idx // (wo * ho * n_out)
        g, ol = o // cog, o % cog
        acc = zero
        for u in range(kh):
            t = oh + ph - u * dh
            if t >= 0 and t % sh == 0 and t // sh < h:
                for v in range(kw):
                    s = ow + pw - v * dw
                    if s >= 0 and s % sw == 0 and s // sw < wd:
                        for c in range(g * cig, (g + 1) * cig):
                            acc += w[c, ol, u, v] * x[n, c, t // sh, s // sw]
        out[n, o, oh, ow] = acc + bias[o]


def _conv_tiled_bounds(dtype: np.dtype, bx: int, by: int, rh: int, ocb: int) -> dict:
    """``cuda.jit`` options of the tiled kernel: launch bounds that keep 2 blocks per SM (128 registers).

    A register tile over 32 words (8-byte dense) needs more: 1 block.
    """
    return dict(launch_bounds=(bx * by, 2 if rh * ocb * np.dtype(dtype).itemsize <= 128 else 1))


@functools.cache
def _conv_tiled(dtype: np.dtype, bx: int, by: int, rh: int, ocb: int):
    options = {} if SIMULATED else _conv_tiled_bounds(dtype, bx, by, rh, ocb)
    return cuda.jit(**options)(_conv_tiled_source(dtype, bx, by, rh, ocb))


def _conv(x, w, bias, pads, boundary, stride, dilation, groups, fill, call, act: int = 0) -> object:
    """Run the tiled (or direct) conv kernel on (N, C, H, W) ``x`` and (O, C/g, kH, kW) ``w``.

    The tiled kernel stages a padded patch in shared memory, where no value
    can stand for "overlap"'s missing terms; that mode runs direct.
    """
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    top, bottom, left, right = pads
    (sh, sw), (dh, dw) = stride, dilation
    hp, wp = h + top + bottom, wd + left + right
    ho, wo = conv_out_size(h, kh, top + bottom, sh, dh), conv_out_size(wd, kw, left + right, sw, dw)
    dtype = x.dtype
    stream = _stream(call)
    on_device = _device_call(call)
    out = cuda.device_array((n, o, ho, wo), dtype, stream=stream)
    if out.size:
        gpu = _device_id()
        rows, cols = _index_table(h, top, hp, boundary, gpu), _index_table(wd, left, wp, boundary, gpu)
        bias = _zeros(o, dtype, gpu) if bias is None else _on_device(bias, stream)
        args = (_on_device(x, stream), _on_device(w, stream), bias, rows, cols, sh, sw, dh, dw, groups, dtype.type(fill), act)
        (bx, by), rh = common.CONV_BLOCK, common.CONV_ROWS
        ocb = 1 if o // groups == 1 else common.OC_BLOCK
        per_channel = ((by * rh - 1) * sh + (kh - 1) * dh + 1) * ((bx - 1) * sw + (kw - 1) * dw + 1) + ocb * kh * kw
        stage = min(cg, common.CHANNEL_STAGE, common.SHARED_BYTES // (per_channel * dtype.itemsize))
        grid = (math.ceil(wo / bx) * n * groups * math.ceil(o // groups / ocb), math.ceil(ho / (by * rh)))
        if stage > 0 and boundary != "overlap" and grid[0] < 2**31 and grid[1] <= common.MAX_BLOCKS:
            shared = stage * per_channel * dtype.itemsize
            _conv_tiled(dtype, bx, by, rh, ocb)[grid, (bx, by), stream, shared](*args, stage, out)
        else:
            _jit(_conv_direct)[_flat_launch(out.size, stream)](*args, dtype.type(0), out)
    return _result(out, stream, on_device)


def conv2d(call: ConvCall):
    return _conv(
        call.input, call.weight, call.bias, call.pads, call.boundary, call.stride, call.dilation, call.groups, 0, call, call.activation
    )


def conv_transpose2d(call: ConvTransposeCall):
    x, dtype = call.input, call.input.dtype
    stream, on_device = _stream(call), _device_call(call)
    n_out = call.weight.shape[1] * call.groups
    out = cuda.device_array((x.shape[0], n_out, *call.out_size), dtype, stream=stream)
    if out.size:
        bias = _zeros(n_out, dtype, _device_id()) if call.bias is None else _on_device(call.bias, stream)
        _jit(_conv_transpose)[_flat_launch(out.size, stream)](
            _on_device(x, stream), _on_device(call.weight, stream), bias, *call.stride, *call.padding, *call.dilation,
            call.groups, dtype.type(0), out,
        )
    return _result(out, stream, on_device)
