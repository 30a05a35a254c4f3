"""fastconv on Dask arrays: the same results as the in-memory functions, chunk by chunk.

Each function takes a ``dask.array.Array`` (any other array is wrapped in one
chunk) chunked along its spatial axes, its batch axes or both, and returns a
lazy Dask array equal to what the in-memory function of the same name returns
for the computed input.  Arguments are checked once, up front, on the array's
shape and dtype alone, and raise the in-memory function's errors.

Every chunk runs the fastconv kernel of the chosen backend, through
``dask.array.map_overlap`` with ``boundary="none"``: each output chunk reads
its own input rows plus the halo its windows reach into, an asymmetric depth
from the kernel size, dilation and stride.  The borders are made exact first:

- convolutions and filters pad the whole array once in their boundary mode
  (Dask's own ``"reflect"`` is NumPy's ``"symmetric"``, so no Dask boundary
  is used), then every chunk is a "valid" correlation;
- pooling pads nothing: the kernel pads the first chunk along each axis and
  clips windows at the array's end, as it does in memory, so max pooling's
  indices and average pooling's divisors come out as in memory.

Strided outputs stay aligned: the input is rechunked so that every chunk
starts at the first row its output chunk reads, and chunks smaller than the
halo are merged with their neighbours.  ``conv2d`` needs all input channels
at once, so the channel axis becomes one chunk; the batch axis stays chunked.

Needs the ``dask`` extra: ``pip install 'fastconv[dask]'``.

Examples
--------
>>> import dask.array as da, fastconv.dask as fcd
>>> image = da.ones((6, 6), chunks=4)
>>> fcd.filter2d(image, "box", boundary="nearest").compute().round(6).tolist()[0]
[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

try:
    import dask.array as da
except ImportError as exc:  # pragma: no cover - the extra is installed wherever the tests run
    raise ImportError(
        f"fastconv.dask needs Dask ({exc}); install it with: pip install 'fastconv[dask]'"
    ) from exc

from . import _validate as check
from ._api import Backend, IntPair, Method, PaddingMode, SignalMode, _finish, _plane_result
from ._calls import avg_pool_counts, conv_out_size
from ._dispatch import resolve, run
from ._methods import METHODS
from .kernels import for_image
from .kernels import named as _named_kernel

__all__ = ["avg_pool2d", "conv2d", "convolve2d", "correlate2d", "filter2d", "max_pool2d"]


# --- checking on shape and dtype only ------------------------------------------------------


class _Described:
    """Stands for a Dask array in a dtype check: an empty array of its dtype, with its repr."""

    def __init__(self, array: da.Array):
        self.array = array

    def __repr__(self) -> str:
        return repr(self.array)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.zeros(0, self.array.dtype)


def _as_dask(value: Any, name: str, func: str) -> da.Array:
    if isinstance(value, da.Array):
        return value
    return da.from_array(check.as_array(value, name, func))


def _in_memory(value: Any) -> Any:
    """A kernel, weight or bias given as a Dask array, computed (they are small)."""
    return value.compute() if isinstance(value, da.Array) else value


def _stand_in(x: da.Array, name: str, func: str, dtypes: Callable, *others: Any) -> tuple[np.ndarray, np.dtype, np.dtype]:
    """A zero-stride stand-in for ``x`` to validate: its shape, in the compute dtype (so nothing is copied).

    Returns the stand-in, the compute dtype and the in-memory result dtype.
    """
    check.as_array(_Described(x), name, func)  # the in-memory dtype error, naming x
    try:
        types = dtypes(np.zeros(0, x.dtype), *(np.asarray(o) for o in others if o is not None))
    except Exception:  # a bad other argument: validation raises its error below
        types = check.Dtypes(x.dtype, x.dtype)
    return np.broadcast_to(np.zeros((), types.compute), x.shape), types.compute, types.out


def _empty(shape: tuple[int, ...], dtype: np.dtype) -> da.Array:
    return da.zeros(shape, dtype=dtype)


# --- geometry: which input rows each output chunk reads ------------------------------------


class Axis(NamedTuple):
    """How one spatial axis is cut: output ``o`` reads input ``[o*stride - pad, o*stride - pad + span)``.

    ``inputs`` are the rechunked input's chunks, each starting ``left`` rows
    after the first row its output chunk reads (the first chunk starts at 0),
    so an overlap of ``(left, right)`` gives each chunk every row it reads.
    """

    outputs: tuple[int, ...]
    inputs: tuple[int, ...]
    left: int
    right: int
    stride: int
    pad: int

    def starts(self) -> np.ndarray:
        return np.cumsum((0, *self.outputs))


def _axis(chunks: tuple[int, ...], stride: int, span: int, pad: int, out: int, left: int) -> Axis:
    """Cut one axis of ``out`` outputs into chunks near the input's chunk borders.

    ``left`` is the preferred left halo (at most ``span - stride``): with the
    padding as ``left`` and stride 1, output chunks are the input's chunks.
    Chunks smaller than the halo are merged into their neighbours.
    """
    size = sum(chunks)
    depth = max(span - stride, 0)
    left = min(left, depth)
    need = max(left, depth - left, 1)
    cuts, previous = [], 0
    for border in np.cumsum(chunks)[:-1]:
        o = (int(border) + pad - left + stride // 2) // stride
        start = o * stride - pad
        if 0 < o < out and start >= 0 and start + left - previous >= need and (not cuts or o > cuts[-1]):
            cuts.append(o)
            previous = start + left
    while cuts and size - (cuts[-1] * stride - pad + left) < need:
        cuts.pop()
    if not cuts:
        return Axis((out,), (size,), 0, 0, stride, pad)
    borders = [0, *(o * stride - pad + left for o in cuts), size]
    return Axis(tuple(np.diff([0, *cuts, out]).tolist()), tuple(np.diff(borders).tolist()), left, depth - left, stride, pad)


class Block(NamedTuple):
    """One output chunk: where it starts, its size, where its input starts, and whether it is first on each axis."""

    out_start: tuple[int, int]
    out_size: tuple[int, int]
    in_start: tuple[int, int]
    first: tuple[bool, bool]


def _run_block(data: np.ndarray, compute: Callable, axes: tuple[Axis, Axis], block_id: tuple[int, ...] | None = None):
    where = []
    for axis, i in zip(axes, block_id[-2:]):
        start = int(axis.starts()[i])
        where.append((start, axis.outputs[i], 0 if i == 0 else start * axis.stride - axis.pad, i == 0))
    return compute(data, Block(*(tuple(v) for v in zip(*where))))


def _sliding(
    x: da.Array,
    geometry: tuple[tuple[int, int, int, int, int], ...],
    compute: Callable,
    dtype: np.dtype,
    lead: tuple[tuple[int, ...], ...] | None = None,
) -> da.Array:
    """``compute(data, block)`` on every output chunk of a windowed operation over x's last two axes.

    ``geometry`` is (stride, span, pad, out, preferred left halo) per axis;
    ``lead`` gives the output chunks of the other axes (x's, by default).
    """
    h, w = x.ndim - 2, x.ndim - 1
    axes = tuple(_axis(x.chunks[a], *g) for a, g in zip((h, w), geometry))
    x = x.rechunk({h: axes[0].inputs, w: axes[1].inputs})
    chunks = (*(x.chunks[:-2] if lead is None else lead), axes[0].outputs, axes[1].outputs)
    return da.map_overlap(
        functools.partial(_run_block, compute=compute, axes=axes),
        x,
        depth={h: (axes[0].left, axes[0].right), w: (axes[1].left, axes[1].right)},
        boundary="none",
        trim=False,
        allow_rechunk=False,
        chunks=chunks,
        dtype=dtype,
        meta=np.empty((0,) * x.ndim, dtype),
    )


def _pad(x: da.Array, pads: tuple[int, int, int, int], mode: str, fill: Any) -> da.Array:
    """Pad the last two axes of ``x`` by (top, bottom, left, right) exactly as ``np.pad`` in ``mode``."""
    for axis, before, after in ((x.ndim - 2, *pads[:2]), (x.ndim - 1, *pads[2:])):
        if not (before or after):
            continue
        if mode == "constant":
            width = [(0, 0)] * x.ndim
            width[axis] = (before, after)
            x = da.pad(x, width, mode="constant", constant_values=fill)
            continue
        size = x.shape[axis]
        index = np.pad(np.arange(size), (before, after), mode=mode)  # np.pad's own source rows, any width
        parts = [da.take(x, index[:before], axis=axis)] if before else []
        parts.append(x)
        if after:
            parts.append(da.take(x, index[before + size :], axis=axis))
        x = da.concatenate(parts, axis=axis)
    return x


# --- plane correlations: filter2d, convolve2d, correlate2d ---------------------------------


def _correlate_block(data: np.ndarray, block: Block, kernel, fill, out_dtype, method, backend, func) -> np.ndarray:
    (oh, ow), (kh, kw) = block.out_size, kernel.shape
    data = data[..., : oh + kh - 1, : ow + kw - 1]
    planes = data.reshape(-1, *data.shape[-2:])
    call = check.PlaneCall(planes, kernel, (0, 0, 0, 0), "constant", fill, out_dtype)
    return _plane_result(call, backend, method, func).reshape(*data.shape[:-2], oh, ow)


def _correlate(x: da.Array, call: check.PlaneCall, out_dtype: np.dtype, method: str, backend: str, func: str) -> da.Array:
    """``call``'s plane correlation over the (..., H, W) Dask array ``x``, already in the compute dtype."""
    h, w = x.shape[-2:]
    top, bottom, left, right = call.pads
    (kh, kw) = call.kernel.shape
    shape = (*x.shape[:-2], h + top + bottom - kh + 1, w + left + right - kw + 1)
    if 0 in shape or 0 in x.shape:
        return _empty(shape, out_dtype)
    padded = _pad(x, call.pads, call.boundary, call.fillvalue)
    compute = functools.partial(
        _correlate_block, kernel=call.kernel, fill=call.fillvalue, out_dtype=out_dtype, method=method, backend=backend, func=func
    )
    geometry = ((1, kh, 0, shape[-2], top), (1, kw, 0, shape[-1], left))
    return _sliding(padded, geometry, compute, out_dtype)


def filter2d(
    image: ArrayLike,
    kernel: ArrayLike | str,
    boundary: str = "reflect",
    fillvalue: float = 0,
    *,
    channel_axis: int | None = None,
    method: Method = "auto",
    backend: Backend = "auto",
) -> da.Array:
    """:func:`fastconv.filter2d` of a Dask array: same-size correlation of every (H, W) plane.

    The image may be chunked along any axis; the kernel is an in-memory
    array or a kernel name.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv as fc, fastconv.dask as fcd
    >>> x = np.random.default_rng(0).random((40, 30))
    >>> y = fcd.filter2d(da.from_array(x, chunks=7), np.ones((3, 5)))
    >>> bool(np.allclose(y.compute(), fc.filter2d(x, np.ones((3, 5)))))
    True
    """
    func = "filter2d"
    x = _as_dask(image, "image", func)
    kernel = _in_memory(kernel)
    if isinstance(kernel, str):
        check.as_array(_Described(x), "image", func)
        kernel = for_image(_named_kernel(kernel, func), np.zeros(0, x.dtype))
    check.warn_channels_last(func, x, channel_axis)
    proxy, compute, out_dtype = _stand_in(x, "image", func, check.image_dtypes)
    call, shape, axis = check.filter2d(func, proxy, kernel, boundary, fillvalue, channel_axis)
    method = check.choice(method, "method", func, METHODS)
    resolve(backend)
    x = x.astype(compute)
    if axis is not None:
        x = da.moveaxis(x, axis, 0)
    out = _correlate(x, call, out_dtype, method, backend, func)
    return out if axis is None else da.moveaxis(out, 0, axis)


def _signal(func: str, in1: Any, in2: Any, mode: Any, boundary: Any, fillvalue: Any, flip: bool, method: Any, backend: Any) -> da.Array:
    x = _as_dask(in1, "in1", func)
    in2 = _in_memory(in2)
    proxy, compute, out_dtype = _stand_in(x, "in1", func, check.conv_dtypes, in2)
    call, swapped = check.signal2d(func, proxy, in2, mode, boundary, fillvalue, flip)
    if swapped:
        raise check.fail(
            func,
            f"in 'valid' mode on a Dask array, in2 (the in-memory kernel) must not be larger than in1, "
            f"got in1 shape {x.shape} and in2 shape {np.shape(in2)}",
        )
    method = check.choice(method, "method", func, METHODS)
    resolve(backend)
    return _correlate(x.astype(compute), call, out_dtype, method, backend, func)


def convolve2d(
    in1: ArrayLike,
    in2: ArrayLike,
    mode: SignalMode = "full",
    boundary: str = "fill",
    fillvalue: float = 0,
    *,
    method: Method = "auto",
    backend: Backend = "auto",
) -> da.Array:
    """:func:`fastconv.convolve2d` of a 2-D Dask array ``in1`` with an in-memory kernel ``in2``.

    Every mode is supported ("same" keeps in1's chunks); in "valid" mode in2
    must not be the larger input.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv as fc, fastconv.dask as fcd
    >>> x = np.random.default_rng(0).random((20, 20))
    >>> y = fcd.convolve2d(da.from_array(x, chunks=6), np.ones((4, 4)), mode="same", boundary="symm")
    >>> bool(np.allclose(y.compute(), fc.convolve2d(x, np.ones((4, 4)), mode="same", boundary="symm")))
    True
    """
    return _signal("convolve2d", in1, in2, mode, boundary, fillvalue, True, method, backend)


def correlate2d(
    in1: ArrayLike,
    in2: ArrayLike,
    mode: SignalMode = "full",
    boundary: str = "fill",
    fillvalue: float = 0,
    *,
    method: Method = "auto",
    backend: Backend = "auto",
) -> da.Array:
    """:func:`fastconv.correlate2d` of a 2-D Dask array; the arguments are :func:`convolve2d`'s.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv.dask as fcd
    >>> fcd.correlate2d(da.ones((4, 4), chunks=2), np.ones((1, 2)), mode="same").compute()[0].tolist()
    [2.0, 2.0, 2.0, 1.0]
    """
    return _signal("correlate2d", in1, in2, mode, boundary, fillvalue, False, method, backend)


# --- conv2d ----------------------------------------------------------------------------------


def _conv_block(data: np.ndarray, block: Block, call: check.ConvCall, backend) -> np.ndarray:
    (oh, ow), (sh, sw), (dh, dw) = block.out_size, call.stride, call.dilation
    kh, kw = call.weight.shape[2:]
    data = data[..., : (oh - 1) * sh + dh * (kh - 1) + 1, : (ow - 1) * sw + dw * (kw - 1) + 1]
    part = call._replace(input=data, pads=(0, 0, 0, 0), boundary="constant", batched=True)
    return _finish(run("conv2d", part, backend=backend), call.out_dtype)


def conv2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntPair = 1,
    padding: IntPair | Literal["same", "valid"] = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    *,
    padding_mode: PaddingMode = "zeros",
    backend: Backend = "auto",
) -> da.Array:
    """:func:`fastconv.conv2d` of an (N, C, H, W) or (C, H, W) Dask array with an in-memory weight.

    The channel axis is merged into one chunk (each output needs every input
    channel); the batch and spatial axes keep their chunks.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv as fc, fastconv.dask as fcd
    >>> x = np.random.default_rng(0).random((2, 3, 17, 17)).astype(np.float32)
    >>> w = np.ones((4, 3, 3, 3), np.float32)
    >>> y = fcd.conv2d(da.from_array(x, chunks=(1, 1, 5, 6)), w, stride=2, padding=1)
    >>> bool(np.allclose(y.compute(), fc.conv2d(x, w, stride=2, padding=1), rtol=1e-5))
    True
    """
    func = "conv2d"
    x = _as_dask(input, "input", func)
    weight, bias = _in_memory(weight), _in_memory(bias)
    proxy, compute, out_dtype = _stand_in(x, "input", func, check.conv_dtypes, weight, bias)
    call = check.conv(func, 2, proxy, weight, bias, stride, padding, dilation, groups, padding_mode)
    resolve(backend)
    call = call._replace(out_dtype=out_dtype)
    x = x.astype(compute)
    if not call.batched:
        x = x[np.newaxis]
    x = x.rechunk({1: -1})
    (n, _, h, w), o = x.shape, call.weight.shape[0]
    (kh, kw), (sh, sw), (dh, dw) = call.weight.shape[2:], call.stride, call.dilation
    top, bottom, left, right = call.pads
    out_h = conv_out_size(h, kh, top + bottom, sh, dh)
    out_w = conv_out_size(w, kw, left + right, sw, dw)
    if n == 0:
        out = _empty((0, o, out_h, out_w), out_dtype)
    else:
        padded = _pad(x, call.pads, call.boundary, 0)
        geometry = ((sh, dh * (kh - 1) + 1, 0, out_h, top), (sw, dw * (kw - 1) + 1, 0, out_w, left))
        compute_block = functools.partial(_conv_block, call=call._replace(input=None), backend=backend)
        out = _sliding(padded, geometry, compute_block, out_dtype, lead=(x.chunks[0], (o,)))
    return out if call.batched else out[0]


# --- pooling ---------------------------------------------------------------------------------


def _pool_part(data: np.ndarray, block: Block, call: check.PoolCall) -> check.PoolCall:
    """The chunk's own pooling call: the padding only where the chunk is first on an axis."""
    padding = tuple(p if first else 0 for p, first in zip(call.padding, block.first))
    return call._replace(input=data, padding=padding, out_size=block.out_size)


def _max_block(data: np.ndarray, block: Block, call: check.PoolCall, return_indices: bool, width: int, backend) -> np.ndarray:
    result = run("max_pool2d", _pool_part(data, block, call), return_indices, backend=backend)
    if not return_indices:
        return result
    values, local = result
    out = np.empty(values.shape, [("value", values.dtype), ("index", np.int64)])
    out["value"] = values
    rows, cols = np.divmod(local, data.shape[-1])
    out["index"] = (rows + block.in_start[0]) * width + cols + block.in_start[1]
    return out


def _avg_block(data, block: Block, call: check.PoolCall, sizes, count_include_pad, divisor_override, backend):
    part = _pool_part(data, block, call)
    if divisor_override is not None:
        return run("avg_pool2d", part, count_include_pad, divisor_override, backend=backend)
    sums = run("avg_pool2d", part, count_include_pad, 1, backend=backend)
    rows, cols = (
        avg_pool_counts(size, out, k, s, p, count_include_pad)[start : start + length]
        for size, out, k, s, p, start, length in zip(
            sizes, call.out_size, call.kernel, call.stride, call.padding, block.out_start, block.out_size
        )
    )
    return sums / np.multiply.outer(rows, cols).astype(sums.dtype)


def _pool(x: da.Array, call: check.PoolCall, dilation: tuple[int, int], compute: Callable, dtype: np.dtype) -> da.Array:
    if not call.batched:
        x = x[np.newaxis]
    shape = (*x.shape[:2], *call.out_size)
    if 0 in shape:
        return _empty(shape, dtype)
    geometry = tuple(
        (s, d * (k - 1) + 1, p, out, p)
        for s, d, k, p, out in zip(call.stride, dilation, call.kernel, call.padding, call.out_size)
    )
    return _sliding(x, geometry, compute, dtype)


def max_pool2d(
    input: ArrayLike,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    backend: Backend = "auto",
) -> da.Array | tuple[da.Array, da.Array]:
    """:func:`fastconv.max_pool2d` of an (N, C, H, W) or (C, H, W) Dask array.

    The indices are the in-memory ones: flat ``h * W + w`` in each whole plane.

    Examples
    --------
    >>> import dask.array as da, fastconv.dask as fcd
    >>> x = da.arange(36.0, chunks=5).reshape(1, 6, 6)
    >>> fcd.max_pool2d(x, 3, stride=2, padding=1).compute().tolist()
    [[[7.0, 9.0, 11.0], [19.0, 21.0, 23.0], [31.0, 33.0, 35.0]]]
    """
    func = "max_pool2d"
    x = _as_dask(input, "input", func)
    proxy, compute, out_dtype = _stand_in(x, "input", func, check.pool_dtypes)
    call = check.pool(func, proxy, kernel_size, stride, padding, dilation, ceil_mode, check.pool_dtypes)
    resolve(backend)
    call = call._replace(input=None)
    dtype = np.dtype([("value", compute), ("index", np.int64)]) if return_indices else compute
    block = functools.partial(_max_block, call=call, return_indices=bool(return_indices), width=x.shape[-1], backend=backend)
    out = _pool(x.astype(compute), call, call.dilation, block, dtype)
    out = out if call.batched else out[0]
    if not return_indices:
        return out.astype(out_dtype)
    return out["value"].astype(out_dtype), out["index"]


def avg_pool2d(
    input: ArrayLike,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    backend: Backend = "auto",
) -> da.Array:
    """:func:`fastconv.avg_pool2d` of an (N, C, H, W) or (C, H, W) Dask array.

    Examples
    --------
    >>> import dask.array as da, fastconv.dask as fcd
    >>> x = da.arange(16.0, chunks=3).reshape(1, 4, 4)
    >>> fcd.avg_pool2d(x, 2).compute().tolist()
    [[[2.5, 4.5], [10.5, 12.5]]]
    """
    func = "avg_pool2d"
    x = _as_dask(input, "input", func)
    if divisor_override is not None:
        divisor_override = check.positive_int(divisor_override, "divisor_override", func)
    proxy, compute, out_dtype = _stand_in(x, "input", func, check.filter_dtypes)
    call = check.pool(func, proxy, kernel_size, stride, padding, 1, ceil_mode, check.filter_dtypes)
    resolve(backend)
    call = call._replace(input=None)
    block = functools.partial(
        _avg_block,
        call=call,
        sizes=x.shape[-2:],
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
        backend=backend,
    )
    out = _pool(x.astype(compute), call, (1, 1), block, compute).astype(out_dtype)
    return out if call.batched else out[0]
