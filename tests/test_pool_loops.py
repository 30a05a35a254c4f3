"""The plain-Numba loops of adaptive pooling, 2 x 2 average pooling and interpolate (``cpu/pool.py``, ``cpu/interpolate.py``).

* their hot loops are vector code at the target's width, with no stack operand;
* they agree with torch on an AVX2 and on a portable (SSE) target, forced in subprocesses.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import naive
import numba
import numpy as np
import pytest
from conftest import asm_blocks, assert_close, assert_same_values, random_array

import fastconv as fc
from fastconv._backends.cpu import simd
from fastconv._backends.cpu.common import FASTMATH

pool = importlib.import_module("fastconv._backends.cpu.pool")
interpolate = importlib.import_module("fastconv._backends.cpu.interpolate")

SRC = str(Path(__file__).resolve().parents[1] / "src")
needs_simd = pytest.mark.skipif(simd.VECTOR_BITS is None, reason="numba's target has no AVX2/AVX-512")

# kernel -> (its module, the instruction that marks its hot loop, a call that compiles it for float32)
KERNELS = {
    "_adaptive_avg_pool2d_kernel": (pool, "vaddps", lambda x: fc.adaptive_avg_pool2d(x, 7)),
    "_adaptive_max_pool2d_kernel": (pool, "vcmp", lambda x: fc.adaptive_max_pool2d(x, 7)),
    "_avg_pool_2x2_kernel": (pool, "vaddps", lambda x: fc.avg_pool2d(x, 2)),
    "_nearest_kernel": (interpolate, "vperm", lambda x: fc.interpolate(x, scale_factor=2)),
    "_linear_kernel": (interpolate, "vfmadd", lambda x: fc.interpolate(x, scale_factor=2, mode="bilinear")),
}


def loop_report(name: str) -> dict:
    """The loop of kernel ``name`` with the most of its marking instruction on full-width registers.

    The kernel is compiled afresh and serial (the loops a ``prange`` body runs,
    in one function's assembly); a loop is a basic block up to its jump.
    """
    module, op, call = KERNELS[name]
    call(np.random.default_rng(0).standard_normal((1, 2, 40, 40)).astype(np.float32))
    kernel = getattr(module, name)
    sig = next(s for s in kernel.signatures if s[0].dtype == numba.float32)
    fresh = numba.njit(fastmath=FASTMATH, cache=False, nogil=True)(kernel.py_func)
    fresh.compile(sig)
    regs = ("zmm", "ymm") if simd.VECTOR_BITS == 512 else ("ymm",)  # LLVM may prefer 256 bits on an AVX-512 target

    def wide(instr: str) -> bool:
        return instr.startswith(op) and any(f"%{r}" in instr for r in regs)

    loops = [b[: next(i for i, x in enumerate(b) if x.startswith("j")) + 1] for b in asm_blocks(fresh.inspect_asm(sig)) if any(x.startswith("j") for x in b)]
    loop = max(loops, key=lambda b: sum(map(wide, b)))
    return dict(ops=sum(map(wide, loop)), stack=sum("(%rsp)" in x for x in loop), size=len(loop))


@needs_simd
@pytest.mark.parametrize("name", KERNELS)
def test_hot_loop_assembly(name: str) -> None:
    r = loop_report(name)
    assert r["ops"] >= 1 and r["stack"] == 0, r


def check_against_torch() -> None:
    """Adaptive pooling (indices included), 2 x 2 average pooling and interpolate on planes wider than a
    vector, NaN and inf in them."""
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        x = random_array(rng, (2, 3, 37, 45), dtype, ties=True, special="mixed")
        for size in ((5, 6), 1, (37, 9)):
            values, indices = fc.adaptive_max_pool2d(x, size, return_indices=True, backend="cpu")
            ref_values, ref_indices = naive.max_pool_exact(x, "adaptive_max_pool2d", size)
            assert_same_values(indices, ref_indices, dtype=np.int64)
            assert_same_values(values, ref_values, dtype=dtype)
            bound = naive.adaptive_avg_pool2d(np.abs(x.astype(np.float64)), size)
            assert_close(fc.adaptive_avg_pool2d(x, size, backend="cpu"), naive.adaptive_avg_pool2d(x, size), dtype=dtype, bound=bound)
        for kwargs in (dict(), dict(divisor_override=3), dict(ceil_mode=True)):
            bound = naive.avg_pool2d(np.abs(x.astype(np.float64)), 2, **kwargs)
            assert_close(fc.avg_pool2d(x, 2, **kwargs, backend="cpu"), naive.avg_pool2d(x, 2, **kwargs), dtype=dtype, bound=bound)
        for kwargs in (dict(scale_factor=2), dict(size=(50, 31)), dict(scale_factor=2, mode="bilinear"), dict(size=(29, 70), mode="bilinear", align_corners=True)):
            out = fc.interpolate(x, **kwargs, backend="cpu")
            if kwargs.get("mode", "nearest") == "nearest":
                assert_same_values(out, naive.interpolate(x, **kwargs), dtype=dtype)
            else:
                assert_close(out, naive.interpolate(x, **kwargs), dtype=dtype, bound=naive.interpolate(np.abs(x), **kwargs))


def test_against_torch_on_this_target() -> None:
    check_against_torch()


# --- other targets, in subprocesses ---------------------------------------------------------------

HASWELL_FEATURES = "+sse,+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt,+movbe,+xsave,-avx512f"
PORTABLE_FEATURES = "+sse,+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,-avx,-avx2,-fma,-avx512f"


def _run(cpu: str, features: str, code: str) -> str:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES=features)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=str(Path(__file__).resolve().parent),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr
    return r.stdout


@pytest.mark.skipif(not simd.VECTOR_BITS, reason="needs an x86 host with AVX2 to run an AVX2 target")
def test_forced_avx2_target() -> None:
    _run("haswell", HASWELL_FEATURES, """
        from fastconv._backends.cpu import simd
        import test_pool_loops as t
        assert simd.VECTOR_BITS == 256
        t.check_against_torch()
        for name in t.KERNELS:
            r = t.loop_report(name)
            assert r["ops"] >= 1 and r["stack"] == 0, (name, r)
        print("ok")
    """)


def test_forced_portable_target() -> None:
    _run("x86-64", PORTABLE_FEATURES, """
        from fastconv._backends.cpu import simd
        import test_pool_loops as t
        assert simd.VECTOR_BITS is None
        t.check_against_torch()
        print("ok")
    """)
