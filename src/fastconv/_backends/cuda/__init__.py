"""The ``cuda`` backend: ``numba.cuda`` kernels (install ``fastconv[cuda]``).

The entry points keep the contract in ``fastconv._backends``; they live by
operation (``conv``, ``planes``, ``pool``, ``interpolate``) as in the cpu
backend, with launch settings, device tables, streams and the device-array
operations in ``common``.  Kernels are compiled on first use, per dtype and
block shape.  Loading this package registers its device-array operations
(copies, casts, numba views) with ``_device``.
"""

from __future__ import annotations

import numpy as np
from numba.np import numpy_support

from ... import _device
from . import common
from .common import CONV_BLOCK, CONV_ROWS, OC_BLOCK, SIMULATED, _gather, as_numba, gather, to_device
from .conv import _conv_direct, _conv_tiled_bounds, _conv_tiled_source, _conv_transpose, conv2d, conv_transpose2d
from .interpolate import _interpolate, interpolate
from .planes import correlate_planes
from .pool import _adaptive_pool, _avg_pool, _max_pool, adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d

_device.provide(common)

__all__ = [
    "SIMULATED",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "as_numba",
    "avg_pool2d",
    "conv2d",
    "conv_transpose2d",
    "correlate_planes",
    "gather",
    "interpolate",
    "kernel_signatures",
    "max_pool2d",
    "to_device",
]


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
