"""The SIMD band kernels (``_backends/cpu/bands.py``): depthwise conv2d and pooling against torch.

* ``depthwise.conv2d_depthwise`` against ``F.conv2d(groups=C)`` on random valid configurations (kernel sizes,
  strides 1/2, dilation, the four padding modes, activations), float32 and float64, several bands per plane, and
  small planes with the lanes across channels (``vtranspose`` against NumPy);
* ``pool_simd.max_pool2d`` (values and indices, NaN / inf exact), ``avg_pool2d`` and ``global_avg_pool2d``;
* a subprocess forcing an AVX2 target; the micro-kernels' assembly (target-width vector ops, no stack operands).
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

from fastconv._backends.cpu import simd
from fastconv._backends.cpu.simd_ext import vtranspose

torch = pytest.importorskip("torch")
from fastconv._backends.cpu import bands, depthwise, pool_simd  # noqa: E402

F = torch.nn.functional
needs_simd = pytest.mark.skipif(simd.VECTOR_BITS is None, reason="numba's target has no AVX2/AVX-512")
TORCH_MODE = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}
SRC = str(Path(__file__).resolve().parents[1] / "src")


# --- depthwise ---------------------------------------------------------------------


def dw_config(rng):
    while True:
        kh = int(rng.choice([1, 3, 3, 5, 7]))
        kw = kh if rng.random() < 0.8 else int(rng.choice([1, 3, 5]))
        stride = (int(rng.choice([1, 2])), int(rng.choice([1, 2]))) if rng.random() < 0.3 else (int(rng.choice([1, 2])),) * 2
        dilation = (int(rng.choice([1, 2])), int(rng.choice([1, 2]))) if rng.random() < 0.3 else (1, 1)
        h = int(rng.choice([1, 2, 5, 7, 9, 14, 17, 28, 33]))
        wd = h if rng.random() < 0.7 else int(rng.integers(1, 40))
        boundary = str(rng.choice(["constant", "constant", "reflect", "edge", "wrap"]))
        lim_h, lim_w = (h - 1, wd - 1) if boundary == "reflect" else (h, wd) if boundary == "wrap" else (4, 4)
        pads = tuple(int(rng.integers(0, max(0, min(lim, 3)) + 1)) for lim in (lim_h, lim_h, lim_w, lim_w))
        ho = (h + pads[0] + pads[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        wo = (wd + pads[2] + pads[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        if ho >= 1 and wo >= 1:
            return dict(n=int(rng.choice([1, 2])), c=int(rng.choice([1, 3, 8, 17])), h=h, w=wd, kh=kh, kw=kw, stride=stride,
                        dilation=dilation, pads=pads, boundary=boundary, bias=bool(rng.random() < 0.7),
                        act=int(rng.choice([0, 1, 2, 0, 3, 4, 5, 6])) if rng.random() < 0.5 else 0)


def _torch_dw(x, w, bias, cfg, absolute=False):
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    bt = None if bias is None else torch.from_numpy(bias)
    if absolute:
        xt, wt, bt = xt.abs(), wt.abs(), None if bt is None else bt.abs()
    top, bottom, left, right = cfg["pads"]
    xt = F.pad(xt, (left, right, top, bottom), mode=TORCH_MODE[cfg["boundary"]])
    y = F.conv2d(xt, wt, bt, cfg["stride"], 0, cfg["dilation"], x.shape[1])
    if not absolute:
        y = [y, F.relu(y), F.relu6(y), F.silu(y), F.gelu(y), F.hardswish(y), F.hardsigmoid(y)][cfg["act"]]
    return y.numpy()


def check_dw(cfg, dtype, rtol, seed=0, band_bytes=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(dtype)
    w = rng.standard_normal((cfg["c"], 1, cfg["kh"], cfg["kw"])).astype(dtype)
    bias = rng.standard_normal(cfg["c"]).astype(dtype) if cfg["bias"] else None
    ref = _torch_dw(x, w, bias, cfg)
    scale = _torch_dw(x, w, bias, cfg, absolute=True)  # the sum of |terms|
    out = np.full(ref.shape, np.nan, dtype)
    args = (cfg["stride"], cfg["pads"], cfg["dilation"], cfg["boundary"], cfg["act"], out)
    assert depthwise.conv2d_depthwise(x, w, bias, *args, band_bytes=band_bytes) is out
    err = np.abs(out - ref)
    bad = ~(err <= rtol * (scale + 1))
    assert not bad.any(), f"{cfg}: {bad.sum()} wrong, worst {err.max()}"


DW_CONFIGS = [dw_config(np.random.default_rng(seed)) for seed in range(36)]
DW_FIXED = [  # network shapes, small: 3x3 s1 / s2, 5x5, 7x7, relu6
    dict(n=1, c=4, h=56, w=56, kh=3, kw=3, stride=(1, 1), dilation=(1, 1), pads=(1, 1, 1, 1), boundary="constant", bias=True, act=2),
    dict(n=2, c=3, h=112, w=112, kh=3, kw=3, stride=(2, 2), dilation=(1, 1), pads=(1, 1, 1, 1), boundary="constant", bias=True, act=2),
    dict(n=1, c=5, h=7, w=7, kh=3, kw=3, stride=(1, 1), dilation=(1, 1), pads=(1, 1, 1, 1), boundary="constant", bias=False, act=0),
    dict(n=1, c=3, h=14, w=14, kh=5, kw=5, stride=(2, 2), dilation=(1, 1), pads=(2, 2, 2, 2), boundary="reflect", bias=True, act=1),
    dict(n=1, c=2, h=28, w=28, kh=7, kw=7, stride=(1, 1), dilation=(1, 1), pads=(3, 3, 3, 3), boundary="edge", bias=True, act=0),
]

DW_CHANNELS = [  # output planes up to depthwise.CHANNEL_PLANE: the lanes across channels, several channel blocks
    dict(n=2, c=70, h=7, w=7, kh=3, kw=3, stride=(1, 1), dilation=(1, 1), pads=(1, 1, 1, 1), boundary="constant", bias=True, act=2),
    dict(n=1, c=160, h=14, w=14, kh=5, kw=5, stride=(2, 2), dilation=(1, 1), pads=(2, 2, 2, 2), boundary="constant", bias=True, act=5),
    dict(n=1, c=33, h=8, w=8, kh=3, kw=3, stride=(1, 1), dilation=(2, 2), pads=(2, 2, 2, 2), boundary="constant", bias=False, act=1),
    dict(n=3, c=48, h=4, w=6, kh=3, kw=1, stride=(1, 2), dilation=(1, 1), pads=(0, 2, 1, 0), boundary="constant", bias=True, act=0),
]


def _dw_id(c):
    return f"{c['n']}x{c['c']}x{c['h']}x{c['w']}-k{c['kh']}x{c['kw']}s{c['stride']}d{c['dilation']}p{c['pads']}{c['boundary']}a{c['act']}"


@needs_simd
@pytest.mark.parametrize("cfg", DW_CONFIGS + DW_FIXED, ids=_dw_id)
def test_depthwise_float32(cfg):
    check_dw(cfg, np.float32, 1e-5)


@needs_simd
@pytest.mark.parametrize("cfg", DW_CONFIGS[::4] + DW_FIXED[:2], ids=_dw_id)
def test_depthwise_float64(cfg):
    check_dw(cfg, np.float64, 1e-12)


@needs_simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", DW_CHANNELS, ids=_dw_id)
def test_depthwise_across_channels(cfg, dtype):
    """Small output planes run depthwise_channels_job: every full and partial N x N transpose block, a last channel
    block of fewer channels, stride, dilation, uneven padding and activations, against torch."""
    ho = (cfg["h"] + cfg["pads"][0] + cfg["pads"][1] - cfg["dilation"][0] * (cfg["kh"] - 1) - 1) // cfg["stride"][0] + 1
    wo = (cfg["w"] + cfg["pads"][2] + cfg["pads"][3] - cfg["dilation"][1] * (cfg["kw"] - 1) - 1) // cfg["stride"][1] + 1
    assert ho * wo <= depthwise.CHANNEL_PLANE
    check_dw(cfg, dtype, 1e-5 if dtype == np.float32 else 1e-12)


@njit(cache=False)
def _transpose(src, so, ss, dst, do, ds):
    vtranspose(src, so, ss, dst, do, ds)


@needs_simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vtranspose(dtype):
    """dst[do + j*ds + i] = src[so + i*ss + j] for i, j < N, nothing else written, against NumPy."""
    n = simd.lanes(dtype)
    src = np.random.default_rng(0).standard_normal(3 + 40 * n).astype(dtype)
    dst = np.full(5 + 30 * n + n, np.nan, dtype)
    _transpose(src, 3, 40, dst, 5, 30)
    block = np.lib.stride_tricks.as_strided(src[3:], (n, n), (40 * src.itemsize, src.itemsize))
    written = np.lib.stride_tricks.as_strided(dst[5:], (n, n), (30 * dst.itemsize, dst.itemsize))
    np.testing.assert_array_equal(written, block.T)
    assert np.isnan(dst).sum() == dst.size - n * n


@needs_simd
@pytest.mark.parametrize("band_bytes", [1, 2000])
def test_depthwise_bands(band_bytes):
    """Several bands per plane (down to one output row each), the last one shorter."""
    for cfg in DW_FIXED[:2] + DW_CONFIGS[:4]:
        check_dw(cfg, np.float32, 1e-5, band_bytes=band_bytes)


@needs_simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_rows_either_side_of_the_pair_kernel(dtype):
    """Stride 1 runs the two-row kernel on output rows of two vectors or more, the flat kernel on shorter ones."""
    n = simd.lanes(dtype)
    for wd in (2 * n - 1, 2 * n):
        cfg = dict(n=1, c=3, h=9, w=wd, kh=3, kw=3, stride=(1, 1), dilation=(1, 1), pads=(1, 1, 1, 1),
                   boundary="constant", bias=True, act=1)
        check_dw(cfg, dtype, 1e-5 if dtype == np.float32 else 1e-12)


@needs_simd
def test_depthwise_impulse():
    """Hand-computed: a single 1 gives the flipped kernel around it, plus the bias."""
    x = np.zeros((1, 2, 5, 6), np.float32)
    x[0, 1, 2, 3] = 1
    w = np.arange(2 * 9, dtype=np.float32).reshape(2, 1, 3, 3)
    bias = np.array([10, -100], np.float32)
    out = np.empty((1, 2, 5, 6), np.float32)
    depthwise.conv2d_depthwise(x, w, bias, (1, 1), (1, 1, 1, 1), (1, 1), "constant", 0, out)
    expect = np.empty_like(out)
    expect[0] = bias[:, None, None]
    for u in range(3):
        for v in range(3):
            expect[0, 1, 3 - u, 4 - v] += w[1, 0, u, v]
    np.testing.assert_array_equal(out, expect)


# --- pooling ----------------------------------------------------------------------------


def pool_config(rng, dilate=True):
    while True:
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        if rng.random() < 0.5:
            kw = kh
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        if rng.random() < 0.5:
            sh, sw = 2, 2
        dh, dw = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilate and rng.random() < 0.3 else (1, 1)
        ph, pw = int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))
        h, wd = int(rng.integers(1, 30)), int(rng.integers(1, 40))
        ceil = bool(rng.random() < 0.4)
        try:
            F.max_pool2d(torch.zeros(1, 1, h, wd), (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil)
        except RuntimeError:
            continue
        return dict(n=int(rng.choice([1, 2])), c=int(rng.choice([1, 3, 5])), h=h, w=wd, kernel=(kh, kw), stride=(sh, sw),
                    padding=(ph, pw), dilation=(dh, dw), ceil=ceil)


def _pool_id(c):
    return f"{c['n']}x{c['c']}x{c['h']}x{c['w']}-k{c['kernel']}s{c['stride']}p{c['padding']}d{c['dilation']}{'c' if c['ceil'] else ''}"


POOL_CONFIGS = [pool_config(np.random.default_rng(100 + seed)) for seed in range(30)]
POOL_FIXED = [
    dict(n=1, c=3, h=112, w=112, kernel=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), ceil=False),
    dict(n=2, c=2, h=56, w=56, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil=False),
    dict(n=1, c=2, h=15, w=15, kernel=(3, 3), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil=True),
]


def _pool_input(cfg, dtype, seed, specials):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(dtype)
    if specials:
        x[rng.random(x.shape) < 0.05] = np.nan
        x[rng.random(x.shape) < 0.05] = np.inf
        x[rng.random(x.shape) < 0.15] = -np.inf
        x[rng.random(x.shape) < 0.2] = 0.5  # ties
        if x.size > 4:
            x[0, 0, : min(3, cfg["h"])] = -np.inf  # whole windows of -inf at the border
    return x


def check_max(cfg, dtype, seed=0, specials=False):
    x = _pool_input(cfg, dtype, seed, specials)
    args = (cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"])
    rv, ri = F.max_pool2d(torch.from_numpy(x), *args, cfg["ceil"], return_indices=True)
    out = np.full(rv.shape, 7, dtype)
    pool_simd.max_pool2d(x, *args, rv.shape[2:], out)
    np.testing.assert_array_equal(out, rv.numpy(), err_msg=str(cfg))  # NaN positions included
    out[:] = 7
    idx = np.full(rv.shape, -5, np.int64)
    assert pool_simd.supports_indices(x.shape, cfg["kernel"], cfg["padding"], cfg["dilation"], dtype)
    pool_simd.max_pool2d(x, *args, rv.shape[2:], out, idx)
    np.testing.assert_array_equal(out, rv.numpy(), err_msg=str(cfg))
    np.testing.assert_array_equal(idx, ri.numpy(), err_msg=str(cfg))


@needs_simd
@pytest.mark.parametrize("cfg", POOL_CONFIGS + POOL_FIXED, ids=_pool_id)
def test_max_pool_float32(cfg):
    check_max(cfg, np.float32)
    check_max(cfg, np.float32, seed=1, specials=True)


@needs_simd
@pytest.mark.parametrize("cfg", POOL_CONFIGS[::5] + POOL_FIXED[:1], ids=_pool_id)
def test_max_pool_float64(cfg):
    check_max(cfg, np.float64, specials=True)


def check_avg(cfg, dtype, rtol, include_pad, override):
    x = _pool_input(cfg, dtype, 3, False)
    args = (cfg["kernel"], cfg["stride"], cfg["padding"])
    ref = F.avg_pool2d(torch.from_numpy(x), *args, cfg["ceil"], include_pad, override).numpy()
    scale = F.avg_pool2d(torch.from_numpy(np.abs(x)), *args, cfg["ceil"], include_pad, override).numpy()
    out = np.full(ref.shape, np.nan, dtype)
    pool_simd.avg_pool2d(x, *args, ref.shape[2:], include_pad, override, out)
    err = np.abs(out - ref)
    assert (err <= rtol * (scale + 1)).all(), f"{cfg}: worst {err.max()}"


AVG_CONFIGS = [dict(pool_config(np.random.default_rng(200 + seed), dilate=False)) for seed in range(20)]


@needs_simd
@pytest.mark.parametrize("cfg", AVG_CONFIGS + POOL_FIXED, ids=_pool_id)
def test_avg_pool_float32(cfg):
    for include_pad, override in ((True, None), (False, None), (True, 3)):
        check_avg(cfg, np.float32, 1e-5, include_pad, override)


@needs_simd
@pytest.mark.parametrize("cfg", AVG_CONFIGS[::5] + POOL_FIXED[1:2], ids=_pool_id)
def test_avg_pool_float64(cfg):
    check_avg(cfg, np.float64, 1e-12, False, None)


@needs_simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# 111 and 80 planes: whole vectors of planes (the folded sums) and a remainder; 7x8 = 56 > 4 vectors of float64;
# 12x11 = 132 > 8 vectors of float32: the two-plane loop; 4x4 and 8x4 = whole vectors of folded planes, no tail
@pytest.mark.parametrize("shape", [(2, 3, 7, 7), (1, 5, 1, 1), (2, 2, 3, 5), (1, 4, 56, 57), (3, 1, 4, 4), (3, 37, 7, 7),
                                   (2, 40, 3, 3), (1, 80, 7, 8), (1, 33, 12, 11), (2, 17, 4, 4), (1, 35, 8, 4)])
def test_global_avg_pool(shape, dtype):
    x = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    ref = F.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy()
    out = np.full(ref.shape, np.nan, dtype)
    pool_simd.global_avg_pool2d(x, out)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    scale = np.abs(x).mean(axis=(2, 3), keepdims=True)
    assert (np.abs(out - ref) <= rtol * (scale + 1)).all()


@needs_simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_avg_pool_nan_and_inf_stay_in_their_plane(dtype):
    x = np.ones((2, 40, 7, 7), dtype)
    x[0, 3, 2, 5], x[1, 17, 6, 6], x[1, 30, 0, 0] = np.nan, np.inf, -np.inf
    out = np.zeros((2, 40, 1, 1), dtype)
    pool_simd.global_avg_pool2d(x, out)
    ref = F.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy()
    # the means are sums times 1/L, so finite planes may differ from torch's sum/L in the last bit
    np.testing.assert_allclose(out, ref, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert np.isnan(out).sum() == 1 and np.isnan(out[0, 3, 0, 0])
    assert out[1, 17, 0, 0] == np.inf and out[1, 30, 0, 0] == -np.inf and np.isfinite(out).sum() == out.size - 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.float16])
def test_supported(dtype):
    expect = simd.VECTOR_BITS is not None and dtype in (np.float32, np.float64)
    assert depthwise.supported(dtype) == expect and pool_simd.supported(dtype) == expect


def test_generated_files_carry_the_hashes():
    if simd.VECTOR_BITS is None:
        pytest.skip("no SIMD target")
    from fastconv._backends.cpu import simd_ext

    name = Path(bands.kernel_module(np.float32).__file__).name
    assert simd.SOURCE_HASH in name and simd_ext.SOURCE_HASH in name and bands.GEN_HASH in name
    # the helpers and activations they link in from common.py and _calls.py (numba's cache checks one file)
    from fastconv._backends.cpu import common, photo

    assert common.SOURCE_HASH in photo.kernels().__name__


# --- the micro-kernels' assembly ------------------------------------------------------------------


def asm_report(dtype, kind):
    """The hot loop of micro-kernel ``kind`` ("dw", "dw_pair", "max", "avg"): counts of its vector ops and stack operands."""
    import numba
    from numba import types

    mod = bands.kernel_module(dtype)
    pt = bands.PT[simd.VECTOR_BITS][kind]
    fn = getattr(mod, "uk_dw_pair" if kind == "dw_pair" else f"uk_{kind}{pt}")
    a = types.Array(numba.from_dtype(np.dtype(dtype)), 1, "C")
    ia, i, f = types.Array(types.int64, 1, "C"), types.int64, numba.from_dtype(np.dtype(dtype))
    sig = {"dw": (a, i, ia, a, i, a, i, f, i), "dw_pair": (a, i, ia, i, i, a, i, a, i, i, f, i), "max": (a, i, ia, a, i), "avg": (a, i, ia, a, i, a, i)}[kind]
    fresh = numba.njit(fastmath=mod.FM, boundscheck=False, nogil=True, inline="never", cache=False)(fn.py_func)
    fresh.compile(sig)
    reg = {512: "zmm", 256: "ymm"}[simd.VECTOR_BITS]
    suffix = "ps" if np.dtype(dtype) == np.float32 else "pd"
    op = {"dw": "vfmadd", "dw_pair": "vfmadd", "max": "vcmp", "avg": "vadd"}[kind]
    blocks = [b[: next((k + 1 for k, x in enumerate(b) if x.startswith("j")), len(b))] for b in asm_blocks(fresh.inspect_asm(sig))]
    loop = max(blocks, key=lambda b: sum(x.startswith(op) for x in b))  # a block up to its jump
    return dict(
        ops=sum(bool(re.match(rf"{op}\w*{suffix}\s.*%{reg}", x)) for x in loop),
        narrow=sum(x.startswith(op) and f"%{reg}" not in x for x in loop),
        blends=sum(bool(re.match(rf"vmova{suffix}\s.*%{reg}\w* \{{%k", x) or x.startswith("vblend")) for x in loop),
        stack=sum("(%rsp)" in x for x in loop),
        pt=pt,
        size=len(loop),
    )


@needs_simd
@pytest.mark.parametrize("kind", ["dw", "dw_pair", "max", "avg"])
def test_microkernel_assembly(kind):
    r = asm_report(np.float32, kind)
    per_tap = 2 * r["pt"] if kind == "max" else r["pt"]  # max: an ordered compare and an unordered one per vector
    assert r["ops"] >= per_tap and r["ops"] % per_tap == 0, r
    assert r["narrow"] == 0 and r["stack"] == 0, r
    if kind == "max":
        assert r["blends"] >= r["pt"], r  # the select is a masked move


# --- an AVX2 target, in a subprocess -------------------------------------------------------------

HASWELL_FEATURES = "+sse,+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt,+movbe,+xsave,-avx512f"


@pytest.mark.skipif(not simd.VECTOR_BITS, reason="needs an x86 host with AVX2 to run an AVX2 target")
def test_forced_avx2_target():
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES=HASWELL_FEATURES)
    code = """
        import numpy as np
        from fastconv._backends.cpu import simd
        import test_simd_dw_pool as t
        assert simd.VECTOR_BITS == 256 and simd.lanes(np.float32) == 8
        for cfg in t.DW_FIXED[:3] + t.DW_CONFIGS[:5] + t.DW_CHANNELS:
            t.check_dw(cfg, np.float32, 1e-5)
        for cfg in t.POOL_FIXED[:1] + t.POOL_CONFIGS[:5]:
            t.check_max(cfg, np.float32, specials=True)
        for cfg in t.POOL_FIXED[1:2] + t.AVG_CONFIGS[:3]:
            t.check_avg(cfg, np.float32, 1e-5, False, None)
        for kind in ("dw", "dw_pair", "max"):
            r = t.asm_report(np.float32, kind)
            assert r["ops"] >= r["pt"] and r["narrow"] == 0 and r["stack"] == 0, (kind, r)
        print("ok")
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=str(Path(__file__).resolve().parent),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr
