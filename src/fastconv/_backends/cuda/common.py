"""What the cuda backend's kernels share: launch settings, device-side tables, streams and device arrays.

A call's arrays may be host ndarrays, which are copied to the device and the
result copied back, or ``_device.DeviceArray`` views, which stay on the
device: the result is then a ``DeviceArray`` too, and every launch goes on
the input's stream.  Index tables, interpolation tables and zero biases are
copied to the device once and cached, so a device-array call copies nothing
from the host.

The block sizes are attributes of this module, read at each launch, so that
tests can make them small.  No fastmath: CUDA's fastmath flushes denormals
and approximates division.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda
from numba.cuda.core import config as _cuda_config

from ..._calls import GELU, HARDSIGMOID, HARDSWISH, NO_ACTIVATION, RELU, RELU6, SILU, gelu, hardsigmoid, hardswish, relu, relu6, silu, wins
from ..._device import DeviceArray
from ..._padding import source_index

CONV_BLOCK = (32, 8)  # threads (x, y) of a conv block
CONV_ROWS = 4  # output rows each conv thread accumulates: the block's output tile is 32 x (8 * 4)
OC_BLOCK = 8  # output channels each conv thread accumulates (dense and grouped)
CHANNEL_STAGE = 4  # input channels staged in shared memory per barrier
THREADS = 256  # threads per block of the element-wise kernels
SHARED_BYTES = 48 * 1024  # the largest conv patch kept in shared memory
MAX_BLOCKS = 65535

SIMULATED = bool(_cuda_config.ENABLE_CUDASIM)  # NUMBA_ENABLE_CUDASIM=1: kernels run as Python

# Device functions are inlined as Numba IR: compiling one alone would need a GPU.
_relu, _relu6, _silu, _gelu, _hardswish, _hardsigmoid, _wins = (
    cuda.jit(device=True, inline="always")(f) for f in (relu, relu6, silu, gelu, hardswish, hardsigmoid, wins)
)


@cuda.jit(device=True, inline="always")
def _store(out, n, o, h, w, v, act):
    """``out[n, o, h, w] =`` activation ``act`` (``_calls.ACTIVATIONS``) of ``v``; silu, gelu, hardswish and
    hardsigmoid in float64.

    Each branch stores its own value, so an integer result never passes
    through a float.
    """
    if act == NO_ACTIVATION:
        out[n, o, h, w] = v
    elif act == RELU:
        out[n, o, h, w] = _relu(v)
    elif act == RELU6:
        out[n, o, h, w] = _relu6(v)
    elif act == SILU:
        out[n, o, h, w] = _silu(v)
    elif act == GELU:
        out[n, o, h, w] = _gelu(v)
    elif act == HARDSWISH:
        out[n, o, h, w] = _hardswish(v)
    elif act == HARDSIGMOID:
        out[n, o, h, w] = _hardsigmoid(v)


def _gather(src, start, shape, strides, out):
    """out.flat[i] = the i-th element (C order) of a strided view of ``src`` (1-D, in elements)."""
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        rem, off = idx, start
        for d in range(shape.shape[0] - 1, -1, -1):
            off += (rem % shape[d]) * strides[d]
            rem //= shape[d]
        out[idx] = src[off]


@functools.cache
def _jit(func):
    return cuda.jit(func)


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


def _device_call(call) -> bool:
    return any(isinstance(field, DeviceArray) for field in call)


def _comparable(x):
    """Booleans compare as uint8."""
    return x.view(np.uint8) if x.dtype == np.bool_ else x
