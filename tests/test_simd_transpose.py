"""The SIMD transposed convolution (``_backends/cpu/transpose.py``) and the zip intrinsics it writes with.

* ``vzip_lo`` / ``vzip_hi`` against NumPy, float32 and float64;
* ``conv_transpose2d_direct`` against torch on configurations that reach every branch of it (planes read
  in place or padded, stride 1 x 1, column stride 1 (under row stride 2), 2 and 3, phases without taps, partial o-tiles, planes smaller
  than a block, groups, dilation, output_padding), and on impulses placed by hand;
* the dispatch: floats take the SIMD path; a padded layer with an inf weight, integers and the image
  split take the scatter kernel or several calls, and stay right;
* subprocesses that force an AVX2 target (results, 256-bit vectors) and a portable one (the scatter kernel).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close
from naive import conv_transpose as oracle
from numba import njit
from test_simd import HASWELL_FEATURES, PORTABLE_FEATURES, _run

import fastconv as fc
from fastconv._backends.cpu import conv, simd, transpose
from fastconv._backends.cpu.simd import vload, vstore
from fastconv._backends.cpu.simd_ext import vzip_hi, vzip_lo

DTYPES = [np.float32, np.float64]
needs_simd = pytest.mark.skipif(simd.VECTOR_BITS is None, reason="numba's target has no AVX2/AVX-512")


@njit(cache=False)
def _zips(a, b, out):
    x, y = vload(a, 0), vload(b, 0)
    vstore(out, 0, vzip_lo(x, y))
    vstore(out, a.shape[0], vzip_hi(x, y))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zip_intrinsics(dtype):
    n = simd.lanes(dtype) or 16 // np.dtype(dtype).itemsize
    a = np.arange(n, dtype=dtype)
    b = -1 - np.arange(n, dtype=dtype)
    out = np.empty(2 * n, dtype)
    _zips(a, b, out)
    np.testing.assert_array_equal(out, np.stack([a, b], axis=1).reshape(-1))


# (N, C_in, C_out, H, W, kernel, stride, padding, output_padding, dilation, groups)
CONFIGS = [
    (1, 128, 64, 28, 28, (2, 2), (2, 2), (0, 0), (0, 0), (1, 1), 1),  # U-Net: four 1x1 phases, read in place
    (1, 64, 32, 20, 22, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), 1),  # DCGAN: 2x2 taps a phase, padded planes
    (2, 16, 24, 9, 11, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1),  # phases of 2x2, 2x1, 1x2, 1x1 taps
    (1, 8, 10, 7, 9, (3, 3), (1, 1), (1, 1), (0, 0), (1, 1), 1),  # stride 1: one phase, column copies
    (1, 6, 9, 6, 7, (3, 4), (3, 3), (2, 1), (2, 1), (2, 1), 3),  # stride 3: lane-by-lane writes, groups
    (2, 6, 10, 5, 6, (1, 1), (3, 2), (0, 0), (2, 1), (1, 1), 2),  # kernel under the stride: phases with no tap
    (1, 5, 7, 11, 13, (5, 3), (2, 3), (4, 2), (1, 0), (3, 1), 1),  # dilation and padding over the kernel's reach
    (1, 3, 13, 2, 3, (2, 3), (2, 2), (0, 1), (1, 0), (1, 2), 1),  # a plane smaller than one block
    (3, 4, 6, 1, 1, (3, 3), (2, 2), (0, 0), (0, 0), (1, 1), 2),  # 1x1 images
    (1, 12, 18, 10, 3, (2, 2), (1, 2), (0, 0), (0, 1), (2, 1), 3),  # partial o-tiles in every group
    (1, 4, 6, 5, 7, (3, 2), (2, 1), (1, 0), (1, 0), (1, 1), 1),  # row phases over one column phase
]


def _case(cfg, dtype, seed=0):
    n, cin, cout, h, w, k, s, p, op, d, g = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w)).astype(dtype)
    wt = rng.standard_normal((cin, cout // g, *k)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    return x, wt, b, dict(stride=s, padding=p, output_padding=op, dilation=d, groups=g)


def _direct(x, w, b, kw):
    sizes = [(i - 1) * s - 2 * p + d * (kk - 1) + op + 1 for i, kk, s, p, d, op in
             zip(x.shape[2:], w.shape[2:], kw["stride"], kw["padding"], kw["dilation"], kw["output_padding"])]
    out = np.empty((x.shape[0], w.shape[1] * kw["groups"], *sizes), x.dtype)
    return transpose.conv_transpose2d_direct(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"], out)


def _check(cfg, dtype, seed=0):
    x, w, b, kw = _case(cfg, dtype, seed)
    out = _direct(x, w, b, kw)
    assert out is not None
    bound = oracle(np.abs(x), np.abs(w), np.abs(b), dtype=np.float64, **kw)
    assert_close(out, oracle(x, w, b, dtype=np.float64, **kw), dtype=dtype, bound=bound)
    np.testing.assert_array_equal(fc.conv_transpose2d(x, w, b, **kw, backend="cpu"), out)


@needs_simd
@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_transposed_matches_torch(cfg, dtype):
    _check(cfg, dtype)


@needs_simd
@pytest.mark.parametrize("cfg", CONFIGS)
def test_transposed_impulses(cfg):
    # one input value 1 at a time: each output is bias + the weight tap that lands on it, placed by hand
    _, w, b, kw = _case(cfg, np.float64)
    n, cin, _, h, wd = cfg[:5]
    (sh, sw), (ph, pw), (dh, dw), g = kw["stride"], kw["padding"], kw["dilation"], kw["groups"]
    og, (kh, kwd) = w.shape[1], w.shape[2:]
    rng = np.random.default_rng(1)
    for _ in range(3):
        c, ih, iw = rng.integers(cin), rng.integers(h), rng.integers(wd)
        x = np.zeros((1, cin, h, wd))
        x[0, c, ih, iw] = 1.0
        out = _direct(x, w, b, kw)
        want = np.broadcast_to(b[None, :, None, None], out.shape).copy()
        for ol in range(og):
            for u in range(kh):
                for v in range(kwd):
                    oh, ow = ih * sh - ph + u * dh, iw * sw - pw + v * dw
                    if 0 <= oh < out.shape[2] and 0 <= ow < out.shape[3]:
                        want[0, (c // (cin // g)) * og + ol, oh, ow] += w[c, ol, u, v]
        np.testing.assert_array_equal(out, want)


@needs_simd
def test_floats_take_the_simd_path_and_inf_weights_of_padded_planes_the_scatter_kernel(monkeypatch):
    scatter = []
    kernel = conv._conv_transpose2d_kernel
    monkeypatch.setattr(conv, "_conv_transpose2d_kernel", lambda *a: scatter.append(1) or kernel(*a))
    for cfg in (CONFIGS[0], CONFIGS[2]):
        x, w, b, kw = _case(cfg, np.float32)
        fc.conv_transpose2d(x, w, b, **kw, backend="cpu")
    assert not scatter
    x, w, b, kw = _case(CONFIGS[2], np.float32)  # padded planes: 0 * inf must not reach the outputs
    w[1, 2, 0, 1] = np.inf
    assert _direct(x, w, b, kw) is None
    out = fc.conv_transpose2d(x, w, b, **kw, backend="cpu")
    assert scatter
    assert_close(out, oracle(x, w, b, dtype=np.float64, **kw), dtype=np.float32, bound=oracle(np.abs(x), np.abs(w), np.abs(b), dtype=np.float64, **kw))
    x, w, b, kw = _case(CONFIGS[0], np.float32)  # read in place: every product is a real one, inf and all
    w[3, 5, 1, 0] = np.inf
    out = _direct(x, w, b, kw)
    assert out is not None
    assert_close(out, oracle(x, w, b, dtype=np.float64, **kw), dtype=np.float32, bound=oracle(np.abs(x), np.abs(w), np.abs(b), dtype=np.float64, **kw))


@needs_simd
def test_images_split_by_the_workspace(monkeypatch):
    monkeypatch.setattr(conv, "DIRECT_WORKSPACE_BYTES", 1)  # one image per call
    cfg = (3, *CONFIGS[2][1:])
    x, w, b, kw = _case(cfg, np.float64)
    out = fc.conv_transpose2d(x, w, b, **kw, backend="cpu")
    assert_close(out, oracle(x, w, b, dtype=np.float64, **kw), dtype=np.float64, bound=oracle(np.abs(x), np.abs(w), np.abs(b), dtype=np.float64, **kw))


# --- other targets, in subprocesses ---------------------------------------------------------


@pytest.mark.skipif(not simd.VECTOR_BITS, reason="needs an x86 host with AVX2 to run an AVX2 target")
def test_forced_avx2_target():
    out = _run(
        {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": HASWELL_FEATURES},
        """
        import numpy as np
        from fastconv._backends.cpu import simd, transpose
        import test_simd_transpose as t
        assert simd.VECTOR_BITS == 256 and simd.lanes(np.float32) == 8
        t.test_zip_intrinsics(np.float32)
        for cfg in t.CONFIGS[:3] + t.CONFIGS[4:5] + t.CONFIGS[7:]:
            t._check(cfg, np.float32)
        t._check(t.CONFIGS[1], np.float64)
        assert transpose.kernel_module(np.float32).N == 8
        print("ok")
        """,
    )
    assert "ok" in out


def test_forced_portable_target():
    out = _run(
        {"NUMBA_CPU_NAME": "x86-64", "NUMBA_CPU_FEATURES": PORTABLE_FEATURES},
        """
        import numpy as np
        import fastconv as fc
        from fastconv._backends.cpu import direct, simd
        from conftest import assert_close
        from naive import conv_transpose as oracle
        import test_simd_transpose as t
        assert simd.VECTOR_BITS is None and not direct.supported(np.float32)
        x, w, b, kw = t._case(t.CONFIGS[2], np.float32)
        bound = oracle(np.abs(x), np.abs(w), np.abs(b), dtype=np.float64, **kw)
        assert_close(fc.conv_transpose2d(x, w, b, **kw, backend="cpu"), oracle(x, w, b, dtype=np.float64, **kw), dtype=np.float32, bound=bound)
        print("ok")
        """,
    )
    assert "ok" in out
