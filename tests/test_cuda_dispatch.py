"""The cuda backend's registry entry, auto's choice by hardware, and hardware(): on this machine, and on a machine with a GPU (numba.cuda's driver calls faked)."""

import numpy as np
import pytest

import fastconv as fc
from fastconv import _cost, _dispatch, _validate

RATES = _cost.Calibration(
    h2d_bytes=20e9, d2h_bytes=20e9, gpu_flops=20e12, gpu_bytes=2e12, gpu_latency=30e-6, cpu_flops=100e9, cpu_bytes=20e9
)


def _conv_call(n, c, size, k):
    return _validate.conv("conv2d", 2, np.zeros((n, c, size, size), np.float32), np.zeros((c, c, k, k), np.float32), None, 1, 0, 1, 1, "zeros")


def test_cost_model_keeps_small_calls_on_the_cpu_and_sends_heavy_convs_to_the_gpu():
    small, big = _conv_call(1, 1, 8, 3), _conv_call(8, 64, 128, 3)
    assert _cost.work("conv2d", small) == _cost.Work(8 * 8 * 4 + 9 * 4, 36 * 4, 2 * 36 * 9)
    assert not _cost.gpu_is_faster(_cost.work("conv2d", small), RATES)
    assert _cost.gpu_is_faster(_cost.work("conv2d", big), RATES)


def test_cost_model_counts_transfers_for_bandwidth_bound_pooling():
    pool = _validate.pool("avg_pool2d", np.zeros((4, 64, 256, 256), np.float32), 2, None, 0, 1, False, _validate.filter_dtypes)
    job = _cost.work("avg_pool2d", pool)
    assert job.flops == 4 * 64 * 128 * 128 * 4
    assert not _cost.gpu_is_faster(job, RATES)  # moving the data costs more than pooling it on the CPU
    assert _cost.gpu_is_faster(job, RATES._replace(h2d_bytes=1e15, d2h_bytes=1e15))


@pytest.mark.skipif(_dispatch.gpu_present(), reason="checks the report of a machine without a GPU")
def test_backends_and_hardware_give_the_reason_there_is_no_gpu():
    report = fc.backends()["cuda"]
    assert report["available"] is False and report["reason"]
    gpu = fc.hardware()["gpu"]
    assert gpu == {"available": False, "reason": report["reason"]}
    with pytest.raises(ValueError, match=r"backend 'cuda' is not available here: .*"):
        fc.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), backend="cuda")


def test_hardware_reports_the_cpu():
    cpu = fc.hardware()["cpu"]
    assert cpu["logical_cores"] >= cpu["usable_cores"] >= 1
    assert cpu["simd"] in {name for _, name in fc._hardware.SIMD_LEVELS} | {"none detected"}
    assert set(cpu["threading_layer"]) == {"configured", "layer", "started", "active", "threads", "tbb", "thread_safe", "fork_safe"}


REAL_MODULE = _dispatch.module


class _Recorder:
    def __init__(self, name, log):
        self.name, self.log = name, log

    def __getattr__(self, entry):
        return lambda call, *args: self.log.append(self.name) or REAL_MODULE("numpy").__dict__[entry](call, *args)


def test_auto_sends_host_arrays_to_the_gpu_only_when_the_cost_model_says_so(monkeypatch):
    log = []
    monkeypatch.setattr(_dispatch, "module", lambda name: _Recorder(name, log))
    monkeypatch.setattr(_dispatch, "gpu_present", lambda: True)
    monkeypatch.setattr(_dispatch, "prefers_gpu", lambda entry, call: call.input.size > 1000)
    fc.avg_pool2d(np.ones((1, 1, 4, 4)), 2)
    fc.avg_pool2d(np.ones((1, 1, 64, 64)), 2)
    fc.avg_pool2d(np.ones((1, 1, 64, 64)), 2, backend="cpu")
    with fc.use_backend("numpy"):
        fc.avg_pool2d(np.ones((1, 1, 64, 64)), 2)
    assert log == [_dispatch.AUTO_ORDER[0], "cuda", "cpu", "numpy"]


class _FakeH100:
    name = b"NVIDIA H100 80GB HBM3"
    compute_capability = (9, 0)
    MULTIPROCESSOR_COUNT = 132


class _FakeContext:
    @staticmethod
    def get_memory_info():
        return 80 * 2**30, 85 * 2**30


@pytest.fixture
def gpu_machine(monkeypatch):
    """numba.cuda as it answers on a machine with one H100 (its driver calls replaced)."""
    import ctypes.util

    from numba import cuda

    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libcuda.so.1" if name == "cuda" else None)
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(cuda, "get_current_device", lambda: _FakeH100())
    monkeypatch.setattr(cuda, "current_context", lambda: _FakeContext())
    monkeypatch.setattr(_dispatch, "_reasons", {})


def test_backends_and_hardware_on_a_machine_with_a_gpu(gpu_machine):
    assert fc.backends()["cuda"] == {"available": True, "reason": None, "description": "numba.cuda GPU kernels"}
    assert _dispatch.gpu_present()
    assert fc.hardware()["gpu"] == {
        "available": True,
        "name": "NVIDIA H100 80GB HBM3",
        "compute_capability": (9, 0),
        "multiprocessors": 132,
        "memory_bytes": 85 * 2**30,
        "free_memory_bytes": 80 * 2**30,
    }


def test_a_driver_without_a_usable_device_is_reported_with_numbas_reason(gpu_machine, monkeypatch):
    from numba import cuda

    monkeypatch.setattr(cuda, "is_available", lambda: False)
    monkeypatch.setattr(cuda, "cuda_error", lambda: "CUDA_ERROR_NO_DEVICE\n  no CUDA-capable device is detected")
    reason = "no usable CUDA GPU: CUDA_ERROR_NO_DEVICE no CUDA-capable device is detected"
    assert fc.backends()["cuda"]["reason"] == reason
    assert fc.hardware()["gpu"] == {"available": False, "reason": reason}
    assert not _dispatch.gpu_present()


class _TorchLikeTensor:
    """What fastconv reads of a torch CUDA tensor: version 2 of the interface (no stream) and a device."""

    __module__ = "torch"
    device = "cuda:0"
    __cuda_array_interface__ = {"shape": (2, 3), "typestr": "<f4", "data": (4096, False), "strides": None, "version": 2}


@pytest.mark.parametrize(("current", "expected"), [(0x7F00, 0x7F00), (0, None)])
def test_a_torch_tensor_is_read_on_torchs_current_stream(monkeypatch, current, expected):
    import torch

    from fastconv._device import DeviceArray

    class Stream:
        cuda_stream = current

    monkeypatch.setattr(torch.cuda, "current_stream", lambda device: Stream() if device == "cuda:0" else None)
    array = DeviceArray.wrap(_TorchLikeTensor())
    assert (array.ptr, array.shape, array.strides, array.stream) == (4096, (2, 3), (12, 4), expected)
