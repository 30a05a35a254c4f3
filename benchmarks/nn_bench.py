"""Whole-network inference: fastconv.nn (converted by from_torch) against torch eager, ONNX Runtime and OpenVINO.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=src .venv-bench/bin/python benchmarks/nn_bench.py [--rounds 10] [--budget 30]
    PYTHONPATH=src python benchmarks/nn_bench.py --readme    # README "Networks" table from the newest nn-*.json

ResNet-18, MobileNetV2 and MobileNetV3-Large (``tests/torch_models.py``,
random weights and BatchNorm statistics, eval mode) run 224 x 224 float32
batches of 1 and 8.  ONNX Runtime and OpenVINO run the ONNX export of the
same torch model (``torch.onnx.export(..., dynamo=False)``, batch fixed).
Every engine has every core: torch its default threads under
``torch.inference_mode``, ONNX Runtime ``intra_op_num_threads`` = cores,
OpenVINO ``INFERENCE_NUM_THREADS`` = cores with the LATENCY hint and float32
inference precision (``INFERENCE_PRECISION_HINT``), fastconv
numba's and BLAS's default threads on the ``cpu`` backend.  The four are
timed in interleaved rounds in one process, in a new order each round: before
each timed call, a 100 ms pause (each runtime's threads spin for a while after
a call, ONNX Runtime's for tens of ms, and would slow whichever engine came next), then untimed calls of the
same engine, one and 5 ms at least, which wake its threads and the core the
pause left idle (``bench.settled``, as the operation benchmark times its
rows).  Every engine's output is checked against torch's first.

Then one profiled pass per case: the time per layer kind of fastconv's
layers, and OpenVINO's own per-layer profile (``PERF_COUNT``) summed by the
kind of node it ran.  The record names the CPU, its ISA, the thread counts,
the versions and the OpenBLAS kernel that ran (threadpoolctl): run it with
``OPENBLAS_CORETYPE`` unset, as on a user's machine.  Writes
``benchmarks/results/nn-<date>.json`` and ``.txt``.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import torch

from fastconv import nn
from fastconv.bench import interleaved_times, machine_info, settled, temporary_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, HERE)

import torch_models  # noqa: E402  (tests/torch_models.py: the models of the equivalence tests)
from naive import NETWORK_RTOL  # noqa: E402
from readme_results import regenerate  # noqa: E402

MODELS = ("resnet18", "mobilenet_v2", "mobilenet_v3")
NAMES = {"resnet18": "ResNet-18", "mobilenet_v2": "MobileNetV2", "mobilenet_v3": "MobileNetV3-Large"}
BATCHES = (1, 8)
ENGINES = ("fastconv", "torch", "onnxruntime", "openvino")
EXTRA = ("fastconv_1thread",)  # fastconv with numba on one thread: what starting its parallel kernels costs
# ONNX Runtime's idle threads spin for tens of ms after a run: MobileNetV3 b1 on fastconv took 9-10 ms after
# itself, 17.7 after an ONNX Runtime call and 20 ms, 11-12 after 50-200 ms (benchmarks/nn_bench.py's models, 2 cores)
PAUSE_S = 0.1
START, END = "<!-- nn-results:start -->", "<!-- nn-results:end -->"


def targets(name: str) -> dict[str, float]:
    """The issue's targets: fastconv time at most (1 / ratio) x the named engines' (the faster of them)."""
    if name == "mobilenet_v3":
        return {"onnxruntime": 1.0}
    return {"best of onnxruntime, openvino": 1.0, "torch": 2.0}


# --- the engines ------------------------------------------------------------------------


def onnx_file(net: torch.nn.Module, x: torch.Tensor, folder: str, name: str) -> str:
    path = os.path.join(folder, f"{name}-{x.shape[0]}.onnx")
    with torch.inference_mode():
        torch.onnx.export(net, (x,), path, dynamo=False, input_names=["x"], output_names=["y"])
    return path


def onnxruntime_session(path: str, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]


def openvino_model(path: str, threads: int, profile: bool = False) -> Any:
    import openvino as ov

    # f32: on a CPU with AVX512_BF16 OpenVINO would otherwise run bfloat16, off torch's logits by ~40x the tolerance
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
    if profile:
        config["PERF_COUNT"] = True
    return ov.Core().compile_model(path, "CPU", config)


def openvino_run(compiled: Any) -> Callable[[np.ndarray], np.ndarray]:
    request = compiled.create_infer_request()

    def run(x: np.ndarray) -> np.ndarray:
        request.infer({0: x})
        return request.get_output_tensor(0).data.copy()

    return run


# --- the per-layer profiles ---------------------------------------------------------------


def layer_kind(layer: Any) -> str:
    """What a fastconv layer is: convolutions by kernel size and depthwise or dense."""
    if isinstance(layer, nn.Conv2d):
        kh, kw = layer.kernel_size
        depthwise = layer.groups > 1 and layer.groups == layer.in_channels
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


def openvino_breakdown(path: str, x: np.ndarray, threads: int, passes: int = 3) -> tuple[dict[str, float], float]:
    """Seconds per node kind (its type and the kernel that ran it) of OpenVINO's PERF_COUNT profile, fastest pass."""
    request = openvino_model(path, threads, profile=True).create_infer_request()
    request.infer({0: x})
    best: tuple[dict[str, float], float] | None = None
    for _ in range(passes):
        request.infer({0: x})
        times: dict[str, float] = defaultdict(float)
        for info in request.get_profiling_info():
            if info.real_time.total_seconds() > 0:
                times[f"{info.node_type} ({info.exec_type})"] += info.real_time.total_seconds()
        total = sum(times.values())
        if best is None or total < best[1]:
            best = (dict(times), total)
    return best


# --- the run ------------------------------------------------------------------------------


def check(name: str, engine: str, actual: np.ndarray, expected: np.ndarray) -> float:
    """The largest error against torch's logits, in units of the tests' tolerance; raise past 1."""
    scale = NETWORK_RTOL * (np.abs(expected) + np.abs(expected).max())
    worst = float((np.abs(actual - expected) / scale).max())
    if not worst <= 1:
        raise SystemExit(f"{name}: {engine}'s output is off torch's by {worst:.2f}x the tolerance")
    return worst


def run_case(name: str, batch: int, folder: str, rounds: int, budget: float, threads: int) -> tuple[dict, dict]:
    net = torch_models.build(name, seed=0)
    model = nn.from_torch(net, backend="cpu")
    torch.manual_seed(batch)
    xt = torch.randn(batch, 3, 224, 224)
    xn = xt.numpy()
    path = onnx_file(net, xt, folder, name)
    ort_run = onnxruntime_session(path, threads)
    ov_run = openvino_run(openvino_model(path, threads))

    def run_torch() -> np.ndarray:
        with torch.inference_mode():
            return net(xt).numpy()

    calls = {"fastconv": lambda: model(xn), "torch": run_torch, "onnxruntime": lambda: ort_run(xn), "openvino": lambda: ov_run(xn),
             "fastconv_1thread": lambda: model(xn)}
    expected = run_torch()
    errors = {engine: check(name, engine, f(), expected) for engine, f in calls.items() if engine not in ("torch", *EXTRA)}

    settle = settled(calls, calls=1)

    def prepare(engine: str) -> Callable[[], None]:
        def pause() -> None:
            numba.set_num_threads(1 if engine == "fastconv_1thread" else threads)
            time.sleep(PAUSE_S)
            settle[engine]()

        return pause

    times = interleaved_times(calls, rounds, budget, prepare={e: prepare(e) for e in calls}, shuffle=True)
    numba.set_num_threads(threads)
    ms = {engine: float(np.median(t)) * 1e3 for engine, t in times.items()}
    best_peer = min(ms["onnxruntime"], ms["openvino"])
    peak, _ = temporary_bytes(calls["fastconv"])
    row = {
        "model": name,
        "batch": batch,
        **{f"{engine}_ms": ms[engine] for engine in ENGINES + EXTRA},
        "rounds": len(times["fastconv"]),
        "vs_best_peer": best_peer / ms["fastconv"],
        "vs_onnxruntime": ms["onnxruntime"] / ms["fastconv"],
        "vs_torch": ms["torch"] / ms["fastconv"],
        "targets": targets(name),
        "error_in_tolerances": errors,
        "fastconv_peak_mb": peak / 2**20,
    }
    print(f"{NAMES[name]:<18} batch {batch}: " + "  ".join(f"{e} {ms[e]:7.1f} ms" for e in ENGINES)
          + f"  fastconv/best peer {row['vs_best_peer']:.2f}x", flush=True)
    ours, ours_total = fastconv_breakdown(model, xn)
    theirs, theirs_total = openvino_breakdown(path, xn, threads)
    breakdown = {
        "model": name, "batch": batch,
        "fastconv_ms": {k: v * 1e3 for k, v in ours.items()}, "fastconv_total_ms": ours_total * 1e3,
        "openvino_ms": {k: v * 1e3 for k, v in theirs.items()}, "openvino_total_ms": theirs_total * 1e3,
    }
    return row, breakdown


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries loaded and the kernel each runs (OpenBLAS's ``architecture``)."""
    import threadpoolctl

    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: info.get(k) for k in keys} for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"]


def engine_versions() -> dict[str, str]:
    found = {}
    for dist in ("onnxruntime", "openvino", "onnx"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


# --- the record as text and as the README section ----------------------------------------


def _load(machine: dict) -> str:
    load = machine.get("loadavg")
    return "unknown" if not load else ", ".join(f"{v:.1f}" for v in load)


def _ms(value: float | None, width: int = 0) -> str:
    return f"{'' if value is None else f'{value:.1f}':>{width}}"


def _breakdown_rows(times: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(times.items(), key=lambda kv: -kv[1])


def _describe(record: dict) -> str:
    m = record["machine"]
    blas = "; ".join(f"{b['internal_api']} {b['version']} kernel {b['architecture']}, {b['num_threads']} threads" for b in record["blas"])
    versions = ", ".join(f"{k} {v}" for k, v in {**m["versions"], **record["engines"]}.items()
                         if k in ("fastconv", "numpy", "numba", "torch", "onnxruntime", "openvino", "numpy blas"))
    env = record.get("openblas_env") or "unset"
    return (f"{m['cpu']} ({m['cores']} cores, numba target {m['llvm_cpu']}, SIMD {m['hardware']['cpu']['simd']}); "
            f"threads {m['threads']}; {blas}; OPENBLAS_CORETYPE {env}; {versions}; load average {_load(m)} at the start")


def as_text(record: dict) -> str:
    lines = [f"# {record['command']}", f"# {record['date']}  {_describe(record)}", ""]
    lines.append(f"{'model':<18} {'batch':>5} " + " ".join(f"{e + ' ms':>18}" for e in ENGINES + EXTRA)
                 + f" {'vs best peer':>13} {'vs ORT':>7} {'vs torch':>9} {'peak MB':>8}")
    for r in record["end_to_end"]:
        lines.append(f"{NAMES[r['model']]:<18} {r['batch']:>5} " + " ".join(f"{r.get(e + '_ms', float('nan')):>18.1f}" for e in ENGINES + EXTRA)
                     + f" {r['vs_best_peer']:>12.2f}x {r['vs_onnxruntime']:>6.2f}x {r['vs_torch']:>8.2f}x {r['fastconv_peak_mb']:>8.0f}")
    for b in record["breakdown"]:
        lines += ["", f"per layer kind, {NAMES[b['model']]} batch {b['batch']} (one profiled pass, ms): "
                      f"fastconv {b['fastconv_total_ms']:.1f}, OpenVINO {b['openvino_total_ms']:.1f}"]
        ours, theirs = _breakdown_rows(b["fastconv_ms"]), _breakdown_rows(b["openvino_ms"])
        for i in range(max(len(ours), len(theirs))):
            left = f"{ours[i][0]:<26} {ours[i][1]:8.2f}" if i < len(ours) else " " * 35
            right = f"{theirs[i][0]:<40} {theirs[i][1]:8.2f}" if i < len(theirs) else ""
            lines.append(f"  {left}   |   {right}")
    return "\n".join(lines) + "\n"


def _target_text(r: dict) -> str:
    parts = []
    for peer, ratio in r["targets"].items():
        got = r["vs_best_peer"] if peer.startswith("best") else r[f"vs_{peer}"]
        parts.append(f"≥ {ratio:.1f}x {peer.replace('onnxruntime', 'ORT').replace('openvino', 'OpenVINO')}: {'met' if got >= ratio else 'missed'}")
    return "; ".join(parts)


def readme_section(path: str) -> str:
    with open(path) as f:
        record = json.load(f)
    rel = os.path.relpath(path, ROOT)
    lines = [
        f"Generated by `python benchmarks/nn_bench.py --readme` from [`{rel}`]({rel}), recorded by `{record['command']}` "
        f"on {_describe(record)}. Median latency per call, 224 x 224 float32, the four engines interleaved in one process; "
        "\"vs\" = the other engine's time / fastconv's (above 1: fastconv is faster); best peer = the faster of ONNX Runtime and OpenVINO.",
        "",
        "| model | batch | fastconv ms | fastconv, numba on 1 thread, ms | torch eager ms | ONNX Runtime ms | OpenVINO ms | vs best peer | vs torch | targets |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record["end_to_end"]:
        lines.append(f"| {NAMES[r['model']]} | {r['batch']} | {r['fastconv_ms']:.1f} | {r.get('fastconv_1thread_ms', float('nan')):.1f} | {r['torch_ms']:.1f} | {r['onnxruntime_ms']:.1f} | "
                     f"{r['openvino_ms']:.1f} | {r['vs_best_peer']:.2f}x | {r['vs_torch']:.2f}x | {_target_text(r)} |")
    for b in record["breakdown"]:
        if b["batch"] != 1:
            continue
        lines += ["", f"Where the time goes, {NAMES[b['model']]} batch 1 (ms, one profiled pass each; fastconv "
                      f"{b['fastconv_total_ms']:.1f} by layer kind, OpenVINO {b['openvino_total_ms']:.1f} by its PERF_COUNT node types, "
                      "the largest five):", "",
                  "| fastconv layer | ms | OpenVINO node (kernel) | ms |", "|---|---|---|---|"]
        ours, theirs = _breakdown_rows(b["fastconv_ms"])[:5], _breakdown_rows(b["openvino_ms"])[:5]
        for i in range(max(len(ours), len(theirs))):
            left = f"{ours[i][0]} | {ours[i][1]:.1f}" if i < len(ours) else " | "
            right = f"{theirs[i][0]} | {theirs[i][1]:.1f}" if i < len(theirs) else " | "
            lines.append(f"| {left} | {right} |")
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
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--readme", action="store_true", help="only regenerate the README's Networks table")
    args = parser.parse_args(argv)
    if args.readme:
        update_readme(os.path.join(ROOT, "README.md"))
        return 0
    threads = len(os.sched_getaffinity(0))
    record: dict[str, Any] = {
        "command": "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=src python benchmarks/nn_bench.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "blas": blas_info(),
        "engines": engine_versions(),
        "engine_threads": threads,
        "end_to_end": [],
        "breakdown": [],
    }
    if record["openblas_env"]:
        record["command"] = record["command"].replace("env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ", "")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            for batch in BATCHES:
                row, breakdown = run_case(name, batch, folder, args.rounds, args.budget, threads)
                record["end_to_end"].append(row)
                record["breakdown"].append(breakdown)
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
