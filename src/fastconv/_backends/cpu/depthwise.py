"""Depthwise conv2d (groups == in channels == out channels), NCHW in and out, on the SIMD band kernels (``bands.py``).

Entry: :func:`conv2d_depthwise` takes plain arrays and parameters and fills a
preallocated output; no validation.  :func:`supported` says whether the path
exists for a dtype on numba's target.
"""

from __future__ import annotations

import functools

import numpy as np

from ..._calls import ACTIVATIONS, conv_out_size
from ..._padding import source_index
from . import bands, parallel, simd
from .common import workspace

_plans: dict = {}
# output planes up to this size, zero-padded, run with the lanes across channels (bands.depthwise_channels_job): on the
# Intel Xeon, 7 x 7 outputs 1.5-2x faster than the band kernels, but 14 x 14 ones 0.7-1.2x (interleaved medians against the previous commit)
CHANNEL_PLANE = 64


def supported(dtype) -> bool:
    """Whether the SIMD depthwise kernel exists for ``dtype`` on numba's target."""
    return bands.supported(dtype)


@functools.lru_cache(maxsize=256)
def suits(x_shape, kernel, stride, pads, dilation, itemsize) -> bool:
    """Whether the band kernel suits the call: a band's extra input rows (kernel height - 1) cost at
    most a quarter of its rows; wider planes leave too few rows in an L1-sized band."""
    _, _, h, wd = x_shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, bottom, left, right = pads
    ho, wo = conv_out_size(h, kh, top + bottom, sh, dh), conv_out_size(wd, kw, left + right, sw, dw)
    g = bands.geometry(h, wd, ho, wo, kernel, stride, dilation, pads, itemsize)
    return g["band_rows"] >= min(ho, 4 * g["ext_h"])


def _plan(key):
    p = _plans.get(key)
    if p is None:
        (nb, c, h, wd), (kh, kw), stride, pads, dilation, boundary, itemsize, band_bytes = key
        top, bottom, left, right = pads
        (sh, sw), (dh, dw) = stride, dilation
        ho, wo = conv_out_size(h, kh, top + bottom, sh, dh), conv_out_size(wd, kw, left + right, sw, dw)
        g = bands.geometry(h, wd, ho, wo, (kh, kw), stride, dilation, pads, itemsize, band_bytes)
        rows = source_index(h, top, h + top + bottom, boundary)
        cols = source_index(wd, left, wd + left + right, boundary)
        units = nb * c * -(-ho // g["band_rows"])
        p = (rows, cols, g["slots"], g["toff"], ho, wo, g["wq"], g["ext_h"], g["band_rows"], bands.per_job(units))
        if len(_plans) > 256:
            _plans.clear()
        _plans[key] = p
    return p


def conv2d_depthwise(x, w, bias, stride, pads, dilation, boundary, activation, out, band_bytes=None):
    """``out[:] = conv2d(pad(x, pads, boundary), w, bias, stride, dilation, groups=C)`` + activation.

    ``x`` (N, C, H, W) and ``w`` (C, 1, kh, kw) C-contiguous float32 / float64,
    ``bias`` (C,) or None, ``stride`` / ``dilation`` pairs, ``pads`` (top,
    bottom, left, right), ``boundary`` "constant" (zeros), "reflect", "edge",
    "wrap" or "symmetric", ``activation`` a code (0 none, 1 relu, 2 relu6,
    3 silu, 4 gelu, 5 hardswish, 6 hardsigmoid) or its name, ``out`` a C-contiguous (N, C, Ho, Wo) array of
    x's dtype, which is returned.  ``band_bytes`` overrides the band size (tests).
    """
    act = activation if isinstance(activation, (int, np.integer)) else ACTIVATIONS.index(activation)
    nb, c, h, wd = x.shape
    kh, kw = w.shape[2], w.shape[3]
    key = (x.shape, (kh, kw), tuple(stride), tuple(pads), tuple(dilation), boundary, x.itemsize, band_bytes)
    rows, cols, slots, toff, ho, wo, wq, ext_h, band_rows, per_job = _plan(key)
    if bias is None:
        bias = np.zeros(c, x.dtype)
    mod = bands.kernel_module(x.dtype)
    flat = out.reshape(-1)
    if boundary == "constant" and ho * wo <= CHANNEL_PLANE and band_bytes is None:
        blocks, per = bands.channels_work(c, h, wd, ho, wo, (kh, kw), stride, dilation, simd.lanes(x.dtype))
        work = workspace(nb * blocks * per, x.dtype, "depthwise_channels")
        parallel.run(mod.depthwise_channels_job, nb * blocks, x.reshape(-1), w.reshape(-1), bias, c, h, wd, ho, wo, kh, kw,
                     stride[0], stride[1], dilation[0], dilation[1], pads[0], pads[2], int(act) if act < 3 else 0, work, flat)
        if act >= 3:
            parallel.run(mod.activate_unit, nb * c, flat, ho * wo, int(act))
        return out
    njobs = bands.jobs(nb * c * -(-ho // band_rows), per_job)
    # output rows r and r + 1 share their input rows; rows shorter than two vectors leave lanes idle, and the flat
    # kernel runs those planes 1.4-1.7x faster (14 x 14 and 7 x 7 planes, benchmarks/ab_layers.py)
    pair = stride[0] == dilation[0] == 1 and wo >= 2 * simd.lanes(x.dtype)
    parallel.run(mod.depthwise_pair_job if pair else mod.depthwise_job, njobs, x.reshape(-1), w.reshape(-1), bias, rows,
                 cols, slots, toff, nb * c, c, h, wd, ho, wo, wq, ext_h, kw if pair else stride[0], pads[2], band_rows,
                 per_job, int(act) if act < 3 else 0, flat)
    if act >= 3:  # silu, gelu, hardswish, hardsigmoid: a scalar pass over the output
        parallel.run(mod.activate_unit, nb * c, flat, ho * wo, int(act))
    return out
