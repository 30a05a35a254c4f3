"""Intrinsics on top of ``simd.py`` that the depthwise and pooling kernels need (``simd.py`` stays as it is).

=====================================  ==============================================
``veven(a, b)``, ``vodd(a, b)``        lanes 0, 2, 4, ... / 1, 3, 5, ... of the concatenation ``a ++ b``
                                       (a stride-2 de-interleave: ``vpermt2ps`` on AVX-512)
``vzip_lo(a, b)``, ``vzip_hi(a, b)``   ``a0 b0 a1 b1 ...`` from the first / second halves of ``a`` and ``b``
                                       (a stride-2 interleave, the inverse of ``veven`` / ``vodd``)
``vwins(v, best)``                     the mask ``v > best or v != v`` (torch's max-pool rule: NaN wins,
                                       first of equal maxima), lane-wise
``vany(m)``                            whether any lane of a mask is set
``vstore_i64(a, i, v)``                ``a.flat[i : i+N] = int64(v)`` (truncating; ``a`` an int64 array)
``vstore_i64_masked(a, i, v, n)``      the lanes ``< n`` only
``vstore_stream(a, i, v)``             ``a.flat[i : i+N] = v`` past the caches (a non-temporal store, no read
                                       for ownership); ``a.flat[i]`` must lie on a multiple of the vector's size
``stream_fence()``                     ``sfence``: the stores before it, streamed ones too, are seen by other
                                       threads before any store after it (a job that streams ends with it)
``vtranspose(s, so, ss, d, do, ds)``   an N x N block transposed: ``d[do + j*ds + i] = s[so + i*ss + j]``
                                       for i, j < N (N loads, log2(N) rounds of shuffles, N stores)
=====================================  ==============================================

Kernels built on these must carry :data:`SOURCE_HASH` in their cache identity, as for ``simd.SOURCE_HASH``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .simd import Vec, VMask, _float_of, _is_int, _lane_mask, _llvm_vec, _ptr, _same_vec, vec_type

SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def _shuffle(lanes_of):
    """The intrinsic ``f(a, b)``: lanes ``lanes_of(N)`` of the concatenation ``a ++ b``."""

    @intrinsic
    def impl(typingctx, a, b):
        if not _same_vec(a, b):
            return None

        def codegen(context, builder, sig, args):
            return builder.shuffle_vector(args[0], args[1], ir.Constant(ir.VectorType(ir.IntType(32), a.n), lanes_of(a.n)))

        return a(a, b), codegen

    return impl


veven, vodd = (_shuffle(lambda n, w=w: [2 * i + w for i in range(n)]) for w in (0, 1))
vzip_lo, vzip_hi = (_shuffle(lambda n, h=h: [h * (n // 2) + i // 2 + (n if i % 2 else 0) for i in range(n)]) for h in (0, 1))


@intrinsic
def vwins(typingctx, v, best):
    """``v > best or v != v`` lane-wise (ordered greater-than, or v NaN)."""
    if not _same_vec(v, best):
        return None

    def codegen(context, builder, sig, args):
        gt = builder.fcmp_ordered(">", args[0], args[1])
        nan = builder.fcmp_unordered("uno", args[0], args[0])
        return builder.or_(gt, nan)

    return VMask(v.n)(v, best), codegen


@intrinsic
def vany(typingctx, m):
    """Whether any lane of the mask ``m`` is set."""
    if not isinstance(m, VMask):
        return None

    def codegen(context, builder, sig, args):
        bits = builder.bitcast(args[0], ir.IntType(m.n))
        return builder.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(m.n), 0))

    return types.boolean(m), codegen


def _i64_vec(v: Vec):
    return ir.VectorType(ir.IntType(64), v.n)


@intrinsic
def vstore_stream(typingctx, arr, idx, v):
    """``arr.flat[idx : idx + N] = v``, non-temporal, at an address aligned to the vector's size."""
    dt = _float_of(arr)
    if not (isinstance(arr, types.Array) and dt and _is_int(idx) and v == vec_type(dt)):
        return None

    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        st = builder.store(args[2], builder.bitcast(p, _llvm_vec(v).as_pointer()), align=v.n * dt.bitwidth // 8)
        st.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()

    return types.void(arr, idx, v), codegen


@intrinsic
def stream_fence(typingctx):
    """``sfence``: orders the non-temporal stores before it ahead of every store after it."""

    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse.sfence")
        builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def vstore_i64(typingctx, arr, idx, v):
    """``arr.flat[idx : idx + N] = v`` converted (truncating) to int64."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(idx, types.Integer) and isinstance(v, Vec)):
        return None

    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        iv = builder.fptosi(args[2], _i64_vec(v))
        builder.store(iv, builder.bitcast(p, _i64_vec(v).as_pointer()), align=8)
        return context.get_dummy_value()

    return types.void(arr, idx, v), codegen


@intrinsic
def vstore_i64_masked(typingctx, arr, idx, v, count):
    """The lanes ``l < count`` of ``vstore_i64``; the others touch no memory."""
    if not (
        isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(idx, types.Integer)
        and isinstance(v, Vec) and isinstance(count, types.Integer)
    ):
        return None

    def codegen(context, builder, sig, args):
        ivt = _i64_vec(v)
        p = builder.bitcast(_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1]), ivt.as_pointer())
        iv = builder.fptosi(args[2], ivt)
        mask = _lane_mask(builder, v, context.cast(builder, args[3], sig.args[3], types.intp))
        fnty = ir.FunctionType(ir.VoidType(), [ivt, ivt.as_pointer(), ir.IntType(32), mask.type])
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.store.v{v.n}i64.p0")
        builder.call(fn, [iv, p, ir.Constant(ir.IntType(32), 8), mask])
        return context.get_dummy_value()

    return types.void(arr, idx, v, count), codegen


@intrinsic
def vtranspose(typingctx, src, so, sstride, dst, do, dstride):
    """``dst[do + j*dstride + i] = src[so + i*sstride + j]`` for i, j < N: N rows loaded, transposed in registers by
    log2(N) rounds of pairwise shuffles (round k swaps the 2^k-blocks across rows r and r + 2^k), N rows stored."""
    dt = _float_of(src)
    if not (
        isinstance(src, types.Array) and isinstance(dst, types.Array) and dt and _float_of(dst) == dt
        and all(_is_int(t) for t in (so, sstride, do, dstride))
    ):
        return None
    vt = vec_type(dt)
    n = vt.n

    def codegen(context, builder, sig, args):
        llvt, i64 = _llvm_vec(vt), ir.IntType(64)

        def row_ptr(k_arr, k_off, k_stride, r):
            off = builder.add(context.cast(builder, args[k_off], sig.args[k_off], types.intp),
                              builder.mul(context.cast(builder, args[k_stride], sig.args[k_stride], types.intp), ir.Constant(i64, r)))
            return builder.bitcast(_ptr(context, builder, sig.args[k_arr], args[k_arr], types.intp, off), llvt.as_pointer())

        rows = [builder.load(row_ptr(0, 1, 2, r), align=dt.bitwidth // 8) for r in range(n)]
        bit = 1
        while bit < n:  # rows r (bit clear) and r | bit swap their off-diagonal bit-blocks
            lo = [c if not c & bit else n + c - bit for c in range(n)]
            hi = [c + bit if not c & bit else n + c for c in range(n)]
            new = list(rows)
            for r in range(n):
                if not r & bit:
                    a, b = rows[r], rows[r | bit]
                    new[r] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), n), lo))
                    new[r | bit] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), n), hi))
            rows, bit = new, bit * 2
        for r in range(n):
            builder.store(rows[r], row_ptr(3, 4, 5, r), align=dt.bitwidth // 8)
        return context.get_dummy_value()

    return types.void(src, so, sstride, dst, do, dstride), codegen


_ = _llvm_vec  # re-exported helpers stay referenced

__all__ = ["SOURCE_HASH", "vany", "veven", "vodd", "vstore_i64", "vstore_i64_masked", "vtranspose", "vwins", "vzip_hi", "vzip_lo"]
