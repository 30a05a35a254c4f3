"""The cpu backend's ``filter_image``: filters over images in their own dtype and interleaved layout.

The kernels (``photo_kernels.py``) are loaded through ``generated.load``
under a name carrying the hashes of ``simd.py`` and of their own source, so
that numba's cache is keyed on the intrinsics they were compiled with.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from ..._calls import ImageCall, conv_out_size
from . import generated, parallel, simd, simd_int
from .common import SOURCE_HASH, _tables

_SOURCE = Path(__file__).with_name("photo_kernels.py")
_HASH = hashlib.sha256(_SOURCE.read_bytes()).hexdigest()[:12]
STORED = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.float32, np.float64))  # vstore_as's dtypes


_NAME = f"_photo_{simd.SOURCE_HASH}_{simd_int.SOURCE_HASH}_{SOURCE_HASH}_{_HASH}"


def kernels():
    """The photo kernel module, compiled against this ``simd.py`` and ``simd_int.py``."""
    return generated.load(_NAME, _SOURCE.read_text)


@functools.lru_cache(maxsize=64)
def _index_tables(h: int, w: int, pads: tuple[int, int, int, int], boundary: str) -> tuple[np.ndarray, np.ndarray]:
    """The row and column padding tables, kept: building them costs a tenth of a small image's filter."""
    rows, cols = _tables((h, w), pads, boundary)
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


_NO_FLAGS = np.zeros(1, np.uint8)  # the kernels' job flags where no job checks (integer images): never written


def _rows(image: np.ndarray) -> np.ndarray:
    b, h, w, c = image.shape
    return image.reshape(b, h, w * c)


def _limits(dtype: np.dtype, compute: np.dtype):
    """``(lo, hi, rounds)`` of the store into ``dtype``: cv2's saturation range for integers."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return compute.type(info.min), compute.type(info.max), True
    return compute.type(0), compute.type(0), False


def _sums(call: ImageCall, size: int) -> tuple[np.dtype, bool]:
    """The running sums' float dtype, and whether they are exact: integer sums below 2**24 (float32) or 2**53 (float64)."""
    image, fill, compute = call.image, call.fillvalue, call.kernel.dtype
    if image.dtype.kind not in "iub" or not float(fill).is_integer():
        return compute, False
    info = np.iinfo(image.dtype) if image.dtype.kind != "b" else np.iinfo(np.uint8)
    peak = max(-float(info.min), float(info.max), abs(fill)) * size
    if compute == np.float32 and peak < 2**24:
        return compute, True
    return np.dtype(np.float64), peak < 2**53


def _sums16(call: ImageCall, kh: int, kw: int) -> bool:
    """Whether ``box16`` serves ``call``: a uint8 image with an integer fill in [0, 255] whose window sums stay
    below 2**16, a window no wider than ``SHORT_BOX`` (it sums its taps in registers), float32 compute, and
    16-bit vectors twice as wide as float32 ones (the vector layer has SIMD here)."""
    return (
        call.image.dtype == np.uint8
        and call.kernel.dtype == np.float32
        and _lanes16()
        and _int_fill(call.fillvalue)
        and kh * kw * 255 < 2**16
        and kw <= kernels().SHORT_BOX
    )


def _int_factors(call: ImageCall, us: np.ndarray, vs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer ``(u, v)`` with ``outer(u, v) == kernel`` whose passes ``separable16`` runs in 16-bit lanes (the
    sums below 2**15 in magnitude), for a uint8 image with an integer fill in [0, 255]; else None."""
    if us.shape[0] != 1 or call.image.dtype != np.uint8 or not _lanes16() or not _int_fill(call.fillvalue):
        return None
    k = call.kernel
    return _int_pair(np.asarray(us[0], np.float64).tobytes(), np.asarray(vs[0], np.float64).tobytes(), k.tobytes(), k.shape, k.dtype.str)


@functools.lru_cache(maxsize=64)
def _int_pair(ub: bytes, vb: bytes, kb: bytes, shape: tuple[int, int], dtype: str) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_int_factors` for the factors and kernel given as bytes, kept: a photo filter asks on every call."""
    u, v = np.frombuffer(ub, np.float64), np.frombuffer(vb, np.float64)
    if not (np.array_equal(u, np.round(u)) and np.array_equal(v, np.round(v))):
        return None
    u, v = u.astype(np.int64), v.astype(np.int64)
    kernel = np.frombuffer(kb, dtype).reshape(shape)
    if not v.any() or not np.array_equal(np.outer(u, v), kernel) or np.abs(u).sum() * np.abs(v).sum() * 255 >= 2**15:
        return None
    return u, v


def _lanes16() -> bool:
    """Whether the 16-bit kernels run here: SIMD, and 16-bit vectors twice as wide as float32 ones."""
    return simd.VECTOR_BITS is not None and simd_int.LANES == 2 * simd.vector_lanes(np.float32)


def _int_fill(fill) -> bool:
    return float(fill).is_integer() and 0 <= fill <= 255


def _divisor(weight) -> int:
    """``d`` where a box's (float32) weight is ``1 / d`` for an integer ``d`` in 1..256 (its uint8 results are then
    the window sums divided by ``d``, rounded exactly), else 0."""
    if not weight > 0:
        return 0
    d = round(1 / float(weight))
    return d if 1 <= d <= 256 and np.float32(1 / d) == weight else 0


@functools.cache
def _fast_divisor(d: int) -> tuple[int, int]:
    """``(m, s)`` with ``((x + d // 2) * m) >> (16 + s) == round(x / d)`` for every window sum ``x <= 255 d``
    (checked here, over all of them), for odd ``d`` (no halves to break); ``(0, 0)`` where no 16-bit ``m``
    serves (say d = 225, or even ``d``), and ``box16_div`` takes the exact remainder route."""
    if d < 3 or d % 2 == 0:
        return 0, 0
    x = np.arange(255 * d + 1, dtype=np.int64)
    want = (x + d // 2) // d
    for s in range(16):
        m = -(-(1 << (16 + s)) // d)
        if m >= 1 << 16:
            break
        if np.array_equal(((x + d // 2) * m) >> (16 + s), want):
            return m, s
    return 0, 0


def filter_image(call: ImageCall, method: str, us: np.ndarray | None = None, vs: np.ndarray | None = None) -> np.ndarray:
    """``call`` by ``method`` ("box", "separable" with the factors ``us``/``vs``, or "direct"): (B, Ho, Wo, C).

    The result is in ``call.out_dtype`` when ``vstore_as`` stores it, else in
    the compute dtype (the public layer casts it).  A float image holding
    NaN or inf runs ``direct``, so that they land where the taps put them
    (running sums and separable passes would spread them differently): the
    kernels find them in the rows each job reads, and flag the job.
    """
    image = np.ascontiguousarray(call.image)
    b, h, w, c = image.shape
    kernel = np.ascontiguousarray(call.kernel)
    kh, kw = kernel.shape
    compute = kernel.dtype
    top, bottom, left, right = call.pads
    ho, wo = conv_out_size(h, kh, top + bottom, 1, 1), conv_out_size(w, kw, left + right, 1, 1)
    store = call.out_dtype if call.out_dtype in STORED else compute
    out = np.empty((b, ho, wo, c), store)
    if out.size == 0:
        return out
    rows, cols = _index_tables(h, w, call.pads, call.boundary)
    lo, hi, rounds = _limits(store, compute)
    mod, src, dst = kernels(), _rows(image), _rows(out)
    check, flags, n = image.dtype.kind == "f", None, simd.vector_lanes(compute)
    no_flags = _NO_FLAGS
    # jobs of output rows, handed out one at a time: the threads balance, on a shared machine too
    rows_jobs, box_jobs = b * -(-ho // mod.ROWS_PER_JOB), b * -(-ho // mod.BOX_ROWS_PER_JOB)
    if method == "box" and _sums16(call, kh, kw) and store == np.uint8 and _divisor(kernel[0, 0]):
        d = _divisor(kernel[0, 0])
        parallel.run(mod.box16_div, box_jobs, src, kh, kw, rows, cols, left, c, int(call.fillvalue), d, *_fast_divisor(d), dst, chunk=1)
    elif method == "box" and _sums16(call, kh, kw):
        scale = np.float32(kernel[0, 0])
        parallel.run(mod.box16, box_jobs, src, kh, kw, rows, cols, left, c, int(call.fillvalue), scale, np.float32(lo), np.float32(hi), rounds, simd.vector_lanes(np.float32), dst, chunk=1)
    elif method == "box":
        sums, exact = _sums(call, kh * kw)
        flags = np.zeros(box_jobs, np.uint8) if check else no_flags
        scale = sums.type(kernel[0, 0])
        parallel.run(mod.box, box_jobs, src, kh, kw, rows, cols, left, c, sums.type(call.fillvalue), scale, np.empty(0, sums), exact, lo, hi, rounds, simd.vector_lanes(sums), check, flags, dst, chunk=1)
    elif method == "separable" and _int_factors(call, us, vs) is not None:
        iu, iv = _int_factors(call, us, vs)
        lo32, hi32 = np.float32(lo), np.float32(hi)
        parallel.run(mod.separable16, rows_jobs, src, iu, iv, rows, cols, left, c, int(call.fillvalue), np.float32(1), lo32, hi32, rounds, simd.vector_lanes(np.float32), dst, chunk=1)
    elif method == "separable":
        flags = np.zeros(rows_jobs, np.uint8) if check else no_flags
        parallel.run(mod.separable, rows_jobs, src, us.astype(compute), vs.astype(compute), rows, cols, left, c, compute.type(call.fillvalue), lo, hi, rounds, n, check, flags, dst, chunk=1)
    elif image.dtype == compute == store and np.isfinite(call.fillvalue):
        job = getattr(mod, f"direct_rows_{kh}x{kw}", mod.direct_rows) if kh == kw else mod.direct_rows
        parallel.run(job, rows_jobs, src, kernel, rows, cols, left, c, compute.type(call.fillvalue), simd.vector_lanes(compute), dst, chunk=1)
    else:
        parallel.run(mod.direct, rows_jobs, src, kernel, rows, cols, left, c, compute.type(call.fillvalue), lo, hi, rounds, simd.vector_lanes(compute), dst, chunk=1)
    return filter_image(call, "direct") if check and flags is not None and flags.any() else out
