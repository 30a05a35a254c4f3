"""The cuda backend's ``interpolate``, one thread per output element."""

from __future__ import annotations

from numba import cuda

from ..._calls import InterpolateCall
from .common import _comparable, _device_call, _device_id, _flat_launch, _jit, _on_device, _result, _stream, _table


def _interpolate(x, r0, r1, a0, a1, c0, c1, b0, b1, linear, two_d, out):
    """One thread per output: the numpy backend's ``interpolate`` formula."""
    chans, ho, wo = x.shape[1], out.shape[2], out.shape[3]
    for idx in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, c, oh, ow = idx // (wo * ho * chans), (idx // (wo * ho)) % chans, (idx // wo) % ho, idx % wo
        h, j0, j1 = r0[oh], c0[ow], c1[ow]
        if not linear:
            out[n, c, oh, ow] = x[n, c, h, j0]
        else:
            upper = x[n, c, h, j0] * b0[ow] + x[n, c, h, j1] * b1[ow]
            if two_d:
                h1 = r1[oh]
                lower = x[n, c, h1, j0] * b0[ow] + x[n, c, h1, j1] * b1[ow]
                out[n, c, oh, ow] = upper * a0[oh] + lower * a1[oh]
            else:
                out[n, c, oh, ow] = upper


def interpolate(call: InterpolateCall):
    x = _comparable(call.input)
    stream, on_device = _stream(call), _device_call(call)
    out = cuda.device_array(x.shape[:2] + call.out_size, x.dtype, stream=stream)
    if out.size:
        tables = [_table(t.dtype.str, t.tobytes(), _device_id()) for t in (*call.rows, *call.row_weights, *call.cols, *call.col_weights)]
        _jit(_interpolate)[_flat_launch(out.size, stream)](_on_device(x, stream), *tables, call.linear, call.two_d, out)
    return _result(out, stream, on_device).view(call.input.dtype)


# --- the measured cost model (see _cost) ------------------------------------------------------
