"""The reference implementations (torch, scipy, numpy) and the tolerances of the whole suite.

One function per public operation, named and called as fastconv's, computed
by the library fastconv answers to (as stumpy's ``tests/naive.py`` serves its
suite): ``conv2d``/``conv1d`` and the transposed, pooling and interpolation
functions by ``torch.nn.functional`` (``padding_mode`` applied as
``torch.nn.Conv2d`` applies it), ``convolve2d``/``correlate2d`` by
``scipy.signal``, ``convolve`` by ``numpy.convolve``, and ``filter2d``,
``gaussian_blur`` and ``sobel`` by ``scipy.ndimage``.  Each computes in
``dtype`` (float64 unless told: int64 gives the exact integer answer, float32
the oracle of float16 before its rounding) and ignores ``method``, which
fastconv's answer must not depend on.

Test modules import from here (pytest puts this directory on ``sys.path``;
the tests are not a package); the comparison helpers are in ``conftest.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.ndimage as ndi
import scipy.signal as signal
import torch
import torch.nn.functional as F

import fastconv as fc

# --- tolerances ------------------------------------------------------------------------------

# Relative tolerances from the issue (float32 1e-5, float64 1e-12); float16 is
# compared against an oracle computed in float32 and rounded to float16, where
# one unit in the last place is 2**-10 ~ 9.8e-4 relative.
RTOL = {
    np.dtype(np.float16): 2e-3,
    np.dtype(np.float32): 1e-5,
    np.dtype(np.float64): 1e-12,
}
# Against an oracle computed in float64 and not rounded to the result's dtype
# (the fuzzed cases of reliability_cases.py): float16 carries one rounding more.
UNROUNDED_RTOL = {**RTOL, np.dtype(np.float16): 2 * RTOL[np.dtype(np.float16)]}
# filter2d/convolve2d/correlate2d by method, relative to max|in1| * sum|in2|:
# the FFT (and "auto", which may choose it) loses more in float32.
METHOD_RTOL = {
    "direct": RTOL,
    "separable": RTOL,
    "fft": {**RTOL, np.dtype(np.float32): 1e-4},
    "auto": {**RTOL, np.dtype(np.float32): 1e-4},
}
# float32 results of two backends, or of two implementations on benchmark shapes
# (any method), compared elementwise with rtol and atol = this (times max|expected|).
FLOAT32_PATHS_RTOL = 1e-4
# a converted network's float32 output against torch's, relative to max|torch output| (test_models.py)
NETWORK_RTOL = 1e-4


def rtol(dtype: Any, method: str = "direct") -> float:
    """The relative tolerance of a result of ``dtype`` (float64's for integer results computed in floats)."""
    table = METHOD_RTOL[method]
    dtype = np.dtype(dtype)
    return table[dtype] if dtype in table else table[np.dtype(np.float64)]


# --- boundary names ------------------------------------------------------------------------------

# conv2d's padding_mode -> torch.nn.functional.pad's mode (as torch.nn.Conv2d pads)
TORCH_PADDING = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}
PADDING_MODES = list(TORCH_PADDING)
# filter2d's boundary -> scipy.ndimage's mode: symm is ``d c b a | a b c d``, reflect ``d c b | a b c d``
NDIMAGE_MODES = {"fill": "constant", "wrap": "grid-wrap", "symm": "reflect", "reflect": "mirror", "nearest": "nearest"}
FILTER_BOUNDARIES = list(NDIMAGE_MODES)


# --- torch ------------------------------------------------------------------------------------------


def _tensor(a: Any, dtype: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=dtype))


def _batched(func: Any, x: Any, nd: int, dtype: Any, *args: Any, **kwargs: Any) -> Any:
    """``func`` of a torch tensor of ``x`` in ``dtype``; an unbatched ``x`` (one dimension fewer) too."""
    xt = _tensor(x, dtype)
    unbatched = xt.ndim == nd + 1
    out = func(xt[None] if unbatched else xt, *args, **kwargs)
    if isinstance(out, tuple):
        return tuple((o[0] if unbatched else o).numpy() for o in out)
    return (out[0] if unbatched else out).numpy()


def _per_axis(value: Any, nd: int) -> tuple[int, ...]:
    return (value,) * nd if isinstance(value, int) else tuple(value)


def axis_pads(padding: Any, kernel: tuple[int, ...], dilation: Any) -> list[tuple[int, int]]:
    """(before, after) padding of each spatial axis, as torch.nn.ConvNd computes it.

    "same" splits ``total = dilation * (k - 1)`` as ``left = total // 2``, ``right = total - left``.
    """
    nd = len(kernel)
    if padding == "same":
        totals = [d * (k - 1) for d, k in zip(_per_axis(dilation, nd), kernel)]
        return [(t // 2, t - t // 2) for t in totals]
    if padding == "valid":
        return [(0, 0)] * nd
    return [(p, p) for p in _per_axis(padding, nd)]


def conv(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    dtype: Any = np.float64,
) -> np.ndarray:
    """torch's conv1d or conv2d (by ``weight``'s rank), batched or not, computed in ``dtype``.

    ``padding_mode`` is applied as ``torch.nn.ConvNd`` does:
    ``F.convNd(F.pad(x, pads, mode), w, padding=0)``.
    """
    nd = np.ndim(weight) - 2
    if padding == "same" and any(s != 1 for s in _per_axis(stride, nd)):
        raise ValueError("torch: padding='same' needs stride 1")
    pads = axis_pads(padding, tuple(np.shape(weight)[2:]), dilation)
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]  # last axis first, as F.pad wants
    func = {1: F.conv1d, 2: F.conv2d}[nd]
    wt, bt = _tensor(weight, dtype), None if bias is None else _tensor(bias, dtype)

    def padded_conv(xt: torch.Tensor) -> torch.Tensor:
        return func(F.pad(xt, flat, mode=TORCH_PADDING[padding_mode]), wt, bt, stride, 0, dilation, groups)

    return _batched(padded_conv, input, nd, dtype)


conv2d = conv1d = conv


def conv_transpose(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    dtype: Any = np.float64,
) -> np.ndarray:
    """torch's conv_transpose1d or conv_transpose2d (by ``weight``'s rank), batched or not, computed in ``dtype``."""
    nd = np.ndim(weight) - 2
    func = {1: F.conv_transpose1d, 2: F.conv_transpose2d}[nd]
    bt = None if bias is None else _tensor(bias, dtype)
    return _batched(func, input, nd, dtype, _tensor(weight, dtype), bt, stride, padding, output_padding, groups, dilation)


conv_transpose2d = conv_transpose1d = conv_transpose


def max_pool2d(input: Any, *args: Any, dtype: Any = np.float64, **kwargs: Any) -> Any:
    """torch's max_pool2d in ``dtype``: values, or (values, int64 indices) with ``return_indices``."""
    return _batched(F.max_pool2d, input, 2, dtype, *args, **kwargs)


def avg_pool2d(input: Any, *args: Any, dtype: Any = np.float64, **kwargs: Any) -> np.ndarray:
    return _batched(F.avg_pool2d, input, 2, dtype, *args, **kwargs)


def adaptive_avg_pool2d(input: Any, output_size: Any, *, dtype: Any = np.float64) -> np.ndarray:
    return _batched(F.adaptive_avg_pool2d, input, 2, dtype, output_size)


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False, *, dtype: Any = np.float64) -> Any:
    return _batched(F.adaptive_max_pool2d, input, 2, dtype, output_size, return_indices)


def max_pool_exact(x: np.ndarray, op: str, *args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(values in x.dtype, int64 indices) of the max pool ``op`` ("max_pool2d" or "adaptive_max_pool2d").

    Floats run in float64 (exact for max), integers in int64, bools as int64
    (torch has no bool max pooling; nor integer adaptive max pooling, which
    runs in float64, exact for the small integers drawn).
    """
    dtype = np.float64 if x.dtype.kind == "f" or op == "adaptive_max_pool2d" else np.int64
    func = {"max_pool2d": max_pool2d, "adaptive_max_pool2d": adaptive_max_pool2d}[op]
    values, indices = func(x, *args, return_indices=True, dtype=dtype, **kwargs)
    return values.astype(x.dtype), indices


def interpolate(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    *,
    dtype: Any = None,
) -> np.ndarray:
    """torch's interpolate on ``input`` cast to ``dtype`` (None: as it is)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.interpolate(_tensor(input, dtype), size, scale_factor, mode, align_corners, recompute_scale_factor)
    return out.numpy()


# --- scipy.signal and numpy ---------------------------------------------------------------------------


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0, *, method: Any = None, dtype: Any = np.float64) -> np.ndarray:
    """scipy.signal.convolve2d on the inputs cast to ``dtype`` (int64: exact, as fastconv's integer results)."""
    return signal.convolve2d(np.asarray(in1, dtype), np.asarray(in2, dtype), mode, boundary, fillvalue)


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0, *, method: Any = None, dtype: Any = np.float64) -> np.ndarray:
    return signal.correlate2d(np.asarray(in1, dtype), np.asarray(in2, dtype), mode, boundary, fillvalue)


def convolve(a: Any, v: Any, mode: str = "full", *, dtype: Any = np.float64) -> np.ndarray:
    return np.convolve(np.asarray(a, dtype), np.asarray(v, dtype), mode)


# --- scipy.ndimage ------------------------------------------------------------------------------------


def filter2d(image: Any, kernel: Any, boundary: str = "reflect", fillvalue: float = 0.0, *, method: Any = None, dtype: Any = np.float64) -> np.ndarray:
    """scipy.ndimage.correlate of every (H, W) plane (origin 0: anchored at ``k // 2``), computed in ``dtype``.

    ndimage skips zero kernel weights: where an image holds NaN or inf, give it kernels without zeros.
    """
    image = np.asarray(image, dtype)
    if image.size == 0:
        return image.copy()
    kernel = np.asarray(kernel, dtype).reshape((1,) * (image.ndim - 2) + np.shape(kernel))
    return ndi.correlate(image, kernel, mode=NDIMAGE_MODES[boundary], cval=fillvalue, origin=0)


def gaussian_blur(
    image: Any, sigma: Any, size: None = None, boundary: str = "reflect", *, channel_axis: int | None = None, method: Any = None, dtype: Any = np.float64
) -> np.ndarray:
    """scipy.ndimage.gaussian_filter over the two image axes (truncated at 4 sigma: fastconv's default size)."""
    if size is not None:
        raise NotImplementedError("gaussian_filter's size is 2 * round(4 * sigma) + 1")
    image = np.asarray(image, dtype)
    if image.size == 0:
        return image.copy()
    spatial = [a for a in range(image.ndim) if channel_axis is None or a != channel_axis % image.ndim][-2:]
    pair = (sigma, sigma) if np.ndim(sigma) == 0 else tuple(sigma)
    sigmas = [pair[spatial.index(a)] if a in spatial else 0 for a in range(image.ndim)]
    return ndi.gaussian_filter(image, sigmas, mode=NDIMAGE_MODES[boundary])


def sobel(image: Any, boundary: str = "reflect", *, method: Any = None, dtype: Any = np.float64) -> np.ndarray:
    """hypot of the correlations with sobel_x and sobel_y, plane by plane."""
    gx = filter2d(image, fc.kernels.sobel_x(), boundary, dtype=dtype)
    return np.hypot(gx, filter2d(image, fc.kernels.sobel_y(), boundary, dtype=dtype))


# --- cv2 (photos: uint8 and interleaved colour) ------------------------------------------------

CV2_BORDERS = {"reflect": "BORDER_REFLECT_101", "symm": "BORDER_REFLECT", "nearest": "BORDER_REPLICATE", "fill": "BORDER_CONSTANT"}
NP_PAD_MODES = {"fill": "constant", "wrap": "wrap", "symm": "symmetric", "reflect": "reflect", "nearest": "edge"}


def cv2_border(boundary: str) -> int:
    """cv2's border flag for a fastconv ``boundary`` (cv2's filters take no BORDER_WRAP)."""
    import cv2

    return getattr(cv2, CV2_BORDERS[boundary])


def box_sum(image: Any, size: tuple[int, int], boundary: str = "reflect", channel_axis: int | None = None) -> np.ndarray:
    """The exact sum over every ``size`` window anchored at ``size // 2``: int64 for integer images, float64 otherwise."""
    x = np.asarray(image)
    x = x.astype(np.int64 if x.dtype.kind in "iub" else np.float64)
    if channel_axis is not None:
        x = np.moveaxis(x, channel_axis, 0)
    (kh, kw), lead = size, [(0, 0)] * (x.ndim - 2)
    padded = np.pad(x, lead + [(kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)], mode=NP_PAD_MODES[boundary])
    out = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(-2, -1)).sum(axis=(-2, -1))
    return out if channel_axis is None else np.moveaxis(out, 0, channel_axis)


def saturated(values: Any, dtype: Any) -> np.ndarray:
    """``values`` rounded half to even and clipped into the integer ``dtype``, as cv2's ``saturate_cast``."""
    info = np.iinfo(dtype)
    return np.clip(np.rint(np.asarray(values, np.float64)), info.min, info.max).astype(dtype)


def box_filter(image: Any, size: Any, normalize: bool = True, boundary: str = "reflect", *, method: Any = None, dtype: Any = np.float64) -> np.ndarray:
    """The window sums of :func:`box_sum`, divided by the window's area when ``normalize``, in ``dtype``."""
    image = np.asarray(image)
    kh, kw = (size, size) if np.ndim(size) == 0 else size
    if image.size == 0:
        return image.astype(dtype)
    sums = box_sum(image, (kh, kw), boundary).astype(dtype)
    return sums / (kh * kw) if normalize else sums
