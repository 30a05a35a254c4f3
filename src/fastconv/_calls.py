"""The ground floor: the call records every layer passes down, and the formulas they all share.

This module imports nothing from the package but ``_padding``, and nothing
but NumPy: the validation layer builds the records, the backends read them,
and the cost model and the method planner price them.  The scalar formulas
here (output sizes, windows, activations, torch's max rule) are plain Python
on ints and floats, so the Numba backends compile these same functions
rather than restating them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# --- fused activations ------------------------------------------------------------------------
# A call carries the code (an index in ACTIVATIONS); every backend applies it to each output as it stores it.
ACTIVATIONS = (None, "relu", "relu6", "silu", "gelu", "hardswish", "hardsigmoid")
NO_ACTIVATION, RELU, RELU6, SILU, GELU, HARDSWISH, HARDSIGMOID = range(len(ACTIVATIONS))
EXACT_ACTIVATIONS = (None, "relu", "relu6")  # the ones an integer (int64) convolution can apply exactly
SQRT_HALF = 0.7071067811865476


def relu(v):
    return 0 if v < 0 else v


def relu6(v):
    return 0 if v < 0 else (6 if v > 6 else v)


def silu(v):
    """``v * sigmoid(v)`` in float64; below -700 ``exp(-v)`` would overflow, and the product is -0 there."""
    x = float(v)
    return x / (1.0 + math.exp(-x)) if x > -700.0 else x * 0.0


def gelu(v):
    """torch's exact (erf) GELU, in float64."""
    x = float(v)
    return 0.5 * x * (1.0 + math.erf(x * SQRT_HALF))


def hardsigmoid(v):
    """``relu6(v + 3) / 6`` in float64 (NaN stays NaN).  Written out: the kernels compile each of these alone."""
    t = float(v) + 3.0
    return (0.0 if t < 0.0 else (6.0 if t > 6.0 else t)) / 6.0


def hardswish(v):
    """``v * hardsigmoid(v)`` in float64, as torch: -inf gives NaN (-inf * 0), -3 gives -0."""
    x = float(v)
    t = x + 3.0
    return x * (0.0 if t < 0.0 else (6.0 if t > 6.0 else t)) / 6.0


# --- torch's max rule ---------------------------------------------------------------------------


def wins(val, best):
    """Whether ``val`` replaces ``best`` in a max scan: greater, or NaN (the last NaN wins, as in torch)."""
    return val > best or val != val


def lowest(dtype: np.dtype):
    """The value a max scan starts from: -inf, False, or the integer type's minimum."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


# --- geometry -------------------------------------------------------------------------------------


def conv_out_size(size, kernel, pad_total, stride, dilation):
    """Output length of a convolution: ``(size + pad_total - dilation * (kernel - 1) - 1) // stride + 1``."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_out_size(size, kernel, stride, pad, dilation, output_padding):
    """Output length of a transposed convolution, as torch's ``ConvTranspose2d`` documents it."""
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1


def pool_out_size(size: int, kernel: int, pad: int, stride: int, dilation: int, ceil_mode: bool) -> int:
    """Output length of a pooling window, with torch's ``ceil_mode`` rule."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def avg_pool_counts(size: int, out: int, kernel: int, stride: int, pad: int, count_include_pad: bool) -> np.ndarray:
    """Each average-pooling window's extent on one axis: torch's divisor factor."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def adaptive_span(i, size, out):
    """Start and end of adaptive pooling window ``i`` (an int or an array of them), as torch computes them."""
    return (i * size) // out, ((i + 1) * size + out - 1) // out


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of every adaptive pooling window on one axis."""
    return adaptive_span(np.arange(out, dtype=np.int64), size, out)


# --- call records: what the validation layer hands to every backend --------------------------------


class ConvCall(NamedTuple):
    input: np.ndarray  # (N, C, H, W), compute dtype
    weight: np.ndarray  # (O, C // groups, kH, kW), compute dtype
    bias: np.ndarray | None
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    dilation: tuple[int, int]
    groups: int
    boundary: str  # an np.pad mode
    out_dtype: np.dtype
    batched: bool
    activation: int = NO_ACTIVATION  # a code of ACTIVATIONS, applied to each output as it is stored


class ConvTransposeCall(NamedTuple):
    input: np.ndarray  # (N, C_in, H, W), compute dtype
    weight: np.ndarray  # (C_in, C_out // groups, kH, kW), compute dtype
    bias: np.ndarray | None
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    out_size: tuple[int, int]
    out_dtype: np.dtype
    batched: bool


class PoolCall(NamedTuple):
    input: np.ndarray  # (N, C, H, W), compute dtype
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out_size: tuple[int, int]
    out_dtype: np.dtype
    batched: bool


class AdaptiveCall(NamedTuple):
    input: np.ndarray
    out_size: tuple[int, int]
    out_dtype: np.dtype
    batched: bool


class InterpolateCall(NamedTuple):
    """Resampling of every (H, W) plane through per-axis source tables (see ``interpolate_axis``).

    Output row ``i`` reads input rows ``rows[0][i]`` and ``rows[1][i]`` with
    weights ``row_weights[0][i]`` and ``row_weights[1][i]``; columns likewise.
    ``linear`` False: nearest, ``out = x[rows[0], cols[0]]`` (no arithmetic).
    ``two_d`` False: 1-D data (H = 1), the row weights are not applied.
    """

    input: np.ndarray  # (N, C, H, W), compute dtype
    rows: tuple[np.ndarray, np.ndarray]  # int64
    cols: tuple[np.ndarray, np.ndarray]
    row_weights: tuple[np.ndarray, np.ndarray]  # compute dtype (float64 for nearest on integers)
    col_weights: tuple[np.ndarray, np.ndarray]
    linear: bool
    two_d: bool
    out_size: tuple[int, int]
    out_dtype: np.dtype
    batched: bool  # always True: torch reads 3-D input as (N, C, L)


class PlaneCall(NamedTuple):
    """A correlation of every (H, W) plane with one kernel, after padding by ``pads``."""

    planes: np.ndarray  # (B, H, W), compute dtype
    kernel: np.ndarray  # (kH, kW), compute dtype
    pads: tuple[int, int, int, int]
    boundary: str  # an np.pad mode, or "overlap": no padding term at all, as np.convolve
    fillvalue: float
    out_dtype: np.dtype


class ImageCall(NamedTuple):
    """filter2d on images as they come: (B, H, W, C) pixels with C interleaved channels (1 for planes)."""

    image: np.ndarray  # (B, H, W, C): its own dtype when 8/16-bit integer or float32/64, else the compute dtype
    kernel: np.ndarray  # (kH, kW), the compute dtype (float32 or float64)
    pads: tuple[int, int, int, int]
    boundary: str  # an np.pad mode
    fillvalue: float
    out_dtype: np.dtype  # the result's dtype; integers are rounded and saturated as cv2 does (see saturate)

    def planes(self) -> PlaneCall:
        """The same correlation as a :class:`PlaneCall` over (B * C, H, W) planes in the compute dtype."""
        b, h, w, c = self.image.shape
        planes = np.moveaxis(self.image, 3, 1).reshape(b * c, h, w).astype(self.kernel.dtype, copy=False)
        return PlaneCall(planes, self.kernel, self.pads, self.boundary, self.fillvalue, self.kernel.dtype)


def saturate(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` in ``dtype``; into an integer dtype as cv2's ``saturate_cast``: rounded half to even, clamped, NaN to the minimum clamp."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu" or values.dtype == dtype:
        return values.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    if values.dtype.kind in "iub":
        return np.clip(values, info.min, info.max).astype(dtype)
    rounded = np.rint(values.astype(np.float64))
    return np.clip(np.nan_to_num(rounded, nan=info.min), info.min, info.max).astype(dtype)
