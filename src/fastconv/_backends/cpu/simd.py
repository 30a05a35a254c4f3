"""An explicit-SIMD vector layer for Numba kernels.

:class:`Vec` is a Numba type whose LLVM value is ``<N x float>`` or
``<N x double>``, with ``N`` the lanes of the *target's* vector registers:
16 / 8 on AVX-512, 8 / 4 on AVX2 + FMA.  Values are SSA values, so a kernel's
vector locals are promoted to registers (unlike small NumPy accumulator
arrays, which live in heap memory).

The width follows numba's target, not the host: ``NUMBA_CPU_NAME`` /
``NUMBA_CPU_FEATURES`` (``numba.core.config.CPU_NAME`` / ``CPU_FEATURES``)
when set, else llvmlite's host features.  Numba passes the *host* feature
string when only the CPU name is overridden, so only the features decide.
:data:`VECTOR_BITS` is 512, 256 or None (no usable SIMD: callers keep their
portable kernels; the intrinsics then still work, on 128-bit vectors).

Intrinsics (all take and return vectors of one dtype; array arguments may be
any C-contiguous array, indexed by *flat element offset* from its data
pointer, with no bounds checks):

=====================================  ==============================================
``vload(a, i)``                        ``a.flat[i : i+N]``, unaligned
``vstore(a, i, v)``                    ``a.flat[i : i+N] = v``
``vload_masked(a, i, n)``              lanes ``< n`` loaded, the others 0; masked-off lanes touch no memory
``vstore_masked(a, i, v, n)``          stores lanes ``< n`` only
``vload_even(a, i)``                   ``a.flat[i : i+2N : 2]`` (two loads and a shuffle)
``vload_even_masked(a, i, n)``         lanes ``l < n`` of ``a.flat[i + 2l]``, 0 in the others
``vbload(a, i)``                       ``a.flat[i]`` in every lane (scalar load + splat: folds into
                                       ``vfmadd231ps zmm, zmm, dword bcst`` / ``vbroadcastss``)
``sload(a, i)``                        the scalar ``a.flat[i]`` (any numeric dtype; no wraparound)
``vsplat(like, s)``, ``vzero(like)``   a scalar / 0 in every lane; ``like`` is an array, a dtype or a
                                       float type, and only gives the dtype
``vfma(a, b, c)``                      ``a*b + c``, one rounding (``llvm.fma.vNfM``)
``vadd``, ``vsub``, ``vmul``           lane-wise
``vmax(a, b)``, ``vmin(a, b)``         ``a > b ? a : b`` / ``a < b ? a : b`` (ordered compare + select:
                                       a NaN in ``a`` gives ``b``)
``vlt(a, b)``, ``vgt(a, b)``           ordered compares, giving a :class:`VMask`
``vselect(m, a, b)``                   ``m ? a : b`` per lane
``vhsum(a)``                           the sum of the lanes (a scalar)
``vload_as(a, i, like)``               ``a.flat[i : i+N]`` of an integer (8/16-bit) or float array,
                                       widened in registers to ``like``'s float lanes (``vpmovzxbd`` +
                                       ``vcvtdq2ps`` for uint8)
``vstore_as(a, i, v)``                 ``v`` stored into ``a``'s dtype: floats converted, integers
                                       rounded half to even and saturated as cv2's ``saturate_cast``
                                       (NaN gives the type's minimum clamp, 0 for unsigned)
=====================================  ==============================================

Numba's ``cache=True`` key covers a kernel's bytecode and the CPU, not the
codegen of the intrinsics it calls: kernels built on this module must carry
:data:`SOURCE_HASH` (the hash of this file) in their identity; ``direct.py``
names its generated kernel files with it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic, models, register_model

SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def target_features() -> str:
    """The feature string numba compiles for: ``NUMBA_CPU_FEATURES`` if set, else the host's."""
    if config.CPU_FEATURES is not None:
        return config.CPU_FEATURES
    return llvm.get_host_cpu_features().flatten()


def target_name() -> str:
    """The CPU name numba compiles for: ``NUMBA_CPU_NAME`` if set, else the host's."""
    return config.CPU_NAME or llvm.get_host_cpu_name()


def _vector_bits(features: str) -> int | None:
    feats = set(features.split(","))
    if "+avx512f" in feats:
        return 512
    if "+avx2" in feats and "+fma" in feats:
        return 256
    return None


VECTOR_BITS: int | None = _vector_bits(target_features())
_BITS = VECTOR_BITS or 128  # the intrinsics still work without a usable SIMD target


def vector_lanes(dtype) -> int:
    """Lanes of :func:`vec_type` for ``dtype`` (float32 or float64): the target's, or 128-bit ones without SIMD."""
    return _BITS // (8 * np.dtype(dtype).itemsize)


def supported(dtype) -> bool:
    """Whether numba's target has vectors of ``dtype`` here (float32 and float64, on AVX2 or AVX-512)."""
    return VECTOR_BITS is not None and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64))


def lanes(dtype) -> int:
    """Lanes of the target's vectors of ``dtype`` (float32 or float64); 0 when VECTOR_BITS is None."""
    return VECTOR_BITS // (8 * np.dtype(dtype).itemsize) if VECTOR_BITS else 0


class Vec(types.Type):
    """``n`` lanes of the float type ``dtype``."""

    def __init__(self, dtype, n):
        self.dtype, self.n = dtype, n
        super().__init__(name=f"vec_{dtype}x{n}")


class VMask(types.Type):
    """``n`` booleans, a compare's result."""

    def __init__(self, n):
        self.n = n
        super().__init__(name=f"vmask{n}")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(
            dmm, fe_type, ir.VectorType(_ll_scalar(fe_type.dtype), fe_type.n)
        )


@register_model(VMask)
class _MaskModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(ir.IntType(1), fe_type.n))


def _ll_scalar(dtype):
    return ir.FloatType() if dtype == types.float32 else ir.DoubleType()


_VECS: dict = {}


def vec_type(dtype) -> Vec:
    """The target-width :class:`Vec` of the numba float type ``dtype``."""
    if dtype not in _VECS:
        _VECS[dtype] = Vec(dtype, _BITS // dtype.bitwidth)
    return _VECS[dtype]


def _float_of(ty):
    """The float dtype an argument stands for (an array, a dtype, a float class or a float), or None."""
    if isinstance(ty, (types.Array, types.DType)):
        ty = ty.dtype
    elif isinstance(ty, types.NumberClass):
        ty = ty.instance_type
    return ty if ty in (types.float32, types.float64) else None


def _llvm_vec(vt: Vec):
    return ir.VectorType(_ll_scalar(vt.dtype), vt.n)


def _suffix(vt: Vec) -> str:  # LLVM's mangling of the vector type: v16f32
    return f"v{vt.n}f{vt.dtype.bitwidth}"


def _ptr(context, builder, arrty, arr, idxty, idx):
    a = context.make_array(arrty)(context, builder, arr)
    i = context.cast(builder, idx, idxty, types.intp)
    return builder.gep(a.data, [i], inbounds=True)


def _splat(builder, vt: Vec, scalar):
    llvt = _llvm_vec(vt)
    one = builder.insert_element(
        ir.Constant(llvt, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0)
    )
    return builder.shuffle_vector(
        one,
        ir.Constant(llvt, ir.Undefined),
        ir.Constant(ir.VectorType(ir.IntType(32), vt.n), [0] * vt.n),
    )


def _lane_mask(builder, vt: Vec, count):
    """``<lane < count>``: count an intp value."""
    idx = ir.Constant(ir.VectorType(ir.IntType(64), vt.n), list(range(vt.n)))
    lim = builder.insert_element(
        ir.Constant(ir.VectorType(ir.IntType(64), vt.n), ir.Undefined),
        count,
        ir.Constant(ir.IntType(32), 0),
    )
    lim = builder.shuffle_vector(
        lim,
        ir.Constant(lim.type, ir.Undefined),
        ir.Constant(ir.VectorType(ir.IntType(32), vt.n), [0] * vt.n),
    )
    return builder.icmp_signed("<", idx, lim)


def _is_int(ty) -> bool:
    return isinstance(ty, types.Integer)


def _same_vec(*tys):
    return isinstance(tys[0], Vec) and all(t == tys[0] for t in tys)


@intrinsic
def vload(typingctx, arr, idx):
    """``arr.flat[idx : idx + N]``, unaligned."""
    dt = _float_of(arr)
    if not (isinstance(arr, types.Array) and dt and _is_int(idx)):
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        return builder.load(
            builder.bitcast(p, _llvm_vec(vt).as_pointer()), align=dt.bitwidth // 8
        )

    return vt(arr, idx), codegen


@intrinsic
def vstore(typingctx, arr, idx, v):
    """``arr.flat[idx : idx + N] = v``, unaligned."""
    dt = _float_of(arr)
    if not (isinstance(arr, types.Array) and dt and _is_int(idx) and v == vec_type(dt)):
        return None

    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        builder.store(
            args[2],
            builder.bitcast(p, _llvm_vec(v).as_pointer()),
            align=dt.bitwidth // 8,
        )
        return context.get_dummy_value()

    return types.void(arr, idx, v), codegen


@intrinsic
def vload_masked(typingctx, arr, idx, count):
    """Lanes ``l < count`` of ``arr.flat[idx + l]``, 0 in the others; masked-off lanes read no memory."""
    dt = _float_of(arr)
    if not (isinstance(arr, types.Array) and dt and _is_int(idx) and _is_int(count)):
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        llvt = _llvm_vec(vt)
        p = builder.bitcast(
            _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1]),
            llvt.as_pointer(),
        )
        mask = _lane_mask(
            builder, vt, context.cast(builder, args[2], sig.args[2], types.intp)
        )
        fnty = ir.FunctionType(
            llvt, [llvt.as_pointer(), ir.IntType(32), mask.type, llvt]
        )
        fn = cgutils.get_or_insert_function(
            builder.module, fnty, f"llvm.masked.load.{_suffix(vt)}.p0"
        )
        return builder.call(
            fn,
            [
                p,
                ir.Constant(ir.IntType(32), dt.bitwidth // 8),
                mask,
                ir.Constant(llvt, None),
            ],
        )

    return vt(arr, idx, count), codegen


@intrinsic
def vstore_masked(typingctx, arr, idx, v, count):
    """``arr.flat[idx + l] = v[l]`` for the lanes ``l < count``; the others touch no memory."""
    dt = _float_of(arr)
    if not (
        isinstance(arr, types.Array)
        and dt
        and _is_int(idx)
        and v == vec_type(dt)
        and _is_int(count)
    ):
        return None

    def codegen(context, builder, sig, args):
        llvt = _llvm_vec(v)
        p = builder.bitcast(
            _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1]),
            llvt.as_pointer(),
        )
        mask = _lane_mask(
            builder, v, context.cast(builder, args[3], sig.args[3], types.intp)
        )
        fnty = ir.FunctionType(
            ir.VoidType(), [llvt, llvt.as_pointer(), ir.IntType(32), mask.type]
        )
        fn = cgutils.get_or_insert_function(
            builder.module, fnty, f"llvm.masked.store.{_suffix(v)}.p0"
        )
        builder.call(
            fn, [args[2], p, ir.Constant(ir.IntType(32), dt.bitwidth // 8), mask]
        )
        return context.get_dummy_value()

    return types.void(arr, idx, v, count), codegen


@intrinsic
def vload_even(typingctx, arr, idx):
    """``arr.flat[idx : idx + 2N : 2]``: two vector loads and a shuffle of their even lanes (stride-2 reads)."""
    dt = _float_of(arr)
    if not (isinstance(arr, types.Array) and dt and _is_int(idx)):
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        llvt = _llvm_vec(vt)
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        lo = builder.load(builder.bitcast(p, llvt.as_pointer()), align=dt.bitwidth // 8)
        p2 = builder.gep(p, [ir.Constant(ir.IntType(64), vt.n)], inbounds=True)
        hi = builder.load(
            builder.bitcast(p2, llvt.as_pointer()), align=dt.bitwidth // 8
        )
        return builder.shuffle_vector(
            lo,
            hi,
            ir.Constant(
                ir.VectorType(ir.IntType(32), vt.n), list(range(0, 2 * vt.n, 2))
            ),
        )

    return vt(arr, idx), codegen


@intrinsic
def vload_even_masked(typingctx, arr, idx, count):
    """Lanes ``l < count`` of ``arr.flat[idx + 2l]``, 0 in the others; reads only ``arr.flat[idx : idx + 2*count - 1]``."""
    dt = _float_of(arr)
    if not (isinstance(arr, types.Array) and dt and _is_int(idx) and _is_int(count)):
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        llvt = _llvm_vec(vt)
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        cnt = context.cast(builder, args[2], sig.args[2], types.intp)
        last = builder.sub(
            builder.add(cnt, cnt), ir.Constant(ir.IntType(64), 1)
        )  # elements 0 .. 2*count-2
        fnty = ir.FunctionType(
            llvt,
            [
                llvt.as_pointer(),
                ir.IntType(32),
                ir.VectorType(ir.IntType(1), vt.n),
                llvt,
            ],
        )
        fn = cgutils.get_or_insert_function(
            builder.module, fnty, f"llvm.masked.load.{_suffix(vt)}.p0"
        )
        align = ir.Constant(ir.IntType(32), dt.bitwidth // 8)
        zero = ir.Constant(llvt, None)
        lo = builder.call(
            fn,
            [
                builder.bitcast(p, llvt.as_pointer()),
                align,
                _lane_mask(builder, vt, last),
                zero,
            ],
        )
        p2 = builder.gep(p, [ir.Constant(ir.IntType(64), vt.n)], inbounds=True)
        rest = builder.sub(last, ir.Constant(ir.IntType(64), vt.n))
        hi = builder.call(
            fn,
            [
                builder.bitcast(p2, llvt.as_pointer()),
                align,
                _lane_mask(builder, vt, rest),
                zero,
            ],
        )
        return builder.shuffle_vector(
            lo,
            hi,
            ir.Constant(
                ir.VectorType(ir.IntType(32), vt.n), list(range(0, 2 * vt.n, 2))
            ),
        )

    return vt(arr, idx, count), codegen


@intrinsic
def vbload(typingctx, arr, idx):
    """``arr.flat[idx]`` in every lane: a scalar load and a splat, which LLVM folds into a broadcast."""
    dt = _float_of(arr)
    if not (isinstance(arr, types.Array) and dt and _is_int(idx)):
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        return _splat(builder, vt, builder.load(p, align=dt.bitwidth // 8))

    return vt(arr, idx), codegen


@intrinsic
def sload(typingctx, arr, idx):
    """The scalar ``arr.flat[idx]``: no negative-index wraparound, no bounds check (for index tables)."""
    if not (
        isinstance(arr, types.Array)
        and isinstance(arr.dtype, (types.Integer, types.Float))
        and _is_int(idx)
    ):
        return None

    def codegen(context, builder, sig, args):
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        return builder.load(
            p, align=context.get_abi_sizeof(context.get_data_type(arr.dtype))
        )

    return arr.dtype(arr, idx), codegen


@intrinsic
def vsplat(typingctx, like, s):
    """The number ``s`` (cast to ``like``'s dtype) in every lane."""
    dt = _float_of(like)
    if not (dt and isinstance(s, (types.Integer, types.Float, types.Boolean))):
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        return _splat(builder, vt, context.cast(builder, args[1], sig.args[1], dt))

    return vt(like, s), codegen


@intrinsic
def vlanes(typingctx, like):
    """The lanes of ``like``'s vector type, a compile-time constant: one kernel serves every width."""
    dt = _float_of(like)
    if not dt:
        return None
    n = vec_type(dt).n

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, n)

    return types.intp(like), codegen


@intrinsic
def vzero(typingctx, like):
    """0 in every lane, of ``like``'s dtype."""
    dt = _float_of(like)
    if not dt:
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        return ir.Constant(_llvm_vec(vt), None)

    return vt(like), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """``a * b + c`` with one rounding (``vfmadd...``)."""
    if not _same_vec(a, b, c):
        return None

    def codegen(context, builder, sig, args):
        llvt = _llvm_vec(a)
        # llvmlite 0.50's declare_intrinsic("llvm.fma", [vector]) fails: declare the mangled name.
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(llvt, [llvt] * 3), f"llvm.fma.{_suffix(a)}"
        )
        return builder.call(fn, args)

    return a(a, b, c), codegen


def _binary(op):
    @intrinsic
    def impl(typingctx, a, b):
        if not _same_vec(a, b):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, op)(args[0], args[1])

        return a(a, b), codegen

    return impl


vadd, vsub, vmul = _binary("fadd"), _binary("fsub"), _binary("fmul")


def _compare(op):
    @intrinsic
    def impl(typingctx, a, b):
        if not _same_vec(a, b):
            return None

        def codegen(context, builder, sig, args):
            return builder.fcmp_ordered(op, args[0], args[1])

        return VMask(a.n)(a, b), codegen

    return impl


vlt, vgt = _compare("<"), _compare(">")


def _pick(op):
    @intrinsic
    def impl(typingctx, a, b):
        if not _same_vec(a, b):
            return None

        def codegen(context, builder, sig, args):
            return builder.select(
                builder.fcmp_ordered(op, args[0], args[1]), args[0], args[1]
            )

        return a(a, b), codegen

    return impl


vmax, vmin = _pick(">"), _pick("<")


@intrinsic
def vselect(typingctx, m, a, b):
    """``m ? a : b`` per lane."""
    if not (isinstance(m, VMask) and _same_vec(a, b) and m.n == a.n):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(args[0], args[1], args[2])

    return a(m, a, b), codegen


@intrinsic
def vload_or_zero(typingctx, arr, idx, cond):
    """``vload(arr, idx)`` if ``cond``, else 0 (reading nothing): one call where a micro-kernel would branch."""
    dt = _float_of(arr)
    if not (isinstance(arr, types.Array) and dt and _is_int(idx) and isinstance(cond, types.Boolean)):
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        llvt = _llvm_vec(vt)
        with builder.if_else(args[2]) as (then, otherwise):
            with then:
                p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
                loaded = builder.load(builder.bitcast(p, llvt.as_pointer()), align=dt.bitwidth // 8)
                from_then = builder.block
            with otherwise:
                from_else = builder.block
        v = builder.phi(llvt)
        v.add_incoming(loaded, from_then)
        v.add_incoming(ir.Constant(llvt, None), from_else)
        return v

    return vt(arr, idx, cond), codegen


@intrinsic
def vbias_act(typingctx, a, bias, act):
    """``a + bias``, then relu for ``act`` 1 and relu6 for 2 (others: none); NaN stays NaN (ordered compares)."""
    if not (_same_vec(a, bias) and _is_int(act)):
        return None

    def codegen(context, builder, sig, args):
        s = builder.fadd(args[0], args[1])
        zero = ir.Constant(s.type, None)
        relu = builder.select(builder.fcmp_ordered("<", s, zero), zero, s)
        six = _splat(builder, a, ir.Constant(_ll_scalar(a.dtype), 6.0))
        relu6 = builder.select(builder.fcmp_ordered(">", relu, six), six, relu)
        code = context.cast(builder, args[2], sig.args[2], types.int64)
        is1, is2 = (builder.icmp_signed("==", code, ir.Constant(ir.IntType(64), k)) for k in (1, 2))
        return builder.select(is2, relu6, builder.select(is1, relu, s))

    return a(a, bias, act), codegen


@intrinsic
def vhsum(typingctx, a):
    """The sum of ``a``'s lanes, by halves."""
    if not isinstance(a, Vec):
        return None

    def codegen(context, builder, sig, args):
        v, n = args[0], a.n
        while n > 1:
            h = n // 2
            i32 = ir.IntType(32)
            lo = builder.shuffle_vector(
                v, v, ir.Constant(ir.VectorType(i32, h), list(range(h)))
            )
            hi = builder.shuffle_vector(
                v, v, ir.Constant(ir.VectorType(i32, h), list(range(h, n)))
            )
            v, n = builder.fadd(lo, hi), h
        return builder.extract_element(v, ir.Constant(ir.IntType(32), 0))

    return a.dtype(a), codegen


# Element types that vload_as widens and vstore_as narrows to (integers: 8 and 16 bits, either sign).
_NARROW_INTS = (types.uint8, types.int8, types.uint16, types.int16)


def _convertible(arr) -> bool:
    return isinstance(arr, types.Array) and (arr.dtype in _NARROW_INTS or arr.dtype in (types.float32, types.float64))


def _ll_elem(dtype):
    return ir.IntType(dtype.bitwidth) if isinstance(dtype, types.Integer) else _ll_scalar(dtype)


@intrinsic
def vload_as(typingctx, arr, idx, like):
    """``arr.flat[idx : idx + N]`` (N the lanes of ``like``'s float type) converted to those float lanes."""
    dt = _float_of(like)
    if not (_convertible(arr) and dt and _is_int(idx)):
        return None
    vt = vec_type(dt)

    def codegen(context, builder, sig, args):
        src = sig.args[0].dtype
        raw_t = ir.VectorType(_ll_elem(src), vt.n)
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        raw = builder.load(builder.bitcast(p, raw_t.as_pointer()), align=src.bitwidth // 8)
        llvt = _llvm_vec(vt)
        if isinstance(src, types.Integer):
            return (builder.sitofp if src.signed else builder.uitofp)(raw, llvt)
        if src.bitwidth < dt.bitwidth:
            return builder.fpext(raw, llvt)
        return builder.fptrunc(raw, llvt) if src.bitwidth > dt.bitwidth else raw

    return vt(arr, idx, like), codegen


@intrinsic
def vstore_as(typingctx, arr, idx, v):
    """``arr.flat[idx : idx + N] = v`` in ``arr``'s dtype: integers as ``saturate_cast(cvRound(v))``."""
    if not (_convertible(arr) and _is_int(idx) and isinstance(v, Vec)):
        return None

    def codegen(context, builder, sig, args):
        dst = sig.args[0].dtype
        value, llvt = args[2], _llvm_vec(v)
        out_t = ir.VectorType(_ll_elem(dst), v.n)
        if isinstance(dst, types.Integer):
            rint = cgutils.get_or_insert_function(builder.module, ir.FunctionType(llvt, [llvt]), f"llvm.rint.{_suffix(v)}")
            value = builder.call(rint, [value])
            info = np.iinfo(np.dtype(str(dst)))
            lo, hi = (_splat(builder, v, ir.Constant(_ll_scalar(v.dtype), float(b))) for b in (info.min, info.max))
            value = builder.select(builder.fcmp_ordered(">", value, lo), value, lo)  # NaN: the minimum
            value = builder.select(builder.fcmp_ordered("<", value, hi), value, hi)
            value = builder.trunc(builder.fptosi(value, ir.VectorType(ir.IntType(32), v.n)), out_t)
        elif dst.bitwidth < v.dtype.bitwidth:
            value = builder.fptrunc(value, out_t)
        elif dst.bitwidth > v.dtype.bitwidth:
            value = builder.fpext(value, out_t)
        p = _ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        builder.store(value, builder.bitcast(p, out_t.as_pointer()), align=dst.bitwidth // 8)
        return context.get_dummy_value()

    return types.void(arr, idx, v), codegen


__all__ = [
    "SOURCE_HASH",
    "VECTOR_BITS",
    "VMask",
    "Vec",
    "lanes",
    "sload",
    "supported",
    "target_features",
    "target_name",
    "vadd",
    "vbload",
    "vec_type",
    "vfma",
    "vgt",
    "vhsum",
    "vload",
    "vload_even",
    "vector_lanes",
    "vload_as",
    "vload_even_masked",
    "vload_masked",
    "vlanes",
    "vlt",
    "vmax",
    "vmin",
    "vmul",
    "vselect",
    "vsplat",
    "vstore",
    "vstore_as",
    "vstore_masked",
    "vsub",
    "vzero",
]
