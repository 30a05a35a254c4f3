"""Argument checking and normalization, done once before any backend runs.

Every public function funnels its arguments through here.  Errors are
``TypeError`` for a wrong kind of value and ``ValueError`` for a wrong value;
each message starts with the function name, names the argument and shows the
value received.
"""

from __future__ import annotations

import operator
import sys
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._calls import (
    ACTIVATIONS,
    EXACT_ACTIVATIONS,
    AdaptiveCall,
    ConvCall,
    ConvTransposeCall,
    ImageCall,
    InterpolateCall,
    PlaneCall,
    PoolCall,
    conv_out_size,
    conv_transpose_out_size,
    pool_out_size,
)
from ._device import DeviceArray, is_device

PADDING_MODES = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}

# scipy.signal's boundary names, with its aliases.
SIGNAL_BOUNDARIES = {
    "fill": "constant",
    "pad": "constant",
    "wrap": "wrap",
    "circular": "wrap",
    "symm": "symmetric",
    "symmetric": "symmetric",
}

# filter2d's boundary names: ``symm`` is ``d c b a | a b c d`` (ndimage
# "reflect", cv2 BORDER_REFLECT); ``reflect`` is ``d c b | a b c d`` (ndimage
# "mirror", cv2 BORDER_REFLECT_101).
FILTER_BOUNDARIES = {
    **SIGNAL_BOUNDARIES,
    "constant": "constant",
    "reflect": "reflect",
    "nearest": "edge",
    "edge": "edge",
    "replicate": "edge",
}

SIGNAL_MODES = ("full", "same", "valid")


def fail(func: str, message: str, exc: type[Exception] = ValueError) -> Exception:
    return exc(f"{func}: {message}")


def as_array(value: Any, name: str, func: str, complex_ok: bool = False) -> np.ndarray:
    """Return ``value`` as a real numeric ndarray, as ``np.asarray`` reads it.

    ``complex_ok``: complex64 and complex128 host arrays are accepted too (the
    scipy- and numpy-style signal functions compute them as real passes).
    """
    if value is None or isinstance(value, (str, bytes)):
        raise fail(func, f"{name} must be an array, got {value!r}", TypeError)
    if is_device(value):  # CUDA memory: read shape and dtype only, never copy to the host
        array = DeviceArray.wrap(value)
    else:
        try:
            array = np.asarray(value)
        except Exception as exc:  # ragged lists and the like
            raise fail(func, f"{name} could not be read as an array: {exc}", TypeError) from exc
    if complex_ok and array.dtype.kind == "c" and array.dtype.itemsize <= 16:
        if isinstance(array, DeviceArray):
            raise fail(func, f"{name}: complex device arrays are not supported, got dtype {array.dtype}; copy it to the host", TypeError)
        return array
    if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
        raise fail(
            func,
            f"{name} must hold real numbers (bool, int, uint or float up to "
            f"64 bits), got dtype {array.dtype} from {_short(value)}",
            TypeError,
        )
    return array


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_int(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def int_tuple(value: Any, name: str, func: str, n: int, minimum: int) -> tuple[int, ...]:
    """Read an int or a length-``n`` sequence of ints, each ``>= minimum``."""
    if type(value) is int and value >= minimum:
        return (value,) * n
    if type(value) is tuple and len(value) == n and all(type(v) is int and v >= minimum for v in value):
        return value
    kind = "a positive int" if minimum == 1 else "a non-negative int"
    what = f"{kind} or a tuple of {n} of them"
    if _is_int(value):
        values = (operator.index(value),) * n
    elif isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        if len(value) != n:
            raise fail(func, f"{name} must be {what}, got {value!r}")
        values = tuple(operator.index(v) for v in value)
    else:
        raise fail(func, f"{name} must be {what}, got {value!r}", TypeError)
    if any(v < minimum for v in values):
        raise fail(func, f"{name} must be {what}, got {value!r}")
    return values


def positive_int(value: Any, name: str, func: str) -> int:
    return int_tuple(value, name, func, 1, 1)[0]


def choice(value: Any, name: str, func: str, table: dict[str, str] | tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in table:
        options = ", ".join(repr(k) for k in table)
        raise fail(func, f"{name} must be one of {options}; got {value!r}")
    return table[value] if isinstance(table, dict) else value


def nonempty_planes(x: np.ndarray, func: str) -> None:
    """Convolutions and pools need a pixel in each plane, as in torch (an empty batch or channel axis is fine)."""
    if 0 in x.shape[2:]:
        raise fail(func, f"input must not be empty along its spatial axes, got shape {x.shape}")


def batched(array: np.ndarray, name: str, func: str, spatial: int) -> tuple[np.ndarray, bool]:
    """Accept (N, C, *spatial) or unbatched (C, *spatial); return the batched view."""
    if array.ndim == spatial + 2:
        return array, True
    if array.ndim == spatial + 1:
        return array[np.newaxis], False
    dims = "HW"[-spatial:] if spatial == 2 else "L"
    raise fail(
        func,
        f"{name} must be {spatial + 1}-D (C, {', '.join(dims)}) or {spatial + 2}-D "
        f"(N, C, {', '.join(dims)}), got shape {array.shape}",
    )


# --- dtypes --------------------------------------------------------------------


class Dtypes(NamedTuple):
    compute: np.dtype
    out: np.dtype


def _floating(result: np.dtype) -> Dtypes:
    compute = np.dtype(np.float32) if result.itemsize < 4 else result
    return Dtypes(compute, result)


def _native(*arrays: np.ndarray) -> np.dtype:
    return np.result_type(*(a.dtype for a in arrays)).newbyteorder("=")


def conv_dtypes(*arrays: np.ndarray) -> Dtypes:
    """Convolutions: floats keep their type, integers and bools give int64."""
    result = _native(*arrays)
    if result.kind == "f":
        return _floating(result)
    exact = np.result_type(result, np.int64)
    return Dtypes(exact, exact)


def image_dtypes(image: np.ndarray, dtype: Any = None, func: str = "filter2d") -> Dtypes:
    """The image filters' dtypes, decided by the image (the kernel is cast to the compute dtype).

    A floating image keeps its dtype, as cv2 (``ddepth=-1``) and scipy.ndimage
    do (float16 is computed in float32); an integer or bool image of up to 16
    bits (uint8, uint16, ...) gives float32, as cv2's ``CV_32F``; a wider
    integer image gives float64.  ``dtype`` asks for another result: an
    integer one is rounded half to even and saturated, as cv2's
    ``saturate_cast``.  The compute dtype is float64 when the image or the
    result needs it, float32 otherwise.
    """
    native = _native(image)
    if native.kind == "f":
        natural = native
    else:
        natural = np.dtype(np.float32 if native.itemsize <= 2 else np.float64)
    if dtype is None:
        return _floating(natural)
    try:
        out = np.dtype(dtype)
    except TypeError as exc:
        raise fail(func, f"dtype must be a numpy real dtype or None, got {dtype!r}", TypeError) from exc
    if out.kind not in "iuf" or out.itemsize > 8:
        raise fail(func, f"dtype must be a real numeric dtype (int, uint or float up to 64 bits), got dtype={dtype!r}", TypeError)
    out = out.newbyteorder("=")
    wide = natural == np.float64 or out.itemsize == 8 or (out.kind in "iu" and out.itemsize > 2)
    return Dtypes(np.dtype(np.float64 if wide else np.float32), out)


def filter_dtypes(*arrays: np.ndarray) -> Dtypes:
    """Image filters and averages: floats keep their type, others give float64."""
    result = _native(*arrays)
    if result.kind == "f":
        return _floating(result)
    return Dtypes(np.dtype(np.float64), np.dtype(np.float64))


def pool_dtypes(array: np.ndarray) -> Dtypes:
    """Max pooling keeps every dtype; float16 is compared in float32."""
    native = _native(array)
    return _floating(native) if native.kind == "f" else Dtypes(native, native)


def prepared(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The array in native byte order and the compute dtype (never a view that is written to)."""
    if isinstance(array, DeviceArray):
        return array.astype(dtype, copy=False)
    return np.asarray(array, dtype=dtype)


# --- per-operation checks -----------------------------------------------------------


def activation(value: Any, func: str, dtype: np.dtype) -> int:
    """The index in ACTIVATIONS of ``activation=``; all but relu and relu6 need a floating result."""
    if not (value is None or isinstance(value, str)) or value not in ACTIVATIONS:
        options = ", ".join(repr(a) for a in ACTIVATIONS)
        raise fail(func, f"activation must be one of {options}; got {value!r}")
    if dtype.kind != "f" and value not in EXACT_ACTIVATIONS:
        raise fail(
            func,
            f"activation={value!r} needs floating inputs, got integer inputs that give dtype {dtype}; "
            "cast them to a float type, or use 'relu' or 'relu6'",
            TypeError,
        )
    return ACTIVATIONS.index(value)


def _conv_operands(func: str, nd: int, input: Any, weight: Any, bias: Any, groups: Any, weight_axes: str):
    """The checked (input, batched, weight, bias, groups) of a torch-style convolution; ``weight_axes`` names the weight's first two axes."""
    x, was_batched = batched(as_array(input, "input", func), "input", func, nd)
    nonempty_planes(x, func)
    w = as_array(weight, "weight", func)
    if w.ndim != nd + 2:
        raise fail(func, f"weight must be {nd + 2}-D ({weight_axes}, kernel...), got shape {w.shape}")
    b = None if bias is None else as_array(bias, "bias", func)
    return x, was_batched, w, b, positive_int(groups, "groups", func)


def conv(
    func: str,
    nd: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    padding_mode: Any,
    activation_name: Any = None,
) -> ConvCall:
    """Check a torch-style ``conv1d``/``conv2d`` call; 1-D is returned as H = 1."""
    x, was_batched, w, b, groups = _conv_operands(func, nd, input, weight, bias, groups, "out_channels, in_channels/groups")
    stride = int_tuple(stride, "stride", func, nd, 1)
    dilation = int_tuple(dilation, "dilation", func, nd, 1)
    boundary = choice(padding_mode, "padding_mode", func, PADDING_MODES)

    channels, out_channels = x.shape[1], w.shape[0]
    if channels % groups:
        raise fail(func, f"groups={groups} must divide the input channels, got input with {channels} channels")
    if out_channels % groups:
        raise fail(func, f"groups={groups} must divide the out_channels of weight, got weight shape {w.shape}")
    if w.shape[1] * groups != channels:
        raise fail(
            func,
            f"input has {channels} channels but weight shape {w.shape} with groups={groups} "
            f"expects {w.shape[1] * groups}",
        )
    if b is not None and b.shape != (out_channels,):
        raise fail(func, f"bias must have shape ({out_channels},) to match weight, got shape {b.shape}")

    kernel = w.shape[2:]
    if isinstance(padding, str):
        padding = choice(padding, "padding", func, ("same", "valid"))
        if padding == "valid":
            pads = [(0, 0)] * nd
        else:
            if any(s != 1 for s in stride):
                raise fail(func, f"padding='same' needs stride=1, got stride={stride}")
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = [(t // 2, t - t // 2) for t in totals]
    else:
        pads = [(p, p) for p in int_tuple(padding, "padding", func, nd, 0)]

    sizes = x.shape[2:]
    for size, (lo, hi) in zip(sizes, pads):
        if boundary == "reflect" and 0 < max(lo, hi) >= size:
            raise fail(func, f"padding_mode='reflect' needs padding < input size, got padding {max(lo, hi)} for size {size} (input shape {x.shape})")
        if boundary == "wrap" and max(lo, hi) > size:
            raise fail(func, f"padding_mode='circular' needs padding <= input size, got padding {max(lo, hi)} for size {size} (input shape {x.shape})")
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(sizes, pads))
    effective = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    if any(e > p for e, p in zip(effective, padded)):
        raise fail(
            func,
            f"weight's kernel {tuple(kernel)} (dilated to {effective}) is larger than the padded "
            f"input {padded} (input shape {x.shape}, padding {padding!r})",
        )

    dtypes = conv_dtypes(x, w) if b is None else conv_dtypes(x, w, b)
    act = activation(activation_name, func, dtypes.out)
    if nd == 1:
        x, w = x[:, :, np.newaxis], w[:, :, np.newaxis]
        stride, dilation, pads = (1, *stride), (1, *dilation), [(0, 0), *pads]
    return ConvCall(
        prepared(x, dtypes.compute),
        prepared(w, dtypes.compute),
        None if b is None else prepared(b, dtypes.compute),
        stride,
        (*pads[0], *pads[1]),
        dilation,
        groups,
        boundary,
        dtypes.out,
        was_batched,
        act,
    )


def conv_transpose(
    func: str,
    nd: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: Any,
    dilation: Any,
) -> ConvTransposeCall:
    """Check a torch-style ``conv_transpose1d``/``conv_transpose2d`` call; 1-D is returned as H = 1."""
    x, was_batched, w, b, groups = _conv_operands(func, nd, input, weight, bias, groups, "in_channels, out_channels/groups")
    stride = int_tuple(stride, "stride", func, nd, 1)
    padding = int_tuple(padding, "padding", func, nd, 0)
    output_padding = int_tuple(output_padding, "output_padding", func, nd, 0)
    dilation = int_tuple(dilation, "dilation", func, nd, 1)
    channels = x.shape[1]
    if channels % groups:
        raise fail(func, f"groups={groups} must divide the input channels, got input with {channels} channels")
    if w.shape[0] != channels:
        raise fail(func, f"input has {channels} channels but weight shape {w.shape} expects {w.shape[0]} (weight is (in_channels, out_channels/groups, kernel...))")
    out_channels = w.shape[1] * groups
    if b is not None and b.shape != (out_channels,):
        raise fail(func, f"bias must have shape ({out_channels},) to match weight and groups={groups}, got shape {b.shape}")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise fail(
            func,
            f"output_padding must be smaller than stride or dilation on each axis, got output_padding={output_padding} "
            f"with stride={stride} and dilation={dilation}",
        )
    out = tuple(
        conv_transpose_out_size(*args) for args in zip(x.shape[2:], w.shape[2:], stride, padding, dilation, output_padding)
    )
    if min(out) < 1:
        raise fail(
            func,
            f"output size {out} is too small: input shape {x.shape}, kernel {tuple(w.shape[2:])}, stride={stride}, "
            f"padding={padding}, dilation={dilation}, output_padding={output_padding}",
        )
    dtypes = conv_dtypes(x, w) if b is None else conv_dtypes(x, w, b)
    if nd == 1:
        x, w = x[:, :, np.newaxis], w[:, :, np.newaxis]
        stride, padding, dilation, out = (1, *stride), (0, *padding), (1, *dilation), (1, *out)
    return ConvTransposeCall(
        prepared(x, dtypes.compute),
        prepared(w, dtypes.compute),
        None if b is None else prepared(b, dtypes.compute),
        stride,
        padding,
        dilation,
        groups,
        out,
        dtypes.out,
        was_batched,
    )


def pool(
    func: str,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
    dtypes: Any,
) -> PoolCall:
    """Check a torch-style ``max_pool2d``/``avg_pool2d`` call."""
    x, was_batched = batched(as_array(input, "input", func), "input", func, 2)
    kernel = int_tuple(kernel_size, "kernel_size", func, 2, 1)
    stride = kernel if stride is None or stride == [] or stride == () else int_tuple(stride, "stride", func, 2, 1)
    padding = int_tuple(padding, "padding", func, 2, 0)
    dilation = int_tuple(dilation, "dilation", func, 2, 1)
    nonempty_planes(x, func)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise fail(func, f"padding must be at most half of kernel_size {kernel}, got padding={padding}")
    out = tuple(
        pool_out_size(s, k, p, st, d, bool(ceil_mode))
        for s, k, p, st, d in zip(x.shape[2:], kernel, padding, stride, dilation)
    )
    if min(out) < 1:
        raise fail(
            func,
            f"output size {out} is too small for input shape {x.shape} with kernel_size={kernel}, "
            f"stride={stride}, padding={padding}, dilation={dilation}",
        )
    types = dtypes(x)
    return PoolCall(prepared(x, types.compute), kernel, stride, padding, dilation, out, types.out, was_batched)


def adaptive(func: str, input: Any, output_size: Any, dtypes: Any) -> AdaptiveCall:
    x, was_batched = batched(as_array(input, "input", func), "input", func, 2)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = tuple(s if s is not None else size for s, size in zip(output_size, x.shape[2:]))
    out = int_tuple(output_size, "output_size", func, 2, 0)
    nonempty_planes(x, func)
    types = dtypes(x)
    return AdaptiveCall(prepared(x, types.compute), out, types.out, was_batched)


INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear")


def interpolate_axis(
    size: int, out: int, scale: float | None, mode: str, align_corners: bool, dtype: np.dtype, two_d: bool = True
):
    """torch's source indices and weights on one axis (ATen's UpSample.h), in torch's float arithmetic.

    ``scale`` is the user's scale factor when torch passes it to the kernel
    (given and not recomputed), else None: then ``size / out`` is used.
    Nearest modes compute in float32; linear in float64 for float64 data and
    float32 otherwise.  torch's 2-D nearest kernel copies (``out == size``)
    or halves (``out == 2 * size``) whatever the scale; its 1-D kernel always
    scales.  A linear output that lands on an input position (weight 0 on
    its neighbour) reads that position alone, as torch does: an inf beside
    it does not make it NaN.
    """
    dst = np.arange(out)
    if mode in ("nearest", "nearest-exact"):
        step = np.float32(1.0 / scale) if scale else np.float32(size) / np.float32(out)
        if mode == "nearest-exact":
            index = np.floor(((dst + 0.5) * np.float64(step)).astype(np.float32))
        elif two_d and out == size:
            index = dst
        elif two_d and out == 2 * size:
            index = dst >> 1
        else:
            index = np.floor(dst.astype(np.float32) * step)
        index = np.minimum(index.astype(np.int64), size - 1)
        weight = np.ones(out, dtype if dtype.kind == "f" else np.float64)
        return (index, index), (weight, weight * 0)
    f = np.float64 if dtype == np.float64 else np.float32
    if out == size:
        weight = np.ones(out, dtype)
        return (dst, dst), (weight, weight * 0)
    if align_corners:
        step = f(size - 1) / f(out - 1) if out > 1 else f(0)
        real = step * dst.astype(f)
    else:
        step = f(1.0 / scale) if scale else f(size) / f(out)
        real = np.maximum(step * (dst.astype(f) + f(0.5)) - f(0.5), f(0))
    first = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), size - 1)
    lam = np.minimum(np.maximum(real - first.astype(f), f(0)), f(1))
    return (first, first + (first < size - 1)), ((f(1) - lam).astype(dtype), lam.astype(dtype))


def _scales(value: Any, func: str, nd: int) -> tuple[float, ...]:
    what = f"a positive number or a tuple of {nd} of them"
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd
    if len(values) != nd:
        raise fail(func, f"scale_factor must be {what}, got {value!r}")
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise fail(func, f"scale_factor must be {what}, got {value!r}", TypeError)
        if not (np.isfinite(v) and v > 0):
            raise fail(func, f"scale_factor must be {what}, got {value!r}")
    return tuple(float(v) for v in values)


def interpolate(
    func: str, input: Any, size: Any, scale_factor: Any, mode: Any, align_corners: Any, recompute_scale_factor: Any
) -> InterpolateCall:
    """Check a torch-style ``interpolate`` call: (N, C, L) or (N, C, H, W) input."""
    x = as_array(input, "input", func)
    mode = choice(mode, "mode", func, INTERPOLATE_MODES)
    if x.ndim not in (3, 4):
        raise fail(func, f"input must be 3-D (N, C, L) or 4-D (N, C, H, W), got shape {x.shape}")
    nd = x.ndim - 2
    if mode in ("linear", "bilinear") and nd != (1 if mode == "linear" else 2):
        need = "3-D (N, C, L)" if mode == "linear" else "4-D (N, C, H, W)"
        raise fail(func, f"mode={mode!r} needs {need} input, got shape {x.shape}")
    if mode.startswith("nearest"):
        if align_corners is not None:
            raise fail(func, f"align_corners can only be set with the interpolating modes 'linear' and 'bilinear', got align_corners={align_corners!r} with mode={mode!r}")
        align_corners = False
    elif align_corners is None:
        align_corners = False
    elif not isinstance(align_corners, (bool, np.bool_)):
        raise fail(func, f"align_corners must be None, True or False, got {align_corners!r}", TypeError)
    if (size is None) == (scale_factor is None):
        raise fail(func, f"exactly one of size and scale_factor must be given, got size={size!r} and scale_factor={scale_factor!r}")
    if recompute_scale_factor and size is not None:
        raise fail(func, f"recompute_scale_factor is not meaningful with an explicit size, got recompute_scale_factor={recompute_scale_factor!r} and size={size!r}")
    nonempty_planes(x, func)
    if size is not None:
        out = int_tuple(size, "size", func, nd, 1)
        scales: tuple[float | None, ...] = (None,) * nd
    else:
        factors = _scales(scale_factor, func, nd)
        out = tuple(int(n * f) for n, f in zip(x.shape[2:], factors))
        if min(out) < 1:
            raise fail(func, f"scale_factor={scale_factor!r} gives output size {out} for input shape {x.shape}; each must be at least 1")
        scales = (None,) * nd if recompute_scale_factor else factors
    dtypes = pool_dtypes(x) if mode.startswith("nearest") else filter_dtypes(x)
    if nd == 1:
        x, out, scales = x[:, :, np.newaxis], (1, *out), (None, *scales)
    rows, row_weights = interpolate_axis(x.shape[2], out[0], scales[0], mode, bool(align_corners), dtypes.compute, nd == 2)
    cols, col_weights = interpolate_axis(x.shape[3], out[1], scales[1], mode, bool(align_corners), dtypes.compute, nd == 2)
    linear = mode in ("linear", "bilinear")
    return InterpolateCall(
        prepared(x, dtypes.compute), rows, cols, row_weights, col_weights, linear, nd == 2, out, dtypes.out, True
    )


def fillvalue_scalar(value: Any, func: str, complex_ok: bool = False) -> Any:
    """``fillvalue`` as a Python scalar (scipy's messages: it must have one element, a real one unless ``complex_ok``)."""
    fill = np.asarray(value)
    if fill.size == 0:
        raise fail(func, f"`fillvalue` cannot be an empty array, got {_short(value)}")
    if fill.size != 1:
        raise fail(func, f"`fillvalue` must be scalar or an array with one element, got {_short(value)}")
    if complex_ok and fill.dtype.kind == "c":
        return complex(fill.reshape(()).item())
    if fill.dtype.kind not in "biuf":
        raise fail(func, f"fillvalue must be a real number, got {_short(value)}", TypeError)
    return fill.reshape(()).item()


def fill_for(fill: Any, dtype: np.dtype, func: str) -> Any:
    """``fillvalue`` in the compute dtype, as scipy casts it to the inputs' type (1.5 is 1 for integers)."""
    if dtype.kind == "f":
        return fill
    if not np.isfinite(fill) or not -(2**63) <= fill < 2**63:
        raise fail(func, f"fillvalue must be a finite int64 for integer inputs, got {fill!r}")
    return int(fill)


def signal2d(
    func: str, in1: Any, in2: Any, mode: Any, boundary: Any, fillvalue: Any, flip: bool
) -> tuple[PlaneCall, bool]:
    """Check a scipy-style ``convolve2d``/``correlate2d`` call.

    Returns the plane correlation that computes it and whether the result must
    be turned by 180 degrees (scipy's input swap in "valid" mode).
    """
    a, b = as_array(in1, "in1", func), as_array(in2, "in2", func)
    if a.ndim != 2 or b.ndim != 2:
        raise fail(func, f"in1 and in2 must both be 2-D arrays, got in1 shape {a.shape} and in2 shape {b.shape}")
    mode = choice(mode, "mode", func, SIGNAL_MODES)
    boundary = choice(boundary, "boundary", func, SIGNAL_BOUNDARIES)
    fill = fillvalue_scalar(fillvalue, func)
    if a.size == 0 or b.size == 0:
        raise fail(func, f"in1 and in2 must not be empty, got in1 shape {a.shape} and in2 shape {b.shape}")
    swapped = False
    if mode == "valid":
        a_covers = all(m >= p for m, p in zip(a.shape, b.shape))
        b_covers = all(p >= m for m, p in zip(a.shape, b.shape))
        if not (a_covers or b_covers):
            raise fail(
                func,
                f"in 'valid' mode one of in1 and in2 must be at least as large as the other in "
                f"every dimension, got in1 shape {a.shape} and in2 shape {b.shape}",
            )
        swapped = not a_covers
        if swapped:
            a, b = b, a
    dtypes = conv_dtypes(a, b)
    kernel = prepared(b, dtypes.compute)
    if flip:
        kernel = kernel[::-1, ::-1]
    pads = tuple(x for p in b.shape for x in _signal_pads(p, mode, flip))
    planes = prepared(a, dtypes.compute)[np.newaxis]
    return PlaneCall(planes, kernel, pads, boundary, fill_for(fill, dtypes.compute, func), dtypes.out), swapped


def _signal_pads(k: int, mode: str, flip: bool) -> tuple[int, int]:
    """Padding before and after one axis of scipy's full/same/valid output."""
    if mode == "full":
        return k - 1, k - 1
    if mode == "valid":
        return 0, 0
    before = k // 2 if flip else (k - 1) // 2
    return before, k - 1 - before


NUMPY_INT_MODES = {0: "valid", 1: "same", 2: "full"}


def numpy_mode(mode: Any, func: str) -> str:
    """``np.convolve``'s ``mode``: "valid", "same", "full" or their codes 0, 1, 2 (ValueError); anything else is a TypeError."""
    if isinstance(mode, str):
        return choice(mode, "mode", func, SIGNAL_MODES)
    if _is_int(mode):
        if operator.index(mode) not in NUMPY_INT_MODES:
            raise fail(func, f"mode must be 'valid', 'same' or 'full', or the integer 0, 1 or 2; got {mode!r}")
        return NUMPY_INT_MODES[operator.index(mode)]
    raise fail(func, f"mode must be 'valid', 'same' or 'full', or the integer 0, 1 or 2; got {mode!r}", TypeError)


def convolve1d(func: str, a: Any, v: Any, mode: Any) -> PlaneCall:
    """Check a numpy-style ``convolve`` call: 1-D, the longer input first."""
    x, k = as_array(a, "a", func), as_array(v, "v", func)
    for name, arr in (("a", x), ("v", k)):
        if arr.ndim > 1:
            raise fail(func, f"{name} must be 1-D, got shape {arr.shape}")
        if arr.size == 0:
            raise fail(func, f"{name} cannot be empty, got shape {arr.shape}")
    x, k = x.reshape(-1), k.reshape(-1)
    mode = numpy_mode(mode, func)
    if k.size > x.size:
        x, k = k, x
    dtypes = conv_dtypes(x, k)
    before, after = _signal_pads(k.size, mode, True)
    return PlaneCall(
        prepared(x, dtypes.compute).reshape(1, 1, -1),
        prepared(k, dtypes.compute)[::-1].reshape(1, -1),
        (0, 0, before, after),
        "overlap",
        0,
        dtypes.out,
    )


def channel_axis(value: Any, ndim: int, func: str) -> int | None:
    """Normalize ``channel_axis`` of an ``ndim``-D image; H and W are the last two of the other axes."""
    if value is None:
        return None
    if not _is_int(value):
        raise fail(func, f"channel_axis must be None or an int, got {value!r}", TypeError)
    axis = operator.index(value)
    if ndim < 3 or not -ndim <= axis < ndim:
        raise fail(func, f"channel_axis must be None or an axis of an image with at least 3 dimensions, got channel_axis={axis} for {ndim}-D image")
    return axis % ndim


def _filter_operands(func: str, image: Any, kernel: Any, boundary: Any, fillvalue: Any, channels: Any):
    x, k = as_array(image, "image", func), as_array(kernel, "kernel", func)
    if x.ndim < 2:
        raise fail(func, f"image must have at least 2 dimensions (..., H, W), got shape {x.shape}")
    axis = channel_axis(channels, x.ndim, func)
    if k.ndim != 2:
        raise fail(func, f"kernel must be 2-D, got shape {k.shape}")
    if k.size == 0:
        raise fail(func, f"kernel must not be empty, got shape {k.shape}")
    boundary = choice(boundary, "boundary", func, FILTER_BOUNDARIES)
    fill = fillvalue_scalar(fillvalue, func)
    pads = tuple(v for n in k.shape for v in (n // 2, n - 1 - n // 2))
    return x, k, axis, boundary, fill, pads


def filter2d(
    func: str, image: Any, kernel: Any, boundary: Any, fillvalue: Any, channels: Any = None, dtype: Any = None
) -> tuple[PlaneCall, tuple[int, ...], int | None]:
    """Check a ``filter2d`` call as a plane correlation (device arrays): same-size correlation anchored at ``k // 2``.

    Returns the plane correlation, the shape of its result and the channel
    axis, which is moved to the front (None when there is none).
    """
    x, k, axis, boundary, fill, pads = _filter_operands(func, image, kernel, boundary, fillvalue, channels)
    if axis is not None:
        x = np.moveaxis(x, axis, 0)
    dtypes = image_dtypes(x, dtype, func)
    planes = prepared(x, dtypes.compute).reshape(int(np.prod(x.shape[:-2])), *x.shape[-2:])
    return PlaneCall(planes, prepared(k, dtypes.compute), pads, boundary, fill, dtypes.out), x.shape, axis


OWN_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.float32, np.float64))  # read as they are


def image_call(
    func: str, image: Any, kernel: Any, boundary: Any, fillvalue: Any, channels: Any = None, dtype: Any = None
) -> tuple[ImageCall, tuple[int, ...], int | None]:
    """Check a ``filter2d`` call on a host image, kept in its own dtype and layout where the kernels read it.

    A channel axis that is the last one stays interleaved: (..., H, W, C)
    gives (B, H, W, C) pixels.  Another channel axis is moved to the front
    and its planes are (B, H, W, 1).  Returns the call, the shape of its
    result before that move, and the moved axis (None when none was moved).
    """
    x, k, axis, boundary, fill, pads = _filter_operands(func, image, kernel, boundary, fillvalue, channels)
    dtypes = image_dtypes(x, dtype, func)
    if axis == x.ndim - 1:
        pixels, axis = x.reshape(-1, *x.shape[-3:]), None
    else:
        if axis is not None:
            x = np.moveaxis(x, axis, 0)
        pixels = x.reshape(-1, *x.shape[-2:], 1)
    native = pixels.dtype.newbyteorder("=")
    own = native if native in OWN_DTYPES and native.itemsize <= dtypes.compute.itemsize else dtypes.compute
    call = ImageCall(np.asarray(pixels, own), prepared(k, dtypes.compute), pads, boundary, fill, dtypes.out)
    return call, x.shape, axis


# --- cv2's (H, W, C) colour images -----------------------------------------------------------

PACKAGE_DIR = str(Path(__file__).resolve().parent)
CHANNELS_LAST = (3, 4)


class ChannelAxisWarning(UserWarning):
    """An (H, W, 3) or (H, W, 4) image filtered without ``channel_axis``: as H planes of W x C, not as a colour image."""


def looks_channels_last(shape: tuple[int, ...]) -> bool:
    """A 3-D shape whose last axis is 3 or 4 and at most a quarter of each of the other two: a cv2 (H, W, C) photo."""
    return len(shape) == 3 and shape[-1] in CHANNELS_LAST and min(shape[0], shape[1]) >= 4 * shape[-1]


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package."""
    frame, level = sys._getframe(1), 1  # the function that calls warnings.warn is stacklevel 1
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def warn_channels_last(func: str, image: Any, channels: Any) -> None:
    """Warn when ``image`` looks like a cv2 (H, W, 3|4) colour image and no ``channel_axis`` was given."""
    if channels is not None:
        return
    shape = tuple(getattr(image, "shape", None) or np.shape(image))
    if looks_channels_last(shape):
        h, w, c = shape
        warnings.warn(
            f"{func}: image shape {shape} looks like an (H, W, {c}) colour image, but without channel_axis it is "
            f"filtered as {h} planes of {w} x {c}; pass channel_axis=-1 to filter each colour channel "
            "(silence this with warnings.filterwarnings('ignore', category=fastconv.ChannelAxisWarning))",
            ChannelAxisWarning,
            stacklevel=_caller_stacklevel(),
        )


# --- public geometry helpers ------------------------------------------------------------------


def _geometry(func: str, specs: tuple[tuple[str, Any, int], ...]) -> tuple[int, list[tuple[int, ...]]]:
    """Read each (name, value, minimum) as an int or a tuple; ints broadcast to the tuples' common length (1 if none)."""
    lengths = {len(v) for _, v, _ in specs if isinstance(v, (tuple, list))}
    if len(lengths) > 1:
        given = ", ".join(f"{name}={value!r}" for name, value, _ in specs if isinstance(value, (tuple, list)))
        raise fail(func, f"the tuple arguments must have one length, got {given}")
    n = lengths.pop() if lengths else 1
    if n == 0:
        raise fail(func, "the tuple arguments must not be empty")
    return n, [int_tuple(value, name, func, n, minimum) for name, value, minimum in specs]


def _sizes(func: str, out: tuple[int, ...], scalar: bool, detail: str) -> int | tuple[int, ...]:
    if min(out) < 1:
        raise fail(func, f"the output would have size {out[0] if scalar else out}, it must be at least 1 ({detail})")
    return out[0] if scalar else out


def _all_ints(*values: Any) -> bool:
    return not any(isinstance(v, (tuple, list)) for v in values)


def conv_output_size(func: str, size: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> int | tuple[int, ...]:
    _, (sizes, kernels, strides, pads, dilations) = _geometry(
        func, (("size", size, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1), ("padding", padding, 0), ("dilation", dilation, 1))
    )
    out = tuple(conv_out_size(n, k, 2 * p, s, d) for n, k, s, p, d in zip(sizes, kernels, strides, pads, dilations))
    detail = f"size={size!r}, kernel_size={kernel_size!r}, stride={stride!r}, padding={padding!r}, dilation={dilation!r}"
    return _sizes(func, out, _all_ints(size, kernel_size, stride, padding, dilation), detail)


def pool_output_size(
    func: str, size: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any
) -> int | tuple[int, ...]:
    stride = kernel_size if stride is None else stride
    _, (sizes, kernels, strides, pads, dilations) = _geometry(
        func, (("size", size, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1), ("padding", padding, 0), ("dilation", dilation, 1))
    )
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise fail(func, f"ceil_mode must be True or False, got {ceil_mode!r}", TypeError)
    if any(p > k // 2 for p, k in zip(pads, kernels)):
        raise fail(func, f"padding must be at most half of kernel_size, got padding={padding!r} and kernel_size={kernel_size!r}")
    out = tuple(pool_out_size(n, k, p, s, d, bool(ceil_mode)) for n, k, s, p, d in zip(sizes, kernels, strides, pads, dilations))
    detail = f"size={size!r}, kernel_size={kernel_size!r}, stride={stride!r}, padding={padding!r}, dilation={dilation!r}"
    return _sizes(func, out, _all_ints(size, kernel_size, stride, padding, dilation), detail)


def conv_transpose_output_size(
    func: str, size: Any, kernel_size: Any, stride: Any, padding: Any, output_padding: Any, dilation: Any
) -> int | tuple[int, ...]:
    _, (sizes, kernels, strides, pads, extra, dilations) = _geometry(
        func,
        (
            ("size", size, 1),
            ("kernel_size", kernel_size, 1),
            ("stride", stride, 1),
            ("padding", padding, 0),
            ("output_padding", output_padding, 0),
            ("dilation", dilation, 1),
        ),
    )
    if any(op >= s and op >= d for op, s, d in zip(extra, strides, dilations)):
        raise fail(
            func,
            f"output_padding must be smaller than stride or dilation, got output_padding={output_padding!r} "
            f"with stride={stride!r} and dilation={dilation!r}",
        )
    out = tuple(conv_transpose_out_size(*args) for args in zip(sizes, kernels, strides, pads, dilations, extra))
    detail = f"size={size!r}, kernel_size={kernel_size!r}, stride={stride!r}, padding={padding!r}, output_padding={output_padding!r}"
    return _sizes(func, out, _all_ints(size, kernel_size, stride, padding, output_padding, dilation), detail)
