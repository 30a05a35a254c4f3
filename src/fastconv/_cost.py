"""The cost model that decides whether a host-array call runs faster on the GPU.

A call is summarized as its bytes in, bytes out and arithmetic (``work``).
Each device runs it in ``max(flops / flop rate, bytes / bandwidth)``; the GPU
also pays the transfers both ways and a fixed launch latency.  The rates are
measured on this machine by :func:`calibrate` the first time the dispatch
layer needs them, so the choice follows the hardware, not a fixed size
threshold.
"""

from __future__ import annotations

import math
import time
from types import ModuleType
from typing import NamedTuple

import numpy as np

from . import _validate
from ._calls import conv_out_size


class Work(NamedTuple):
    in_bytes: int
    out_bytes: int
    flops: int


class Calibration(NamedTuple):
    """Measured rates, per second."""

    h2d_bytes: float
    d2h_bytes: float
    gpu_flops: float
    gpu_bytes: float
    gpu_latency: float
    cpu_flops: float
    cpu_bytes: float


def work(entry: str, call: tuple) -> Work:
    """Bytes moved and operations done by one kernel entry point on ``call``."""
    if entry == "conv2d":
        x, w = call.input, call.weight
        o, cg, kh, kw = w.shape
        ho, wo = (
            conv_out_size(size, k, lo + hi, s, d)
            for size, k, lo, hi, s, d in zip(x.shape[2:], (kh, kw), call.pads[::2], call.pads[1::2], call.stride, call.dilation)
        )
        out = x.shape[0] * o * ho * wo
        return Work(x.nbytes + w.nbytes, out * x.dtype.itemsize, 2 * out * cg * kh * kw)
    if entry == "correlate_planes":
        b, h, wd = call.planes.shape
        kh, kw = call.kernel.shape
        top, bottom, left, right = call.pads
        out = b * (h + top + bottom - kh + 1) * (wd + left + right - kw + 1)
        return Work(call.planes.nbytes + call.kernel.nbytes, out * call.planes.dtype.itemsize, 2 * out * kh * kw)
    if entry == "filter_image":
        b, h, wd, c = call.image.shape
        kh, kw = call.kernel.shape
        out = b * h * wd * c
        return Work(call.image.nbytes + call.kernel.nbytes, out * call.out_dtype.itemsize, 2 * out * kh * kw)
    x = call.input
    if entry == "conv_transpose2d":
        cin, cog, kh, kw = call.weight.shape
        out = x.shape[0] * cog * call.groups * call.out_size[0] * call.out_size[1]
        return Work(x.nbytes + call.weight.nbytes, out * x.dtype.itemsize, 2 * x.size * cog * kh * kw)
    out = x.shape[0] * x.shape[1] * call.out_size[0] * call.out_size[1]
    window = call.kernel[0] * call.kernel[1] if hasattr(call, "kernel") else max(x.size // max(out, 1), 1)
    index = 8 if entry.startswith(("max", "adaptive_max")) else 0  # int64 indices
    return Work(x.nbytes, out * (x.dtype.itemsize + index), out * window)


def gpu_is_faster(job: Work, rates: Calibration) -> bool:
    """Whether the GPU, transfers included, is predicted to finish ``job`` before the CPU."""
    moved = job.in_bytes + job.out_bytes
    cpu = max(job.flops / rates.cpu_flops, moved / rates.cpu_bytes)
    gpu = (
        rates.gpu_latency
        + job.in_bytes / rates.h2d_bytes
        + job.out_bytes / rates.d2h_bytes
        + max(job.flops / rates.gpu_flops, moved / rates.gpu_bytes)
    )
    return gpu < cpu


def _best_time(run, repeat: int = 3) -> float:
    run()  # warm-up: compiles
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def calibrate(cpu: ModuleType, gpu: ModuleType) -> Calibration:
    """Measure transfer bandwidth, latency, and conv and pooling rates of the ``gpu`` and ``cpu`` backends."""
    from numba import cuda

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 16, 256, 256), np.float32)
    w = rng.standard_normal((16, 16, 3, 3), np.float32)
    conv = _validate.conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros")
    pool = _validate.pool("avg_pool2d", x, 2, None, 0, 1, False, _validate.filter_dtypes)
    flops = work("conv2d", conv).flops
    moved = sum(work("avg_pool2d", pool)[:2])
    stream = cuda.default_stream()
    dx, dw = gpu.to_device(x), gpu.to_device(w)
    on_gpu_conv, on_gpu_pool = conv._replace(input=dx, weight=dw), pool._replace(input=dx)
    tiny = _validate.pool("avg_pool2d", x[:, :1, :2, :2], 2, None, 0, 1, False, _validate.filter_dtypes)
    host = np.empty(x.nbytes, np.uint8)
    device = cuda.device_array(x.nbytes, np.uint8)

    def synced(run):
        return lambda: (run(), stream.synchronize())

    return Calibration(
        h2d_bytes=x.nbytes / _best_time(synced(lambda: device.copy_to_device(host, stream=stream))),
        d2h_bytes=x.nbytes / _best_time(lambda: device.copy_to_host(host)),
        gpu_flops=flops / _best_time(synced(lambda: gpu.conv2d(on_gpu_conv))),
        gpu_bytes=moved / _best_time(synced(lambda: gpu.avg_pool2d(on_gpu_pool, True, None))),
        gpu_latency=_best_time(lambda: gpu.avg_pool2d(tiny, True, None)),
        cpu_flops=flops / _best_time(lambda: cpu.conv2d(conv)),
        cpu_bytes=moved / _best_time(lambda: cpu.avg_pool2d(pool, True, None)),
    )
