"""The cost model that decides whether a host-array call runs faster on the GPU.

A call is summarized as its bytes in, bytes out and arithmetic (``work``).
Each device runs it in ``max(flops / flop rate, bytes / bandwidth)``; the GPU
also pays the transfers both ways and a fixed launch latency.  The rates are
measured on this machine by ``_cuda.calibrate`` the first time they are
needed, so the choice follows the hardware, not a fixed size threshold.
"""

from __future__ import annotations

from typing import NamedTuple

from ._validate import conv_out_size


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
