"""The cuda backend's pooling, one thread per output element, with the cpu kernels' rules for NaN, ties and padding."""

from __future__ import annotations

import numpy as np
from numba import cuda

from ..._calls import AdaptiveCall, PoolCall, adaptive_span, lowest
from .common import _comparable, _device_call, _flat_launch, _jit, _on_device, _result, _stream, _wins

_adaptive_span = cuda.jit(device=True, inline="always")(adaptive_span)


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
                if _wins(val, best):
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
        h0, h1 = _adaptive_span(oh, h, ho)
        w0, w1 = _adaptive_span(ow, wd, wo)
        best = x[n, c, h0, w0]
        where = h0 * wd + w0
        total = zero
        for ih in range(h0, h1):
            for iw in range(w0, w1):
                val = x[n, c, ih, iw]
                total += val
                if _wins(val, best):
                    best = val
                    where = ih * wd + iw
        if take_max:
            out[n, c, oh, ow] = best
            if indices.size != 0:
                indices[n, c, oh, ow] = where
        else:
            out[n, c, oh, ow] = total / ((h1 - h0) * (w1 - w0))


def max_pool2d(call: PoolCall, return_indices: bool):
    x = _comparable(call.input)
    stream, on_device = _stream(call), _device_call(call)
    out = cuda.device_array(x.shape[:2] + call.out_size, x.dtype, stream=stream)
    indices = cuda.device_array(out.shape if return_indices else (0, 0, 0, 0), np.int64, stream=stream)
    if out.size:
        _jit(_max_pool)[_flat_launch(out.size, stream)](
            _on_device(x, stream), *call.kernel, *call.stride, *call.padding, *call.dilation, lowest(x.dtype), out, indices
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
