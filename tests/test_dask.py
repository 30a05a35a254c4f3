"""fastconv.dask against the in-memory functions, over random chunkings.

Each case draws a shape, a chunking (uneven, single chunks, chunks of one row,
chunks smaller than the halo) and the operation's arguments from a seeded
generator, and compares the computed Dask result with the in-memory result of
the same backend: same dtype, same shape, values within the float tolerance
(max pooling and integer results exactly).  Most cases run on the threaded
scheduler; a few run on a ``distributed.LocalCluster`` of two worker
processes on loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import dask
import dask.array as da
import distributed
import numpy as np
import psutil
import pytest
from conftest import assert_close, assert_same_values, random_array
from naive import FILTER_BOUNDARIES, PADDING_MODES

import fastconv as fc
import fastconv.dask as fcd

SIGNAL_BOUNDARIES = ["fill", "wrap", "symm"]


@pytest.fixture(autouse=True, scope="module")
def threaded():
    with dask.config.set(scheduler="threads"):
        yield


def random_chunks(rng: np.random.Generator, n: int) -> tuple[int, ...]:
    """A chunking of ``n``: one chunk, chunks of one, or 1 to 5 uneven cuts."""
    kind = rng.integers(6)
    if kind == 0 or n == 1:
        return (n,)
    if kind == 1:
        return (1,) * n
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(int(rng.integers(1, 6)), n - 1), replace=False))
    return tuple(np.diff([0, *cuts, n]).tolist())


def chunked(rng: np.random.Generator, x: np.ndarray) -> da.Array:
    return da.from_array(x, chunks=tuple(random_chunks(rng, n) for n in x.shape))


def compare(actual: da.Array, expected: np.ndarray, exact: bool = False, bound: np.ndarray | None = None) -> None:
    """``bound`` is the sum of absolute terms behind each value, against which cancellation is measured."""
    assert isinstance(actual, da.Array)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    computed = actual.compute()
    assert computed.dtype == expected.dtype
    if exact or expected.dtype.kind != "f":
        assert_same_values(computed, expected)
    else:
        assert_close(computed, expected, bound=bound)


def absolute(*arrays):
    return [None if a is None else np.abs(a) for a in arrays]


# --- filters and scipy.signal ----------------------------------------------------------------


@pytest.mark.parametrize("boundary", FILTER_BOUNDARIES)
@pytest.mark.parametrize("seed", range(8))
def test_filter2d(seed, boundary, backend):
    rng = np.random.default_rng([seed, FILTER_BOUNDARIES.index(boundary)])
    dtype = [np.float32, np.float64][seed % 2]
    shape = (*([int(rng.integers(1, 3))] if seed % 3 == 0 else []), int(rng.integers(1, 24)), int(rng.integers(1, 24)))
    x = random_array(rng, shape, dtype)
    kernel = random_array(rng, (int(rng.integers(1, 8)), int(rng.integers(1, 8))), dtype)
    fill = float(rng.standard_normal())
    expected = fc.filter2d(x, kernel, boundary, fill, method="direct", backend=backend)
    bound = fc.filter2d(*absolute(x, kernel), boundary, abs(fill), method="direct")
    compare(fcd.filter2d(chunked(rng, x), kernel, boundary, fill, method="direct", backend=backend), expected, bound=bound)


@pytest.mark.parametrize("seed", range(6))
def test_filter2d_dtypes_channels_and_methods(seed):
    """Integer and float16 images, a channel axis, named kernels and every method."""
    rng = np.random.default_rng(seed)
    dtype = [np.uint8, np.float16, np.int32, np.float32, np.bool_, np.float64][seed]
    x = random_array(rng, (int(rng.integers(5, 40)), int(rng.integers(5, 40)), 3), dtype)
    kernel = ["gaussian", "sobel_x", random_array(rng, (4, 5), np.float32)][seed % 3]
    method = ["auto", "separable", "fft", "direct"][seed % 4]
    boundary = FILTER_BOUNDARIES[seed % 5]
    expected = fc.filter2d(x, kernel, boundary, channel_axis=-1, method=method)
    actual = fcd.filter2d(chunked(rng, x), kernel, boundary, channel_axis=-1, method=method)
    bound = fc.filter2d(np.abs(x.astype(np.float64)), np.abs(fc.kernels.named(kernel) if isinstance(kernel, str) else kernel), boundary, channel_axis=-1)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert_close(actual.compute(), expected, bound=bound)


@pytest.mark.parametrize("func", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("boundary", SIGNAL_BOUNDARIES)
@pytest.mark.parametrize("seed", range(4))
def test_signal_same(seed, boundary, func, backend):
    rng = np.random.default_rng([seed, SIGNAL_BOUNDARIES.index(boundary), len(func)])
    dtype = [np.float32, np.float64, np.int16][seed % 3]
    x = random_array(rng, (int(rng.integers(1, 30)), int(rng.integers(1, 30))), dtype)
    kernel = random_array(rng, (int(rng.integers(1, 7)), int(rng.integers(1, 7))), dtype)
    expected = getattr(fc, func)(x, kernel, "same", boundary, 1.5, method="direct", backend=backend)
    bound = getattr(fc, func)(*absolute(x, kernel), "same", boundary, 1.5, method="direct")
    actual = getattr(fcd, func)(chunked(rng, x), kernel, "same", boundary, 1.5, method="direct", backend=backend)
    compare(actual, expected, bound=bound)


@pytest.mark.parametrize("mode", ["full", "valid"])
def test_signal_full_and_valid(mode):
    rng = np.random.default_rng(7)
    x, kernel = rng.standard_normal((33, 21)), rng.standard_normal((4, 6))
    for func in ("convolve2d", "correlate2d"):
        expected = getattr(fc, func)(x, kernel, mode, "wrap", method="direct")
        bound = getattr(fc, func)(*absolute(x, kernel), mode, "wrap", method="direct")
        compare(getattr(fcd, func)(chunked(rng, x), kernel, mode, "wrap", method="direct"), expected, bound=bound)


def test_same_mode_keeps_the_chunks():
    x = da.ones((100, 90), chunks=((30, 30, 40), (45, 45)))
    assert fcd.filter2d(x, np.ones((7, 6))).chunks == x.chunks
    assert fcd.convolve2d(x, np.ones((3, 3)), "same", "symm").chunks == x.chunks


# --- conv2d and pooling -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(24))
def test_conv2d(seed, backend):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2]))
    n, c, o = int(rng.integers(1, 4)), groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride, dilation = tuple(rng.integers(1, 4, 2).tolist()), tuple(rng.integers(1, 3, 2).tolist())
    shape = tuple(int(rng.integers(d * (kk - 1) + 1, 26)) for d, kk in zip(dilation, k))
    padding_mode = PADDING_MODES[seed % 4]
    limit = [min(kk, s - 1) for kk, s in zip(k, shape)] if padding_mode == "reflect" else list(k)
    padding = tuple(int(rng.integers(0, p + 1)) for p in limit)
    if seed % 6 == 5:
        padding, stride = "same", 1
    dtype = [np.float32, np.float64, np.int32][seed % 3]
    x = random_array(rng, (n, c, *shape), dtype)
    weight = random_array(rng, (o, c // groups, *k), dtype)
    bias = random_array(rng, (o,), dtype) if seed % 2 else None
    args = (weight, bias, stride, padding, dilation, groups)
    unbatched = seed % 5 == 0
    source = x[0] if unbatched else x
    expected = fc.conv2d(source, *args, padding_mode=padding_mode, backend=backend)
    bound = fc.conv2d(*absolute(source, weight, bias), *args[2:], padding_mode=padding_mode)
    compare(fcd.conv2d(chunked(rng, source), *args, padding_mode=padding_mode, backend=backend), expected, bound=bound)


def _pool_args(rng: np.random.Generator, dilate: bool):
    k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride = tuple(rng.integers(1, 5, 2).tolist()) if rng.random() < 0.8 else None
    padding = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    dilation = tuple(rng.integers(1, 3, 2).tolist()) if dilate else (1, 1)
    span = [d * (kk - 1) + 1 for d, kk in zip(dilation, k)]
    shape = tuple(int(rng.integers(max(s - 2 * p, 1), 30)) for s, p in zip(span, padding))
    return k, stride, padding, dilation, shape, bool(rng.random() < 0.5)


@pytest.mark.parametrize("seed", range(24))
def test_max_pool2d(seed, backend):
    rng = np.random.default_rng(seed)
    k, stride, padding, dilation, shape, ceil_mode = _pool_args(rng, dilate=True)
    dtype = [np.float32, np.float64, np.int16, np.bool_][seed % 4]
    x = random_array(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *shape), dtype, ties=True, special="mixed" if seed % 8 == 1 else None)
    if seed % 5 == 0:
        x = x[0]
    args = (k, stride, padding, dilation, ceil_mode)
    try:
        expected, indices = fc.max_pool2d(x, *args, return_indices=True, backend=backend)
    except ValueError as exc:
        with pytest.raises(ValueError, match="output size"):
            fcd.max_pool2d(chunked(rng, x), *args)
        assert "output size" in str(exc)
        return
    values, got = fcd.max_pool2d(chunked(rng, x), *args, return_indices=True, backend=backend)
    compare(values, expected, exact=True)
    compare(got, indices, exact=True)
    compare(fcd.max_pool2d(chunked(rng, x), *args, backend=backend), expected, exact=True)


@pytest.mark.parametrize("seed", range(24))
def test_avg_pool2d(seed, backend):
    rng = np.random.default_rng([seed, 1])
    k, stride, padding, _, shape, ceil_mode = _pool_args(rng, dilate=False)
    dtype = [np.float32, np.float64, np.uint8][seed % 3]
    x = random_array(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *shape), dtype)
    count_include_pad = bool(seed % 2)
    divisor = 3 if seed % 7 == 3 else None
    args = (k, stride, padding, ceil_mode, count_include_pad, divisor)
    try:
        expected = fc.avg_pool2d(x, *args, backend=backend)
    except ValueError:
        with pytest.raises(ValueError, match="output size"):
            fcd.avg_pool2d(chunked(rng, x), *args)
        return
    bound = fc.avg_pool2d(np.abs(x.astype(np.float64)), *args)
    compare(fcd.avg_pool2d(chunked(rng, x), *args, backend=backend), expected, bound=bound)


def test_strided_outputs_are_aligned_to_the_input_chunks():
    """Each output chunk of a strided pooling reads from the start of its own input chunk, plus a halo."""
    x = da.zeros((1, 1, 1000, 1000), chunks=(1, 1, 256, 256))
    y = fcd.max_pool2d(x, 3, stride=2, padding=1)
    assert y.chunks[2:] == ((128, 128, 128, 116),) * 2
    z = fcd.conv2d(x, np.ones((1, 1, 5, 5)), stride=4, padding=2)
    assert z.chunks[2:] == ((64, 64, 64, 58),) * 2


def test_empty_batches():
    x = np.zeros((0, 2, 6, 6), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    compare(fcd.conv2d(da.from_array(x), w), fc.conv2d(x, w))
    compare(fcd.max_pool2d(da.from_array(x), 2), fc.max_pool2d(x, 2))
    compare(fcd.filter2d(da.from_array(x), w[0, 0]), fc.filter2d(x, w[0, 0]))


# --- checking ----------------------------------------------------------------------------------


BAD_CALLS = [
    ("filter2d", (np.ones((5, 5)), np.ones((3, 3)), "mirror"), {}),
    ("filter2d", (np.ones((5, 5), complex), np.ones((3, 3))), {}),
    ("filter2d", (np.ones((5, 5)), "no-such-kernel"), {}),
    ("filter2d", (np.ones((5, 5)), np.ones((3, 3))), {"channel_axis": 3}),
    ("filter2d", (np.ones((5, 5)), np.ones((3, 3))), {"method": "winograd"}),
    ("convolve2d", (np.ones((5, 5)), np.ones((3, 3)), "same", "reflect"), {}),
    ("correlate2d", (np.ones((5, 5)), np.ones((3, 3, 1))), {}),
    ("conv2d", (np.ones((1, 3, 5, 5)), np.ones((2, 2, 3, 3))), {}),
    ("conv2d", (np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3))), {"padding": 5, "padding_mode": "reflect"}),
    ("conv2d", (np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3))), {"stride": 0}),
    ("conv2d", (np.ones((1, 2, 5, 5), np.float16), np.ones((2, 2, 3, 3))), {"backend": "tpu"}),
    ("max_pool2d", (np.ones((1, 5, 5)), 3), {"padding": 2}),
    ("max_pool2d", (np.ones((5, 5)), 3), {}),
    ("avg_pool2d", (np.ones((1, 2, 2)), 5), {}),
    ("avg_pool2d", (np.ones((1, 5, 5)), 2), {"divisor_override": 0}),
]


@pytest.mark.parametrize("name, args, kwargs", BAD_CALLS)
def test_errors_are_the_in_memory_errors(name, args, kwargs):
    with pytest.raises((ValueError, TypeError)) as expected:
        getattr(fc, name)(*args, **kwargs)
    with pytest.raises(expected.type) as actual:
        getattr(fcd, name)(da.from_array(args[0], chunks=2), *args[1:], **kwargs)
    assert str(actual.value).split(" from ")[0] == str(expected.value).split(" from ")[0]


def test_valid_mode_needs_the_kernel_to_be_in2():
    with pytest.raises(ValueError, match="in2 .* must not be larger than in1"):
        fcd.convolve2d(da.ones((3, 3), chunks=2), np.ones((5, 5)), "valid")


def test_checking_reads_only_shape_and_dtype():
    """A 40000 x 40000 uint16 image (a float32 copy would take 6.4 GB) is checked and planned lazily."""
    x = da.zeros((40000, 40000), dtype=np.uint16, chunks=4096)
    y = fcd.filter2d(x, np.ones((5, 5)))
    assert y.dtype == np.float32 and y.shape == x.shape and y.chunks == x.chunks
    assert fcd.max_pool2d(x[None], 2).dtype == np.uint16


def test_import_fastconv_does_not_import_dask():
    code = "import sys, fastconv; fastconv.filter2d([[1.0]], [[1.0]]); assert 'dask' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- a distributed LocalCluster with two worker processes ---------------------------------------


@pytest.fixture(scope="module")
def cluster_client():
    """Two worker processes on loopback; afterwards they must be gone (multiprocessing's resource tracker stays)."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        workers = list(client.run(os.getpid).values())
        yield client
    assert len(workers) == 2
    _, alive = psutil.wait_procs([p for p in map(_process, workers) if p is not None], timeout=10)
    assert not alive, f"worker processes left after the cluster closed: {alive}"
    left = [p for p in psutil.Process().children(recursive=True) if "resource_tracker" not in " ".join(p.cmdline())]
    assert not left, f"processes left after the cluster closed: {left}"


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def test_local_cluster(cluster_client):
    rng = np.random.default_rng(11)
    image = rng.standard_normal((3, 97, 83)).astype(np.float32)
    x = da.from_array(image, chunks=(1, 31, 20))
    kernel = rng.standard_normal((5, 4)).astype(np.float32)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    results = cluster_client.compute(
        [
            fcd.filter2d(x, kernel, "symm", method="direct"),
            fcd.conv2d(x, weight, stride=2, padding=1, padding_mode="circular"),
            fcd.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)[1],
            fcd.avg_pool2d(x, 3, stride=2, ceil_mode=True),
        ],
        sync=True,
    )
    assert len(cluster_client.scheduler_info()["workers"]) == 2
    expected = [
        fc.filter2d(image, kernel, "symm", method="direct"),
        fc.conv2d(image, weight, stride=2, padding=1, padding_mode="circular"),
        fc.max_pool2d(image, 3, stride=2, padding=1, return_indices=True)[1],
        fc.avg_pool2d(image, 3, stride=2, ceil_mode=True),
    ]
    for actual, oracle in zip(results, expected):
        assert actual.dtype == oracle.dtype
        assert_close(actual, oracle) if oracle.dtype.kind == "f" else assert_same_values(actual, oracle)
