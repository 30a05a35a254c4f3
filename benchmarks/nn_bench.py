"""End-to-end inference of ResNet-18 and MobileNetV2: fastconv.nn (converted by from_torch) against torch CPU eager.

    PYTHONPATH=src python benchmarks/nn_bench.py [--rounds 10] [--budget 30]
    PYTHONPATH=src python benchmarks/nn_bench.py --readme    # README "Networks" table from the newest nn-*.json

Both run 224 x 224 float32 batches of 1 and 8 with every core in use (torch
under ``torch.inference_mode`` with its default threads; fastconv on the
``cpu`` backend with numba's and BLAS's default threads), timed as
interleaved medians of fastconv, and torch's timed apart right after (its
OpenMP threads keep spinning after a call and would slow whichever call came
next).  fastconv runs twice: as is, and with NumPy's BLAS
limited to one thread (threadpoolctl), numba still on every core: its GEMM
convolutions call BLAS, whose idle threads spin while numba's kernels and the
serial im2col and epilogue run, and on a shared machine that contention
dominates.  Then one profiled pass of each model per batch sums the
time per layer kind, for fastconv's layers and for torch's modules (timed
by forward hooks).  (The fused conv + bias + ReLU against conv then ReLU is
``benchmarks/fused.py``.)  Writes ``benchmarks/results/nn-<date>.json`` and ``.txt``.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import threadpoolctl
import torch

from fastconv import nn
from fastconv.bench import interleaved_medians, machine_info

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, HERE)

import torch_models  # noqa: E402  (tests/torch_models.py: the models of the equivalence tests)
from readme_results import regenerate  # noqa: E402

MODELS = ("resnet18", "mobilenet_v2")
BLAS = threadpoolctl.ThreadpoolController()


def one_blas_thread(f: Callable[[], Any]) -> Callable[[], Any]:
    """``f`` run with NumPy's BLAS on one thread."""

    def run() -> Any:
        with BLAS.limit(limits=1, user_api="blas"):
            return f()

    return run
BATCHES = (1, 8)
START, END = "<!-- nn-results:start -->", "<!-- nn-results:end -->"


def layer_kind(layer: Any) -> str:
    """What a layer is, for the per-layer breakdown: convolutions by kernel size and depthwise or dense."""
    if isinstance(layer, (nn.Conv2d, torch.nn.Conv2d)):
        kh, kw = layer.weight.shape[2:]
        depthwise = layer.groups > 1 and layer.groups == layer.weight.shape[0]
        return f"Conv2d {kh}x{kw}" + (" depthwise" if depthwise else "")
    return type(layer).__name__


def _timed(times: dict[str, float], kind: str, forward: Callable) -> Callable:
    def run(*args: Any) -> Any:
        start = time.perf_counter()
        out = forward(*args)
        times[kind] += time.perf_counter() - start
        return out

    return run


def fastconv_breakdown(model: nn.Module, x: np.ndarray, passes: int = 3) -> tuple[dict[str, float], float]:
    """Seconds per layer kind, and in total, of the fastest of ``passes`` passes with every leaf layer timed."""
    best: tuple[dict[str, float], float] | None = None
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    for _ in range(passes):
        times: dict[str, float] = defaultdict(float)
        for layer in leaves:
            layer.forward = _timed(times, layer_kind(layer), type(layer).forward.__get__(layer))
        start = time.perf_counter()
        model(x)
        total = time.perf_counter() - start
        for layer in leaves:
            del layer.forward
        if best is None or total < best[1]:
            best = (dict(times), total)
    return best


def torch_breakdown(net: torch.nn.Module, x: torch.Tensor, passes: int = 3) -> tuple[dict[str, float], float]:
    """Seconds per leaf-module kind of torch's forward (forward hooks), and in total; functional ops show up as "other"."""
    best: tuple[dict[str, float], float] | None = None
    leaves = [m for m in net.modules() if not any(True for _ in m.children())]
    for _ in range(passes):
        times: dict[str, float] = defaultdict(float)
        starts: dict[int, float] = {}
        handles = []
        for m in leaves:
            handles.append(m.register_forward_pre_hook(lambda mod, args: starts.__setitem__(id(mod), time.perf_counter())))
            handles.append(m.register_forward_hook(
                lambda mod, args, out: times.__setitem__(layer_kind(mod), times[layer_kind(mod)] + time.perf_counter() - starts[id(mod)])
            ))
        with torch.inference_mode():
            start = time.perf_counter()
            net(x)
            total = time.perf_counter() - start
        for h in handles:
            h.remove()
        times["other (functional ops)"] = max(0.0, total - sum(times.values()))
        if best is None or total < best[1]:
            best = (dict(times), total)
    return best


def end_to_end(rounds: int, budget: float) -> tuple[list[dict], list[dict]]:
    rows, breakdowns = [], []
    for name in MODELS:
        net = torch_models.build(name, seed=0)
        model = nn.from_torch(net, backend="cpu")
        for batch in BATCHES:
            torch.manual_seed(batch)
            xt = torch.randn(batch, 3, 224, 224)
            xn = xt.numpy()

            def run_torch() -> Any:
                with torch.inference_mode():
                    return net(xt)

            run_ours = lambda: model(xn)
            medians = interleaved_medians({"fastconv": run_ours, "fastconv_blas1": one_blas_thread(run_ours)}, rounds, budget)
            medians.update(interleaved_medians({"torch": run_torch}, rounds, budget / 2))
            row = {
                "model": name,
                "batch": batch,
                "fastconv_ms": medians["fastconv"] * 1e3,
                "fastconv_blas1_ms": medians["fastconv_blas1"] * 1e3,
                "torch_ms": medians["torch"] * 1e3,
                "speedup": medians["torch"] / medians["fastconv"],
                "speedup_blas1": medians["torch"] / medians["fastconv_blas1"],
                "target": 1.0 if batch == 1 else None,
            }
            rows.append(row)
            print(f"{name:<13} batch {batch}: fastconv {row['fastconv_ms']:8.1f} ms  (BLAS 1 thread {row['fastconv_blas1_ms']:8.1f} ms)  "
                  f"torch {row['torch_ms']:8.1f} ms  speed-up {row['speedup']:.2f}x ({row['speedup_blas1']:.2f}x)", flush=True)
            ours, ours_total = fastconv_breakdown(model, xn)
            with BLAS.limit(limits=1, user_api="blas"):
                ours1, ours1_total = fastconv_breakdown(model, xn)
            theirs, theirs_total = torch_breakdown(net, xt)
            breakdowns.append({
                "model": name, "batch": batch,
                "fastconv_ms": {k: v * 1e3 for k, v in ours.items()}, "fastconv_total_ms": ours_total * 1e3,
                "fastconv_blas1_ms": {k: v * 1e3 for k, v in ours1.items()}, "fastconv_blas1_total_ms": ours1_total * 1e3,
                "torch_ms": {k: v * 1e3 for k, v in theirs.items()}, "torch_total_ms": theirs_total * 1e3,
            })
    return rows, breakdowns


def _breakdown_rows(b: dict) -> list[tuple[str, float | None, float | None, float | None]]:
    kinds = sorted(set(b["fastconv_ms"]) | set(b["torch_ms"]), key=lambda k: -(b["fastconv_ms"].get(k, 0) + b["torch_ms"].get(k, 0)))
    return [(k, b["fastconv_ms"].get(k), b["fastconv_blas1_ms"].get(k), b["torch_ms"].get(k)) for k in kinds]


def _load(machine: dict) -> str:
    load = machine.get("loadavg")
    return "unknown" if not load else ", ".join(f"{v:.1f}" for v in load)


def _ms(value: float | None, width: int = 0) -> str:
    return f"{'' if value is None else f'{value:.1f}':>{width}}"


def as_text(record: dict) -> str:
    m = record["machine"]
    lines = [f"# {record['command']}", f"# {record['date']}  machine: {m['cpu']}, {m['cores']} cores, threads {m['threads']}, "
             f"load average {_load(m)}", ""]
    lines += [f"{'model':<13} {'batch':>5} {'fastconv ms':>12} {'BLAS 1 thread':>14} {'torch ms':>10} {'speed-up':>9} {'(BLAS 1)':>9}"]
    for r in record["end_to_end"]:
        lines.append(f"{r['model']:<13} {r['batch']:>5} {r['fastconv_ms']:>12.1f} {r['fastconv_blas1_ms']:>14.1f} {r['torch_ms']:>10.1f} "
                     f"{r['speedup']:>8.2f}x {r['speedup_blas1']:>8.2f}x")
    for b in record["breakdown"]:
        lines += ["", f"per layer kind, {b['model']} batch {b['batch']} (one profiled pass, ms): fastconv {b['fastconv_total_ms']:.1f}, "
                      f"with BLAS 1 thread {b['fastconv_blas1_total_ms']:.1f}, torch {b['torch_total_ms']:.1f}"]
        for kind, ours, ours1, theirs in _breakdown_rows(b):
            lines.append(f"  {kind:<26} {_ms(ours, 9)} {_ms(ours1, 9)} {_ms(theirs, 9)}")
    return "\n".join(lines) + "\n"


def readme_section(path: str) -> str:
    with open(path) as f:
        record = json.load(f)
    rel = os.path.relpath(path, ROOT)
    m = record["machine"]
    lines = [
        f"Generated by `python benchmarks/nn_bench.py --readme` from [`{rel}`]({rel}), recorded by `{record['command']}` "
        f"on {m['cpu']} ({m['cores']} cores; threads {m['threads']}; load average {_load(m)} at the start). "
        "Median latency per call, 224 x 224 float32; fastconv's two runs in interleaved rounds, torch's timed apart right after; "
        "speed-up = torch time / fastconv time. "
        "\"BLAS 1 thread\": the same fastconv model run inside `threadpoolctl.threadpool_limits(1, \"blas\")`, numba still on every core.",
        "",
        "| model | batch | fastconv ms | fastconv, BLAS 1 thread, ms | torch CPU eager ms | speed-up | speed-up, BLAS 1 thread | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in record["end_to_end"]:
        target = "" if r["target"] is None else f"≥ {r['target']:.1f}x"
        lines.append(f"| {r['model']} | {r['batch']} | {r['fastconv_ms']:.1f} | {r['fastconv_blas1_ms']:.1f} | {r['torch_ms']:.1f} | "
                     f"{r['speedup']:.2f}x | {r['speedup_blas1']:.2f}x | {target} |")
    for b in record["breakdown"]:
        if b["batch"] != 1:
            continue
        lines += ["", f"Where the time goes, {b['model']} batch 1 (ms, one profiled pass; torch's BatchNorm and ReLU are separate modules, "
                      "fastconv folds them into the convolutions):", "",
                  "| layer kind | fastconv | fastconv, BLAS 1 thread | torch |", "|---|---|---|---|"]
        for kind, ours, ours1, theirs in _breakdown_rows(b):
            lines.append(f"| {kind} | {_ms(ours)} | {_ms(ours1)} | {_ms(theirs)} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: str) -> None:
    records = sorted(glob.glob(os.path.join(RESULTS, "nn-*.json")))
    if not records:
        raise SystemExit("no benchmarks/results/nn-*.json yet: run python benchmarks/nn_bench.py first")
    with open(readme) as f:
        text = f.read()
    with open(readme, "w") as f:
        f.write(regenerate(text, readme_section(records[-1]), START, END))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds of timing per case (at least 3 rounds)")
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--readme", action="store_true", help="only regenerate the README's Networks table")
    args = parser.parse_args(argv)
    if args.readme:
        update_readme(os.path.join(ROOT, "README.md"))
        return 0
    rows, breakdowns = end_to_end(args.rounds, args.budget)
    record = {
        "command": "PYTHONPATH=src python benchmarks/nn_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "end_to_end": rows,
        "breakdown": breakdowns,
    }
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"nn-{datetime.date.today().isoformat()}")
    with open(stem + ".json", "w") as f:
        json.dump(record, f, indent=1)
    with open(stem + ".txt", "w") as f:
        f.write(as_text(record))
    print(as_text(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
