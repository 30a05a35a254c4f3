"""16-bit integer vectors on top of ``simd.py``, for exact sums of uint8 images (``simd.py`` stays float-only).

An :class:`IVec` is ``<M x i16>``, M the target's 16-bit lanes: 32 on
AVX-512, 16 on AVX2 (twice a float32 vector's lanes), from the same target
width as ``simd.Vec``.  Adds and subtracts wrap modulo 2**16, so a sum
whose true value lies in [0, 65535] comes out exact however its terms
wrapped on the way (a running sum's ``+ enter - leave``).

=====================================  ==============================================
``ivlanes(like)``                      M, a compile-time constant (``like`` any array)
``ivload(a, i)``                       ``a.flat[i : i+M]`` of a uint8 array widened (``vpmovzxbw``),
                                       or of a uint16 array as it is
``ivstore(a, i, v)``                   ``a.flat[i : i+M] = v`` (``a`` a uint16 array)
``ivadd(a, b)``, ``ivsub(a, b)``       lane-wise, wrapping
``ivlow_as(v, like)``                  lanes ``0 : M/2`` as unsigned, converted to ``like``'s float32 lanes
``ivhigh_as(v, like)``                 lanes ``M/2 : M`` likewise
``ivslow_as(v, like)``,                 the same halves read as signed (two's complement) lanes
``ivshigh_as(v, like)``
``ivsplat(s)``                         the integer ``s`` (mod 2**16) in every lane
``ivmul(a, b)``                        lane-wise product, wrapping (``vpmullw``)
``ivmin(a, b)``                        lane-wise unsigned minimum
``ivdiv_round(v, d, m)``               ``round(v / d)`` per lane, halves to even, exactly, for ``v <= 255 d``
                                       and ``2 <= d <= 256`` (``m = 2**16 // d``; see its docstring)
``ivmulhi_shift(v, a, m, s)``          ``((v + a) * m) >> (16 + s)`` per lane, unsigned (``vpmulhuw`` + ``vpsrlw``)
``ivstore_u8(a, i, v)``                ``a.flat[i : i+M] = v`` truncated to bytes (``a`` uint8; lanes ``<= 255``)
=====================================  ==============================================

Kernels built on these must carry :data:`SOURCE_HASH` in their cache identity, as for ``simd.SOURCE_HASH``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

from .simd import _BITS, _float_of, _llvm_vec, _ptr, target_features, vec_type

SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
LANES = _BITS // 16


class IVec(types.Type):
    """``n`` lanes of 16-bit integers (read as unsigned where it matters)."""

    def __init__(self, n):
        self.n = n
        super().__init__(name=f"ivec_i16x{n}")


@register_model(IVec)
class _IVecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(ir.IntType(16), fe_type.n))


IVEC = IVec(LANES)


def _narrow(arr, *dtypes) -> bool:
    return isinstance(arr, types.Array) and arr.dtype in dtypes


@intrinsic
def ivlanes(typingctx, like):
    """The lanes of :data:`IVEC`, a compile-time constant."""

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, LANES)

    return types.intp(like), codegen


@intrinsic
def ivload(typingctx, arr, idx):
    """``arr.flat[idx : idx + M]`` in 16-bit lanes: uint8 zero-extended, uint16 as it is."""
    if not (_narrow(arr, types.uint8, types.uint16) and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        bits = sig.args[0].dtype.bitwidth
        raw_t = ir.VectorType(ir.IntType(bits), LANES)
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        raw = builder.load(builder.bitcast(p, raw_t.as_pointer()), align=bits // 8)
        return builder.zext(raw, ir.VectorType(ir.IntType(16), LANES)) if bits == 8 else raw

    return IVEC(arr, idx), codegen


@intrinsic
def ivstore(typingctx, arr, idx, v):
    """``arr.flat[idx : idx + M] = v``, ``arr`` uint16."""
    if not (_narrow(arr, types.uint16) and isinstance(idx, types.Integer) and v == IVEC):
        return None

    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        builder.store(args[2], builder.bitcast(p, ir.VectorType(ir.IntType(16), LANES).as_pointer()), align=2)
        return context.get_dummy_value()

    return types.void(arr, idx, v), codegen


def _binary(op):
    @intrinsic
    def impl(typingctx, a, b):
        if not (a == IVEC and b == IVEC):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, op)(args[0], args[1])

        return IVEC(a, b), codegen

    return impl


ivadd, ivsub, ivmul = _binary("add"), _binary("sub"), _binary("mul")


def _half(first, signed=False):
    @intrinsic
    def impl(typingctx, v, like):
        dt = _float_of(like)
        if not (v == IVEC and dt == types.float32 and vec_type(dt).n * 2 == LANES):
            return None
        vt = vec_type(dt)

        def codegen(context, builder, sig, args):
            lanes = list(range(first, first + vt.n))
            part = builder.shuffle_vector(args[0], args[0], ir.Constant(ir.VectorType(ir.IntType(32), vt.n), lanes))
            wide = (builder.sext if signed else builder.zext)(part, ir.VectorType(ir.IntType(32), vt.n))
            return (builder.sitofp if signed else builder.uitofp)(wide, _llvm_vec(vt))

        return vt(v, like), codegen

    return impl


ivlow_as, ivhigh_as = _half(0), _half(LANES // 2)
ivslow_as, ivshigh_as = _half(0, True), _half(LANES // 2, True)

@intrinsic
def ivsplat(typingctx, s):
    """The integer ``s`` (mod 2**16) in every lane."""
    if not isinstance(s, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        one = builder.trunc(context.cast(builder, args[0], sig.args[0], types.int64), ir.IntType(16))
        vt = ir.VectorType(ir.IntType(16), LANES)
        v = builder.insert_element(ir.Constant(vt, ir.Undefined), one, ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(v, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))

    return IVEC(s), codegen


@intrinsic
def ivmin(typingctx, a, b):
    """Lane-wise unsigned minimum."""
    if not (a == IVEC and b == IVEC):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(builder.icmp_unsigned("<", args[0], args[1]), args[0], args[1])

    return IVEC(a, b), codegen


def _mulhi(builder, a, b):
    """The high halves of the unsigned 16 x 16-bit products: ``vpmulhuw`` (LLVM widens the portable
    ``(zext a * zext b) >> 16`` to 32-bit lanes first, twice the work, so the x86 intrinsic where there is one)."""
    vt = a.type
    name = _PMULHU.get(LANES)
    if name is not None:
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt]), name)
        return builder.call(fn, [a, b])
    wt = ir.VectorType(ir.IntType(32), LANES)
    return builder.trunc(builder.lshr(builder.mul(builder.zext(a, wt), builder.zext(b, wt)), ir.Constant(wt, [16] * LANES)), vt)


def _pmulhu() -> dict:
    feats = set(target_features().split(","))
    if "+avx512bw" in feats:
        return {32: "llvm.x86.avx512.pmulhu.w.512", 16: "llvm.x86.avx2.pmulhu.w"}
    return {16: "llvm.x86.avx2.pmulhu.w"} if "+avx2" in feats else {}


_PMULHU = _pmulhu()


@intrinsic
def ivdiv_round(typingctx, v, d, m):
    """``round(v / d)`` per lane, ties to even, exactly: ``v <= 255 d``, ``2 <= d <= 256``, ``m = 2**16 // d``.

    With ``x = v + d // 2`` (below 2**16), ``q = (x * m) >> 16`` (``vpmulhuw``)
    is ``floor(x / d)`` or one less, since ``x * m / 2**16`` lies in
    ``(x / d - 1, x / d]``; the remainder ``x - q d`` (below ``2 d``) tells
    which.  For odd ``d`` that floor is the rounding; for even ``d`` it
    rounds halves up, and a half (remainder 0) with an odd quotient steps
    back to even.
    """
    if not (v == IVEC and isinstance(d, types.Integer) and isinstance(m, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        i16, i32 = ir.IntType(16), ir.IntType(32)
        vt = ir.VectorType(i16, LANES)

        def splat(x):
            one = builder.insert_element(ir.Constant(vt, ir.Undefined), x, ir.Constant(i32, 0))
            return builder.shuffle_vector(one, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(i32, LANES), [0] * LANES))

        ds = builder.trunc(context.cast(builder, args[1], sig.args[1], types.int64), i16)
        ms = builder.trunc(context.cast(builder, args[2], sig.args[2], types.int64), i16)
        dv, mv = splat(ds), splat(ms)
        x = builder.add(args[0], splat(builder.lshr(ds, ir.Constant(i16, 1))))
        q = _mulhi(builder, x, mv)
        r = builder.sub(x, builder.mul(q, dv))
        over = builder.icmp_unsigned(">=", r, dv)
        q = builder.add(q, builder.zext(over, vt))
        r = builder.select(over, builder.sub(r, dv), r)
        # a half: remainder 0 with d even; step back where q is odd.  (q & 1) & ~d & 1, lane-wise, no branch.
        odd_q_even_d = builder.and_(builder.and_(q, builder.xor(dv, ir.Constant(vt, [-1] * LANES))), ir.Constant(vt, [1] * LANES))
        tie = builder.icmp_unsigned("==", r, ir.Constant(vt, None))
        return builder.sub(q, builder.select(tie, odd_q_even_d, ir.Constant(vt, None)))

    return IVEC(v, d, m), codegen


@intrinsic
def ivmulhi_shift(typingctx, v, a, m, s):
    """``((v + a) * m) >> (16 + s)`` per lane, unsigned 16-bit: a division by a constant where the caller has
    checked that ``m`` and ``s`` make it exact over the lanes' range (``photo._fast_divisor``)."""
    if not (v == IVEC and all(isinstance(t, types.Integer) for t in (a, m, s))):
        return None

    def codegen(context, builder, sig, args):
        i16, i32 = ir.IntType(16), ir.IntType(32)
        vt = ir.VectorType(i16, LANES)

        def splat(k):
            x = builder.trunc(context.cast(builder, args[k], sig.args[k], types.int64), i16)
            one = builder.insert_element(ir.Constant(vt, ir.Undefined), x, ir.Constant(i32, 0))
            return builder.shuffle_vector(one, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(i32, LANES), [0] * LANES))

        return builder.lshr(_mulhi(builder, builder.add(args[0], splat(1)), splat(2)), splat(3))

    return IVEC(v, a, m, s), codegen


@intrinsic
def ivstore_u8(typingctx, arr, idx, v):
    """``arr.flat[idx : idx + M] = v`` truncated to bytes, ``arr`` uint8 (lanes known to be ``<= 255``)."""
    if not (_narrow(arr, types.uint8) and isinstance(idx, types.Integer) and v == IVEC):
        return None

    def codegen(context, builder, sig, args):
        bt = ir.VectorType(ir.IntType(8), LANES)
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        builder.store(builder.trunc(args[2], bt), builder.bitcast(p, bt.as_pointer()), align=1)
        return context.get_dummy_value()

    return types.void(arr, idx, v), codegen


__all__ = [
    "IVEC", "LANES", "SOURCE_HASH", "IVec", "ivadd", "ivdiv_round", "ivhigh_as", "ivlanes", "ivload", "ivlow_as", "ivmin", "ivmul",
    "ivmulhi_shift", "ivshigh_as", "ivslow_as", "ivsplat", "ivstore", "ivstore_u8", "ivsub",
]
