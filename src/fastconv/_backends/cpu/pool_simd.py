"""Max / average / global-average pooling, NCHW in and out, on the SIMD band kernels (``bands.py``).

Entries take plain arrays and parameters and fill preallocated outputs (no validation):

* :func:`max_pool2d` values, and torch's flat indices when ``indices`` is given
  (NaN wins exactly as in torch: a NaN anywhere in a window gives NaN, the
  index is the first of equal maxima or the last NaN);
* :func:`avg_pool2d` (``count_include_pad``, ``divisor_override``; ceil_mode is
  in the caller's output size);
* :func:`global_avg_pool2d` (output 1 x 1).

:func:`supported` says whether the path exists for a dtype on numba's target;
:func:`supports_indices` whether indices are exact (float32 indices are
carried as floats: planes up to 2**24 elements).
"""

from __future__ import annotations

import numpy as np

from ..._calls import avg_pool_counts
from ..._padding import source_index
from . import bands, parallel, simd

_plans: dict = {}


def supported(dtype) -> bool:
    return bands.supported(dtype)


def supports_indices(shape, kernel, padding, dilation, dtype) -> bool:
    h, wd = shape[-2:]
    span = (h + 2 * padding[0] + kernel[0] * dilation[0]) * (wd + 2 * padding[1] + kernel[1] * dilation[1])
    return supported(dtype) and (np.dtype(dtype) == np.float64 or span < 2**24)


def _geometry(kind, x, kernel, stride, padding, dilation, out_size, extra=()):
    key = (kind, x.shape, x.itemsize, kernel, stride, padding, dilation, out_size, extra)
    p = _plans.get(key)
    if p is not None:
        return p
    nb, c, h, wd = x.shape
    (ph, pw), (ho, wo) = padding, out_size
    g = bands.geometry(h, wd, ho, wo, kernel, stride, dilation, None, x.itemsize)
    rows = source_index(h, ph, h + ph, "constant")  # rows / columns past the tables read the fill value
    cols = source_index(wd, pw, wd + pw, "constant")
    units = nb * c * -(-ho // g["band_rows"])
    p = dict(g, rows=rows, cols=cols, per_job=bands.per_job(units))
    if kind == "maxi":
        (sh, sw), (dh, dw) = stride, dilation
        u, v = g["taps"]
        p["tcf"] = ((u * dh - ph) * wd + (v * dw - pw)).astype(x.dtype)
        brows, wq = g["band_rows"], g["wq"]
        i, j = np.divmod(np.arange(brows * wq + 64), wq)
        p["posb"] = (i * sh * wd + j * sw).astype(x.dtype)
    if kind == "avg":
        count_include_pad, divisor_override = extra
        if divisor_override:
            div = np.full((ho, wo), float(divisor_override))
        else:
            r, q = (
                avg_pool_counts(size, n, k, s, pp, count_include_pad)
                for size, n, k, s, pp in zip((h, wd), out_size, kernel, stride, padding)
            )
            div = np.multiply.outer(r, q).astype(np.float64)
        rdiv = np.ones(ho * g["wq"] + 64, x.dtype)
        rdiv[: ho * g["wq"]].reshape(ho, g["wq"])[:, :wo] = 1.0 / div
        p["rdiv"] = rdiv
    if len(_plans) > 256:
        _plans.clear()
    _plans[key] = p
    return p


def _jobs(planes, ho, p):
    """The band jobs of a call of geometry ``p``."""
    return bands.jobs(planes * -(-ho // p["band_rows"]), p["per_job"])


def max_pool2d(x, kernel, stride, padding, dilation, out_size, out, indices=None):
    """``out[:]`` (N, C, Ho, Wo) = torch's max_pool2d of ``x`` (N, C, H, W), C-contiguous float32 / float64.

    ``kernel``, ``stride``, ``padding``, ``dilation`` pairs, ``out_size`` (Ho, Wo)
    as the caller computed it (ceil_mode included).  With ``indices`` (an int64
    array of out's shape) also torch's flat indices ``h*W + w``; see
    :func:`supports_indices`.  Returns ``out``.
    """
    kernel, stride, padding, dilation, out_size = map(tuple, (kernel, stride, padding, dilation, out_size))
    nb, c, h, wd = x.shape
    ho, wo = out_size
    mod = bands.kernel_module(x.dtype)
    if indices is None:
        p = _geometry("max", x, kernel, stride, padding, dilation, out_size)
        parallel.run(
            mod.max_pool_job, _jobs(nb * c, ho, p), x.reshape(-1), p["rows"], p["cols"], p["slots"], p["toff"], nb * c, h, wd, ho, wo, p["wq"], p["ext_h"],
            stride[0], padding[1], p["band_rows"], p["per_job"], out.reshape(-1),
        )
    else:
        p = _geometry("maxi", x, kernel, stride, padding, dilation, out_size)
        parallel.run(
            mod.max_pool_indices_job, _jobs(nb * c, ho, p), x.reshape(-1), p["rows"], p["cols"], p["slots"], p["toff"], p["tcf"], p["posb"], nb * c, h, wd, ho, wo,
            p["wq"], p["ext_h"], stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], padding[1],
            p["band_rows"], p["per_job"], out.reshape(-1), indices.reshape(-1),
        )
    return out


def avg_pool2d(x, kernel, stride, padding, out_size, count_include_pad, divisor_override, out):
    """``out[:]`` = torch's avg_pool2d of ``x`` (the caller's ``out_size`` carries ceil_mode).  Returns ``out``."""
    kernel, stride, padding, out_size = map(tuple, (kernel, stride, padding, out_size))
    nb, c, h, wd = x.shape
    ho, wo = out_size
    p = _geometry("avg", x, kernel, stride, padding, (1, 1), out_size, (bool(count_include_pad), divisor_override))
    parallel.run(
        bands.kernel_module(x.dtype).avg_pool_job, _jobs(nb * c, ho, p), x.reshape(-1), p["rows"], p["cols"], p["slots"], p["toff"], p["rdiv"], nb * c, h, wd, ho, wo, p["wq"],
        p["ext_h"], stride[0], padding[1], p["band_rows"], p["per_job"], out.reshape(-1),
    )
    return out


def global_avg_pool2d(x, out):
    """``out[:]`` (N, C, 1, 1) = the mean of each plane of ``x`` (N, C, H, W).  Returns ``out``."""
    planes = x.shape[0] * x.shape[1]
    n = simd.lanes(x.dtype)
    per = -(-bands.per_job(planes) // n) * n  # whole vectors of planes (plane_mean_job)
    parallel.run(bands.kernel_module(x.dtype).plane_mean_job, bands.jobs(planes, per), x.reshape(-1), planes,
                 x.shape[2] * x.shape[3], per, out.reshape(-1))
    return out
