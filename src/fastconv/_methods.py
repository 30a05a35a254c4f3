"""How a plane correlation is computed: directly, as separable 1-D passes, or by FFT.

Every path computes the same thing: the "valid" correlation of each plane,
padded by ``call.pads`` in ``call.boundary`` mode, with ``call.kernel``.
The padding is materialized (or read through index tables) in the boundary's
own mode, so every boundary and every scipy mode is exact in every method.

- ``direct``: the backend's ``correlate_planes``.
- ``separable``: a kernel that is exactly ``outer(u, v)`` of one of its columns
  and one of its rows (Sobel, binomial) passes those; otherwise the kernel's
  SVD gives ``K = sum_q outer(u_q, v_q)`` for its numerical rank ``r`` (singular values above ``max(kh, kw) * eps * s_0``, with
  the compute dtype's ``eps``); each term is a vertical then a horizontal 1-D
  pass, run by the backend's ``correlate_separable``.
- ``fft``: overlap-save with ``scipy.fft`` (``workers=os.cpu_count()``): the
  padded planes are cut into tiles of the FFT length chosen by the cost model
  (one tile is the whole-image FFT).

Images in their own dtype and layout (``filter_image``, the image filters on
host arrays) are planned by ``plan_image``: a constant kernel runs as a box
filter (running sums), another as separable passes or taps, whichever has
fewer multiply-adds (a tap read straight from a float image's rows counted
at ``ROWS_DIRECT_TAP`` of a pass's); past ``IMAGE_TAPS`` of those, and for ``fft``, they run
as planes (``ImageCall.planes``) under this module's cost model.  A backend
without ``filter_image`` always runs them as planes.

Non-finite values would be spread by the FFT and the separable passes (``0 *
inf`` terms differ), so input or kernel holding NaN or inf always runs
``direct``.  Integer inputs, whose results are exact int64, run ``direct``
under ``auto``; an explicit ``separable`` or ``fft`` computes in float64 and
rounds when the rounding error bound (``_EXACT_ROUNDING``) proves the result
exact, and otherwise runs ``direct``.
"""

from __future__ import annotations

import functools
import math
import os
from types import ModuleType
from typing import NamedTuple

import numpy as np
import scipy.fft as sfft

from ._calls import ImageCall, PlaneCall, conv_out_size
from ._padding import source_index

METHODS = ("auto", "direct", "separable", "fft")
_EXACT_ROUNDING = 0.25  # largest error bound for which rounding a float64 result to int64 is exact

# --- the cost model ------------------------------------------------------------------------
# A method's estimated nanoseconds are ``COST_NS[kind][method]`` dotted with
# its ``work`` features (the last feature is the call itself, 1), fitted on
# this machine (2-core Xeon with AVX-512, float32, shared and noisy) by
# ``python benchmarks/calibrate_methods.py``; refit them when a kernel changes.
# "numpy" is the einsum reference backend; any other backend is priced as "cpu".
#   direct:    per output element per kernel tap, per output element (memory), per pass over an
#              output row (the cost of short rows), per call
#   separable: per element per 1-D tap per rank term, per output element (memory), per call
#   fft:       per FFT point per log2(points), per padded input and output element copied, per tile, per call
COST_NS = {
    "cpu": {"direct": (0.0138, 0.175, 13.6, 4.17e4), "separable": (0.0353, 0.497, 5.77e4), "fft": (0.375, 0.0, 1.29e4, 9.86e4)},
    "numpy": {"direct": (4.0, 0.0, 0.0, 5e3), "separable": (1.5, 0.0, 3e4), "fft": (0.41, 1.02, 0.0, 1e5)},
}
FLOAT64_FACTOR = 1.6  # float64 costs this much more than float32 per element
# Tile lengths tried by overlap-save, besides the whole image.
FFT_TILES = (64, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024)


class Plan(NamedTuple):
    method: str
    us: np.ndarray | None = None  # (rank, kh) vertical factors, compute dtype
    vs: np.ndarray | None = None  # (rank, kw) horizontal factors
    tiles: tuple[int, int] | None = None  # FFT lengths (nh, nw)


def factor(kernel: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(us, vs)`` with ``kernel ~= us.T @ vs`` to the numerical rank for ``dtype`` (read-only, cached)."""
    kernel = np.asarray(kernel, np.float64)
    return _factor(kernel.tobytes(), kernel.shape, np.dtype(dtype).str)


def _exact_outer(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(u, v)`` with ``outer(u, v) == kernel`` exactly, taken from the kernel's largest entry, or None.

    Integer separable kernels (Sobel, Scharr, Prewitt, binomial) factor so, and
    their passes are then exact on integer images.
    """
    i, j = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    if kernel[i, j] == 0:
        return None
    u, v = kernel[:, j].copy(), kernel[i] / kernel[i, j]
    return (u[None], v[None]) if np.array_equal(np.outer(u, v), kernel) else None


@functools.lru_cache(maxsize=64)
def _factor(data: bytes, shape: tuple[int, int], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    exact = _exact_outer(np.frombuffer(data, np.float64).reshape(shape))
    if exact is not None:
        for f in exact:
            f.flags.writeable = False
        return exact
    u, s, vt = np.linalg.svd(np.frombuffer(data, np.float64).reshape(shape), full_matrices=False)
    kind = np.dtype(dtype)
    eps = np.finfo(kind if kind.kind == "f" else np.float64).eps
    rank = max(int(np.count_nonzero(s > max(shape) * eps * s[0])), 1)
    root = np.sqrt(s[:rank])
    us, vs = (u[:, :rank] * root).T, vt[:rank] * root[:, None]
    us.flags.writeable = vs.flags.writeable = False
    return us, vs


def _geometry(call: PlaneCall):
    b, h, w = call.planes.shape
    kh, kw = call.kernel.shape
    top, bottom, left, right = call.pads
    hp, wp = h + top + bottom, w + left + right
    return b, h, w, kh, kw, hp, wp, conv_out_size(h, kh, top + bottom, 1, 1), conv_out_size(w, kw, left + right, 1, 1)


def _fft_lengths(length: int, k: int) -> list[tuple[int, int]]:
    """Candidate (FFT length, output rows per tile) along one axis of padded ``length``."""
    whole = sfft.next_fast_len(length, real=True)
    out = [(whole, length - k + 1)]
    for n in FFT_TILES:
        n = sfft.next_fast_len(n, real=True)
        if k <= n // 2 and n < whole:
            out.append((n, n - k + 1))
    return out


def _fft_work(call: PlaneCall) -> tuple[float, float, int, tuple[int, int]]:
    """The cheapest overlap-save tiling: (FFT points x log2 points, copied elements, tiles, FFT lengths)."""
    b, _, _, kh, kw, hp, wp, ho, wo = _geometry(call)
    return _fft_tiling(b, kh, kw, hp, wp, ho, wo)


@functools.lru_cache(maxsize=256)
def _fft_tiling(b: int, kh: int, kw: int, hp: int, wp: int, ho: int, wo: int) -> tuple[float, float, int, tuple[int, int]]:
    per_point, per_copy, per_tile, _ = COST_NS["cpu"]["fft"]
    best_ns, best = math.inf, (0.0, 0.0, 0, (0, 0))
    for nh, th in _fft_lengths(hp, kh):
        for nw, tw in _fft_lengths(wp, kw):
            tiles = b * math.ceil(ho / th) * math.ceil(wo / tw)
            points = tiles * nh * nw
            transforms, copies = points * math.log2(nh * nw), points + b * ho * wo
            ns = per_point * transforms + per_copy * copies + per_tile * tiles
            if ns < best_ns:
                best_ns, best = ns, (transforms, copies, tiles, (nh, nw))
    return best


def _row_passes(kh: int, kw: int) -> int:
    """Passes over an output row of the cpu kernel: nine taps at a time, then three, then one."""
    taps = kh * kw
    return taps // 9 + taps % 9 // 3 + taps % 3


def work(call: PlaneCall, rank: int) -> dict[str, tuple[float, ...]]:
    """Each method's cost features (see ``COST_NS``), counted in elements of the image's dtype."""
    b, _, w, kh, kw, _, wp, ho, wo = _geometry(call)
    fft_transforms, fft_copies, fft_tiles, _ = _fft_work(call)
    elements = b * ho * wo
    return {
        "direct": (elements * kh * kw, elements, b * ho * _row_passes(kh, kw), 1),
        "separable": (rank * b * ho * (w * kh + wp + wo * kw), elements, 1),
        "fft": (fft_transforms, fft_copies, fft_tiles, 1),
    }


def estimate(call: PlaneCall, backend: str, rank: int) -> dict[str, float]:
    """Estimated nanoseconds of each method for ``call`` (see ``COST_NS``)."""
    scale = FLOAT64_FACTOR if call.planes.dtype.itemsize == 8 else 1.0
    coefficients = COST_NS["numpy" if backend == "numpy" else "cpu"]
    costs = {}
    for method, features in work(call, rank).items():
        *per_unit, per_call = coefficients[method]
        costs[method] = scale * sum(c * f for c, f in zip(per_unit, features)) + per_call
    return costs


def _finite(planes: np.ndarray) -> bool:
    """True when every value is finite (an overflowing float32 sum says False, which is safe)."""
    if planes.dtype.kind != "f":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(planes.sum()))


def plan(call: PlaneCall, method: str, backend: str) -> Plan:
    """Choose how to compute ``call``; ``method`` is checked, ``backend`` resolved.

    Non-finite values make every method direct, so that NaN lands exactly
    where the direct correlation puts it; the check costs a pass over the
    input, so it runs only when another method would be chosen.
    """
    if method == "direct" or call.planes.size == 0:
        return Plan("direct")
    if backend not in ("cpu", "numpy"):
        if method == "auto":
            return Plan("direct")
        raise ValueError(f"method={method!r} runs on the cpu and numpy backends, got backend={backend!r}")
    if method == "auto" and call.planes.dtype.kind != "f":
        return Plan("direct")
    kernel = call.kernel
    key = (call.planes.shape, call.planes.dtype.str, kernel.shape, kernel.tobytes(), call.pads, call.boundary, call.fillvalue, method, backend)
    chosen = _PLANS.get(key)
    if chosen is None:
        finite = np.isfinite(kernel).all() and math.isfinite(call.fillvalue)
        chosen = _choose(call, method, backend) if finite else Plan("direct")
        if len(_PLANS) >= PLAN_CACHE_SIZE:
            _PLANS.clear()
        _PLANS[key] = chosen
    return chosen if chosen.method == "direct" or _finite(call.planes) else Plan("direct")


PLAN_CACHE_SIZE = 256
_PLANS: dict[tuple, Plan] = {}  # by everything but the image's values, which only the NaN check reads


def _choose(call: PlaneCall, method: str, backend: str) -> Plan:
    us = vs = None
    if method in ("auto", "separable"):
        us, vs = factor(call.kernel, call.planes.dtype)
    if method == "auto":
        costs = estimate(call, backend, len(us))
        method = min(costs, key=costs.get)
    if method == "fft":
        return Plan("fft", tiles=_fft_work(call)[3])
    if method == "separable":
        return Plan("separable", us, vs)
    return Plan("direct")


def _pad(planes: np.ndarray, call: PlaneCall, shape: tuple[int, int]) -> np.ndarray:
    """The padded planes, zero-extended at the bottom and right to ``shape``."""
    b, h, w, _, _, hp, wp, _, _ = _geometry(call)
    top, _, left, _ = call.pads
    out = np.zeros((b, *shape), planes.dtype)
    out[:, top : top + h, left : left + w] = planes
    # The border rows of the image's columns, then the border columns of every padded row.
    for axis, size, before, length in ((1, h, top, hp), (2, w, left, wp)):
        region = out[:, :, left : left + w] if axis == 1 else out[:, :hp]
        edge = np.r_[0:before, before + size : length]
        src = source_index(size, before, length, call.boundary)[edge]
        values = np.take(region, before + np.maximum(src, 0), axis=axis)
        np.copyto(values, call.fillvalue, where=(src < 0).reshape((-1, 1) if axis == 1 else (1, -1)))
        region[(slice(None),) * axis + (edge,)] = values
    return out


def _fft(call: PlaneCall, planes: np.ndarray, lengths: tuple[int, int]) -> np.ndarray:
    """Overlap-save, one row of tiles (of every plane) at a time, so that the spectra stay small."""
    b, _, _, kh, kw, _, _, ho, wo = _geometry(call)
    (nh, nw), (th, tw) = lengths, (lengths[0] - kh + 1, lengths[1] - kw + 1)
    ty, tx = math.ceil(ho / th), math.ceil(wo / tw)
    padded = _pad(planes, call, (ty * th + kh - 1, tx * tw + kw - 1))
    tiles = np.lib.stride_tricks.sliding_window_view(padded, (th + kh - 1, tw + kw - 1), axis=(1, 2))[:, ::th, ::tw]
    kernel = _kernel_spectrum(np.asarray(call.kernel, planes.dtype), (nh, nw))
    workers = (os.cpu_count() or 1) if b * tx * nh * nw >= FFT_PARALLEL_POINTS else 1
    out = np.empty((b, ty * th, tx * tw), planes.dtype)
    for i in range(ty):
        spectrum = sfft.rfft2(tiles[:, i], s=(nh, nw), workers=workers)
        spectrum *= kernel
        row = sfft.irfft2(spectrum, s=(nh, nw), workers=workers, overwrite_x=True)[..., kh - 1 : kh - 1 + th, kw - 1 : kw - 1 + tw]
        out[:, i * th : (i + 1) * th].reshape(b, th, tx, tw)[...] = row.transpose(0, 2, 1, 3)
    return out[:, :ho, :wo]


FFT_PARALLEL_POINTS = 1 << 18  # below this many points per row of tiles scipy.fft's extra workers cost more than they save
SPECTRUM_CACHE_BYTES = 4 << 20  # kernel spectra up to this size are kept for the next call
_SPECTRA: dict[tuple, np.ndarray] = {}


def _kernel_spectrum(kernel: np.ndarray, lengths: tuple[int, int]) -> np.ndarray:
    """The FFT of the flipped ``kernel`` zero-padded to ``lengths``, cached while it is small."""
    key = (kernel.shape, kernel.dtype.str, kernel.tobytes(), lengths)
    spectrum = _SPECTRA.get(key)
    if spectrum is None:
        spectrum = sfft.rfft2(kernel[::-1, ::-1], s=lengths)
        if spectrum.nbytes <= SPECTRUM_CACHE_BYTES:
            if len(_SPECTRA) >= PLAN_CACHE_SIZE:
                _SPECTRA.clear()
            spectrum.flags.writeable = False
            _SPECTRA[key] = spectrum
    return spectrum


def _rounding_bound(call: PlaneCall, p: Plan) -> float:
    """An upper bound on the float64 error of ``p`` for integer ``call``, in result units."""
    _, _, _, kh, kw, _, _, _, _ = _geometry(call)
    eps = np.finfo(np.float64).eps
    peak = max(float(np.abs(call.planes).max()), abs(call.fillvalue))
    kernel = np.abs(call.kernel.astype(np.float64))
    if p.method == "fft":
        points = p.tiles[0] * p.tiles[1]
        return 8 * eps * math.log2(points) * math.sqrt(points) * peak * math.sqrt(float((kernel**2).sum()))
    rank = len(p.us)
    truncated = float(np.abs(call.kernel - p.us.T @ p.vs).sum())
    return peak * (truncated + 4 * eps * rank * (kh + kw + 2) * float(kernel.sum()))


def _run(call: PlaneCall, p: Plan, kernels: ModuleType) -> np.ndarray:
    ints = call.planes.dtype.kind != "f"
    planes = call.planes.astype(np.float64) if ints else call.planes
    if ints and _rounding_bound(call, p) >= _EXACT_ROUNDING:
        return kernels.correlate_planes(call)
    if p.method == "fft":
        out = _fft(call, planes, p.tiles)
    else:
        us, vs = p.us.astype(planes.dtype), p.vs.astype(planes.dtype)
        out = kernels.correlate_separable(call, planes, us, vs)
    return np.rint(out).astype(call.planes.dtype) if ints else out


def correlate(call: PlaneCall, method: str, backend: str, kernels: ModuleType) -> np.ndarray:
    """Compute ``call`` by a checked ``method`` ("auto" picks by the cost model) with the ``kernels`` of ``backend``."""
    p = plan(call, method, backend)
    if p.method == "direct":
        return kernels.correlate_planes(call)
    return _run(call, p, kernels)


IMAGE_TAPS = 96  # multiply-adds per pixel past which filter_image leaves the choice (FFT included) to the planes' cost model
# A direct tap on a float image in the kernel's dtype (read straight from its rows, register-blocked), against one
# of a separable pass's, which goes through a row buffer: float32 1080p, 2 threads, direct / separable ms for
# Gaussians of rank 1: 3x3 0.34 / 0.51, 5x5 0.70 / 0.71, 7x7 1.35 / 0.93.
ROWS_DIRECT_TAP = 0.4


def plan_image(call: ImageCall, method: str) -> Plan | None:
    """How the backend's ``filter_image`` computes ``call``, or None to run it as planes."""
    if method == "direct":
        return Plan("direct")
    if method == "fft" or not math.isfinite(call.fillvalue):
        return None
    kernel = call.kernel
    rows_direct = call.image.dtype == kernel.dtype == call.out_dtype  # the image's rows are read as they are
    return _plan_kernel(kernel.tobytes(), kernel.shape, kernel.dtype.str, method, rows_direct)


@functools.lru_cache(maxsize=64)
def _plan_kernel(data: bytes, shape: tuple[int, int], dtype: str, method: str, rows_direct: bool = False) -> Plan | None:
    """:func:`plan_image`'s choice for a kernel, kept: a photo filter asks it on every call with the same kernel."""
    kernel = np.frombuffer(data, dtype).reshape(shape)
    if not np.isfinite(kernel).all():
        return None
    if method == "auto" and kernel.flat[0] != 0 and (kernel == kernel.flat[0]).all():
        return Plan("box")
    us, vs = factor(kernel, kernel.dtype)
    kh, kw = kernel.shape
    separable = len(us) * (kh + kw)
    if method == "separable":
        return Plan("separable", us, vs)
    if min(separable, kh * kw) > IMAGE_TAPS:
        return None
    direct = kh * kw * (ROWS_DIRECT_TAP if rows_direct else 1)
    return Plan("separable", us, vs) if separable < direct else Plan("direct")


def filter_image(call: ImageCall, method: str, backend: str, kernels: ModuleType) -> np.ndarray:
    """``call`` as (B, Ho, Wo, C) by a checked ``method``: the backend's ``filter_image`` where it has one, else as planes."""
    p = plan_image(call, method) if hasattr(kernels, "filter_image") else None
    if p is not None:
        return kernels.filter_image(call, p.method, p.us, p.vs)
    b, _, _, c = call.image.shape
    out = correlate(call.planes(), method, backend, kernels)
    return np.ascontiguousarray(np.moveaxis(out.reshape(b, c, *out.shape[1:]), 1, 3))
