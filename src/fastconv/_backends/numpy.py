"""The ``numpy`` backend: the vectorized reference that the other backends are tested against.

It keeps the entry-point contract of ``fastconv._backends`` with padded
copies, ``sliding_window_view`` and ``einsum``: no Python loop runs per
output element.
"""

from __future__ import annotations

import numpy as np
import scipy.special
from numpy.lib.stride_tricks import sliding_window_view

from .._calls import (
    GELU,
    HARDSWISH,
    NO_ACTIVATION,
    RELU,
    RELU6,
    SILU,
    SQRT_HALF,
    AdaptiveCall,
    ConvCall,
    ConvTransposeCall,
    InterpolateCall,
    PlaneCall,
    PoolCall,
    adaptive_windows,
    avg_pool_counts,
    lowest,
)


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], mode: str, fill: float = 0) -> np.ndarray:
    """Pad the last two axes by (top, bottom, left, right) in an ``np.pad`` mode."""
    width = [(0, 0)] * (x.ndim - 2) + [(pads[0], pads[1]), (pads[2], pads[3])]
    if mode in ("constant", "overlap"):
        return np.pad(x, width, mode="constant", constant_values=fill)
    if x.shape[-2] == 0 or x.shape[-1] == 0:
        return np.zeros(x.shape[:-2] + (x.shape[-2] + pads[0] + pads[1], x.shape[-1] + pads[2] + pads[3]), x.dtype)
    return np.pad(x, width, mode=mode)


def _windows(x: np.ndarray, kernel, stride, dilation) -> np.ndarray:
    """(..., H, W) -> (..., Ho, Wo, kH, kW) view of every dilated, strided window."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = sliding_window_view(x, span, axis=(-2, -1))
    return view[..., :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]


def conv2d(call: ConvCall) -> np.ndarray:
    x, w = call.input, call.weight
    n, groups = x.shape[0], call.groups
    out_channels, cg, kh, kw = w.shape
    win = _windows(_pad(x, call.pads, call.boundary), (kh, kw), call.stride, call.dilation)
    ho, wo = win.shape[2:4]
    win = win.reshape(n, groups, cg, ho, wo, kh, kw)
    wg = w.reshape(groups, out_channels // groups, cg, kh, kw)
    out = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True).reshape(n, out_channels, ho, wo)
    if call.bias is not None:
        out += call.bias[:, None, None]
    return activate(out, call.activation)


def conv_transpose2d(call: ConvTransposeCall) -> np.ndarray:
    """Each tap (u, v) scatters ``x * w[:, :, u, v]`` to the rows ``ih * sh - ph + u * dh`` (and columns likewise).

    Only products of an input value and a weight are summed, as in torch:
    a NaN weight reaches only the outputs its tap lands on.
    """
    x, w, groups = call.input, call.weight, call.groups
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = call.stride, call.padding, call.dilation
    ho, wo = call.out_size
    full = np.zeros((n, groups, cog, ho + 2 * ph, wo + 2 * pw), x.dtype)
    xg = x.reshape(n, groups, cin // groups, h, wd)
    wg = w.reshape(groups, cin // groups, cog, kh, kw)
    for u in range(kh):
        for v in range(kw):
            rows = slice(u * dh, u * dh + (h - 1) * sh + 1, sh)
            cols = slice(v * dw, v * dw + (wd - 1) * sw + 1, sw)
            full[..., rows, cols] += np.einsum("ngchw,gco->ngohw", xg, wg[..., u, v])
    out = full[..., ph : ph + ho, pw : pw + wo].reshape(n, groups * cog, ho, wo)
    return out if call.bias is None else out + call.bias[:, None, None]


def activate(out: np.ndarray, code: int) -> np.ndarray:
    """Activation ``code`` (``_calls.ACTIVATIONS``) of ``out``, in ``out``'s dtype; silu, gelu, hardswish and
    hardsigmoid are computed in float64."""
    if code == NO_ACTIVATION:
        return out
    zero = out.dtype.type(0)
    if code in (RELU, RELU6):
        clipped = np.where(out < 0, zero, out)
        return clipped if code == RELU else np.where(out > 6, out.dtype.type(6), clipped)
    x = out.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if code == SILU:
            y = x / (1.0 + np.exp(-x))
        elif code == GELU:
            y = 0.5 * x * (1.0 + scipy.special.erf(x * SQRT_HALF))
        else:  # hardswish, hardsigmoid: relu6(x + 3) / 6, times x for hardswish (NaN stays NaN)
            gate = np.where(x + 3.0 < 0, 0.0, np.where(x + 3.0 > 6, 6.0, x + 3.0)) / 6.0
            y = x * gate if code == HARDSWISH else gate
    return y.astype(out.dtype)


def correlate_planes(call: PlaneCall) -> np.ndarray:
    if call.boundary == "overlap":
        return _correlate_overlap(call)
    padded = _pad(call.planes, call.pads, call.boundary, call.fillvalue)
    win = _windows(padded, call.kernel.shape, (1, 1), (1, 1))
    return np.einsum("bhwij,ij->bhw", win, call.kernel, optimize=True)


def _correlate_overlap(call: PlaneCall) -> np.ndarray:
    """Correlation over the overlap of the planes and the kernel only, as ``np.convolve`` sums."""
    inside = _pad(np.ones(call.planes.shape[1:], bool), call.pads, "constant", False)
    win = _windows(_pad(call.planes, call.pads, "constant"), call.kernel.shape, (1, 1), (1, 1))
    mask = _windows(inside, call.kernel.shape, (1, 1), (1, 1))
    return np.where(mask, win * call.kernel, 0).sum(axis=(-2, -1), dtype=call.planes.dtype)


def _max_with_index(win: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray, width: int):
    """Max over the last two axes of ``win`` (..., Oh, Ow, kH, kW) and torch's flat index.

    ``valid`` (Oh, Ow, kH, kW) masks padding; ``rows`` (Oh, kH) and ``cols``
    (Ow, kW) give each window position's input coordinates.  torch scans a
    window row by row and takes a value when ``val > max or isnan(val)``: the
    first of equal maxima, the last NaN, the first valid position if all are -inf.
    """
    values = win.max(axis=(-2, -1))
    hit = (win == values[..., None, None]) & valid
    if win.dtype.kind == "f":
        hit |= np.isnan(win)
    flat = hit.reshape(*hit.shape[:-2], hit.shape[-2] * hit.shape[-1])
    first = flat.argmax(axis=-1)
    if win.dtype.kind == "f":
        last = flat.shape[-1] - 1 - flat[..., ::-1].argmax(axis=-1)
        first = np.where(np.isnan(values), last, first)
    kw = win.shape[-1]
    oh = np.arange(rows.shape[0])[:, None]
    ow = np.arange(cols.shape[0])[None, :]
    index = rows[oh, first // kw] * width + cols[ow, first % kw]
    # A window wholly in the padding keeps torch's start: its first position >= 0.
    start = rows[oh, (rows >= 0).argmax(axis=1)[:, None]] * width + cols[ow, (cols >= 0).argmax(axis=1)[None, :]]
    index = np.where(flat.any(axis=-1), index, start)
    return values, index.astype(np.int64)


def _pool_axis(out, kernel, stride, pad, dilation):
    """Input coordinates (out, kernel) of each pooling window position on one axis."""
    return np.arange(out)[:, None] * stride - pad + np.arange(kernel)[None, :] * dilation


def _pool_windows(call: PoolCall, fill, dilation):
    x = call.input
    rows, cols = (
        _pool_axis(o, k, st, p, d)
        for o, k, st, p, d in zip(call.out_size, call.kernel, call.stride, call.padding, dilation)
    )
    after = [r.max() + 1 - s for r, s in ((rows, x.shape[2]), (cols, x.shape[3]))]
    padded = _pad(x, (call.padding[0], max(after[0], 0), call.padding[1], max(after[1], 0)), "constant", fill)
    win = _windows(padded, call.kernel, call.stride, dilation)[:, :, : call.out_size[0], : call.out_size[1]]
    return win, rows, cols


def max_pool2d(call: PoolCall, return_indices: bool):
    x = call.input
    win, rows, cols = _pool_windows(call, lowest(x.dtype), call.dilation)
    if not return_indices:
        return win.max(axis=(-2, -1))
    valid_r = (rows >= 0) & (rows < x.shape[2])
    valid_c = (cols >= 0) & (cols < x.shape[3])
    valid = valid_r[:, None, :, None] & valid_c[None, :, None, :]
    return _max_with_index(win, valid, rows, cols, x.shape[3])


def avg_pool2d(call: PoolCall, count_include_pad: bool, divisor_override: int | None):
    x = call.input
    win, _, _ = _pool_windows(call, 0, (1, 1))
    total = win.sum(axis=(-2, -1))
    if divisor_override is not None:
        return total / x.dtype.type(divisor_override)
    rows, cols = (
        avg_pool_counts(size, n, k, s, p, count_include_pad)
        for size, n, k, s, p in zip(x.shape[2:], call.out_size, call.kernel, call.stride, call.padding)
    )
    return total / np.multiply.outer(rows, cols).astype(x.dtype)


def _adaptive_windows(call: AdaptiveCall, fill):
    x = call.input
    axes = []
    for size, out in zip(x.shape[2:], call.out_size):
        start, end = adaptive_windows(size, out)
        longest = int((end - start).max()) if out else 0
        pos = start[:, None] + np.arange(longest)[None, :]
        axes.append((np.minimum(pos, size - 1), pos < end[:, None]))
    (rows, vr), (cols, vc) = axes
    valid = vr[:, None, :, None] & vc[None, :, None, :]
    win = x[:, :, rows[:, None, :, None], cols[None, :, None, :]]
    return np.where(valid, win, x.dtype.type(fill)), valid, rows, cols


def adaptive_avg_pool2d(call: AdaptiveCall):
    win, valid, _, _ = _adaptive_windows(call, 0)
    return win.sum(axis=(-2, -1)) / valid.sum(axis=(-2, -1)).astype(call.input.dtype)


def adaptive_max_pool2d(call: AdaptiveCall, return_indices: bool):
    x = call.input
    win, valid, rows, cols = _adaptive_windows(call, lowest(x.dtype))
    if not return_indices:
        return win.max(axis=(-2, -1))
    return _max_with_index(win, valid, rows, cols, x.shape[3])


def interpolate(call: InterpolateCall) -> np.ndarray:
    """Gather through the call's tables; linear modes weigh columns, then rows, in torch's order."""
    x = call.input
    (r0, r1), (c0, c1) = call.rows, call.cols
    if not call.linear:
        return x[:, :, r0[:, None], c0[None, :]]
    (a0, a1), (b0, b1) = call.row_weights, call.col_weights

    def along_rows(rows):
        picked = x[:, :, rows]
        return picked[..., c0] * b0 + picked[..., c1] * b1

    with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as in torch
        first = along_rows(r0)
        if not call.two_d:
            return first
        return first * a0[:, None] + along_rows(r1) * a1[:, None]


def correlate_separable(call: PlaneCall, planes: np.ndarray, us: np.ndarray, vs: np.ndarray) -> np.ndarray:
    """The correlation of the padded ``planes`` with ``sum_q outer(us[q], vs[q])``, one 1-D pass per tap."""
    padded = _pad(planes, call.pads, call.boundary, call.fillvalue)
    kh, kw = us.shape[1], vs.shape[1]
    ho, wo = padded.shape[1] - kh + 1, padded.shape[2] - kw + 1
    out = np.zeros((planes.shape[0], ho, wo), planes.dtype)
    for u, v in zip(us, vs):
        column = sum(ua * padded[:, a : a + ho] for a, ua in enumerate(u))
        out += sum(vb * column[:, :, j : j + wo] for j, vb in enumerate(v))
    return out
