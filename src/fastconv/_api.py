"""The public operations: check the arguments once, run the chosen backend, shape the result.

Each is wrapped in ``keeps_device_type``: CUDA device-array inputs give
device-array results of the caller's type (numba, CuPy, torch).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _validate as check
from ._calls import saturate
from ._device import DeviceArray
from ._dispatch import bound, choose, keeps_device_type, run
from ._methods import METHODS, plan
from .kernels import for_image
from .kernels import named as _named_kernel

IntPair = int | tuple[int, int]
Backend = str
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
SignalMode = Literal["full", "same", "valid"]
Method = Literal["auto", "direct", "separable", "fft"]
Activation = Literal["relu", "relu6", "silu", "gelu", "hardswish", "hardsigmoid"]


def _finish(out: np.ndarray, dtype: np.dtype, batched: bool = True) -> np.ndarray:
    out = out.astype(dtype, copy=False)
    return out if batched else out[0]


def _finish_pool(result, call, return_indices: bool):
    if return_indices:
        values, indices = result
        return _finish(values, call.out_dtype, call.batched), _finish(indices, np.dtype(np.int64), call.batched)
    return _finish(result, call.out_dtype, call.batched)


@keeps_device_type
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
    activation: Activation | None = None,
    backend: Backend = "auto",
) -> np.ndarray:
    """2-D cross-correlation over (N, C, H, W) or (C, H, W) input, as ``torch.nn.functional.conv2d``.

    ``padding_mode`` pads as ``torch.nn.Conv2d`` does.

    Dtypes: floating inputs give ``np.result_type(input, weight, bias)``, so
    float32 input with a float32 weight stays float32, but float32 input with
    a float64 weight gives float64 (torch raises a RuntimeError for mixed
    dtypes; cast the weight to keep float32).  float16 is computed in float32
    and returned as float16.  Integer and bool inputs give exact int64
    results (uint64 gives float64, ``np.result_type(uint64, int64)``).

    ``activation`` is applied to each output (bias included) as the kernel
    stores it, in the same pass: "relu", "relu6" (``clamp(0, 6)``), "silu"
    (``x * sigmoid(x)``), "gelu" (torch's exact erf form), "hardswish"
    (``x * relu6(x + 3) / 6``) or "hardsigmoid" (``relu6(x + 3) / 6``).  NaN
    stays NaN; the last four are computed in float64 and need floating inputs (integer
    convolutions take "relu" and "relu6" only).  gelu(+inf) is +inf (torch's
    float32 CPU kernel gives NaN there).

    Parameters
    ----------
    input : array_like, (N, C, H, W) or (C, H, W)
    weight : array_like, (O, C // groups, kH, kW)
    bias : array_like, (O,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), "same" or "valid"
    groups : int
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
    activation : {None, "relu", "relu6", "silu", "gelu", "hardswish", "hardsigmoid"}
    backend : str
        "auto", or a name from :func:`fastconv.backends`.

    Returns
    -------
    ndarray, (N, O, Ho, Wo) or (O, Ho, Wo)

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).shape
    (1, 1, 2, 2)
    >>> fc.conv2d(np.ones((1, 1, 2, 2)), -np.ones((1, 1, 1, 1)), activation="relu").tolist()
    [[[[0.0, 0.0], [0.0, 0.0]]]]
    """
    call = check.conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups, padding_mode, activation)
    return _finish(run("conv2d", call, backend=backend), call.out_dtype, call.batched)


def conv2d_repeatable(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntPair,
    padding: IntPair | str,
    dilation: IntPair,
    groups: int,
    padding_mode: PaddingMode,
    activation: str | None,
    backend: str,
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray] | None]:
    """``conv2d``'s result, and a function computing it for another input of ``input``'s shape and dtype without the checks.

    The function (None where ``input`` had to be converted, or was not a
    batch) takes a C-contiguous ndarray of exactly ``input``'s shape and
    dtype, which its caller guarantees: ``fastconv.nn.Conv2d`` holds one per
    input shape, so that a network's convolutions are checked on the first
    call only.
    """
    call = check.conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups, padding_mode, activation)
    kernel = bound("conv2d", call, backend)
    out = _finish(kernel(call), call.out_dtype, call.batched)
    x = call.input
    same = x.shape == input.shape and x.dtype == input.dtype and x.strides == input.strides and x.ctypes.data == input.ctypes.data
    if not same or not call.batched or not input.flags.c_contiguous:  # a converted input: the checks must run each time
        return out, None
    return out, lambda x: _finish(kernel(call._replace(input=x)), call.out_dtype)


@keeps_device_type
def conv1d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | Literal["same", "valid"] = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
    *,
    padding_mode: PaddingMode = "zeros",
    activation: Activation | None = None,
    backend: Backend = "auto",
) -> np.ndarray:
    """1-D cross-correlation over (N, C, L) or (C, L) input, as ``torch.nn.functional.conv1d``.

    The arguments and the result dtype are those of :func:`conv2d` with one
    spatial axis.

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.conv1d([[1.0, 2.0, 3.0]], [[[1.0, -1.0]]]).tolist()
    [[-1.0, -1.0]]
    """
    call = check.conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups, padding_mode, activation)
    return _finish(run("conv2d", call, backend=backend)[:, :, 0], call.out_dtype, call.batched)


@keeps_device_type
def conv_transpose2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
    *,
    backend: Backend = "auto",
) -> np.ndarray:
    """2-D transposed convolution over (N, C, H, W) or (C, H, W) input, as ``torch.nn.functional.conv_transpose2d``.

    The output is ``(H - 1) * stride - 2 * padding + dilation * (kH - 1) +
    output_padding + 1`` high (and likewise wide); ``output_padding`` must be
    smaller than ``stride`` or ``dilation`` on each axis (see
    :func:`fastconv.conv_transpose_output_size`).  Dtypes as in
    :func:`conv2d`: floats give ``np.result_type`` of the inputs, integer
    and bool inputs exact int64 results.

    Parameters
    ----------
    input : array_like, (N, C_in, H, W) or (C_in, H, W)
    weight : array_like, (C_in, C_out // groups, kH, kW)
    bias : array_like, (C_out,), optional
    stride, padding, output_padding, dilation : int or (int, int)
    groups : int
    backend : str
        "auto", or a name from :func:`fastconv.backends`.

    Returns
    -------
    ndarray, (N, C_out, Ho, Wo) or (C_out, Ho, Wo)

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2).shape
    (1, 1, 4, 4)
    """
    call = check.conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups, dilation)
    return _finish(run("conv_transpose2d", call, backend=backend), call.out_dtype, call.batched)


@keeps_device_type
def conv_transpose1d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] = 0,
    output_padding: int | tuple[int] = 0,
    groups: int = 1,
    dilation: int | tuple[int] = 1,
    *,
    backend: Backend = "auto",
) -> np.ndarray:
    """1-D transposed convolution over (N, C, L) or (C, L) input, as ``torch.nn.functional.conv_transpose1d``.

    The arguments and the result dtype are those of :func:`conv_transpose2d`
    with one spatial axis.

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.conv_transpose1d([[1.0, 2.0]], [[[1.0, 1.0]]]).tolist()
    [[1.0, 3.0, 2.0]]
    """
    call = check.conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups, dilation)
    return _finish(run("conv_transpose2d", call, backend=backend)[:, :, 0], call.out_dtype, call.batched)


@keeps_device_type
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
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    NaN wins a window.  The indices are int64 flat ``h * W + w`` positions in
    each input plane.  Every real dtype is kept (float16 is compared in
    float32).  The output size is :func:`fastconv.pool_output_size`.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> fc.max_pool2d(x, 2).tolist()
    [[[5.0, 7.0], [13.0, 15.0]]]
    """
    call = check.pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, check.pool_dtypes)
    result = run("max_pool2d", call, bool(return_indices), backend=backend)
    return _finish_pool(result, call, return_indices)


@keeps_device_type
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
) -> np.ndarray:
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Floats keep their dtype; integer and bool inputs give float64.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.avg_pool2d(np.arange(16.0).reshape(1, 4, 4), 2).tolist()
    [[[2.5, 4.5], [10.5, 12.5]]]
    """
    if divisor_override is not None:
        divisor_override = check.positive_int(divisor_override, "divisor_override", "avg_pool2d")
    call = check.pool("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode, check.filter_dtypes)
    out = run("avg_pool2d", call, bool(count_include_pad), divisor_override, backend=backend)
    return _finish(out, call.out_dtype, call.batched)


@keeps_device_type
def adaptive_avg_pool2d(
    input: ArrayLike, output_size: int | tuple[int | None, int | None], *, backend: Backend = "auto"
) -> np.ndarray:
    """Adaptive average pooling to ``output_size``, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Floats keep their dtype; integer and bool inputs give float64.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.adaptive_avg_pool2d(np.arange(16.0).reshape(1, 4, 4), 1).tolist()
    [[[7.5]]]
    """
    call = check.adaptive("adaptive_avg_pool2d", input, output_size, check.filter_dtypes)
    return _finish(run("adaptive_avg_pool2d", call, backend=backend), call.out_dtype, call.batched)


@keeps_device_type
def adaptive_max_pool2d(
    input: ArrayLike,
    output_size: int | tuple[int | None, int | None],
    return_indices: bool = False,
    *,
    backend: Backend = "auto",
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Adaptive max pooling to ``output_size``, as ``torch.nn.functional.adaptive_max_pool2d``.

    Every real dtype is kept; the indices are int64, as in :func:`max_pool2d`.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.adaptive_max_pool2d(np.arange(16.0).reshape(1, 4, 4), 1).tolist()
    [[[15.0]]]
    """
    call = check.adaptive("adaptive_max_pool2d", input, output_size, check.pool_dtypes)
    result = run("adaptive_max_pool2d", call, bool(return_indices), backend=backend)
    return _finish_pool(result, call, return_indices)


InterpolateMode = Literal["nearest", "nearest-exact", "linear", "bilinear"]


def _interpolate(func, input, size, scale_factor, mode, align_corners, recompute_scale_factor, backend):
    call = check.interpolate(func, input, size, scale_factor, mode, align_corners, recompute_scale_factor)
    out = run("interpolate", call, backend=backend)
    return _finish(out if call.two_d else out[:, :, 0], call.out_dtype)


@keeps_device_type
def interpolate(
    input: ArrayLike,
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: InterpolateMode = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    *,
    backend: Backend = "auto",
) -> np.ndarray:
    """Resample (N, C, L) or (N, C, H, W) input, as ``torch.nn.functional.interpolate``.

    Give ``size`` or ``scale_factor`` (the output is then ``floor(n * scale_factor)``
    long, and the kernel uses ``1 / scale_factor`` unless
    ``recompute_scale_factor``).  Modes: "nearest" (torch's legacy rule,
    ``floor(i * in / out)``), "nearest-exact" (pixel centres), "linear" (3-D
    input) and "bilinear" (4-D), with ``align_corners``.  Source positions are
    computed in torch's float arithmetic, so nearest modes pick the same
    pixels as torch.  Nearest modes keep every dtype; linear modes keep
    floats and give float64 for integer and bool input (torch takes only
    uint8 there, and rounds).

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.interpolate(np.array([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    """
    return _interpolate("interpolate", input, size, scale_factor, mode, align_corners, recompute_scale_factor, backend)


@keeps_device_type
def upsample(
    input: ArrayLike,
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: InterpolateMode = "nearest",
    align_corners: bool | None = None,
    *,
    backend: Backend = "auto",
) -> np.ndarray:
    """:func:`interpolate` under torch's deprecated name ``torch.nn.functional.upsample``; dtypes as there.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.upsample(np.array([[[0.0, 2.0]]]), size=3, mode="linear", align_corners=True).tolist()
    [[[0.0, 1.0, 2.0]]]
    """
    return _interpolate("upsample", input, size, scale_factor, mode, align_corners, None, backend)


def _plane_result(call: check.PlaneCall, backend: Backend, method: Method = "direct", func: str = "") -> np.ndarray:
    method = check.choice(method, "method", func, METHODS)
    if call.planes.size == 0:
        shape = (call.planes.shape[0],) + tuple(
            n + lo + hi - k + 1 for n, lo, hi, k in zip(call.planes.shape[1:], call.pads[::2], call.pads[1::2], call.kernel.shape)
        )
        return np.zeros(shape, call.out_dtype)
    return _finish(run("correlate_planes", call, backend=backend, method=method), call.out_dtype)


@keeps_device_type
def convolve2d(
    in1: ArrayLike,
    in2: ArrayLike,
    mode: SignalMode = "full",
    boundary: str = "fill",
    fillvalue: float = 0,
    *,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """2-D convolution, as ``scipy.signal.convolve2d``.

    ``boundary`` is "fill" (alias "pad"), "wrap" (alias "circular") or "symm"
    (alias "symmetric").  In "valid" mode the inputs are swapped when ``in2``
    is the larger.

    Dtypes: floats give ``np.result_type(in1, in2)`` (float32 with float64 is
    float64, as in scipy); integer and bool inputs give exact int64 results
    (scipy would keep a narrow integer type and wrap around).  Complex inputs
    (complex64, complex128) give ``np.result_type(in1, in2)`` as scipy does,
    computed as real passes over the real and imaginary parts; ``fillvalue``
    may then be complex (a complex ``fillvalue`` with real inputs is a
    ``ValueError``, as in scipy).

    ``method`` is "direct", "separable" (1-D passes over the kernel's rank-r
    SVD factors), "fft" (overlap-save through ``scipy.fft``) or "auto", which
    picks the fastest by a cost model; see :func:`fastconv.choose_conv_method`.
    All agree with "direct" within floating-point rounding.

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.convolve2d([[1, 2], [3, 4]], [[1, 1]]).tolist()
    [[1, 3, 2], [3, 7, 4]]
    """
    return _signal2d("convolve2d", in1, in2, mode, boundary, fillvalue, method, backend)


def _real_signal2d(func: str, a, b, mode, boundary, fillvalue, method: Method, backend: Backend) -> np.ndarray:
    call, swapped = check.signal2d(func, a, b, mode, boundary, fillvalue, flip=func == "convolve2d")
    out = _plane_result(call, backend, method, func)[0]
    return out[::-1, ::-1].copy() if swapped and func == "correlate2d" else out


def _complex_parts(x: np.ndarray, part: np.dtype) -> tuple[np.ndarray, np.ndarray | None]:
    """The real and imaginary parts of ``x`` in ``part`` (None for the imaginary part of a real array)."""
    if x.dtype.kind != "c":
        return np.asarray(x, dtype=part), None
    return np.ascontiguousarray(x.real, dtype=part), np.ascontiguousarray(x.imag, dtype=part)


def _complex_result(real: Callable, a, b, fill: complex, conjugate: bool) -> np.ndarray:
    """``sum(a * b)``-bilinear ``real(x, k, fill)`` on complex inputs, as real passes over their parts.

    ``conjugate``: ``b`` is conjugated first (correlate2d).  ``fill`` pads ``a``:
    its real part pads the real part, its imaginary part the imaginary part.
    """
    dtype = np.result_type(a.dtype, b.dtype)
    part = np.finfo(dtype).dtype
    ar, ai = _complex_parts(a, part)
    br, bi = _complex_parts(b, part)
    if conjugate and bi is not None:
        bi = -bi
    if ai is None and fill.imag != 0:
        ai = np.zeros_like(ar)
    re = real(ar, br, fill.real)
    im = np.zeros_like(re)
    if ai is not None and bi is not None:
        re = re - real(ai, bi, fill.imag)
    if bi is not None:
        im = im + real(ar, bi, fill.real)
    if ai is not None:
        im = im + real(ai, br, fill.imag)
    out = np.empty(re.shape, dtype)
    out.real, out.imag = re, im
    return out


def _signal2d(func: str, in1, in2, mode, boundary, fillvalue, method: Method, backend: Backend) -> np.ndarray:
    a = check.as_array(in1, "in1", func, complex_ok=True)
    b = check.as_array(in2, "in2", func, complex_ok=True)
    fill = check.fillvalue_scalar(fillvalue, func, complex_ok=True)
    if a.dtype.kind != "c" and b.dtype.kind != "c":
        if isinstance(fill, complex):  # scipy refuses even 2 + 0j here
            raise check.fail(func, f"could not cast `fillvalue` directly to the output type (it was first converted to complex), got {fillvalue!r} for real inputs")
        return _real_signal2d(func, a, b, mode, boundary, fill, method, backend)
    if a.ndim != 2 or b.ndim != 2:  # checked here, before the parts are taken
        raise check.fail(func, f"in1 and in2 must both be 2-D arrays, got in1 shape {a.shape} and in2 shape {b.shape}")
    swapped = mode == "valid" and not all(m >= p for m, p in zip(a.shape, b.shape))
    out = _complex_result(
        lambda x, k, f: _real_signal2d(func, x, k, mode, boundary, f, method, backend), a, b, complex(fill), func == "correlate2d"
    )
    return out.conj() if swapped and func == "correlate2d" else out


@keeps_device_type
def correlate2d(
    in1: ArrayLike,
    in2: ArrayLike,
    mode: SignalMode = "full",
    boundary: str = "fill",
    fillvalue: float = 0,
    *,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """2-D cross-correlation, as ``scipy.signal.correlate2d``; the arguments and dtypes are :func:`convolve2d`'s.

    As in scipy, a complex ``in2`` is conjugated:
    ``out[i, j] = sum(in1[i + m, j + n] * conj(in2[m, n]))`` (and in "valid"
    mode with the inputs swapped, the result is scipy's, flipped and
    conjugated accordingly).

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.correlate2d([[1, 2], [3, 4]], [[1, 1]], mode="valid").tolist()
    [[3], [7]]
    >>> fc.correlate2d([[1]], [[2j]]).tolist()
    [[-2j]]
    """
    return _signal2d("correlate2d", in1, in2, mode, boundary, fillvalue, method, backend)


@keeps_device_type
def convolve(a: ArrayLike, v: ArrayLike, mode: SignalMode = "full", *, backend: Backend = "auto") -> np.ndarray:
    """1-D convolution, as ``numpy.convolve``.

    ``mode`` is "full", "same", "valid" or numpy's codes 2, 1, 0; another
    string or integer is a ``ValueError`` and anything else (``None``) a
    ``TypeError``, as in numpy.  Dtypes: floats give ``np.result_type(a,
    v)``; integer and bool inputs give exact int64 results (numpy keeps a
    narrow integer type and wraps around); complex inputs give
    ``np.result_type(a, v)``, computed as real passes (no conjugation, as in
    numpy).

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.convolve([1, 2, 3], [0, 1, 0.5]).tolist()
    [0.0, 1.0, 2.5, 4.0, 1.5]
    >>> fc.convolve([1, 2j], [1j, 1]).tolist()
    [1j, (-1+0j), 2j]
    """
    x = check.as_array(a, "a", "convolve", complex_ok=True)
    k = check.as_array(v, "v", "convolve", complex_ok=True)
    if x.dtype.kind != "c" and k.dtype.kind != "c":
        return _plane_result(check.convolve1d("convolve", x, k, mode), backend)[0, 0]
    check.convolve1d("convolve", np.zeros(x.shape), np.zeros(k.shape), mode)  # the shape and mode errors, before the parts
    return _complex_result(lambda p, q, f: _plane_result(check.convolve1d("convolve", p, q, mode), backend)[0, 0], x, k, 0j, False)


@keeps_device_type
def filter2d(
    image: ArrayLike,
    kernel: ArrayLike | str,
    boundary: str = "reflect",
    fillvalue: float = 0,
    *,
    channel_axis: int | None = None,
    dtype: DTypeLike | None = None,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """Same-size correlation of every (H, W) plane of ``image`` with ``kernel``, as ``cv2.filter2D``.

    The kernel is anchored at ``k // 2``; a string names a kernel of
    :mod:`fastconv.kernels` (``"sobel_x"``, ``"gaussian"``...).  Boundaries:
    "fill" (``fillvalue``), "wrap", "symm" (``d c b a | a b c d``, cv2's
    ``BORDER_REFLECT``), "reflect" (``d c b | a b c d``, the default, cv2's
    ``BORDER_REFLECT_101``) and "nearest" (``a a a | a b c d``,
    ``BORDER_REPLICATE``).  The image is (..., H, W); with ``channel_axis``
    (say -1 for (H, W, C)), H and W are the last two of the other axes, and a
    last channel axis is filtered where it lies, interleaved.  ``method`` is
    as in :func:`convolve2d`; under "auto" a constant kernel (a box) runs as
    running sums, O(1) per pixel.

    A 3-D image whose last axis is 3 or 4 and at most a quarter of each of the
    other two, given without ``channel_axis``, looks like a cv2 (H, W, 3)
    photo; it is still filtered as H planes of W x C, and a
    :class:`fastconv.ChannelAxisWarning` (a ``UserWarning``) says to pass
    ``channel_axis=-1``.

    Dtypes: the image decides and the kernel is cast.  A floating image keeps
    its dtype, as ``cv2.filter2D`` with ``ddepth=-1`` and ``scipy.ndimage``
    do (float16 is computed in float32); an integer or bool image of up to 16
    bits (uint8, uint16: photos) gives float32, as ``ddepth=cv2.CV_32F``; a
    wider integer image gives float64.  Integer images are read in their own
    dtype.  ``dtype`` asks for another result: ``np.uint8`` rounds half to
    even and saturates as cv2's ``saturate_cast`` (``ddepth=-1`` on a uint8
    image), ``np.float32`` is ``CV_32F``.  Nothing wraps around.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.filter2d(np.eye(3), np.ones((1, 3)) / 3, boundary="fill").round(3).tolist()
    [[0.333, 0.333, 0.0], [0.333, 0.333, 0.333], [0.0, 0.333, 0.333]]
    >>> fc.filter2d(np.full((2, 2), 200, np.uint8), np.full((1, 1), 1.5), dtype=np.uint8).tolist()
    [[255, 255], [255, 255]]
    """
    check.warn_channels_last("filter2d", image, channel_axis)
    return _filter_image(image, kernel, boundary, fillvalue, channel_axis, method, backend, "filter2d", dtype)


def _filter_image(image, kernel, boundary, fillvalue, channel_axis, method: Method, backend: Backend, func: str, dtype=None) -> np.ndarray:
    image = check.as_array(image, "image", func)
    if isinstance(kernel, str):
        kernel = for_image(_named_kernel(kernel, func), image)
    method = check.choice(method, "method", func, METHODS)
    if isinstance(image, DeviceArray):
        call, shape, axis = check.filter2d(func, image, kernel, boundary, fillvalue, channel_axis, dtype)
        if call.out_dtype.kind != "f":
            raise check.fail(func, f"an integer dtype= runs on host arrays, got dtype={call.out_dtype} for a CUDA device array", TypeError)
        out = _plane_result(call, backend, method, func).reshape(shape)
    else:
        call, shape, axis = check.image_call(func, image, kernel, boundary, fillvalue, channel_axis, dtype)
        if call.image.size == 0:
            return np.zeros(image.shape, call.out_dtype)
        out = saturate(run("filter_image", call, backend=backend, method=method), call.out_dtype).reshape(shape)
    return out if axis is None else np.ascontiguousarray(np.moveaxis(out, 0, axis))


# filter2d without the channel_axis warning, for the image filters (which give their own).
_filter2d = keeps_device_type(_filter_image)


def _measure(call: check.PlaneCall, backend: str, repeat: int = 3) -> dict[str, float]:
    """Best-of-``repeat`` seconds of every method for ``call``."""
    timings = {}
    for method in METHODS[1:]:
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            run("correlate_planes", call, backend=backend, method=method)
            best = min(best, time.perf_counter() - start)
        timings[method] = best
    return timings


def choose_conv_method(
    in1, in2, mode: str = "full", boundary: str = "fill", fillvalue: float = 0, *, measure: bool = False, backend: str = "auto"
):
    """The method ``convolve2d(in1, in2, mode, boundary, fillvalue, method="auto")`` runs.

    Like ``scipy.signal.choose_conv_method``: with ``measure=True`` every
    method is timed instead (best of 3) and ``(fastest, {method: seconds})``
    is returned.  The choice for ``correlate2d`` and ``filter2d`` is the same.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.choose_conv_method(np.ones((512, 512)), np.ones((9, 9)), mode="same")
    'separable'
    """
    call, _ = check.signal2d("choose_conv_method", in1, in2, mode, boundary, fillvalue, flip=True)
    name = choose(backend, "correlate_planes", call)
    if measure:
        timings = _measure(call, name)
        return min(timings, key=timings.get), timings
    return plan(call, "auto", name).method


# --- geometry ---------------------------------------------------------------------------------


def conv_output_size(
    size: int | tuple[int, ...],
    kernel_size: int | tuple[int, ...],
    stride: int | tuple[int, ...] = 1,
    padding: int | tuple[int, ...] = 0,
    dilation: int | tuple[int, ...] = 1,
) -> int | tuple[int, ...]:
    """Output size of a convolution (``torch.nn.Conv2d``, :func:`conv2d`, :func:`conv1d`).

    Per axis, with ``padding`` added on both sides::

        out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1

    Each argument is an int or a tuple (one entry per axis; ints apply to
    every axis); the result is an int when all are ints, else a tuple.
    ``ValueError`` when the output would be empty, as torch raises.

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.conv_output_size(224, 3, stride=2, padding=1)   # torch.nn.Conv2d(3, 32, 3, 2, 1): 224 -> 112
    112
    >>> fc.conv_output_size((28, 28), 5)                   # LeNet's first layer
    (24, 24)
    >>> fc.conv_output_size(7, 3, dilation=2)
    3
    """
    return check.conv_output_size("conv_output_size", size, kernel_size, stride, padding, dilation)


def pool_output_size(
    size: int | tuple[int, ...],
    kernel_size: int | tuple[int, ...],
    stride: int | tuple[int, ...] | None = None,
    padding: int | tuple[int, ...] = 0,
    dilation: int | tuple[int, ...] = 1,
    ceil_mode: bool = False,
) -> int | tuple[int, ...]:
    """Output size of max or average pooling (``torch.nn.MaxPool2d``, :func:`max_pool2d`, :func:`avg_pool2d`).

    ``stride`` defaults to ``kernel_size``.  Per axis::

        out = (size + 2 * padding - dilation * (kernel_size - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1

    and with ``ceil_mode`` the last window is dropped when it would start in
    the right padding (``(out - 1) * stride >= size + padding``), as torch
    does.  ``padding`` must be at most ``kernel_size // 2``.  Ints and tuples
    as in :func:`conv_output_size`.

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.pool_output_size(112, 3, stride=2, padding=1)   # ResNet's max pool: 112 -> 56
    56
    >>> fc.pool_output_size(5, 2), fc.pool_output_size(5, 2, ceil_mode=True)
    (2, 3)
    """
    return check.pool_output_size("pool_output_size", size, kernel_size, stride, padding, dilation, ceil_mode)


def conv_transpose_output_size(
    size: int | tuple[int, ...],
    kernel_size: int | tuple[int, ...],
    stride: int | tuple[int, ...] = 1,
    padding: int | tuple[int, ...] = 0,
    output_padding: int | tuple[int, ...] = 0,
    dilation: int | tuple[int, ...] = 1,
) -> int | tuple[int, ...]:
    """Output size of a transposed convolution (``torch.nn.ConvTranspose2d``, :func:`conv_transpose2d`).

    Per axis::

        out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1

    ``output_padding`` must be smaller than ``stride`` or ``dilation``.  Ints
    and tuples as in :func:`conv_output_size`.

    Examples
    --------
    >>> import fastconv as fc
    >>> fc.conv_transpose_output_size(7, 4, stride=2, padding=1)   # a DCGAN up-sampling layer: 7 -> 14
    14
    >>> fc.conv_transpose_output_size(7, 3, stride=2, padding=1, output_padding=1)
    14
    """
    return check.conv_transpose_output_size(
        "conv_transpose_output_size", size, kernel_size, stride, padding, output_padding, dilation
    )
