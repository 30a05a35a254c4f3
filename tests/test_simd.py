"""The explicit-SIMD layer (``_backends/cpu/simd.py``) and the direct convolution built on it (``direct.py``).

* each intrinsic against NumPy, float32 and float64;
* ``conv2d_direct`` against ``torch.nn.functional.conv2d`` on random valid configurations, and on an impulse;
* subprocesses that force an AVX2 target (results, 256-bit width, ymm FMAs) and a portable one (unsupported);
* the micro-kernel's assembly: vector FMAs of the target's width and no stack operands in its hot loop.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import asm_blocks
from numba import njit

from fastconv._backends.cpu import (
    direct,
    simd,
)
from fastconv._backends.cpu.simd import (
    sload,
    vadd,
    vbias_act,
    vbload,
    vfma,
    vgt,
    vhsum,
    vload,
    vload_even,
    vload_even_masked,
    vload_masked,
    vload_or_zero,
    vlt,
    vmax,
    vmin,
    vmul,
    vselect,
    vsplat,
    vstore,
    vstore_masked,
    vsub,
    vzero,
)

DTYPES = [np.float32, np.float64]
needs_simd = pytest.mark.skipif(
    simd.VECTOR_BITS is None, reason="numba's target has no AVX2/AVX-512"
)
SRC = str(Path(__file__).resolve().parents[1] / "src")
TILE_CHOICES_HERE = direct.TILE_CHOICES.get(simd.VECTOR_BITS, ())

# --- the intrinsics, each against NumPy ------------------------------------------------


@njit(cache=False)
def _memory_ops(a, i, out, count):
    vstore(out, 0, vload(a, i))
    vstore(out, 64, vbload(a, i))
    vstore(out, 128, vzero(a))
    vstore(out, 192, vsplat(a, 2.5))
    vstore_masked(
        out, 256, vload(a, i), count
    )  # lanes >= count of out keep their value
    vstore(out, 320, vload_masked(a, i, count))  # lanes >= count read as 0
    vstore(out, 384, vload_even(a, i))
    vstore(out, 448, vload_even_masked(a, i, count))


@njit(cache=False)
def _scalar_load(a, i):
    return sload(a, i)


def test_sload():
    for a in (
        np.arange(10, dtype=np.int64) * 3,
        np.linspace(0, 1, 7, dtype=np.float32),
    ):
        assert [_scalar_load(a, i) for i in range(a.size)] == a.tolist()
    assert _scalar_load(np.arange(12.0).reshape(3, 4), 7) == 7.0


@njit(inline="always")
def n_of(out):
    return out.shape[0] // 2


@njit(cache=False)
def _masked_only(a, i, out, count):
    vstore(out, 0, vload_masked(a, i, count))
    vstore_masked(a, i, vload_masked(a, i, count), count)
    vstore(
        out, n_of(out), vload_even_masked(a, i, (count + 1) // 2)
    )  # reads a[i : i + 2*((count+1)//2) - 1]


@njit(cache=False)
def _arith_ops(a, b, c, out):
    x, y, z = vload(a, 0), vload(b, 0), vload(c, 0)
    vstore(out, 0, vfma(x, y, z))
    vstore(out, 64, vadd(x, y))
    vstore(out, 128, vsub(x, y))
    vstore(out, 192, vmul(x, y))
    vstore(out, 256, vmax(x, y))
    vstore(out, 320, vmin(x, y))
    vstore(out, 384, vselect(vlt(x, y), z, x))
    vstore(out, 448, vselect(vgt(x, y), z, x))
    return vhsum(x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_target_width(dtype):
    n = simd.lanes(dtype)
    if simd.VECTOR_BITS is None:
        assert n == 0
    else:
        assert n * np.dtype(dtype).itemsize * 8 == simd.VECTOR_BITS
        assert simd.vec_type(_nb(dtype)).n == n


@pytest.mark.parametrize("dtype", DTYPES)
def test_memory_intrinsics(dtype):
    n = simd.vec_type(_nb(dtype)).n
    a = np.arange(3 * n, dtype=dtype) * 1.5 - 7
    for i, count in [(0, 0), (3, 1), (5, n - 1), (n, n), (2, 3 * n)]:
        i = min(i, 2 * n)
        i = min(i, n)  # vload_even reads 2N
        out = np.full(512 + n, -99, dtype)
        _memory_ops(a, i, out, count)
        np.testing.assert_array_equal(out[:n], a[i : i + n])
        np.testing.assert_array_equal(out[64 : 64 + n], np.full(n, a[i]))
        np.testing.assert_array_equal(out[128 : 128 + n], np.zeros(n))
        np.testing.assert_array_equal(out[192 : 192 + n], np.full(n, 2.5))
        k = min(count, n)
        np.testing.assert_array_equal(
            out[256 : 256 + n], np.r_[a[i : i + k], np.full(n - k, -99)]
        )
        np.testing.assert_array_equal(
            out[320 : 320 + n], np.r_[a[i : i + k], np.zeros(n - k)]
        )
        np.testing.assert_array_equal(out[384 : 384 + n], a[i : i + 2 * n : 2])
        even = a[i : i + 2 * k : 2]
        np.testing.assert_array_equal(
            out[448 : 448 + n], np.r_[even, np.zeros(n - even.size)]
        )
        assert (
            out[64 + n] == -99 and out[320 + n] == -99
        )  # nothing written past the vector


def test_masked_load_reads_no_masked_off_memory():
    """A masked load at the very end of an array (lanes past it masked off) neither faults nor reads them."""
    import mmap

    page = mmap.PAGESIZE
    buf = mmap.mmap(-1, 2 * page)
    arr = np.frombuffer(buf, np.float32)
    arr[:] = 1
    tail = arr[page // 4 - 3 : page // 4]  # the last 3 floats of the first page
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    if (
        libc.mprotect(addr + page, page, 0) != 0
    ):  # PROT_NONE: touching the second page faults
        pytest.skip("mprotect unavailable")
    try:
        n = simd.vec_type(_nb(np.float32)).n
        out = np.full(2 * n, -99, np.float32)
        _masked_only(
            tail, 0, out, 3
        )  # loads and stores the 3 floats before the protected page
        np.testing.assert_array_equal(out[:n], np.r_[np.ones(3), np.zeros(n - 3)])
        np.testing.assert_array_equal(out[n:], np.r_[np.ones(2), np.zeros(n - 2)])
    finally:
        libc.mprotect(addr + page, page, 3)
    del arr, tail


@pytest.mark.parametrize("dtype", DTYPES)
def test_arith_intrinsics(dtype):
    n = simd.vec_type(_nb(dtype)).n
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    a[1] = b[1]  # a tie for the compares
    a[2] = (
        np.nan
    )  # max/min/compares of a NaN: the ordered compare is false, so b (resp. the else branch)
    out = np.zeros(512, dtype)
    s = _arith_ops(a, b, c, out)
    fma = (a.astype(np.float64) * b + c).astype(
        dtype
    )  # one rounding; float64 products of float32 are exact
    if (
        dtype == np.float32
    ):  # exact: the float64 a*b is exact, so one rounding to float32
        np.testing.assert_array_equal(out[:n][~np.isnan(a)], fma[~np.isnan(a)])
    else:
        np.testing.assert_allclose(out[:n], a * b + c, rtol=1e-15, atol=1e-15)
    np.testing.assert_array_equal(out[64 : 64 + n], a + b)
    np.testing.assert_array_equal(out[128 : 128 + n], a - b)
    np.testing.assert_array_equal(out[192 : 192 + n], a * b)
    np.testing.assert_array_equal(out[256 : 256 + n], np.where(a > b, a, b))
    np.testing.assert_array_equal(out[320 : 320 + n], np.where(a < b, a, b))
    np.testing.assert_array_equal(out[384 : 384 + n], np.where(a < b, c, a))
    np.testing.assert_array_equal(out[448 : 448 + n], np.where(a > b, c, a))
    assert np.isnan(s)
    a[2] = 0.25
    s = _arith_ops(a, b, c, out)
    assert s == pytest.approx(
        float(a.astype(np.float64).sum()), rel=1e-6 if dtype == np.float32 else 1e-14
    )


def _nb(dtype):
    import numba

    return numba.from_dtype(np.dtype(dtype))


# --- the convolution against torch -------------------------------------------------------

torch = pytest.importorskip("torch")
F = torch.nn.functional
TORCH_MODE = {
    "constant": "constant",
    "reflect": "reflect",
    "edge": "replicate",
    "wrap": "circular",
}


def _torch_conv(x, w, bias, stride, pads, dilation, boundary, act, absolute=False):
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    bt = None if bias is None else torch.from_numpy(bias)
    if absolute:
        xt, wt, bt = xt.abs(), wt.abs(), None if bt is None else bt.abs()
    top, bottom, left, right = pads
    xt = F.pad(xt, (left, right, top, bottom), mode=TORCH_MODE[boundary])
    y = F.conv2d(xt, wt, bt, stride, 0, dilation, x.shape[1] // w.shape[1])
    if not absolute:
        y = [y, F.relu(y), F.relu6(y), F.silu(y), F.gelu(y), F.hardswish(y), F.hardsigmoid(y)][act]
    return y.numpy()


def _random_config(rng):
    while True:
        groups = int(rng.choice([1, 1, 2, 3, 32]))
        cg = (
            int(rng.choice([1, 2, 3, 5, 8]))
            if groups < 32
            else int(rng.choice([1, 2, 4]))
        )
        og = (
            int(rng.choice([1, 2, 3, 4, 5, 7, 9, 13]))
            if groups < 32
            else int(rng.choice([1, 4]))
        )
        kh = int(rng.choice([1, 3, 5, 7]))
        kw = kh if rng.random() < 0.8 else int(rng.choice([1, 3, 5]))
        stride = (int(rng.choice([1, 2])), int(rng.choice([1, 2])))
        dilation = (
            (int(rng.choice([1, 2])), int(rng.choice([1, 2])))
            if rng.random() < 0.4
            else (1, 1)
        )
        h = 1 if rng.random() < 0.1 else int(rng.integers(1, 20))
        wd = 1 if rng.random() < 0.1 else int(rng.integers(1, 40))
        boundary = str(rng.choice(["constant", "constant", "reflect", "edge", "wrap"]))
        limit_h, limit_w = (
            (h - 1, wd - 1)
            if boundary == "reflect"
            else (h, wd)
            if boundary == "wrap"
            else (4, 4)
        )
        pads = tuple(
            int(rng.integers(0, max(0, lim) + 1))
            for lim in (
                min(limit_h, 3),
                min(limit_h, 3),
                min(limit_w, 3),
                min(limit_w, 3),
            )
        )
        ho = (h + pads[0] + pads[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        wo = (wd + pads[2] + pads[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        if ho >= 1 and wo >= 1:
            return dict(
                n=int(rng.choice([1, 3])),
                c=groups * cg,
                h=h,
                w=wd,
                o=groups * og,
                kh=kh,
                kw=kw,
                groups=groups,
                stride=stride,
                dilation=dilation,
                pads=pads,
                boundary=boundary,
                bias=bool(rng.random() < 0.7),
                act=int(rng.choice([0, 1, 2])),
            )


def _check(cfg, dtype, rtol, seed=0, **tuning):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(dtype)
    w = rng.standard_normal(
        (cfg["o"], cfg["c"] // cfg["groups"], cfg["kh"], cfg["kw"])
    ).astype(dtype)
    bias = rng.standard_normal(cfg["o"]).astype(dtype) if cfg["bias"] else None
    args = (cfg["stride"], cfg["pads"], cfg["dilation"], cfg["boundary"])
    ref = _torch_conv(x, w, bias, *args, cfg["act"])
    scale = _torch_conv(x, w, bias, *args, 0, absolute=True)
    out = np.full(ref.shape, np.nan, dtype)
    assert direct.conv2d_direct(x, w, bias, *args, cfg["act"], out, **tuning) is out
    err = np.abs(out - ref)
    bad = ~(err <= rtol * (scale + 1))
    assert not bad.any(), (
        f"{cfg}: {bad.sum()} wrong, worst {err.max()} (scale {scale.max()})"
    )


CONFIGS = [_random_config(np.random.default_rng(seed)) for seed in range(40)]
FIXED = [  # the shapes the tiles meet in networks, small
    dict(
        n=1,
        c=16,
        h=9,
        w=9,
        o=16,
        kh=3,
        kw=3,
        groups=1,
        stride=(1, 1),
        dilation=(1, 1),
        pads=(1, 1, 1, 1),
        boundary="constant",
        bias=True,
        act=1,
    ),
    dict(
        n=1,
        c=12,
        h=11,
        w=11,
        o=18,
        kh=7,
        kw=7,
        groups=1,
        stride=(2, 2),
        dilation=(1, 1),
        pads=(3, 3, 3, 3),
        boundary="constant",
        bias=False,
        act=0,
    ),
    dict(
        n=3,
        c=24,
        h=8,
        w=8,
        o=9,
        kh=1,
        kw=1,
        groups=1,
        stride=(1, 1),
        dilation=(1, 1),
        pads=(0, 0, 0, 0),
        boundary="constant",
        bias=True,
        act=2,
    ),
    dict(
        n=1,
        c=8,
        h=4,
        w=4,
        o=24,
        kh=1,
        kw=1,
        groups=1,
        stride=(1, 1),
        dilation=(1, 1),
        pads=(0, 0, 0, 0),
        boundary="constant",
        bias=True,
        act=0,
    ),
    dict(
        n=1,
        c=16,
        h=12,
        w=12,
        o=32,
        kh=1,
        kw=1,
        groups=1,
        stride=(2, 2),
        dilation=(1, 1),
        pads=(0, 0, 0, 0),
        boundary="constant",
        bias=False,
        act=0,
    ),
    dict(
        n=2,
        c=64,
        h=6,
        w=6,
        o=64,
        kh=3,
        kw=3,
        groups=32,
        stride=(1, 1),
        dilation=(1, 1),
        pads=(1, 1, 1, 1),
        boundary="constant",
        bias=True,
        act=1,
    ),
    dict(
        n=1,
        c=16,
        h=7,
        w=7,
        o=16,
        kh=3,
        kw=3,
        groups=2,
        stride=(1, 1),
        dilation=(1, 1),
        pads=(1, 1, 1, 1),
        boundary="constant",
        bias=True,
        act=3,
    ),
    dict(
        n=1,
        c=5,
        h=6,
        w=9,
        o=7,
        kh=3,
        kw=3,
        groups=1,
        stride=(1, 1),
        dilation=(1, 1),
        pads=(1, 1, 1, 1),
        boundary="edge",
        bias=True,
        act=4,
    ),
]


@needs_simd
@pytest.mark.parametrize(
    "cfg",
    CONFIGS + FIXED,
    ids=lambda c: (
        f"{c['n']}x{c['c']}x{c['h']}x{c['w']}-o{c['o']}k{c['kh']}x{c['kw']}g{c['groups']}s{c['stride']}d{c['dilation']}p{c['pads']}{c['boundary']}a{c['act']}"
    ),
)
def test_conv_float32(cfg):
    _check(cfg, np.float32, 1e-5)


@needs_simd
@pytest.mark.parametrize(
    "cfg",
    CONFIGS[::3] + FIXED[:3],
    ids=lambda c: (
        f"{c['n']}x{c['c']}x{c['h']}x{c['w']}-o{c['o']}k{c['kh']}g{c['groups']}s{c['stride']}{c['boundary']}"
    ),
)
def test_conv_float64(cfg):
    _check(cfg, np.float64, 1e-12)


@needs_simd
@pytest.mark.parametrize("tuning", [dict(kc=9), dict(kc=7, bgsize=1), dict(bgsize=2), dict(tgsize=1), dict(kc=9, bgsize=2, tgsize=3)])
def test_conv_blocking(tuning):
    """Reduction chunks (partial sums through the output and through the scratch), position groups and tile ranges."""
    for cfg in (FIXED[0], FIXED[2], CONFIGS[5]):
        _check(
            dict(
                cfg, c=cfg["c"] * 2, groups=1 if cfg["groups"] == 1 else cfg["groups"]
            ),
            np.float32,
            1e-5,
            **tuning,
        )


POINTWISE_7x7 = dict(  # MobileNet's late 1 x 1 layers: 49 positions, read in place by the short-block tile
    n=2, c=40, h=7, w=7, o=20, kh=1, kw=1, groups=1, stride=(1, 1), dilation=(1, 1), pads=(0, 0, 0, 0),
    boundary="constant", bias=True, act=2,
)


@needs_simd
@pytest.mark.parametrize("tile", TILE_CHOICES_HERE, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_every_tile(tile, dtype):
    """Each tile of the target, on the network shapes and on partial o-tiles and planes shorter than a block."""
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for cfg in FIXED + [POINTWISE_7x7, dict(POINTWISE_7x7, h=3, w=5, o=13), dict(FIXED[0], o=25, c=8)]:
        _check(cfg, dtype, rtol, tile=tile)
        _check(cfg, dtype, rtol, tile=tile, kc=cfg["c"] // 2 * cfg["kh"] * cfg["kw"] or 1)


def test_short_planes_choose_a_tile_read_in_place():
    """A 1 x 1 layer on 7 x 7 planes takes the tile whose blocks fit its 49 positions (no copy of the input)."""
    if simd.VECTOR_BITS != 512:
        pytest.skip("the AVX-512 tiles")
    g = direct._setup((1, 960, 7, 7), (160, 960, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), "constant", "<f4", None, None, None, None, 2)
    assert g["tile"] == (10, 2) and g["in_place"]
    g = direct._setup((1, 64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "constant", "<f4", None, None, None, None, 2)
    assert g["tile"] == direct.TILES[512]


@needs_simd
def test_partial_tile_reads_nothing_past_the_output():
    """Partial sums through the output, in a last o-tile with fewer rows than OT: the rows past it are not read.

    The output ends right at an inaccessible page (a read past it faults), in a subprocess.
    """
    out = _run(
        {},
        """
        import ctypes, mmap
        import numpy as np
        import torch
        from fastconv._backends.cpu import direct, simd
        page = mmap.PAGESIZE
        shape = (1, 256, 28, 28)
        nbytes = int(np.prod(shape)) * 4
        size = -(-nbytes // page) * page
        buf = mmap.mmap(-1, size + page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        assert ctypes.CDLL(None).mprotect(ctypes.c_void_p(addr + size), ctypes.c_size_t(page), 0) == 0
        out = np.frombuffer(buf, np.uint8, nbytes, size - nbytes).view(np.float32).reshape(shape)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1, 128, 28, 28), dtype=np.float32)
        w = rng.standard_normal((256, 128, 1, 1), dtype=np.float32)
        tile = max(direct.TILE_CHOICES[simd.VECTOR_BITS], key=lambda t: 256 % t[0])  # a partial last o-tile
        assert 256 % tile[0]
        direct.conv2d_direct(x, w, None, (1, 1), (0, 0, 0, 0), (1, 1), "constant", 0, out, tile=tile, kc=32)
        want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
        assert np.allclose(out, want, rtol=1e-4, atol=1e-4)
        print("ok")
        """,
    )
    assert "ok" in out


@needs_simd
def test_conv_impulse():
    """Hand-computed: a single 1 in the input gives the flipped kernel around it, plus the bias."""
    x = np.zeros((1, 2, 5, 6), np.float32)
    x[0, 1, 2, 3] = 1
    w = np.arange(2 * 2 * 3 * 3, dtype=np.float32).reshape(2, 2, 3, 3)
    bias = np.array([10, -100], np.float32)
    out = np.empty((1, 2, 5, 6), np.float32)
    direct.conv2d_direct(x, w, bias, (1, 1), (1, 1, 1, 1), (1, 1), "constant", 0, out)
    expect = np.empty_like(out)
    expect[0] = bias[:, None, None]
    for o in range(2):
        for u in range(3):
            for v in range(3):  # output (oh, ow) reads input (oh + u - 1, ow + v - 1)
                expect[0, o, 2 - u + 1, 3 - v + 1] += w[o, 1, u, v]
    np.testing.assert_array_equal(out, expect)
    direct.conv2d_direct(
        x, w, bias, (1, 1), (1, 1, 1, 1), (1, 1), "constant", "relu", out
    )
    np.testing.assert_array_equal(out, np.maximum(expect, 0))


@pytest.mark.parametrize("dtype", DTYPES + [np.int64, np.float16])
def test_supported(dtype):
    assert direct.supported(dtype) == (
        simd.VECTOR_BITS is not None and dtype in (np.float32, np.float64)
    )


def test_generated_files_carry_the_simd_hash():
    """The generated kernels' file names hold the hash of simd.py (numba's cache key does not cover intrinsics)."""
    if simd.VECTOR_BITS is None:
        pytest.skip("no SIMD target")
    mod = direct.kernel_module(np.float32)
    name = Path(mod.__file__).name
    assert simd.SOURCE_HASH in name and direct.GEN_HASH in name
    import hashlib

    assert (
        simd.SOURCE_HASH
        == hashlib.sha256(Path(simd.__file__).read_bytes()).hexdigest()[:12]
    )


# --- the micro-kernel's assembly ------------------------------------------------------------


def hot_loop(asm: str) -> list[str]:
    """The instructions of the basic block with the most vector FMAs (the micro-kernel's reduction loop)."""
    return max(asm_blocks(asm), key=lambda b: sum(i.startswith("vfmadd") for i in b))


def asm_report(dtype, tile=None) -> dict:
    tile = tile or direct.TILES[simd.VECTOR_BITS]
    loop = hot_loop(direct.microkernel_asm(dtype, tile))
    reg = {512: "zmm", 256: "ymm"}[simd.VECTOR_BITS]
    suffix = "ps" if np.dtype(dtype) == np.float32 else "pd"
    ot, pt = tile
    return dict(
        fma=sum(bool(re.match(rf"vfmadd\w*{suffix}\s.*%{reg}", i)) for i in loop),
        other_fma=sum(i.startswith("vfmadd") and f"%{reg}" not in i for i in loop),
        stack=sum("(%rsp)" in i for i in loop),
        tile=ot * pt,
        size=len(loop),
    )


@needs_simd
@pytest.mark.parametrize("tile", TILE_CHOICES_HERE, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_microkernel_assembly(dtype, tile):
    r = asm_report(dtype, tile)
    assert r["fma"] >= r["tile"] and r["fma"] % r["tile"] == 0, (
        r
    )  # all OT*PT FMAs of (an unrolled) k step, full width
    assert r["other_fma"] == 0, r
    assert r["stack"] == 0, r  # nothing spilled or reloaded in the hot loop


# --- other targets, in subprocesses ---------------------------------------------------------

HASWELL_FEATURES = "+sse,+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt,+movbe,+xsave,-avx512f"
PORTABLE_FEATURES = (
    "+sse,+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,-avx,-avx2,-fma,-avx512f"
)


def _run(env_extra, code):
    env = dict(
        os.environ,
        PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        **env_extra,
    )
    tests = str(Path(__file__).resolve().parent)
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=False,
        env=env,
        cwd=tests,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.skipif(
    not simd.VECTOR_BITS, reason="needs an x86 host with AVX2 to run an AVX2 target"
)
def test_forced_avx2_target():
    out = _run(
        {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": HASWELL_FEATURES},
        """
        import numpy as np
        from fastconv._backends.cpu import simd, direct
        import test_simd as t
        assert simd.VECTOR_BITS == 256 and simd.lanes(np.float32) == 8 and simd.lanes(np.float64) == 4
        assert direct.supported(np.float32)
        for cfg in t.FIXED[:3] + t.CONFIGS[:6]:
            t._check(cfg, np.float32, 1e-5)
        r = t.asm_report(np.float32)
        assert r["fma"] >= r["tile"] and r["other_fma"] == 0 and r["stack"] == 0, r
        print("ok", r)
        """,
    )
    assert "ok" in out


def test_forced_portable_target():
    out = _run(
        {"NUMBA_CPU_NAME": "x86-64", "NUMBA_CPU_FEATURES": PORTABLE_FEATURES},
        """
        import numpy as np
        from fastconv._backends.cpu import simd, direct
        assert simd.VECTOR_BITS is None and simd.lanes(np.float32) == 0
        assert not direct.supported(np.float32) and not direct.supported(np.float64)
        print("ok")
        """,
    )
    assert "ok" in out


def test_workspace_is_reused_per_thread_and_sized():
    import threading

    from fastconv._backends.cpu.common import WORKSPACE_CACHE_BYTES, workspace

    a = workspace(1000, np.float32)
    b = workspace(10, np.float32)
    assert a.size == 1000 and b.size == 10 and np.shares_memory(a, b)  # the same buffer, no new pages
    assert workspace(10, np.float64).dtype == np.float64 and not np.shares_memory(workspace(10, np.float64), a)
    assert not np.shares_memory(workspace(10, np.float32, "weights"), a)
    other = []
    t = threading.Thread(target=lambda: other.append(workspace(10, np.float32)))
    t.start()
    t.join()
    assert not np.shares_memory(other[0], a)  # another thread's calls never share it
    big = WORKSPACE_CACHE_BYTES // 4 + 1
    assert not np.shares_memory(workspace(big, np.float32), workspace(big, np.float32))


@njit(cache=False)
def _fused_ops(a, b, out, cond, act):
    vstore(out, 0, vload_or_zero(a, 0, cond))
    vstore(out, 64, vbias_act(vload(a, 0), vload(b, 0), act))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", [0, 1, 2, 3])
def test_fused_epilogue_intrinsics(dtype, act):
    n = simd.vec_type(_nb(dtype)).n
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal(n).astype(dtype) * 5 for _ in range(2))
    a[0], a[1] = np.nan, 4.0
    b[1] = 3.0  # 7 > 6: relu6 clips it
    out = np.zeros(128, dtype)
    for cond in (True, False):
        _fused_ops(a, b, out, cond, act)
        np.testing.assert_array_equal(out[:n], a if cond else np.zeros(n, dtype))
    s = a + b
    want = {1: np.where(s < 0, 0, s), 2: np.where(s > 6, 6, np.where(s < 0, 0, s))}.get(act, s)
    np.testing.assert_array_equal(out[64 : 64 + n], want.astype(dtype))  # NaN stays NaN in its lane
