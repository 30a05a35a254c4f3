"""The shared table of implementations, and the peer comparison run by ``python -m fastconv bench``.

``IMPLEMENTATIONS`` maps ``{op: {implementation: setup}}``; ``setup(args)``
takes a case's keyword arguments (named as in fastconv's signature) and
returns a zero-argument callable, with every conversion to the peer's types
done beforehand so that only the call itself is timed.  The tests use the
same table to check that every implementation agrees with the reference.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import fastconv as fc

Setup = Callable[[dict[str, Any]], Callable[[], Any]]


@dataclass(frozen=True)
class Case:
    """One benchmark shape: the op, a label, and its keyword arguments (built lazily)."""

    op: str
    label: str
    make: Callable[[np.random.Generator], dict[str, Any]] = field(repr=False)
    quick: bool = True

    def args(self, seed: int = 0) -> dict[str, Any]:
        return self.make(np.random.default_rng(seed))


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _conv_case(n, c, o, hw, k, stride=1, padding=None, groups=1):
    padding = k // 2 if padding is None else padding

    def make(rng):
        return dict(
            input=_f32(rng, n, c, hw, hw), weight=_f32(rng, o, c // groups, k, k), stride=stride, padding=padding, groups=groups
        )

    return make


CASES: list[Case] = [
    Case("conv2d", "resnet18 3x3 64->64 56x56 N=1", _conv_case(1, 64, 64, 56, 3)),
    Case("conv2d", "resnet18 3x3 64->64 56x56 N=8", _conv_case(8, 64, 64, 56, 3), quick=False),
    Case("conv2d", "1x1 256->64 56x56 N=1", _conv_case(1, 256, 64, 56, 1)),
    Case("conv2d", "depthwise 3x3 C=144 56x56 N=1", _conv_case(1, 144, 144, 56, 3, groups=144)),
    Case("conv1d", "k=5 64->64 L=4096 N=1", lambda rng: dict(input=_f32(rng, 1, 64, 4096), weight=_f32(rng, 64, 64, 5), padding=2)),
    Case("max_pool2d", "3x3/s2/p1 64x112x112 N=1", lambda rng: dict(input=_f32(rng, 1, 64, 112, 112), kernel_size=3, stride=2, padding=1)),
    Case("avg_pool2d", "2x2/s2 64x112x112 N=1", lambda rng: dict(input=_f32(rng, 1, 64, 112, 112), kernel_size=2)),
    Case("adaptive_avg_pool2d", "512x7x7 -> 1x1 N=8", lambda rng: dict(input=_f32(rng, 8, 512, 7, 7), output_size=1)),
    Case("adaptive_max_pool2d", "64x56x56 -> 7x7 N=1", lambda rng: dict(input=_f32(rng, 1, 64, 56, 56), output_size=7)),
    Case("convolve2d", "512x512 * 5x5 same symm", lambda rng: dict(in1=_f32(rng, 512, 512), in2=_f32(rng, 5, 5), mode="same", boundary="symm")),
    Case("correlate2d", "512x512 * 5x5 same fill", lambda rng: dict(in1=_f32(rng, 512, 512), in2=_f32(rng, 5, 5), mode="same")),
    Case("convolve", "1e6 * 63 full", lambda rng: dict(a=_f32(rng, 1_000_000), v=_f32(rng, 63))),
    Case("filter2d", "2048x2048 3x3 reflect", lambda rng: dict(image=_f32(rng, 2048, 2048), kernel=_f32(rng, 3, 3))),
    Case("filter2d", "2048x2048 15x15 reflect", lambda rng: dict(image=_f32(rng, 2048, 2048), kernel=_f32(rng, 15, 15)), quick=False),
    # Issue 4's filtering targets (benchmarks/filters.py times them against the best peer).
    Case("filter2d", "2048x2048 5x5 reflect", lambda rng: dict(image=_f32(rng, 2048, 2048), kernel=_f32(rng, 5, 5)), quick=False),
    Case("filter2d", "2048x2048 15x15 gaussian", lambda rng: dict(image=_f32(rng, 2048, 2048), kernel=fc.kernels.gaussian(15, 2.5).astype(np.float32))),
    Case("filter2d", "2048x2048 31x31 reflect", lambda rng: dict(image=_f32(rng, 2048, 2048), kernel=_f32(rng, 31, 31)), quick=False),
    Case("filter2d", "64x256x256 5x5 reflect", lambda rng: dict(image=_f32(rng, 64, 256, 256), kernel=_f32(rng, 5, 5)), quick=False),
]


# --- implementations ------------------------------------------------------------------------

# filter2d boundary -> the peers' names for it.
NDIMAGE_MODES = {"fill": "constant", "wrap": "grid-wrap", "symm": "reflect", "reflect": "mirror", "nearest": "nearest"}
CV2_BORDERS = {"fill": "BORDER_CONSTANT", "wrap": "BORDER_WRAP", "symm": "BORDER_REFLECT", "reflect": "BORDER_REFLECT_101", "nearest": "BORDER_REPLICATE"}


def _fastconv(op: str, backend: str) -> Setup:
    func = getattr(fc, op)
    return lambda args: (lambda: func(**args, backend=backend))


def _torch(op: str) -> Setup:
    def setup(args):
        torch = importlib.import_module("torch")
        func = getattr(importlib.import_module("torch.nn.functional"), op)
        targs = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for k, v in args.items()}
        return lambda: func(**targs)

    return setup


def _call(module: str, name: str) -> Setup:
    def setup(args):
        func = getattr(importlib.import_module(module), name)
        return lambda: func(**args)

    return setup


def _ndimage_filter2d(args):
    ndimage = importlib.import_module("scipy.ndimage")
    mode = NDIMAGE_MODES[args.get("boundary", "reflect")]
    image, kernel, cval = args["image"], args["kernel"], args.get("fillvalue", 0)
    full = kernel.reshape((1,) * (image.ndim - 2) + kernel.shape)
    return lambda: ndimage.correlate(image, full, mode=mode, cval=cval)


def _cv2_filter2d(args):
    cv2 = importlib.import_module("cv2")
    border = getattr(cv2, CV2_BORDERS[args.get("boundary", "reflect")])
    image, kernel = args["image"], args["kernel"]
    if image.ndim != 2:
        raise NotImplementedError("cv2.filter2D filters one 2-D image")
    return lambda: cv2.filter2D(image, -1, kernel, borderType=border)


_TORCH_OPS = ("conv2d", "conv1d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d")
PEERS: dict[str, dict[str, Setup]] = {
    **{op: {"torch": _torch(op)} for op in _TORCH_OPS},
    "convolve2d": {"scipy.signal": _call("scipy.signal", "convolve2d")},
    "correlate2d": {"scipy.signal": _call("scipy.signal", "correlate2d")},
    "convolve": {"numpy": _call("numpy", "convolve")},
    "filter2d": {"cv2": _cv2_filter2d, "scipy.ndimage": _ndimage_filter2d},
}
OPS = tuple(PEERS)


def implementations(backends: list[str] | None = None) -> dict[str, dict[str, Setup]]:
    """``{op: {implementation: setup}}`` for the fastconv backends available here and every peer."""
    names = backends or [n for n, info in fc.backends().items() if info["available"]]
    return {op: {**{f"fastconv[{b}]": _fastconv(op, b) for b in names}, **peers} for op, peers in PEERS.items()}


IMPLEMENTATIONS = implementations()


# --- timing ----------------------------------------------------------------------------------


def interleaved_medians(funcs: dict[str, Callable[[], Any]], rounds: int, budget_s: float) -> dict[str, float]:
    """Median seconds per call, taking one call of each function per round in turn."""
    for f in funcs.values():
        f()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    deadline = time.perf_counter() + budget_s
    for i in range(rounds):
        for name, f in funcs.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
        if i >= 2 and time.perf_counter() > deadline:
            break
    return {name: statistics.median(t) for name, t in times.items()}


def machine_info() -> dict[str, Any]:
    import numba
    import scipy

    versions = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__, "fastconv": fc.__version__}
    for name, module in (("torch", "torch"), ("opencv", "cv2")):
        try:
            versions[name] = importlib.import_module(module).__version__
        except ImportError:
            pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads = {}
    try:
        threads["torch"] = importlib.import_module("torch").get_num_threads()
    except ImportError:
        pass
    return {
        "machine": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
        "platform": platform.platform(),
        "versions": versions,
        "backends": fc.backends(),
    }


def run(
    ops: list[str] | None = None,
    backends: list[str] | None = None,
    quick: bool = True,
    rounds: int = 15,
    budget_s: float = 3.0,
    progress: Callable[[str], None] = lambda line: None,
) -> list[dict[str, Any]]:
    """Time every case of ``ops`` for every implementation; one row per (case, implementation)."""
    table = implementations(backends)
    rows = []
    for case in CASES:
        if (ops and case.op not in ops) or (quick and not case.quick):
            continue
        args = case.args()
        funcs, skipped = {}, {}
        for name, setup in table[case.op].items():
            try:
                funcs[name] = setup(args)
            except (ImportError, NotImplementedError) as exc:
                skipped[name] = str(exc)
        medians = interleaved_medians(funcs, rounds, budget_s)
        best = min(t for n, t in medians.items() if n.startswith("fastconv["))
        for name, t in medians.items():
            rows.append({"op": case.op, "case": case.label, "impl": name, "median_ms": t * 1e3, "vs_fastconv": t / best})
        for name, why in skipped.items():
            rows.append({"op": case.op, "case": case.label, "impl": name, "median_ms": None, "vs_fastconv": None, "skipped": why})
        progress(f"{case.op:<20} {case.label}")
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    header = f"{'op':<20} {'case':<32} {'implementation':<18} {'median ms':>10} {'time / fastconv':>15}"
    lines = [header, "-" * len(header)]
    last = None
    for r in rows:
        key = (r["op"], r["case"])
        op, case = (r["op"], r["case"]) if key != last else ("", "")
        last = key
        if r["median_ms"] is None:
            lines.append(f"{op:<20} {case:<32} {r['impl']:<18} {'skipped':>10}   {r['skipped']}")
        else:
            lines.append(f"{op:<20} {case:<32} {r['impl']:<18} {r['median_ms']:>10.3f} {r['vs_fastconv']:>14.2f}x")
    return "\n".join(lines)


def write_json(rows: list[dict[str, Any]], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"machine": machine_info(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": rows}, f, indent=2)
        f.write("\n")
