"""Oracle checks of every operation on backend="cuda", in the CUDA simulator, with tiny shapes."""

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
import torch
import torch.nn.functional as F

import fastconv as fc
from fastconv._backends.cuda import common as cuda_settings

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
rng = np.random.default_rng(5)


def data(shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def same(got, want, dtype=None):
    assert isinstance(got, np.ndarray) and got.dtype == want.dtype and got.shape == want.shape
    if dtype is None:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, equal_nan=True, **TOL[dtype])


CONV_CASES = {
    "dense": dict(o=3, c=2, groups=1, stride=1, padding=1, dilation=1),
    "grouped-strided-dilated": dict(o=6, c=4, groups=2, stride=(2, 1), padding=(2, 1), dilation=(1, 2)),
    "depthwise": dict(o=4, c=2, groups=2, stride=1, padding="same", dilation=1),
    "partial-channel-stages": dict(o=5, c=5, groups=1, stride=1, padding=(0, 2), dilation=1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(case, dtype):
    p = CONV_CASES[case]
    x, w, b = data((2, p["c"], 7, 9), dtype), data((p["o"], p["c"] // p["groups"], 3, 2), dtype), data(p["o"], dtype)
    args = dict(stride=p["stride"], padding=p["padding"], dilation=p["dilation"], groups=p["groups"])
    want = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **args).numpy()
    same(fc.conv2d(x, w, b, **args, backend="cuda"), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv2d_padding_modes_match_torch(mode, dtype):
    x, w = data((1, 2, 5, 6), dtype), data((3, 2, 3, 3), dtype)
    padded = F.pad(torch.from_numpy(x), (2, 2, 1, 1), mode=mode)
    want = F.conv2d(padded, torch.from_numpy(w)).numpy()
    same(fc.conv2d(x, w, padding=(1, 2), padding_mode=mode, backend="cuda"), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_direct_kernel_for_patches_too_big_for_shared_memory(monkeypatch, dtype):
    monkeypatch.setattr(cuda_settings, "SHARED_BYTES", 0)
    x, w = data((1, 4, 6, 5), dtype), data((4, 2, 2, 3), dtype)
    want = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1, groups=2).numpy()
    same(fc.conv2d(x, w, padding=1, groups=2, backend="cuda"), want, dtype)


def test_conv1d_and_integer_conv_are_exact():
    x, w = rng.integers(-9, 9, (1, 2, 11)), rng.integers(-9, 9, (2, 2, 3))
    want = F.conv1d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    same(fc.conv1d(x, w, padding=1, backend="cuda"), want)
    xi = rng.integers(0, 255, (2, 5, 6), dtype=np.uint8)
    same(fc.convolve2d(xi[0], xi[1, :2, :3], backend="cuda"), scipy.signal.convolve2d(xi[0].astype(np.int64), xi[1, :2, :3]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "boundary, ndimage_mode", [("fill", "constant"), ("wrap", "wrap"), ("symm", "reflect"), ("reflect", "mirror"), ("nearest", "nearest")]
)
def test_filter2d_matches_ndimage(boundary, ndimage_mode, dtype):
    image, kernel = data((2, 6, 7), dtype), data((3, 4), dtype)
    want = np.stack([
        scipy.ndimage.correlate(p, kernel, mode=ndimage_mode, cval=1.5) for p in image
    ])
    same(fc.filter2d(image, kernel, boundary=boundary, fillvalue=1.5, backend="cuda"), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_convolve2d_and_correlate2d_match_scipy(mode, boundary, dtype):
    a, b = data((5, 6), dtype), data((2, 3), dtype)
    for ours, theirs in ((fc.convolve2d, scipy.signal.convolve2d), (fc.correlate2d, scipy.signal.correlate2d)):
        same(ours(a, b, mode, boundary, 0.5, backend="cuda"), theirs(a, b, mode, boundary, 0.5), dtype)
    same(fc.correlate2d(b, a, "valid", backend="cuda"), scipy.signal.correlate2d(b, a, "valid"), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_matches_numpy(mode, dtype):
    a, v = data(9, dtype), data(4, dtype)
    same(fc.convolve(a, v, mode, backend="cuda"), np.convolve(a, v, mode), dtype)


def _pool_input(dtype):
    x = data((2, 2, 7, 8), dtype)
    x[0, 0, 1, 1] = np.nan  # NaN wins its windows
    x[0, 0, 2, 2] = np.nan
    x[0, 1, :3, :3] = -np.inf  # an all -inf window
    x[1, 0, 4:6, 4:6] = 3.0  # ties: the first wins
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True)])
def test_max_pool2d_and_indices_match_torch(args, dtype):
    x = _pool_input(dtype)
    want = F.max_pool2d(torch.from_numpy(x), **args, return_indices=True)
    got = fc.max_pool2d(x, **args, return_indices=True, backend="cuda")
    same(got[0], want[0].numpy(), dtype)
    same(got[1], want[1].numpy())


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.bool_])
def test_max_pool2d_keeps_integer_and_bool_dtypes(dtype):
    x = rng.integers(0, 3, (1, 2, 5, 5)).astype(dtype)
    for got, want in zip(fc.max_pool2d(x, 2, 1, 1, return_indices=True, backend="cuda"),
                         fc.max_pool2d(x, 2, 1, 1, return_indices=True, backend="numpy")):
        same(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(3, 2), stride=1, padding=1, divisor_override=5),
])
def test_avg_pool2d_matches_torch(args, dtype):
    x = data((2, 2, 7, 8), dtype)
    same(fc.avg_pool2d(x, **args, backend="cuda"), F.avg_pool2d(torch.from_numpy(x), **args).numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [(3, 4), (5, 2)])
def test_adaptive_pools_match_torch(size, dtype):
    x = _pool_input(dtype)
    same(fc.adaptive_avg_pool2d(x, size, backend="cuda"), F.adaptive_avg_pool2d(torch.from_numpy(x), size).numpy(), dtype)
    want = F.adaptive_max_pool2d(torch.from_numpy(x), size, return_indices=True)
    got = fc.adaptive_max_pool2d(x, size, return_indices=True, backend="cuda")
    same(got[0], want[0].numpy(), dtype)
    same(got[1], want[1].numpy())


def test_unbatched_non_contiguous_and_empty_inputs():
    x = data((3, 8, 9), np.float64)[:, ::2, ::-1]
    w = data((2, 3, 2, 2), np.float64)
    same(fc.conv2d(x, w, backend="cuda"), fc.conv2d(x, w, backend="numpy"), np.float64)
    same(fc.conv2d(np.zeros((0, 3, 4, 4)), w, backend="cuda"), np.zeros((0, 2, 3, 3)))
    same(fc.max_pool2d(x, 2, backend="cuda"), fc.max_pool2d(x, 2, backend="numpy"))


ACTIVATIONS = {"relu": F.relu, "relu6": F.relu6, "silu": F.silu, "gelu": F.gelu, "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid}


@pytest.mark.parametrize("kernel", ["tiled", "direct"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_conv2d_fused_activation_matches_torch(monkeypatch, kernel, activation):
    if kernel == "direct":
        monkeypatch.setattr(cuda_settings, "SHARED_BYTES", 0)
    x, w, b = data((1, 2, 4, 5), np.float64) * 3, data((4, 2, 2, 2), np.float64), data(4, np.float64)
    x[0, 0, 0, 0] = np.nan
    want = ACTIVATIONS[activation](F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), padding=1)).numpy()
    same(fc.conv2d(x, w, b, padding=1, activation=activation, backend="cuda"), want, np.float64)
    xi, wi = rng.integers(-9, 9, (1, 2, 4, 4)), rng.integers(-3, 3, (3, 2, 2, 2))
    if activation in ("relu", "relu6"):
        want = ACTIVATIONS[activation](F.conv2d(torch.from_numpy(xi), torch.from_numpy(wi))).numpy()
        same(fc.conv2d(xi, wi, activation=activation, backend="cuda"), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", [
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 3), padding=(2, 0), output_padding=(1, 2), groups=2, dilation=(2, 1)),
])
def test_conv_transpose2d_matches_torch(args, dtype):
    x, w, b = data((2, 4, 3, 4), dtype), data((4, 3, 3, 2), dtype), data(3 * args.get("groups", 1), dtype)
    want = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **args).numpy()
    same(fc.conv_transpose2d(x, w, b, **args, backend="cuda"), want, dtype)
    xi, wi = rng.integers(-9, 9, (1, 4, 3, 3)), rng.integers(-3, 3, (4, 2, 2, 2))
    want = F.conv_transpose2d(torch.from_numpy(xi), torch.from_numpy(wi), stride=2).numpy()
    same(fc.conv_transpose2d(xi, wi, stride=2, backend="cuda"), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", [
    dict(scale_factor=(1.7, 0.6), mode="nearest"),
    dict(size=(5, 7), mode="nearest-exact"),
    dict(scale_factor=2, mode="bilinear"),
    dict(size=(4, 9), mode="bilinear", align_corners=True),
])
def test_interpolate_matches_torch(args, dtype):
    x = data((2, 2, 3, 5), dtype)
    x[0, 0, 1, 1] = np.inf
    same(fc.interpolate(x, **args, backend="cuda"), F.interpolate(torch.from_numpy(x), **args).numpy(), dtype)
    x1 = x[:, :, 0]
    kw = dict(size=8, mode="linear") if args["mode"] == "bilinear" else dict(scale_factor=1.5, mode=args["mode"])
    same(fc.interpolate(x1, **kw, backend="cuda"), F.interpolate(torch.from_numpy(x1), **kw).numpy(), dtype)
    u = rng.integers(0, 255, (1, 2, 3, 4), dtype=np.uint8)
    same(fc.interpolate(u, size=(5, 6), backend="cuda"), F.interpolate(torch.from_numpy(u), size=(5, 6)).numpy())
