"""GPU benchmark: fastconv's cuda backend against its cpu backend and torch CUDA (cuDNN, TF32 off and on).

Needs a GPU, torch with CUDA and fastconv[cuda].  Inputs are torch CUDA
tensors, passed to fastconv as device arrays (no transfers are timed).  Each
implementation is warmed up, then the implementations run in shuffled,
interleaved rounds (``fastconv.bench.interleaved_times``): GPU ones are timed
by CUDA events (``seconds``) and by the synchronized wall clock
(``wall_seconds``, launch overhead included), the cpu backend on host arrays by
the wall clock, and the medians are kept.  GB/s and GFLOP/s are reported against the device's measured
copy bandwidth and fp32 GEMM peak.

    python benchmarks/gpu_bench.py [--rounds 20] [--budget 20] [--out benchmarks/results/gpu-<device>.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics

import numpy as np
import torch
import torch.nn.functional as F

import fastconv as fc
from fastconv import _cost, _validate
from fastconv.bench import CASES, Case, interleaved_times

# The target shapes, on top of the shared set.
TARGETS = [
    Case("conv2d", "depthwise 3x3 C=256 128x128 N=32", lambda rng: dict(
        input=rng.standard_normal((32, 256, 128, 128), np.float32), weight=rng.standard_normal((256, 1, 3, 3), np.float32),
        padding=1, groups=256)),
    Case("conv2d", "dense 3x3 128->128 64x64 N=32", lambda rng: dict(
        input=rng.standard_normal((32, 128, 64, 64), np.float32), weight=rng.standard_normal((128, 128, 3, 3), np.float32),
        padding=1)),
    Case("max_pool2d", "3x3/s2/p1 64x224x224 N=32", lambda rng: dict(
        input=rng.standard_normal((32, 64, 224, 224), np.float32), kernel_size=3, stride=2, padding=1)),
    Case("filter2d", "8192x8192 5x5 fill", lambda rng: dict(
        image=rng.standard_normal((8192, 8192), np.float32), kernel=rng.standard_normal((5, 5), np.float32), boundary="fill")),
]
TORCH_OPS = {"conv2d", "conv1d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"}


def cuda_time(run, repeat: int) -> list[float]:
    run()
    torch.cuda.synchronize()
    return [event_timed(run)() for _ in range(repeat)]


def event_timed(run, log: list[float] | None = None):
    """``run`` bracketed by CUDA events and synchronized: returns (and logs) the GPU seconds between the events."""

    def timed() -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        seconds = start.elapsed_time(end) / 1e3
        if log is not None:
            log.append(seconds)
        return seconds

    return timed


def device_peaks() -> dict[str, float]:
    src = torch.empty(1 << 28, dtype=torch.uint8, device="cuda")  # 256 MiB
    dst = torch.empty_like(src)
    copy = min(cuda_time(lambda: dst.copy_(src), 20))
    a = torch.randn(8192, 8192, device="cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    gemm = min(cuda_time(lambda: a @ a, 10))
    return {"copy_GBps": 2 * src.numel() / copy / 1e9, "gemm_fp32_GFLOPs": 2 * 8192**3 / gemm / 1e9}


def torch_call(case: Case, args: dict):
    t = {k: torch.from_numpy(v).cuda() if isinstance(v, np.ndarray) else v for k, v in args.items()}
    if case.op in TORCH_OPS:
        func = getattr(F, case.op)
        return lambda: func(**t)
    if case.op == "filter2d":  # same-size correlation = conv2d of one plane, zero fill
        img, k = t["image"][None, None], t["kernel"][None, None]
        return lambda: F.conv2d(img, k, padding=(k.shape[-2] // 2, k.shape[-1] // 2))
    return None


def work(case: Case, args: dict) -> _cost.Work | None:
    if case.op == "conv2d":
        call = _validate.conv("conv2d", 2, args["input"], args["weight"], None, args.get("stride", 1), args.get("padding", 0), 1, args.get("groups", 1), "zeros")
        return _cost.work("conv2d", call)
    if case.op == "max_pool2d":
        call = _validate.pool("max_pool2d", args["input"], args["kernel_size"], args.get("stride"), args.get("padding", 0), 1, False, _validate.pool_dtypes)
        return _cost.work("max_pool2d", call)
    if case.op == "filter2d":
        call = _validate.filter2d("filter2d", args["image"], args["kernel"], args.get("boundary", "reflect"), 0)[0]
        return _cost.work("correlate_planes", call)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per case, at least 3 rounds")
    parser.add_argument("--out", default=None)
    parser.add_argument("--skip-cpu", action="store_true", help="do not time the cpu backend")
    opts = parser.parse_args()
    if not torch.cuda.is_available() or not fc.backends()["cuda"]["available"]:
        raise SystemExit(f"needs a GPU: torch.cuda={torch.cuda.is_available()}, cuda backend: {fc.backends()['cuda']}")
    peaks = device_peaks()
    rows = []
    for case in [*CASES, *TARGETS]:
        args = case.args()
        dev = {k: torch.from_numpy(v).cuda() if isinstance(v, np.ndarray) else v for k, v in args.items()}
        op = getattr(fc, case.op)
        gpu = {"fastconv-cuda": lambda: op(**dev, backend="cuda")}
        if (reference := torch_call(case, args)) is not None:
            gpu["torch-cudnn-fp32"] = gpu["torch-cudnn-tf32"] = reference
        events: dict[str, list[float]] = {name: [] for name in gpu}
        funcs = {name: event_timed(run, events[name]) for name, run in gpu.items()}
        prepare = {name: functools.partial(setattr, torch.backends.cudnn, "allow_tf32", name.endswith("tf32")) for name in gpu}
        if not opts.skip_cpu:
            funcs["fastconv-cpu"] = lambda: op(**args, backend="cpu")
        for name, run in funcs.items():  # warm-up: compiles, and lets cuDNN pick its algorithms
            prepare.get(name, lambda: None)()
            run()
        wall = interleaved_times(funcs, opts.rounds, opts.budget, prepare=prepare, shuffle=True)
        medians = {name: statistics.median(t) for name, t in wall.items()}
        for name, log in events.items():
            medians[name] = statistics.median(log[1:])  # log[0] is the warm-up
        job = work(case, args)
        row = {"op": case.op, "case": case.label, "seconds": medians, "wall_seconds": {n: statistics.median(t) for n, t in wall.items()}}
        if job is not None:
            seconds = medians["fastconv-cuda"]
            row["cuda_GBps"] = (job.in_bytes + job.out_bytes) / seconds / 1e9
            row["cuda_GFLOPs"] = job.flops / seconds / 1e9
            row["fraction_of_copy_bandwidth"] = row["cuda_GBps"] / peaks["copy_GBps"]
            row["fraction_of_gemm_peak"] = row["cuda_GFLOPs"] / peaks["gemm_fp32_GFLOPs"]
        for name in ("torch-cudnn-fp32", "torch-cudnn-tf32"):
            if name in medians:
                row[f"speedup_vs_{name}"] = medians[name] / medians["fastconv-cuda"]
        rows.append(row)
        print(json.dumps(row))
    result = {
        "machine": {"hardware": fc.hardware(), "python": platform.python_version(), "torch": torch.__version__,
                    "cudnn": torch.backends.cudnn.version(), "fastconv": fc.__version__},
        "peaks": peaks,
        "rows": rows,
    }
    name = fc.hardware()["gpu"]["name"].replace(" ", "-")
    with open(opts.out or f"benchmarks/results/gpu-{name}.json", "w") as out:
        json.dump(result, out, indent=1, default=str)


if __name__ == "__main__":
    main()
