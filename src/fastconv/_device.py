"""Arrays that live in CUDA device memory, read without copying them to the host.

Any object with ``__cuda_array_interface__`` (numba device arrays, CuPy
arrays, torch CUDA tensors), and the CUDA simulator's device arrays, is
wrapped in a :class:`DeviceArray`: a pointer, shape, strides and dtype.  The
validation layer slices, reshapes and casts it like an ndarray; views are
pointer arithmetic and casts or copies run on the device.  ``np.asarray`` of a
``DeviceArray`` raises, so a device array can never round-trip through the
host by accident.  This module imports nothing from numba and no backend:
copies, casts and numba views are done by the operations that the cuda
backend registers with :func:`provide` when it loads, which the dispatch
layer does as soon as a call holds a device array.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

_HOST_TYPES = (np.ndarray, list, tuple, int, float, str, bytes, bool, type(None))


def is_device(value: Any) -> bool:
    """Whether ``value`` is a CUDA device array (or a simulated one)."""
    if type(value) in _HOST_TYPES:  # the usual case, before the isinstance checks
        return False
    if isinstance(value, DeviceArray):
        return True
    if isinstance(value, _HOST_TYPES):
        return False
    return hasattr(value, "__cuda_array_interface__") or _is_simulated(value)


def _is_simulated(value: Any) -> bool:
    return type(value).__name__ == "FakeCUDAArray" and bool(getattr(value, "__cuda_ndarray__", False))


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


_ops: Any = None  # the cuda backend's device-array operations: gather, as_numba, to_device


def provide(ops: Any) -> None:
    """Register the device-array operations (called by the cuda backend as it loads)."""
    global _ops
    _ops = ops


def _device_ops() -> Any:
    if _ops is None:
        raise ValueError(
            "a CUDA device array was passed, but the cuda backend cannot run here; "
            "install it with: pip install 'fastconv[cuda]', on a machine with a GPU"
        )
    return _ops


def _torch_stream(value: Any) -> int | None:
    """torch's current stream on ``value``'s device: torch exports version 2 of the interface, which has no stream."""
    if type(value).__module__.split(".")[0] != "torch":
        return None
    import torch

    return torch.cuda.current_stream(value.device).cuda_stream or None  # 0: the default stream


class DeviceArray:
    """A strided view of device memory that keeps its ``owner`` alive.

    ``ptr`` is the address of element ``[0, ..., 0]``; ``strides`` are in
    bytes.  ``stream`` is the CUDA stream the data is ordered on: a stream
    handle from ``__cuda_array_interface__`` (or None for the default
    stream), or the simulator's stream object.
    """

    __array_priority__ = 1000

    def __init__(self, owner, ptr, shape, strides, dtype, stream=None, simulated=False):
        self.owner, self.ptr, self.stream, self.simulated = owner, ptr, stream, simulated
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.strides = tuple(int(s) for s in strides)

    @classmethod
    def wrap(cls, value: Any) -> DeviceArray:
        """Read shape, strides, dtype and stream from ``value`` without touching its data."""
        if isinstance(value, DeviceArray):
            return value
        if _is_simulated(value):
            ary = value._ary
            stream = getattr(value, "stream", 0) or None
            return cls(value, ary.__array_interface__["data"][0], ary.shape, ary.strides, ary.dtype, stream, True)
        desc = value.__cuda_array_interface__
        if desc.get("mask") is not None:
            raise TypeError(f"masked CUDA arrays are not supported, got {type(value).__name__}")
        dtype = np.dtype(desc["typestr"])
        shape = tuple(desc["shape"])
        strides = desc.get("strides") or _c_strides(shape, dtype.itemsize)
        stream = desc.get("stream") if "stream" in desc else _torch_stream(value)
        return cls(value, desc["data"][0], shape, strides, dtype, stream)

    def _like(self, ptr, shape, strides, dtype=None) -> DeviceArray:
        return DeviceArray(self.owner, ptr, shape, strides, dtype or self.dtype, self.stream, self.simulated)

    # --- the ndarray surface the validation layer uses ---------------------------------

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}, owner={type(self.owner).__name__})"

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is in GPU memory; fastconv does not copy device arrays to the host "
            "(use backend='cuda' or 'auto')"
        )

    @property
    def is_c_contiguous(self) -> bool:
        return all(s == c for n, s, c in zip(self.shape, self.strides, _c_strides(self.shape, self.dtype.itemsize)) if n > 1)

    def __getitem__(self, item) -> DeviceArray:
        items = list(item) if isinstance(item, tuple) else [item]
        if Ellipsis in items:
            at = items.index(Ellipsis)
            fill = self.ndim - sum(i is not None for i in items if i is not Ellipsis)
            items[at : at + 1] = [slice(None)] * fill
        items += [slice(None)] * (self.ndim - sum(i is not None for i in items))
        ptr, shape, strides, axis = self.ptr, [], [], 0
        for it in items:
            if it is None:
                shape.append(1)
                strides.append(0)
                continue
            n, stride = self.shape[axis], self.strides[axis]
            axis += 1
            if isinstance(it, slice):
                start, stop, step = it.indices(n)
                shape.append(len(range(start, stop, step)))
                strides.append(stride * step)
                ptr += start * stride if shape[-1] else 0
            else:
                i = operator.index(it)
                if not -n <= i < n:
                    raise IndexError(f"index {i} is out of bounds for axis of size {n}")
                ptr += (i % n) * stride
        if axis > self.ndim:
            raise IndexError(f"too many indices for a {self.ndim}-D array")
        return self._like(ptr, shape, strides)

    def reshape(self, *shape) -> DeviceArray:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = [int(n) for n in shape]
        if -1 in shape:
            known = math.prod(n for n in shape if n != -1)
            shape[shape.index(-1)] = self.size // known if known else 0
        if math.prod(shape) != self.size:
            raise ValueError(f"cannot reshape {self.shape} to {tuple(shape)}")
        if self.is_c_contiguous:
            return self._like(self.ptr, shape, _c_strides(tuple(shape), self.dtype.itemsize))
        kept = [(n, s) for n, s in zip(self.shape, self.strides) if n != 1]
        if [n for n in shape if n != 1] == [n for n, _ in kept]:  # only unit axes change
            strides, rest = [], iter(kept)
            for n in shape:
                strides.append(0 if n == 1 else next(rest)[1])
            return self._like(self.ptr, shape, strides)
        return self.copy().reshape(shape)

    def view(self, dtype) -> DeviceArray:
        dtype = np.dtype(dtype)
        if dtype.itemsize != self.dtype.itemsize:
            raise ValueError(f"view needs the same item size, {self.dtype} -> {dtype}")
        return self._like(self.ptr, self.shape, self.strides, dtype)

    def astype(self, dtype, copy: bool = True) -> DeviceArray:
        dtype = np.dtype(dtype)
        if dtype == self.dtype and not copy:
            return self
        return _device_ops().gather(self, dtype)

    def copy(self) -> DeviceArray:
        return _device_ops().gather(self, self.dtype)

    # --- the way out: numba, the CUDA array interface, the caller's library -----------

    @property
    def __cuda_array_interface__(self) -> dict:
        if self.simulated:
            raise AttributeError("simulated device arrays have no CUDA array interface")
        stream = self.stream if isinstance(self.stream, int) else None
        return {
            "shape": self.shape,
            "strides": None if self.is_c_contiguous else self.strides,
            "data": (self.ptr, False),
            "typestr": self.dtype.str,
            "stream": stream,
            "version": 3,
        }

    def numba(self):
        """A numba device array (the simulator's, under NUMBA_ENABLE_CUDASIM) viewing the same memory."""
        return _device_ops().as_numba(self)


def holds_device(call: tuple) -> bool:
    """Whether a normalized call (a NamedTuple of arrays and parameters) holds a device array."""
    return any(isinstance(field, DeviceArray) for field in call)


def to_caller(result: Any, like: Any) -> Any:
    """Return a result as the device array type of ``like``: torch, CuPy or numba."""
    if isinstance(result, tuple):
        return tuple(to_caller(r, like) for r in result)
    if isinstance(result, np.ndarray):  # an empty result made on the host
        result = _device_ops().to_device(result, DeviceArray.wrap(like).stream)
    module = type(like).__module__.split(".")[0]
    if module == "torch":
        import torch

        return torch.as_tensor(result, device=like.device)
    if module == "cupy":
        import cupy

        return cupy.asarray(result)
    return result.numba()


def first_device(args, kwargs):
    for value in (*args, *kwargs.values()):
        if is_device(value):
            return value
    return None
