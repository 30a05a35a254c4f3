"""The cpu backend's one parallel loop: ``run(task, n, *args)`` calls ``task(i, *args)`` for every ``i < n`` on numba's threads.

numba compiles a ``prange`` loop slowly, and links the code of every function
it calls into the caller's module, where it is optimized and turned into
machine code again, once per level of calls (the loop's gufunc and its two
wrappers are three levels).  Here the loop is compiled once per argument
types, for every kernel, and calls the task through its native address
(``_call``), so it never holds the task's code: the task compiles once, on
its own, and the loop stays small whatever the task is.  Both are cached.

A task is an ``@njit`` function (``common.native``: Python does not call it) whose first argument is the int64 index;
it writes a disjoint part of the outputs and raises nothing.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, typeof, types
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils
from numba.extending import intrinsic

from .common import PRANGE, jit, native, set_chunksize


@intrinsic
def _call(typingctx, address, args):
    """``f(*args)`` for the njit function ``f`` compiled for ``args``' types whose native entry is at ``address``."""
    if not isinstance(address, types.Integer) or not isinstance(args, types.BaseTuple):
        return None
    argtys = tuple(args)

    def codegen(context, builder, signature, llargs):
        fnty = context.call_conv.get_function_type(types.none, argtys)
        fn = builder.inttoptr(llargs[0], fnty.as_pointer())
        values = [builder.extract_value(llargs[1], k) for k in range(len(argtys))]
        context.call_conv.call_function(builder, fn, types.none, argtys, values)
        return context.get_dummy_value()

    return types.none(address, args), codegen


@intrinsic
def _stash(typingctx, values):
    """The address of a copy of ``values`` on the caller's stack (valid until the caller returns)."""

    def codegen(context, builder, signature, llargs):
        model = context.data_model_manager[values]  # stored in its data layout (a bool is a byte there)
        slot = cgutils.alloca_once(builder, model.get_data_type())
        builder.store(model.as_data(builder, llargs[0]), slot)
        return builder.ptrtoint(slot, ir.IntType(64))

    return types.int64(values), codegen


@intrinsic
def _unstash(typingctx, pointer):
    """The value that ``pointer`` (a ``CPointer``, as ``_stash`` made it) points to, as a new reference."""
    if not isinstance(pointer, types.CPointer):
        return None

    def codegen(context, builder, signature, llargs):
        value = context.data_model_manager[pointer.dtype].load_from_data_pointer(builder, llargs[0])
        context.nrt.incref(builder, pointer.dtype, value)
        return value

    return pointer.dtype(pointer), codegen


@native(parallel=PRANGE, cache=True, nogil=True)
def _loop(trampoline, n, block):
    """The parallel loop, compiled once: ``trampoline(i, block)`` for i < n."""
    for i in prange(n):
        _call(trampoline, (np.int64(i), block))


@native(cache=True, nogil=True)
def _trampoline(i, block):
    """``task(i, *args)`` for ``block`` -> (task's address, args): compiled per argument types, small."""
    task, args = _unstash(block)
    _call(task, (i,) + args)


@jit(cache=True, nogil=True)
def _enter(loop, trampoline, n, task, args):
    """The loop over ``n`` for ``task`` and ``args``, which it holds in a block on this stack (one index: no loop):
    compiled per argument types, small."""
    block = _stash((task, args))
    if n == 1:
        _call(trampoline, (np.int64(0), block))
    else:
        _call(loop, (trampoline, n, block))


_addresses: dict = {}
_SCALARS = (int, float, bool, np.integer, np.floating, np.bool_)


def _key(value):
    """What numba's type of ``value`` depends on: the fingerprint its dispatcher keys types by (dtype, ndim, layout,
    writability), computed in C."""
    if not isinstance(value, (np.ndarray, *_SCALARS)):
        raise TypeError(f"parallel.run takes arrays and scalars, got {type(value).__name__}")
    return compute_fingerprint(value)


def native(dispatcher, sig) -> int:
    """The native address of ``dispatcher`` compiled (or loaded from the cache) for the types ``sig``."""
    dispatcher.compile(sig)
    cres = dispatcher.overloads[tuple(sig)]
    return cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)


def _addresses_of(task, args):
    """(task, trampoline, loop): the native addresses ``run`` calls for ``task`` on arguments like ``args``."""
    try:
        found = _addresses.get((task, tuple(map(compute_fingerprint, args))))
    except (TypeError, ValueError, NotImplementedError):
        found = None
    if found is None:  # compile, after checking what the arguments are
        key = (task, tuple(map(_key, args)))
        argtys = tuple(typeof(a) for a in args)
        block = types.Tuple((types.int64, types.Tuple(argtys)))
        found = _addresses[key] = (
            native(task, (types.int64, *argtys)),
            native(_trampoline, (types.int64, types.CPointer(block))),
            native(_loop, (types.int64,) * 3),
        )
    return found


def run(task, n: int, *args, chunk: int = 0) -> None:
    """``task(i, *args)`` for ``0 <= i < n``, in parallel; with ``chunk``, the indices are handed out ``chunk`` at a time.

    Examples
    --------
    >>> from numba import njit
    >>> @njit
    ... def double(i, x, out):
    ...     out[i] = 2 * x[i]
    >>> x, out = np.arange(4.0), np.zeros(4)
    >>> run(double, 4, x, out)
    >>> out
    array([0., 2., 4., 6.])
    """
    if n <= 0:
        return
    at, trampoline, loop = _addresses_of(task, args)
    old = set_chunksize(chunk) if chunk and n > 1 else None
    try:
        _enter(loop, trampoline, n, at, args)
    finally:
        if old is not None:
            set_chunksize(old)
