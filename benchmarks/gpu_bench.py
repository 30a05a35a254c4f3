"""GPU benchmark: fastconv's cuda backend against its cpu backend and torch CUDA (cuDNN, TF32 off and on).

Needs a GPU, torch with CUDA and fastconv[cuda].  Inputs are torch CUDA
tensors, passed to fastconv as device arrays (no transfers are timed).  Each
implementation is warmed up, then the implementations run in shuffled,
interleaved rounds (``fastconv.bench.interleaved_times``): GPU ones are timed
by CUDA events (``seconds``) and by the synchronized wall clock
(``wall_seconds``, launch overhead included), the cpu backend on host arrays by
the wall clock, and the medians are kept.  GB/s and GFLOP/s are reported against the device's measured
copy bandwidth and fp32 GEMM peak.

    python benchmarks/gpu_bench.py [--rounds 20] [--budget 20] [--out benchmarks/results/gpu-<device>.json] [--table FILE]

``--quick`` (what ``benchmarks/gpu_check.sh`` runs, about 3 minutes on an
H100/H200): at most 5 rounds and 1.5 s per case, and the cpu backend timed on
the shared set's public tier only.  The record is rewritten after every case,
so a run cut short keeps the cases it finished.  Each row also gives
``rel_err``, ||cuda - cpu|| / ||cpu|| against the cpu backend's result
(itself tested against the numpy oracle in CI).
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import fastconv as fc
from fastconv import _cost, _validate
from fastconv.bench import CASES, Case, interleaved_times

# The issue's target shapes, on top of the shared set.
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


def _host(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def rel_err(got, want) -> float:
    got, want = _host(got).astype(np.float64), _host(want).astype(np.float64)
    if got.shape != want.shape:
        return float("inf")
    scale = np.linalg.norm(want)
    return float(np.linalg.norm(got - want) / (scale if scale else 1.0))


def table(result: dict) -> str:
    """The record as a text table: median GPU times, speedups, bandwidth fractions and errors."""
    peaks = result["peaks"]
    lines = [
        f"{result['machine']['hardware']['gpu'].get('name')}: copy {peaks['copy_GBps']:.0f} GB/s, fp32 GEMM {peaks['gemm_fp32_GFLOPs']:.0f} GFLOP/s",
        f"{'case':<44} {'op':<20} {'cuda ms':>9} {'cudnn32 ms':>10} {'vs fp32':>8} {'vs tf32':>8} {'GB/s':>7} {'of copy':>7} {'cpu ms':>8} {'rel err':>8}",
    ]
    for row in result["rows"]:
        sec = row["seconds"]

        def ms(name):
            return f"{sec[name] * 1e3:.3f}" if name in sec else "-"

        def num(key, fmt):
            return format(row[key], fmt) if key in row else "-"

        lines.append(
            f"{row['case'][:44]:<44} {row['op'][:20]:<20} {ms('fastconv-cuda'):>9} {ms('torch-cudnn-fp32'):>10} "
            f"{num('speedup_vs_torch-cudnn-fp32', '.2f'):>8} {num('speedup_vs_torch-cudnn-tf32', '.2f'):>8} "
            f"{num('cuda_GBps', '.0f'):>7} {num('fraction_of_copy_bandwidth', '.0%'):>7} {ms('fastconv-cpu'):>8} {num('rel_err', '.1e'):>8}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per case, at least 3 rounds")
    parser.add_argument("--out", default=None)
    parser.add_argument("--skip-cpu", action="store_true", help="do not time the cpu backend")
    parser.add_argument("--quick", action="store_true", help="about 3 minutes: 5 rounds, 1.5 s per case, cpu on the public tier only")
    parser.add_argument("--table", default=None, help="also write the record as a text table here")
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds, opts.budget = min(opts.rounds, 5), min(opts.budget, 1.5)
    if not torch.cuda.is_available() or not fc.backends()["cuda"]["available"]:
        raise SystemExit(f"needs a GPU: torch.cuda={torch.cuda.is_available()}, cuda backend: {fc.backends()['cuda']}")
    peaks = device_peaks()
    rows = []
    name = fc.hardware()["gpu"]["name"].replace(" ", "-")
    path = opts.out or f"benchmarks/results/gpu-{name}.json"
    machine = {"hardware": fc.hardware(), "python": platform.python_version(), "torch": torch.__version__,
               "cudnn": torch.backends.cudnn.version(), "fastconv": fc.__version__,
               "options": {"rounds": opts.rounds, "budget_s": opts.budget, "quick": opts.quick, "skip_cpu": opts.skip_cpu}}
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
        time_cpu = not opts.skip_cpu and (not opts.quick or (any(case is c for c in CASES) and case.tier == "public"))
        if time_cpu:
            funcs["fastconv-cpu"] = lambda: op(**args, backend="cpu")
        started = time.perf_counter()
        for impl, run in funcs.items():  # warm-up: compiles, and lets cuDNN pick its algorithms
            prepare.get(impl, lambda: None)()
            run()
        warmup_s = time.perf_counter() - started
        error = rel_err(op(**dev, backend="cuda"), op(**args, backend="cpu"))
        wall = interleaved_times(funcs, opts.rounds, opts.budget, prepare=prepare, shuffle=True)
        medians = {name: statistics.median(t) for name, t in wall.items()}
        for name, log in events.items():
            medians[name] = statistics.median(log[1:])  # log[0] is the warm-up
        job = work(case, args)
        row = {"op": case.op, "case": case.label, "seconds": medians, "wall_seconds": {n: statistics.median(t) for n, t in wall.items()},
               "rounds": min(len(t) for t in wall.values()), "warmup_s": warmup_s, "rel_err": error}
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
        print(json.dumps(row), flush=True)
        result = {"machine": machine, "peaks": peaks, "rows": rows, "complete": len(rows) == len(CASES) + len(TARGETS)}
        with open(path, "w") as out:  # after every case: a run cut short keeps what it finished
            json.dump(result, out, indent=1, default=str)
        if opts.table:
            with open(opts.table, "w") as out:
                out.write(table(result))
    if opts.table:
        sys.stdout.write(table(result))


if __name__ == "__main__":
    main()
