"""Device-array inputs stay on the (simulated or real) device: results are device arrays and nothing is copied to the host."""

import os

import numpy as np
import pytest
from numba import cuda

import fastconv as fc

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray as DEVICE_ARRAY

    def host(device_array):
        return device_array._ary.copy()  # read the simulated device memory without copy_to_host

else:  # on a GPU (benchmarks/gpu_check.sh): numba's own device arrays
    from numba.cuda.cudadrv.devicearray import DeviceNDArray as DEVICE_ARRAY

    _copy_to_host = DEVICE_ARRAY.copy_to_host

    def host(device_array):
        return _copy_to_host(device_array)  # the unpatched method, so no_host_copies still catches fastconv's copies

rng = np.random.default_rng(7)


@pytest.fixture
def no_host_copies(monkeypatch):
    """Fail on any device-to-host copy or np.asarray of a device array."""

    def refuse(*args, **kwargs):
        raise AssertionError("a device array was copied to the host")

    monkeypatch.setattr(DEVICE_ARRAY, "copy_to_host", refuse)
    monkeypatch.setattr(DEVICE_ARRAY, "__array__", refuse, raising=False)


OPS = {
    "conv2d": (lambda x, k: fc.conv2d(x, k[None, None].repeat(2, 1), padding=1, padding_mode="reflect")),
    "depthwise": (lambda x, k: fc.conv2d(x, k[None, None].repeat(2, 0), groups=2, padding="same")),
    "filter2d": (lambda x, k: fc.filter2d(x, k, boundary="wrap")),
    "max_pool2d": (lambda x, k: fc.max_pool2d(x, 2, 1, 1, return_indices=True)),
    "avg_pool2d": (lambda x, k: fc.avg_pool2d(x, 3, 2, 1, ceil_mode=True)),
    "adaptive_max_pool2d": (lambda x, k: fc.adaptive_max_pool2d(x, (2, 3), return_indices=True)),
    "adaptive_avg_pool2d": (lambda x, k: fc.adaptive_avg_pool2d(x, 2)),
    "conv2d-gelu": (lambda x, k: fc.conv2d(x, k[None, None].repeat(2, 1), padding=1, activation="gelu")),
    "conv_transpose2d": (lambda x, k: fc.conv_transpose2d(x, k[None, None].repeat(2, 0), stride=2, padding=1)),
    "interpolate": (lambda x, k: fc.interpolate(x, scale_factor=(1.5, 2), mode="bilinear")),
    "upsample": (lambda x, k: fc.upsample(x, size=(7, 3))),
}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_device_inputs_give_device_results_without_host_copies(op, dtype, no_host_copies):
    x, k = rng.standard_normal((1, 2, 6, 5)).astype(dtype), rng.standard_normal((3, 3)).astype(dtype)
    want = OPS[op](x, k)
    got = OPS[op](cuda.to_device(x), k)  # auto: a device input runs on cuda
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    for g, w in zip(got, want):
        assert isinstance(g, DEVICE_ARRAY)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(host(g), w, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_strided_and_cast_device_inputs_are_handled_on_the_device(no_host_copies):
    x = rng.integers(-5, 5, (2, 6, 7)).astype(np.int32)
    d = cuda.to_device(x)[:, ::-1, ::2]  # negative and non-unit strides; int32 is cast to int64 on the device
    k = rng.integers(-2, 2, (2, 2))
    got = fc.convolve2d(d[0], k, mode="same", boundary="symm")
    assert isinstance(got, DEVICE_ARRAY) and got.dtype == np.int64
    np.testing.assert_array_equal(host(got), fc.convolve2d(x[0, ::-1, ::2], k, mode="same", boundary="symm"))
    got = fc.correlate2d(k, d[1], mode="valid")  # scipy's swap: a flipped device result
    np.testing.assert_array_equal(host(got), fc.correlate2d(k, x[1, ::-1, ::2], mode="valid"))
    got = fc.convolve(cuda.to_device(x[0, 0]), k[0])
    np.testing.assert_array_equal(host(got), np.convolve(x[0, 0], k[0]))


@pytest.mark.simulator_only
def test_results_stay_on_the_input_stream():
    stream = cuda.stream()
    d = cuda.to_device(rng.standard_normal((1, 1, 4, 4))).bind(stream)  # the simulator's to_device drops stream=
    assert fc.avg_pool2d(d, 2).stream is stream


def test_host_backends_refuse_device_arrays():
    d = cuda.to_device(np.ones((1, 1, 4, 4)))
    for backend in ("cpu", "numpy"):
        with pytest.raises(ValueError, match=f"backend '{backend}' runs on host arrays"):
            fc.max_pool2d(d, 2, backend=backend)
    with fc.use_backend("cuda"):
        assert isinstance(fc.max_pool2d(d, 2), DEVICE_ARRAY)


@pytest.mark.simulator_only
def test_backends_and_hardware_in_the_simulator():
    assert fc.backends()["cuda"]["available"]
    gpu = fc.hardware()["gpu"]
    assert gpu["available"] is False and "NUMBA_ENABLE_CUDASIM" in gpu["reason"]
    host_input = np.ones((1, 1, 4, 4))
    assert isinstance(fc.max_pool2d(host_input, 2), np.ndarray)  # auto never sends host arrays to the simulator


def test_repeated_device_calls_copy_nothing_to_the_device(monkeypatch, no_host_copies):
    """Index tables, interpolation tables and zero biases are cached on the device after the first call."""
    x = cuda.to_device(rng.standard_normal((1, 2, 6, 5)))
    w, k = cuda.to_device(rng.standard_normal((3, 2, 3, 3))), cuda.to_device(rng.standard_normal((3, 2)))
    calls = [
        lambda: fc.conv2d(x, w, padding=1, padding_mode="circular"),
        lambda: fc.filter2d(x, k, boundary="symm"),
        lambda: fc.interpolate(x, scale_factor=(1.5, 2), mode="bilinear"),
    ]
    first = [host(call()) for call in calls]

    def refuse(*args, **kwargs):
        raise AssertionError("a host array was copied to the device")

    monkeypatch.setattr(cuda, "to_device", refuse)
    for call, want in zip(calls, first):
        np.testing.assert_array_equal(host(call()), want)


@pytest.mark.parametrize("name", ["max_pool2d", "adaptive_max_pool2d"])
def test_max_pools_without_indices_neither_write_nor_copy_them(monkeypatch, name):
    copied = []
    real = DEVICE_ARRAY.copy_to_host
    monkeypatch.setattr(DEVICE_ARRAY, "copy_to_host", lambda self, *a, **k: copied.append(self.shape) or real(self, *a, **k))
    x = rng.standard_normal((1, 2, 4, 4))
    got = getattr(fc, name)(x, 2, backend="cuda")
    assert copied == [(1, 2, 2, 2)]  # the result only
    np.testing.assert_array_equal(got, getattr(fc, name)(x, 2, backend="numpy"))
