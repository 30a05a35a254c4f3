"""What the cpu backend's kernels share: compile options, padding tables, row loops and activations.

Padding never copies the input: ``_padding.source_index`` tables map every
padded coordinate of an axis to an input coordinate, or to ``FILL`` for the
constant fill, and the helpers here read rows through them.
"""

from __future__ import annotations

import hashlib
import math
import threading
from pathlib import Path

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic
from numba.np.arrayobj import _empty_nd_impl, make_array
from numba.np.ufunc import parallel as _pool

from ... import _calls
from ..._calls import GELU, HARDSIGMOID, HARDSWISH, RELU, RELU6, SILU, gelu, hardsigmoid, hardswish, relu, relu6, silu
from ..._padding import FILL, source_index

# numba wraps every function it compiles apart twice: a C callback, and an entry for Python that unboxes
# each argument.  The kernels need only the Python entry of those that Python calls: building the rest
# was 0.3-0.6 s of a cold conv2d's 2.5 s.
NO_CFUNC = dict(no_cfunc_wrapper=True)


class _NativeDispatcher(CPUDispatcher):
    """A kernel that only compiled code calls (a task of ``parallel.run``, a kernel's callee): it has no
    entry for Python, so a call from Python raises rather than jumping to nothing."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__qualname__} is compiled without a Python entry: run it with parallel.run "
                        "or call it from a kernel")


def jit(**options):
    """``numba.njit`` without the C callback: for kernels that Python calls."""
    return njit(**{**NO_CFUNC, **options})


def native(**options):
    """``numba.njit`` without either wrapper, for kernels that only compiled code calls (see ``_NativeDispatcher``)."""

    def wrap(func):
        dispatcher = njit(**{**NO_CFUNC, **options, "no_cpython_wrapper": True})(func)
        dispatcher.__class__ = _NativeDispatcher  # the same object layout; only __call__ differs
        return dispatcher

    return wrap


@intrinsic
def empty(typingctx, n, dtype):
    """``np.empty(n, dtype)``, 1-D, for a kernel's scratch: lowered in place, where numba compiles np.empty's
    overload apart, 0.1 s per dtype in every process.  ``n`` >= 0."""
    if not isinstance(n, types.Integer) or not isinstance(dtype, (types.DType, types.NumberClass)):
        return None
    array = types.Array(dtype.dtype, 1, "C")

    def codegen(context, builder, signature, args):
        size = context.cast(builder, args[0], signature.args[0], types.intp)
        return _empty_nd_impl(context, builder, array, [size])._getvalue()

    return array(n, dtype), codegen


@intrinsic
def borrowed(typingctx, arr):
    """A view of the array ``arr`` that holds no reference to its memory, so numba counts none for it.

    numba increfs and decrefs (atomically, on a counter the threads share) every array argument of an inlined
    function at every call: a helper called per vector or per row pays that each time.  Passed a borrowed view,
    it pays nothing.  The view is valid while ``arr`` is: take it of a job's arguments, or of its scratch with
    ``alive(scratch)`` after the last use of the view.
    """
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        src = make_array(signature.args[0])(context, builder, value=args[0])
        view = make_array(signature.return_type)(context, builder)
        for field in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(view, field, getattr(src, field))
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return arr(arr), codegen


@intrinsic
def alive(typingctx, arr):
    """Nothing, but a use of ``arr``: numba frees an array after its last use, so this keeps it until here."""

    def codegen(context, builder, signature, args):
        return context.get_dummy_value()

    return types.none(arr), codegen


# The code the kernel modules link in from here (the helpers, ``_activate`` and ``_calls``' activations): numba's
# cache checks only a function's own file, so the generated modules carry this in their names.
SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes() + Path(_calls.__file__).read_bytes()).hexdigest()[:12]

# fastmath without nnan/ninf, so that NaN and inf keep their IEEE behaviour.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
KERNEL = dict(parallel=True, cache=True, fastmath=FASTMATH, nogil=True, **NO_CFUNC)
# A parallel loop that only calls compiled functions (``parallel._loop``): only the prange conversion, as the other
# parfor passes (array expressions, fusion, ...) find nothing there and cost compile time.
PRANGE = dict(comprehension=False, prange=True, setitem=False, numpy=False, reduction=False, inplace_binop=False, fusion=False, stencil=False)
# The edge helpers (and _activate), compiled once each rather than inlined into every call site: numba
# inlines an inline="always" function anew at each site, callees included, and the nested column terms
# took minutes to compile.  The tap loops stay inlined: compiled apart, convolve ran 2x slower.
EDGE = dict(fastmath=FASTMATH, nogil=True)

_relu, _relu6, _silu, _gelu, _hardswish, _hardsigmoid = (njit(inline="always")(f) for f in (relu, relu6, silu, gelu, hardswish, hardsigmoid))


def threads() -> int:
    """``numba.get_num_threads()``, without the process-wide lock that numba's takes on every call (1.5 us).

    Examples
    --------
    >>> threads() >= 1
    True
    """
    if not _pool._is_initialized:
        _pool._launch_threads()
    return _pool._get_num_threads()


def set_chunksize(n: int) -> int:
    """``numba.set_parallel_chunksize(n)`` (this thread's next ``prange`` loops hand out ``n`` indices at a time),
    without its lock (2.1 us); returns the previous chunk size."""
    if not _pool._is_initialized:
        _pool._launch_threads()
    return _pool._set_parallel_chunksize(n)


def units_per_job(units: int) -> int:
    """Work units (say, a plane's output row) per ``prange`` job: a few jobs per thread, each allocating its buffers once."""
    return max(1, -(-units // (8 * threads())))


@njit(inline="always")
def _inside(count, width, off, step):
    """The range ``lo <= j < hi`` of ``j < count`` for which ``0 <= off + j * step < width``."""
    if step == 1:
        lo = min(max(0, -off), count)
        return lo, max(min(count, width - off), lo)
    lo = min(max(0, (step - 1 - off) // step), count)
    return lo, max(min(count, (width - 1 - off) // step + 1), lo)


@native(**EDGE)
def _edge_term(dst, j, src, weight, col, fill):
    if col >= 0:
        dst[j] += weight * src[col]
    elif col == FILL:
        dst[j] += weight * fill


@njit(inline="always")
def _tap_span(dst, src, weight, cols, first, step, off, lo, hi, fill):
    """``dst[j] += weight * x[first + j * step]``, ``x`` being ``src`` padded so that ``x[first] = src[off]``.

    ``[lo, hi)`` is where that reads inside ``src`` (see ``_inside``) and runs
    without the ``cols`` table, so it vectorizes; elsewhere ``cols`` maps each
    padded column to ``src``, or to -1 for ``fill``.
    """
    for j in range(lo):
        _edge_term(dst, j, src, weight, cols[first + j * step], fill)
    inner = dst[lo:hi]
    if step == 1:
        contiguous = src[off + lo : off + hi]
        for j in range(inner.shape[0]):
            inner[j] += weight * contiguous[j]
    else:
        strided = src[off + lo * step : off + (hi - 1) * step + 1 : step]
        for j in range(inner.shape[0]):
            inner[j] += weight * strided[j]
    for j in range(hi, dst.shape[0]):
        _edge_term(dst, j, src, weight, cols[first + j * step], fill)


@native(**EDGE)
def _column_term(dst, j, src, weight, cols, column, left, fill):
    """``dst[j] += weight * x[column]`` for one padded ``column`` of the row ``src``."""
    col = column - left
    if 0 <= col < src.shape[0]:
        dst[j] += weight * src[col]
    else:
        _edge_term(dst, j, src, weight, cols[column], fill)


@njit(inline="always")
def _three_taps(dst, src, w_a, w_b, w_c, cols, first, dw, left, fill):
    """Three unit-stride taps at padded columns ``first``, ``+ dw``, ``+ 2 dw`` in one pass over ``dst``.

    One load and store of ``dst`` per three multiply-adds instead of per one.
    """
    count, off = dst.shape[0], first - left
    lo = min(max(0, -off), count)
    hi = max(min(count, src.shape[0] - off - 2 * dw), lo)
    for j in range(lo):
        _three_column_terms(dst, j, src, w_a, w_b, w_c, cols, first + j, dw, left, fill)
    inner = dst[lo:hi]
    a, b, c = src[off + lo : off + hi], src[off + dw + lo : off + dw + hi], src[off + 2 * dw + lo : off + 2 * dw + hi]
    for i in range(inner.shape[0]):
        inner[i] += w_a * a[i] + w_b * b[i] + w_c * c[i]
    for j in range(hi, count):
        _three_column_terms(dst, j, src, w_a, w_b, w_c, cols, first + j, dw, left, fill)


@njit(inline="always")
def _nine_taps(dst, a, b, c, block, cols, first, dw, left, fill):
    """A 3 x 3 block of unit-stride taps (rows ``a``, ``b``, ``c``; columns as in
    ``_three_taps``) in one pass over ``dst``, the nine weights held in registers."""
    count, off = dst.shape[0], first - left
    lo = min(max(0, -off), count)
    hi = max(min(count, a.shape[0] - off - 2 * dw), lo)
    for j in range(lo):
        _nine_column_terms(dst, j, a, b, c, block, cols, first + j, dw, left, fill)
    w00, w01, w02 = block[0, 0], block[0, 1], block[0, 2]
    w10, w11, w12 = block[1, 0], block[1, 1], block[1, 2]
    w20, w21, w22 = block[2, 0], block[2, 1], block[2, 2]
    inner = dst[lo:hi]
    s, t, e = off + lo, off + dw + lo, off + 2 * dw + lo
    n = inner.shape[0]
    a0, a1, a2 = a[s : s + n], a[t : t + n], a[e : e + n]
    b0, b1, b2 = b[s : s + n], b[t : t + n], b[e : e + n]
    c0, c1, c2 = c[s : s + n], c[t : t + n], c[e : e + n]
    for i in range(n):
        inner[i] += (
            w00 * a0[i] + w01 * a1[i] + w02 * a2[i]
            + w10 * b0[i] + w11 * b1[i] + w12 * b2[i]
            + w20 * c0[i] + w21 * c1[i] + w22 * c2[i]
        )
    for j in range(hi, count):
        _nine_column_terms(dst, j, a, b, c, block, cols, first + j, dw, left, fill)


@native(**EDGE)
def _nine_column_terms(dst, j, a, b, c, block, cols, column, dw, left, fill):
    _three_column_terms(dst, j, a, block[0, 0], block[0, 1], block[0, 2], cols, column, dw, left, fill)
    _three_column_terms(dst, j, b, block[1, 0], block[1, 1], block[1, 2], cols, column, dw, left, fill)
    _three_column_terms(dst, j, c, block[2, 0], block[2, 1], block[2, 2], cols, column, dw, left, fill)


@native(**EDGE)
def _three_column_terms(dst, j, src, w_a, w_b, w_c, cols, column, dw, left, fill):
    _column_term(dst, j, src, w_a, cols, column, left, fill)
    _column_term(dst, j, src, w_b, cols, column + dw, left, fill)
    _column_term(dst, j, src, w_c, cols, column + 2 * dw, left, fill)


@njit(inline="always")
def _add_tap(dst, src, weight, cols, first, step, left, fill):
    lo, hi = _inside(dst.shape[0], src.shape[0], first - left, step)
    _tap_span(dst, src, weight, cols, first, step, first - left, lo, hi, fill)


@jit(**EDGE)
def _activate(dst, act):
    """Apply activation ``act`` (``_calls.ACTIVATIONS``) to the 1-D ``dst`` in place; NaN stays NaN."""
    if act == RELU:
        for j in range(dst.shape[0]):
            dst[j] = _relu(dst[j])
    elif act == RELU6:
        for j in range(dst.shape[0]):
            dst[j] = _relu6(dst[j])
    elif act == SILU:
        for j in range(dst.shape[0]):
            dst[j] = _silu(dst[j])
    elif act == GELU:
        for j in range(dst.shape[0]):
            dst[j] = _gelu(dst[j])
    elif act == HARDSWISH:
        for j in range(dst.shape[0]):
            dst[j] = _hardswish(dst[j])
    elif act == HARDSIGMOID:
        for j in range(dst.shape[0]):
            dst[j] = _hardsigmoid(dst[j])


WORKSPACE_CACHE_BYTES = 32 << 20
_workspaces = threading.local()


def workspace(size: int, dtype, name: str = "planes") -> np.ndarray:
    """Scratch array ``name`` of ``size`` elements, this thread's, reused from call to call (contents undefined).

    Arrays a call uses at the same time need different names.
    A fresh allocation is page-faulted in again by its first writes, which in a VM cost about as
    much as a 64-channel 56x56 conv2d's phase planes take to fill and read (~400 faults, 0.3 ms).
    Larger than ``WORKSPACE_CACHE_BYTES``, it is allocated afresh.
    """
    dtype = np.dtype(dtype)
    if size * dtype.itemsize > WORKSPACE_CACHE_BYTES:
        return np.empty(size, dtype)
    cache = _workspaces.__dict__
    buf = cache.get((name, dtype.str))
    if buf is None or buf.size < size:
        buf = cache[name, dtype.str] = np.empty(size, dtype)
    return buf[:size]


STREAM_BYTES = 16 << 20  # outputs past the caches (with their inputs): stored past them too, with no read for ownership


def output(shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``; past ``STREAM_BYTES``, starting on a multiple of 64 bytes, for ``vstore_stream``."""
    size, itemsize = math.prod(shape), np.dtype(dtype).itemsize
    if size * itemsize < STREAM_BYTES:
        return np.empty(shape, dtype)
    raw = np.empty(size + 64 // itemsize, dtype)
    return raw[(-raw.ctypes.data % 64) // itemsize :][:size].reshape(shape)


def _tables(shape, pads, boundary):
    """The row and column ``_padding.source_index`` tables of an (..., H, W) input padded by ``pads``."""
    (h, wd), (top, bottom, left, right) = shape[-2:], pads
    return source_index(h, top, h + top + bottom, boundary), source_index(wd, left, wd + left + right, boundary)


@njit(inline="always")
def _fill_band(band, plane, rows, cols, r0, c0, left, fill):
    """``band`` = the padded plane's rows ``r0:`` and columns ``c0:``, read through the index tables."""
    height, width = band.shape
    lo = min(max(left - c0, 0), width)
    hi = max(min(left + plane.shape[1] - c0, width), lo)
    for r in range(height):
        dst = band[r]
        src_row = rows[r0 + r]
        if src_row < 0:
            dst[:] = fill
            continue
        src = plane[src_row]
        inner = dst[lo:hi]
        contiguous = src[c0 + lo - left : c0 + hi - left]
        for j in range(inner.shape[0]):
            inner[j] = contiguous[j]
        for j in range(lo):
            col = cols[c0 + j]
            dst[j] = src[col] if col >= 0 else fill
        for j in range(hi, width):
            col = cols[c0 + j]
            dst[j] = src[col] if col >= 0 else fill


@njit(inline="always")
def _fill_phases(phases, plane, rows, cols, r0, sh, sw, fill):
    """``phases[p * sw + q, i, j]`` = the padded plane at row ``r0 + p + i * sh``, column ``q + j * sw``."""
    _, hq, wq = phases.shape
    for p in range(sh):
        for i in range(hq):
            r = r0 + p + i * sh
            src_row = rows[r] if r < rows.shape[0] else -1
            for q in range(sw):
                dst = phases[p * sw + q, i]
                if src_row < 0:
                    dst[:] = fill
                    continue
                src = plane[src_row]
                for j in range(wq):
                    col = q + j * sw
                    k = cols[col] if col < cols.shape[0] else -1
                    dst[j] = src[k] if k >= 0 else fill
