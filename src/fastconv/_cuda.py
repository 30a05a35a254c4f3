"""The ``cuda`` backend: ``numba.cuda`` kernels (install ``fastconv[cuda]``).

The entry points have the contracts listed in ``_reference``.  A call's arrays
may be host ndarrays, which are copied to the device and the result copied
back, or ``_device.DeviceArray`` views, which stay on the device: the result is
then a ``DeviceArray`` too, and every launch goes on the input's stream.

Kernels:

- ``conv2d`` and ``correlate_planes`` share one tiled, register-blocked
  kernel: a block of ``CONV_BLOCK`` threads stages, ``CHANNEL_STAGE`` input
  channels per barrier, the input patch under its output tile and the weights
  of its output channels in shared memory; each thread accumulates in
  registers ``CONV_ROWS`` output rows times ``OC_BLOCK`` output channels
  (dense and grouped) or one channel (depthwise, filter2d), so each weight
  read (a broadcast) and each patch read feed several FMAs.  Launch bounds
  keep float32 within 128 registers (2 blocks of 256 threads per SM).
  Padding is read through ``_padding.source_index`` tables, so no padded copy is
  made.  Patches larger than ``SHARED_BYTES`` use a direct kernel that reads
  global memory.
- Index tables, interpolation tables and zero biases are copied to the
  device once and cached, so a device-array call copies nothing from the
  host.
- Pooling kernels run one thread per output element, with the CPU kernels'
  rules for NaN, ties and padding.

Kernels are compiled on first use, per dtype and block shape; the block sizes
are module attributes so tests can make them small.  No fastmath: CUDA's
fastmath flushes denormals and approximates division.
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np
from numba import cuda, uint64
from numba.cuda.core import config as _cuda_config
from numba.np import numpy_support

from . import _cost, _validate
from ._padding import SKIP, source_index
from ._reference import _lowest
from ._device import DeviceArray
from ._validate import AdaptiveCall, ConvCall, ConvTransposeCall, InterpolateCall, PlaneCall, PoolCall

CONV_BLOCK = (32, 8)  # threads (x, y) of a conv block
CONV_ROWS = 4  # output rows each conv thread accumulates: the block's output tile is 32 x (8 * 4)
OC_BLOCK = 8  # output channels each conv thread accumulates (dense and grouped)
CHANNEL_STAGE = 4  # input channels staged in shared memory per barrier
THREADS = 256  # threads per block of the element-wise kernels
SHARED_BYTES = 48 * 1024  # the largest conv patch kept in shared memory
MAX_BLOCKS = 65535

SIMULATED = bool(_cuda_config.ENABLE_CUDASIM)  # NUMBA_ENABLE_CUDASIM=1: kernels run as Python


# --- kernels (plain functions; compiled by _jit) ------------------------------------------


@cuda.jit(device=True, inline="always")  # inlined as Numba IR: compiling it alone would need a GPU
def _store(out, n, o, h, w, v, act):
    """``out[n, o, h, w] = ACTIVATIONS[act](v)`` (``_validate.ACTIVATIONS``); silu and gelu in float64.

    Each branch stores its own value, so an integer result never passes
    through a float.
    """
    if act == 0:
        out[n, o, h, w] = v
    elif act == 1:
        out[n, o, h, w] = 0 if v < 0 else v
    elif act == 2:
        out[n, o, h, w] = 0 if v < 0 else (6 if v > 6 else v)
    elif act == 3:
        x = float(v)
        out[n, o, h, w] = x / (1.0 + math.exp(-x)) if x > -700.0 else x * 0.0  # the simulator's exp overflows
    else:
        x = float(v)
        out[n, o, h, w] = 0.5 * x * (1.0 + math.erf(x * 0.7071067811865476))


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


def _max_pool(x, kh, kw, sh, sw, ph, pw, dh, dw, lowest, out, indices):
    chans, h, wd = x.shape[1], x.shape[2], x.shape[3]
    ho, wo = out.shape[2], out.shape[3]
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, c, oh, ow = idx // (wo * ho * chans), (idx // (wo * ho)) % chans, (idx // wo) % ho, idx % wo
        h0, w0 = oh * sh - ph, ow * sw - pw
        best = lowest
        where = (h0 + max(0, (-h0 + dh - 1) // dh) * dh) * wd + w0 + max(0, (-w0 + dw - 1) // dw) * dw
        for u in range(kh):
            ih = h0 + u * dh
            if ih < 0 or ih >= h:
                continue
            for v in range(kw):
                iw = w0 + v * dw
                if iw < 0 or iw >= wd:
                    continue
                val = x[n, c, ih, iw]
                if val > best or val != val:
                    best = val
                    where = ih * wd + iw
        out[n, c, oh, ow] = best
        if indices.size != 0:  # an empty ``indices``: not asked for, and not written
            if indices.size != 0:
                indices[n, c, oh, ow] = where


def _avg_pool(x, kh, kw, sh, sw, ph, pw, count_include_pad, divisor, zero, out):
    chans, h, wd = x.shape[1], x.shape[2], x.shape[3]
    ho, wo = out.shape[2], out.shape[3]
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, c, oh, ow = idx // (wo * ho * chans), (idx // (wo * ho)) % chans, (idx // wo) % ho, idx % wo
        h0, w0 = oh * sh - ph, ow * sw - pw
        h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, wd + pw)
        padded = (h1 - h0) * (w1 - w0)
        h0, h1, w0, w1 = max(h0, 0), min(h1, h), max(w0, 0), min(w1, wd)
        total = zero
        for ih in range(h0, h1):
            for iw in range(w0, w1):
                total += x[n, c, ih, iw]
        if divisor > 0:
            count = divisor
        elif count_include_pad:
            count = padded
        else:
            count = (h1 - h0) * (w1 - w0)
        out[n, c, oh, ow] = total / count


def _adaptive_pool(x, take_max, zero, out, indices):
    chans, h, wd = x.shape[1], x.shape[2], x.shape[3]
    ho, wo = out.shape[2], out.shape[3]
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, c, oh, ow = idx // (wo * ho * chans), (idx // (wo * ho)) % chans, (idx // wo) % ho, idx % wo
        h0, h1 = (oh * h) // ho, ((oh + 1) * h + ho - 1) // ho
        w0, w1 = (ow * wd) // wo, ((ow + 1) * wd + wo - 1) // wo
        best = x[n, c, h0, w0]
        where = h0 * wd + w0
        total = zero
        for ih in range(h0, h1):
            for iw in range(w0, w1):
                val = x[n, c, ih, iw]
                total += val
                if val > best or val != val:
                    best = val
                    where = ih * wd + iw
        if take_max:
            out[n, c, oh, ow] = best
            if indices.size != 0:
                indices[n, c, oh, ow] = where
        else:
            out[n, c, oh, ow] = total / ((h1 - h0) * (w1 - w0))


def _interpolate(x, r0, r1, a0, a1, c0, c1, b0, b1, linear, two_d, out):
    """One thread per output: ``_reference.interpolate``'s formula."""
    chans, ho, wo = x.shape[1], out.shape[2], out.shape[3]
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, c, oh, ow = idx // (wo * ho * chans), (idx // (wo * ho)) % chans, (idx // wo) % ho, idx % wo
        h, j0, j1 = r0[oh], c0[ow], c1[ow]
        if not linear:
            out[n, c, oh, ow] = x[n, c, h, j0]
        else:
            upper = x[n, c, h, j0] * b0[ow] + x[n, c, h, j1] * b1[ow]
            if two_d:
                h1 = r1[oh]
                lower = x[n, c, h1, j0] * b0[ow] + x[n, c, h1, j1] * b1[ow]
                out[n, c, oh, ow] = upper * a0[oh] + lower * a1[oh]
            else:
                out[n, c, oh, ow] = upper


def _gather(src, start, shape, strides, out):
    """out.flat[i] = the i-th element (C order) of a strided view of ``src`` (1-D, in elements)."""
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        rem, off = idx, start
        for d in range(shape.shape[0] - 1, -1, -1):
            off += (rem % shape[d]) * strides[d]
            rem //= shape[d]
        out[idx] = src[off]


# --- compilation and launch helpers -----------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _jit(func):
    return cuda.jit(func)


def _conv_tiled_bounds(dtype: np.dtype, bx: int, by: int, rh: int, ocb: int) -> dict:
    """``cuda.jit`` options of the tiled kernel: launch bounds that keep 2 blocks per SM (128 registers).

    A register tile over 32 words (8-byte dense) needs more: 1 block.
    """
    return dict(launch_bounds=(bx * by, 2 if rh * ocb * np.dtype(dtype).itemsize <= 128 else 1))


@functools.lru_cache(maxsize=None)
def _conv_tiled(dtype: np.dtype, bx: int, by: int, rh: int, ocb: int):
    options = {} if SIMULATED else _conv_tiled_bounds(dtype, bx, by, rh, ocb)
    return cuda.jit(**options)(_conv_tiled_source(dtype, bx, by, rh, ocb))


def _device_id() -> int:
    """The current GPU, part of the device caches' keys: a device copy belongs to the GPU it was made on.

    (Caches made before ``cuda.close()`` are stale: fastconv never closes a context.)
    """
    return getattr(cuda.get_current_device(), "id", 0)


@functools.lru_cache(maxsize=64)
def _index_table(size: int, before: int, length: int, boundary: str, device: int):
    """``source_index`` on GPU ``device``, copied once (synchronously), so launches need no host copy."""
    return cuda.to_device(source_index(size, before, length, boundary))


@functools.lru_cache(maxsize=16)
def _zeros(n: int, dtype: np.dtype, device: int):
    return cuda.to_device(np.zeros(n, dtype))


@functools.lru_cache(maxsize=64)
def _table(dtype: str, data: bytes, device: int):
    """A device copy of a small host table, keyed by its contents and made once (synchronously)."""
    return cuda.to_device(np.frombuffer(data, dtype))


def _flat_launch(size: int, stream):
    blocks = max(1, min(math.ceil(size / THREADS), MAX_BLOCKS))
    return blocks, THREADS, stream


def _stream(call) -> object:
    """The stream of the first device array in ``call``; the default stream for host calls."""
    for field in call:
        if isinstance(field, DeviceArray):
            stream = field.stream
            if SIMULATED:
                return stream or cuda.default_stream()
            return cuda.external_stream(stream) if stream else cuda.default_stream()
    return cuda.default_stream()


def as_numba(array: DeviceArray):
    """A numba device array viewing ``array``'s memory (no copy)."""
    desc = {
        "shape": array.shape,
        "strides": array.strides,
        "data": (array.ptr, False),
        "typestr": array.dtype.str,
        "version": 3,
    }
    if SIMULATED:
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return FakeCUDAArray(np.asarray(_HostView(desc, array.owner)), stream=array.stream or 0)
    return cuda.from_cuda_array_interface(desc, owner=array.owner, sync=False)


class _HostView:
    """The simulator's device memory is host memory: view it through ``__array_interface__``."""

    def __init__(self, desc, owner):
        self.__array_interface__, self.owner = desc, owner


def _wrap(device_array, stream=None) -> DeviceArray:
    """A DeviceArray of a numba device array, ordered on ``stream``."""
    array = DeviceArray.wrap(device_array)
    if stream is not None:
        array.stream = stream if SIMULATED else (int(stream) or None)
    return array


def to_device(host: np.ndarray, stream=None) -> DeviceArray:
    if SIMULATED or stream is None:
        stream = stream or cuda.default_stream()
    else:
        stream = cuda.external_stream(stream)
    return _wrap(cuda.to_device(np.ascontiguousarray(host), stream=stream), stream)


def _on_device(array, stream):
    if array is None:
        return None
    if isinstance(array, DeviceArray):
        return array.numba()
    return cuda.to_device(np.ascontiguousarray(array), stream=stream)


def _result(out, stream, on_device: bool):
    if on_device:
        return _wrap(out, stream)
    host = out.copy_to_host(stream=stream)
    stream.synchronize()
    return host


def gather(array: DeviceArray, dtype: np.dtype) -> DeviceArray:
    """A C-contiguous copy of ``array`` in ``dtype``, made on the device."""
    itemsize = array.dtype.itemsize
    if any(s % itemsize for s in array.strides):
        raise ValueError(f"device array strides {array.strides} are not multiples of the item size {itemsize}")
    steps = [s // itemsize for s in array.strides]
    low = sum((n - 1) * s for n, s in zip(array.shape, steps) if s < 0 and n > 0)
    high = sum((n - 1) * s for n, s in zip(array.shape, steps) if s > 0 and n > 0)
    stream = _stream((array,))
    out = cuda.device_array(array.shape, dtype, stream=stream)
    if array.size:
        span = array._like(array.ptr + low * itemsize, (high - low + 1,), (itemsize,))
        meta = cuda.to_device(np.array([array.shape, steps], np.int64).reshape(2, -1), stream=stream)
        flat = out.reshape(array.size)
        _jit(_gather)[_flat_launch(array.size, stream)](span.numba(), -low, meta[0], meta[1], flat)
    return _wrap(out, stream)


# --- entry points -----------------------------------------------------------------------------


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
    ho, wo = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    dtype = x.dtype
    stream = _stream(call)
    on_device = _device_call(call)
    out = cuda.device_array((n, o, ho, wo), dtype, stream=stream)
    if out.size:
        gpu = _device_id()
        rows, cols = _index_table(h, top, hp, boundary, gpu), _index_table(wd, left, wp, boundary, gpu)
        bias = _zeros(o, dtype, gpu) if bias is None else _on_device(bias, stream)
        args = (_on_device(x, stream), _on_device(w, stream), bias, rows, cols, sh, sw, dh, dw, groups, dtype.type(fill), act)
        (bx, by), rh = CONV_BLOCK, CONV_ROWS
        ocb = 1 if o // groups == 1 else OC_BLOCK
        per_channel = ((by * rh - 1) * sh + (kh - 1) * dh + 1) * ((bx - 1) * sw + (kw - 1) * dw + 1) + ocb * kh * kw
        stage = min(cg, CHANNEL_STAGE, SHARED_BYTES // (per_channel * dtype.itemsize))
        grid = (math.ceil(wo / bx) * n * groups * math.ceil(o // groups / ocb), math.ceil(ho / (by * rh)))
        if stage > 0 and boundary != "overlap" and grid[0] < 2**31 and grid[1] <= MAX_BLOCKS:
            shared = stage * per_channel * dtype.itemsize
            _conv_tiled(dtype, bx, by, rh, ocb)[grid, (bx, by), stream, shared](*args, stage, out)
        else:
            _jit(_conv_direct)[_flat_launch(out.size, stream)](*args, dtype.type(0), out)
    return _result(out, stream, on_device)


def _device_call(call) -> bool:
    return any(isinstance(field, DeviceArray) for field in call)


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


def correlate_planes(call: PlaneCall):
    planes, kernel = call.planes[:, None], call.kernel
    if not isinstance(kernel, DeviceArray):
        kernel = np.ascontiguousarray(kernel)
    out = _conv(planes, kernel[None, None], None, call.pads, call.boundary, (1, 1), (1, 1), 1, call.fillvalue, call)
    return out[:, 0]


def _comparable(x):
    """Booleans compare as uint8."""
    return x.view(np.uint8) if x.dtype == np.bool_ else x


def max_pool2d(call: PoolCall, return_indices: bool):
    x = _comparable(call.input)
    stream, on_device = _stream(call), _device_call(call)
    out = cuda.device_array(x.shape[:2] + call.out_size, x.dtype, stream=stream)
    indices = cuda.device_array(out.shape if return_indices else (0, 0, 0, 0), np.int64, stream=stream)
    if out.size:
        _jit(_max_pool)[_flat_launch(out.size, stream)](
            _on_device(x, stream), *call.kernel, *call.stride, *call.padding, *call.dilation, _lowest(x.dtype), out, indices
        )
    out = _result(out, stream, on_device).view(call.input.dtype)
    return (out, _result(indices, stream, on_device)) if return_indices else out


def avg_pool2d(call: PoolCall, count_include_pad: bool, divisor_override: int | None):
    x = call.input
    stream, on_device = _stream(call), _device_call(call)
    out = cuda.device_array(x.shape[:2] + call.out_size, x.dtype, stream=stream)
    if out.size:
        _jit(_avg_pool)[_flat_launch(out.size, stream)](
            _on_device(x, stream), *call.kernel, *call.stride, *call.padding, count_include_pad, divisor_override or 0, x.dtype.type(0), out
        )
    return _result(out, stream, on_device)


def _adaptive(call: AdaptiveCall, take_max: bool, return_indices: bool = False):
    """The adaptive pooling kernel; int64 indices are written (and copied back) only when asked for."""
    x = _comparable(call.input)
    stream, on_device = _stream(call), _device_call(call)
    out = cuda.device_array(x.shape[:2] + call.out_size, x.dtype, stream=stream)
    indices = cuda.device_array(out.shape if return_indices else (0, 0, 0, 0), np.int64, stream=stream)
    if out.size:
        _jit(_adaptive_pool)[_flat_launch(out.size, stream)](_on_device(x, stream), take_max, x.dtype.type(0), out, indices)
    out = _result(out, stream, on_device).view(call.input.dtype)
    return (out, _result(indices, stream, on_device)) if return_indices else out


def adaptive_avg_pool2d(call: AdaptiveCall):
    return _adaptive(call, False)


def adaptive_max_pool2d(call: AdaptiveCall, return_indices: bool):
    return _adaptive(call, True, return_indices)


def interpolate(call: InterpolateCall):
    x = _comparable(call.input)
    stream, on_device = _stream(call), _device_call(call)
    out = cuda.device_array(x.shape[:2] + call.out_size, x.dtype, stream=stream)
    if out.size:
        tables = [_table(t.dtype.str, t.tobytes(), _device_id()) for t in (*call.rows, *call.row_weights, *call.cols, *call.col_weights)]
        _jit(_interpolate)[_flat_launch(out.size, stream)](_on_device(x, stream), *tables, call.linear, call.two_d, out)
    return _result(out, stream, on_device).view(call.input.dtype)


# --- the measured cost model (see _cost) ------------------------------------------------------

_rates: _cost.Calibration | None = None


def _best_time(run, repeat: int = 3) -> float:
    run()  # warm-up: compiles
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def calibrate() -> _cost.Calibration:
    """Measure transfer bandwidth, latency, and conv and pooling rates on the GPU and the CPU."""
    from . import _cpu

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 16, 256, 256), np.float32)
    w = rng.standard_normal((16, 16, 3, 3), np.float32)
    conv = _validate.conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros")
    pool = _validate.pool("avg_pool2d", x, 2, None, 0, 1, False, _validate.filter_dtypes)
    flops = _cost.work("conv2d", conv).flops
    moved = sum(_cost.work("avg_pool2d", pool)[:2])
    stream = cuda.default_stream()
    dx, dw = to_device(x), to_device(w)
    on_gpu_conv, on_gpu_pool = conv._replace(input=dx, weight=dw), pool._replace(input=dx)
    tiny = _validate.pool("avg_pool2d", x[:, :1, :2, :2], 2, None, 0, 1, False, _validate.filter_dtypes)
    host = np.empty(x.nbytes, np.uint8)
    device = cuda.device_array(x.nbytes, np.uint8)

    def synced(run):
        return lambda: (run(), stream.synchronize())

    rates = _cost.Calibration(
        h2d_bytes=x.nbytes / _best_time(synced(lambda: device.copy_to_device(host, stream=stream))),
        d2h_bytes=x.nbytes / _best_time(lambda: device.copy_to_host(host)),
        gpu_flops=flops / _best_time(synced(lambda: conv2d(on_gpu_conv))),
        gpu_bytes=moved / _best_time(synced(lambda: avg_pool2d(on_gpu_pool, True, None))),
        gpu_latency=_best_time(lambda: avg_pool2d(tiny, True, None)),
        cpu_flops=flops / _best_time(lambda: _cpu.conv2d(conv)),
        cpu_bytes=moved / _best_time(lambda: _cpu.avg_pool2d(pool, True, None)),
    )
    return rates


def prefers_gpu(entry: str, call) -> bool:
    """Whether the cost model predicts this host-array call runs faster here than on the CPU."""
    global _rates
    if _rates is None:
        _rates = calibrate()
    return _cost.gpu_is_faster(_cost.work(entry, call), _rates)


def kernel_signatures(dtype) -> dict[str, tuple]:
    """Every kernel as (python function, argument types[, ``cuda.jit`` options]) for ``dtype``: what CI compiles to PTX."""
    from numba import types

    t = numpy_support.from_dtype(np.dtype(dtype))
    i64, table = types.int64, types.int64[::1]
    arr = {n: types.Array(t, n, "A") for n in (1, 4)}
    out4, idx4 = types.Array(t, 4, "C"), types.Array(types.int64, 4, "C")
    wt = types.Array(t if np.dtype(dtype).kind == "f" else types.float64, 1, "C")
    conv = (arr[4], arr[4], arr[1], table, table, i64, i64, i64, i64, i64, t, i64)
    tiled = {name: (np.dtype(dtype), *CONV_BLOCK, CONV_ROWS, ocb) for name, ocb in (("dense", OC_BLOCK), ("depthwise", 1))}
    return {
        **{f"conv_tiled_{name}": (_conv_tiled_source(*shape), (*conv, i64, out4), _conv_tiled_bounds(*shape)) for name, shape in tiled.items()},
        "conv_direct": (_conv_direct, (*conv, t, out4)),
        "conv_transpose": (_conv_transpose, (arr[4], arr[4], arr[1], *[i64] * 7, t, out4)),
        "max_pool": (_max_pool, (arr[4], *[i64] * 8, t, out4, idx4)),
        "avg_pool": (_avg_pool, (arr[4], *[i64] * 6, types.boolean, i64, t, out4)),
        "adaptive_pool": (_adaptive_pool, (arr[4], types.boolean, t, out4, idx4)),
        "interpolate": (_interpolate, (arr[4], table, table, wt, wt, table, table, wt, wt, types.boolean, types.boolean, out4)),
        "gather": (_gather, (types.Array(t, 1, "A"), i64, types.Array(i64, 1, "A"), types.Array(i64, 1, "A"), types.Array(t, 1, "C"))),
    }
