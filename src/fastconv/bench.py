"""The shared benchmark table, and the run behind ``python -m fastconv bench``.

``IMPLEMENTATIONS`` maps ``{op: {implementation: setup}}``; ``setup(args)``
takes a case's keyword arguments (named as in fastconv's signature) and
returns a zero-argument callable, with every conversion to the peer's types
done beforehand so that only the call itself is timed.  The same table feeds
``python -m fastconv bench``, the pytest-benchmark suite (tests/test_peer_table.py)
and the asv suite (benchmarks/).

``CASES`` is the shape set: the ``public`` tier is a set of real
network layers and images, ``extra`` covers the other operations, and
``large`` only runs with ``--full``.
"""

from __future__ import annotations

import importlib
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import fastconv as fc

from . import _bench_machine as machine
from ._bench_machine import THREAD_POOLS, thread_counts

Setup = Callable[[dict[str, Any]], Callable[[], Any]]
TIERS = ("public", "extra", "large")


@dataclass(frozen=True)
class Case:
    """One benchmark shape.

    ``targets`` maps a peer to the smallest speed-up of ``fastconv[cpu]`` over
    it that the speed-up targets ask for: 5x over the reference on every public and extra shape,
    and the explicit-SIMD kernels' targets over torch and OpenCV.
    """

    op: str
    label: str
    make: Callable[[np.random.Generator], dict[str, Any]] = field(repr=False)
    tier: str = "public"
    targets: Mapping[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.op}|{self.label}"

    def args(self, seed: int = 0) -> dict[str, Any]:
        return self.make(np.random.default_rng(seed))


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _conv(n, c, o, hw, k, stride=1, padding=None, groups=1):
    padding = k // 2 if padding is None else padding

    def make(rng):
        return dict(input=_f32(rng, n, c, hw, hw), weight=_f32(rng, o, c // groups, k, k), stride=stride, padding=padding, groups=groups)

    return make


def _conv_transpose(n, c, o, hw, k, stride, padding):
    return lambda rng: dict(input=_f32(rng, n, c, hw, hw), weight=_f32(rng, c, o, k, k), stride=stride, padding=padding)


def _pool(n, c, hw, **kw):
    return lambda rng: dict(input=_f32(rng, n, c, hw, hw), **kw)


def _plane(size, k, **kw):
    return lambda rng: dict(image=_f32(rng, size, size), kernel=_f32(rng, k, k), **kw)


def _gaussian_plane(size, k, sigma):
    return lambda rng: dict(image=_f32(rng, size, size), kernel=fc.kernels.gaussian(k, sigma).astype(np.float32))


def _as_float64(make):
    return lambda rng: {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v for k, v in make(rng).items()}


def _targets(**peers: float) -> dict[str, float]:
    return {"fastconv[numpy]": 5.0, **peers}


DENSE, DEPTHWISE, GROUPED = _targets(torch=1.1), _targets(torch=2.0), _targets(torch=1.5)
MAX_POOL, POOL, MATCH = _targets(torch=10.0), _targets(torch=3.0), _targets(torch=1.0)
FILTER = _targets(cv2=1.5, **{"scipy.signal": 30.0})

CASES: list[Case] = [
    Case("conv2d", "resnet18 3x3 64->64 56x56 N=1", _conv(1, 64, 64, 56, 3), targets=DENSE),
    Case("conv2d", "resnet18 3x3 64->64 56x56 N=8", _conv(8, 64, 64, 56, 3), targets=DENSE),
    Case("conv2d", "resnet50 1x1 256->64 56x56 N=1", _conv(1, 256, 64, 56, 1), targets=DENSE),
    Case("conv2d", "stem 7x7/s2 3->64 224x224 N=1", _conv(1, 3, 64, 224, 7, stride=2), targets=DENSE),
    Case("conv2d", "mobilenetv2 dw 3x3 C=32 112x112 N=1", _conv(1, 32, 32, 112, 3, groups=32), targets=DEPTHWISE),
    Case("conv2d", "mobilenetv2 dw 3x3 C=144 56x56 N=1", _conv(1, 144, 144, 56, 3, groups=144), targets=DEPTHWISE),
    Case("conv2d", "resnext 3x3 g=32 128->128 56x56 N=1", _conv(1, 128, 128, 56, 3, groups=32), targets=GROUPED),
    Case("max_pool2d", "3x3/s2/p1 64x112x112 N=1", _pool(1, 64, 112, kernel_size=3, stride=2, padding=1), targets=MAX_POOL),
    Case("avg_pool2d", "2x2/s2 256x56x56 N=1", _pool(1, 256, 56, kernel_size=2), targets=POOL),
    Case("adaptive_avg_pool2d", "global 2048x7x7 N=8", _pool(8, 2048, 7, output_size=1), targets=POOL),
    Case("filter2d", "3x3 2048x2048 symm", _plane(2048, 3, boundary="symm"), targets=FILTER),
    Case("filter2d", "5x5 2048x2048 symm", _plane(2048, 5, boundary="symm"), targets=FILTER),
    Case("filter2d", "7x7 2048x2048 symm", _plane(2048, 7, boundary="symm"), targets=FILTER),
    Case("conv1d", "k=5 64->64 L=4096 N=1", lambda rng: dict(input=_f32(rng, 1, 64, 4096), weight=_f32(rng, 64, 64, 5), padding=2), "extra", _targets(torch=1.2)),
    Case("adaptive_max_pool2d", "64x56x56 -> 7x7 N=1", _pool(1, 64, 56, output_size=7), "extra", MATCH),
    Case("convolve2d", "512x512 * 5x5 same symm", lambda rng: dict(in1=_f32(rng, 512, 512), in2=_f32(rng, 5, 5), mode="same", boundary="symm"), "extra", _targets()),
    Case("correlate2d", "512x512 * 5x5 same fill", lambda rng: dict(in1=_f32(rng, 512, 512), in2=_f32(rng, 5, 5), mode="same"), "extra", _targets()),
    Case("convolve", "1e6 * 63 full", lambda rng: dict(a=_f32(rng, 1_000_000), v=_f32(rng, 63)), "extra", _targets()),
    # The filtering targets (benchmarks/filters.py times them against the best peer).
    Case("filter2d", "15x15 gaussian 2048x2048 reflect", _gaussian_plane(2048, 15, 2.5), "extra", _targets()),
    Case("filter2d", "5x5 2048x2048 reflect", _plane(2048, 5), "large"),
    Case("filter2d", "15x15 2048x2048 reflect", _plane(2048, 15), "large"),
    Case("filter2d", "31x31 2048x2048 reflect", _plane(2048, 31), "large"),
    Case("filter2d", "5x5 64x256x256 reflect", lambda rng: dict(image=_f32(rng, 64, 256, 256), kernel=_f32(rng, 5, 5)), "large"),
    Case("conv2d", "resnet18 3x3 128->128 28x28 N=32", _conv(32, 128, 128, 28, 3), "large"),
    # adaptive pooling, interpolate and float64 at least as fast as torch; conv_transpose2d 1.2x
    Case("adaptive_avg_pool2d", "512x14x14 -> 7x7 N=8", _pool(8, 512, 14, output_size=7), "extra", MATCH),
    Case("interpolate", "nearest 2x 64x56x56 N=1", _pool(1, 64, 56, scale_factor=2, mode="nearest"), "extra", MATCH),
    Case("interpolate", "bilinear 2x 64x56x56 N=1", _pool(1, 64, 56, scale_factor=2, mode="bilinear"), "extra", MATCH),
    Case("conv2d", "resnet18 3x3 64->64 56x56 N=1 float64", _as_float64(_conv(1, 64, 64, 56, 3)), "extra", MATCH),
    Case("conv_transpose2d", "unet 2x2/s2 128->64 28x28 N=1", _conv_transpose(1, 128, 64, 28, 2, 2, 0), targets=_targets(torch=1.2)),
    Case("conv_transpose2d", "dcgan 4x4/s2 p1 64->32 56x56 N=1", _conv_transpose(1, 64, 32, 56, 4, 2, 1), targets=_targets(torch=1.2)),
]


def select_cases(ops: Iterable[str] | None = None, tiers: Iterable[str] = ("public", "extra")) -> list[Case]:
    """The cases of ``ops`` (default all) in ``tiers``, in table order."""
    ops, tiers = set(ops or OPS), set(tiers)
    return [c for c in CASES if c.op in ops and c.tier in tiers]


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


def _signal_filter2d(args):
    """filter2d as ``scipy.signal.correlate2d(mode="same")``: one plane, odd kernel, a boundary scipy has."""
    signal = importlib.import_module("scipy.signal")
    image, kernel, boundary = args["image"], args["kernel"], args.get("boundary", "reflect")
    if image.ndim != 2 or boundary not in ("fill", "wrap", "symm") or not all(k % 2 for k in kernel.shape):
        raise NotImplementedError("scipy.signal.correlate2d: one plane, an odd kernel and boundary fill, wrap or symm")
    fill = args.get("fillvalue", 0)
    return lambda: signal.correlate2d(image, kernel, mode="same", boundary=boundary, fillvalue=fill)


_TORCH_OPS = ("conv2d", "conv1d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "interpolate")
PEERS: dict[str, dict[str, Setup]] = {
    **{op: {"torch": _torch(op)} for op in _TORCH_OPS},
    "convolve2d": {"scipy.signal": _call("scipy.signal", "convolve2d")},
    "correlate2d": {"scipy.signal": _call("scipy.signal", "correlate2d")},
    "convolve": {"numpy": _call("numpy", "convolve")},
    "filter2d": {"cv2": _cv2_filter2d, "scipy.ndimage": _ndimage_filter2d, "scipy.signal": _signal_filter2d},
}
OPS = tuple(PEERS)


def available_backends() -> list[str]:
    return [n for n, info in fc.backends().items() if info["available"]]


def implementations(backends: list[str] | None = None) -> dict[str, dict[str, Setup]]:
    """``{op: {implementation: setup}}`` for the fastconv backends (default: every available one) and every peer."""
    names = backends or available_backends()
    return {op: {**{f"fastconv[{b}]": _fastconv(op, b) for b in names}, **peers} for op, peers in PEERS.items()}


IMPLEMENTATIONS = implementations()


def backend_of(impl: str) -> str | None:
    """``"cpu"`` for ``"fastconv[cpu]"``; None for a peer."""
    return impl[len("fastconv[") : -1] if impl.startswith("fastconv[") else None


def compiled(impls: Iterable[str]) -> list[str]:
    """The fastconv implementations other than the numpy reference: the ones the table compares with everything."""
    return [i for i in impls if backend_of(i) not in (None, "numpy")]


# --- work model: what each call must compute and move ---------------------------------------


def work(op: str, args: Mapping[str, Any], out: Any) -> tuple[float, float]:
    """Nominal (FLOPs, bytes) of one call: direct-method multiply-adds, and every operand and the result moved once."""
    out = out[0] if isinstance(out, tuple) else out
    arrays = [v for v in args.values() if isinstance(v, np.ndarray)]
    size, itemsize = int(np.size(out)), arrays[0].itemsize
    moved = float(sum(a.nbytes for a in arrays) + size * itemsize)
    if op in ("conv2d", "conv1d"):
        w = args["weight"]
        flops = 2.0 * size * (w.size // w.shape[0])
    elif op == "conv_transpose2d":  # each input value meets every weight of its channel
        w = args["weight"]
        flops = 2.0 * args["input"].size * (w.size // w.shape[0])
    elif op in ("max_pool2d", "avg_pool2d"):
        k = args["kernel_size"]
        flops = float(size * (np.prod(k) if isinstance(k, tuple) else k * k))
    elif op.startswith("adaptive"):
        flops = float(args["input"].size)
    elif op == "interpolate":
        flops = 4.0 * size if args.get("mode") == "bilinear" else 0.0
    else:
        flops = 2.0 * size * min(a.size for a in arrays)
    return flops, moved


def bound(flops: float, moved: float, peaks: Mapping[str, float]) -> str:
    """The peak that limits a call more: ``"compute"`` (the GEMM peak) or ``"memory"`` (the copy bandwidth)."""
    return "compute" if flops / peaks["gflops"] >= moved / peaks["gbps"] else "memory"


def roofline(flops: float, moved: float, seconds: float, peaks: Mapping[str, float]) -> dict[str, Any]:
    """Which peak bounds a call, the attained rate in that peak's unit, and the percentage of the peak."""
    compute = bound(flops, moved, peaks) == "compute"
    rate = (flops if compute else moved) / seconds / 1e9
    peak = peaks["gflops" if compute else "gbps"]
    return {"bound": "compute" if compute else "memory", "rate": rate, "unit": "GFLOP/s" if compute else "GB/s", "pct_peak": 100 * rate / peak}


# --- timing ----------------------------------------------------------------------------------


def interleaved_times(
    funcs: Mapping[str, Callable[[], Any]],
    rounds: int,
    budget_s: float,
    min_rounds: int = 3,
    prepare: Mapping[str, Callable[[], Any]] | None = None,
    shuffle: bool = False,
) -> dict[str, list[float]]:
    """Seconds per call, one call of each function per round in turn, until ``rounds`` or the time budget.

    ``prepare[name]()``, when given, runs untimed before each call of ``name``
    (to set thread counts, say).  With ``shuffle`` each round runs the
    functions in a new (seeded) order, so that none always follows the same
    one.  Callers warm every function up first.
    """
    prepare = prepare or {}
    times: dict[str, list[float]] = {name: [] for name in funcs}
    deadline = time.perf_counter() + budget_s
    order = list(funcs.items())
    rng = random.Random(0)
    for i in range(rounds):
        if shuffle:
            rng.shuffle(order)
        for name, f in order:
            if name in prepare:
                prepare[name]()
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
        if i + 1 >= min_rounds and time.perf_counter() > deadline:
            break
    return times


SETTLE_S = 0.005  # seconds of untimed calls, at least, before each timed one (see settled)


def settled(funcs: Mapping[str, Callable[[], Any]], calls: int = 2, seconds: float = SETTLE_S) -> dict[str, Callable[[], None]]:
    """``prepare`` callables for :func:`interleaved_times` that run each function ``calls`` times untimed, and on
    until ``seconds`` have passed.

    A call that follows one freeing large temporaries (an FFT, say) pays the
    page faults of fresh memory, and so does the one after it, whose output
    takes new pages again; the third call runs on warm memory.  A call that
    follows an idle core (another library's single-threaded call) runs slow
    for a few milliseconds while the VM wakes it: a 0.2 ms max_pool2d after a
    20 ms pause took 0.85, 0.43, 0.33, 0.29 ... ms (medians of 30 pauses), steady
    after about 3 ms, so counting calls alone timed fast functions before they
    settled.
    """

    def repeat(f: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            start = time.perf_counter()
            done = 0
            while done < calls or time.perf_counter() - start < seconds:
                f()
                done += 1

        return run

    return {name: repeat(f) for name, f in funcs.items()}


def interleaved_medians(funcs: Mapping[str, Callable[[], Any]], rounds: int, budget_s: float) -> dict[str, float]:
    """Median seconds per call of each function, warmed up once and timed in interleaved rounds as :func:`time_case`
    times them: in a shuffled order, each timed call after untimed ones (two, and at least ``SETTLE_S``: :func:`settled`).

    In a fixed order one function always follows the same other, and pays for what that one leaves: a fast
    two-thread call after a slow single-threaded one (scipy.ndimage) ran 2-3x slower on a 2-core VM, whose
    idle core had to wake up.
    """
    for f in funcs.values():
        f()
    times = interleaved_times(funcs, rounds, budget_s, prepare=settled(funcs), shuffle=True)
    return {name: statistics.median(t) for name, t in times.items()}


def machine_info() -> dict[str, Any]:
    """The machine description that every result file records (``_bench_machine.machine_info``)."""
    return machine.machine_info()


def temporary_bytes(func: Callable[[], Any]) -> tuple[int, int]:
    """(peak bytes allocated during one call, bytes of its result), as tracemalloc sees them.

    tracemalloc sees the allocations of NumPy and of Numba's runtime (arrays
    a kernel allocates); ``peak_rss_bytes`` also sees plain ``malloc``.
    """
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = func()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    result = out if isinstance(out, tuple) else (out,)
    return peak, sum(np.asarray(r).nbytes for r in result)


def _thread_pools(impl: str) -> list[str]:
    """The thread pools an implementation runs on, which the scaling comparison sets alike."""
    if backend_of(impl) not in (None, "numpy", "cuda"):
        return ["numba", "blas"]
    return [impl] if impl in ("torch", "cv2") else []


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Settings:
    """How long to time each case, which tiers to run, and which extra sections to measure."""

    rounds: int = 15
    budget_s: float = 3.0
    tiers: tuple[str, ...] = ("public", "extra")
    scaling: bool = True
    memory: bool = True
    latency: bool = True
    latency_ops: tuple[str, ...] | None = None  # None: every op that runs


# The quick run times first calls for one op per compiled kernel: conv1d, convolve2d,
# correlate2d and convolve reuse conv2d's and filter2d's kernels, and each cold
# compilation of the direct correlation costs about half a minute.
QUICK = dict(rounds=5, budget_s=1.0, latency_ops=("conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "filter2d"))


def _setup_all(table: Mapping[str, Setup], args: dict[str, Any]) -> tuple[dict[str, Callable[[], Any]], dict[str, str]]:
    funcs, skipped = {}, {}
    for name, setup in table.items():
        try:
            funcs[name] = setup(args)
        except (ImportError, NotImplementedError) as exc:
            skipped[name] = str(exc)
    return funcs, skipped


def time_case(case: Case, table: Mapping[str, Setup], settings: Settings, peaks: Mapping[str, float]) -> dict[str, Any]:
    """Time every implementation of ``case``; with the roofline of each, and the case's work.

    Rounds run the implementations in a shuffled order, each timed call after
    untimed ones (two, and 5 ms at least: :func:`settled`), so that no
    implementation pays for the memory another one just freed, or for the
    cores another one left idle.
    """
    args = case.args()
    funcs, skipped = _setup_all(table, args)
    outputs = {}
    for name, f in list(funcs.items()):  # warm-up, compiles
        try:
            outputs[name] = f()
        except NotImplementedError as exc:
            skipped[name] = str(exc)
            del funcs[name]
    reference = next(name for name in funcs if backend_of(name))
    flops, moved = work(case.op, args, outputs[reference])
    del outputs
    times = interleaved_times(funcs, settings.rounds, settings.budget_s, prepare=settled(funcs), shuffle=True)
    rows = []
    for name, t in times.items():
        median = statistics.median(t)
        rows.append({"impl": name, "median_ms": median * 1e3, "min_ms": min(t) * 1e3, "rounds": len(t), **roofline(flops, moved, median, peaks)})
    rows += [{"impl": name, "skipped": why} for name, why in skipped.items()]
    return {"op": case.op, "case": case.label, "tier": case.tier, "bound": bound(flops, moved, peaks), "gflop": flops / 1e9, "mbytes": moved / 1e6, "rows": rows}


def scaling_case(case: Case, table: Mapping[str, Setup], settings: Settings, threads: tuple[int, int] = (1, 2)) -> list[dict[str, Any]]:
    """Times with 1 and 2 threads of every multithreaded implementation, each of its thread pools set alike."""
    before = thread_counts()
    pools = {name: [p for p in _thread_pools(name) if p in before] for name in table}
    funcs, _ = _setup_all({n: s for n, s in table.items() if pools[n]}, case.args())
    timed, prepare = {}, {}
    for name, f in funcs.items():
        for t in threads:
            timed[(name, t)] = f
            prepare[(name, t)] = lambda names=pools[name], t=t: [THREAD_POOLS[p](t) for p in names]
    try:
        for key, f in timed.items():
            prepare[key]()
            f()
        times = interleaved_times(timed, settings.rounds, settings.budget_s, prepare=prepare)
    finally:
        for pool, n in before.items():
            THREAD_POOLS[pool](n)
    rows = []
    for name in funcs:
        t1, t2 = (statistics.median(times[(name, t)]) for t in threads)
        rows.append({"op": case.op, "case": case.label, "impl": name, "pools": pools[name], "threads": list(threads), "ms": [t1 * 1e3, t2 * 1e3], "speedup": t1 / t2})
    return rows


def _proc_status(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


def peak_rss_bytes(func: Callable[[], Any]) -> int | None:
    """Peak resident memory added during one call, counting every allocator (Linux; None elsewhere).

    Resets the high-water mark through ``/proc/self/clear_refs``.  Run it in a
    process started with ``MALLOC_MMAP_THRESHOLD_`` fixed (as
    ``_bench_machine.isolated`` does), so that freed buffers leave the resident set and reused ones count.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _proc_status("VmRSS")
    except (OSError, StopIteration):
        return None
    func()
    return _proc_status("VmHWM") - before


def memory_rows(names: list[str], backends: list[str]) -> list[dict[str, Any]]:
    """Peak temporary memory of each fastconv backend on each case, against the case's input plus output."""
    rows = []
    for case in (c for c in CASES if c.name in names):
        args = case.args()
        in_bytes = sum(v.nbytes for v in args.values() if isinstance(v, np.ndarray))
        for backend in backends:
            f = _fastconv(case.op, backend)(args)
            f()
            traced, out_bytes = temporary_bytes(f)
            rss = peak_rss_bytes(f)
            io = in_bytes + out_bytes
            temp = max(traced - out_bytes, 0) if rss is None else max(rss - out_bytes, traced - out_bytes, 0)
            rows.append({"op": case.op, "case": case.label, "impl": f"fastconv[{backend}]", "temp_bytes": temp,
                         "traced_bytes": max(traced - out_bytes, 0), "rss_bytes": None if rss is None else max(rss - out_bytes, 0),
                         "io_bytes": io, "ratio": temp / io})
    return rows


def run(
    ops: list[str] | None = None,
    backends: list[str] | None = None,
    settings: Settings | None = None,
    progress: Callable[..., None] = lambda line, total=None: None,
    peaks: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Run the benchmark; return everything ``write_json`` records (see ``_bench_report`` for the output)."""
    settings = settings or Settings()
    backends = backends or available_backends()
    table = implementations(backends)
    cases = select_cases(ops, settings.tiers)
    ops = ops or list(OPS)
    latency_ops = [op for op in ops if settings.latency_ops is None or op in settings.latency_ops]
    convs = [c for c in cases if c.op == "conv2d"] if settings.memory else []
    compiled_backends = [b for b in backends if b != "numpy"]
    steps = 1 + len(cases) + bool(convs) + (1 + len(latency_ops) * len(compiled_backends) if settings.latency else 0)
    progress("measuring the GEMM peak and the copy bandwidth", total=steps)
    peaks = dict(peaks or machine.measure_peaks())
    results = []
    for case in cases:
        progress(f"timing {case.name}")
        results.append(time_case(case, table[case.op], settings, peaks))
    scaled = [c for c, r in zip(cases, results) if r["bound"] == "compute"] if settings.scaling and machine.cores() >= 2 else []
    scaling, memory = [], []
    for case in scaled:
        progress(f"1 vs 2 threads {case.name}", total=steps + len(scaled))
        scaling += scaling_case(case, table[case.op], settings)
    if convs:
        progress(f"temporary memory of {len(convs)} conv2d cases, in a fresh process")
        memory = machine.isolated("memory_rows", [c.name for c in convs], backends)
    latency = machine.latency(latency_ops, compiled_backends, progress) if settings.latency else None
    return {
        "machine": machine.machine_info(),
        "peaks": peaks,
        "settings": {**vars(settings), "backends": backends, "ops": ops},
        "results": results,
        "scaling": scaling,
        "memory": memory,
        "latency": latency,
        "targets": targets(results),
    }


def targets(results: list[dict[str, Any]], impl: str = "fastconv[cpu]") -> list[dict[str, Any]]:
    """The speed-up targets: the speed-up of ``impl`` over each peer named by a case, and whether it is met."""
    by_name = {c.name: c for c in CASES}
    out = []
    for result in results:
        case = by_name.get(f"{result['op']}|{result['case']}")
        ms = {r["impl"]: r["median_ms"] for r in result["rows"] if "median_ms" in r}
        if case is None or impl not in ms:
            continue
        for peer, goal in case.targets.items():
            if peer in ms:
                speedup = ms[peer] / ms[impl]
                out.append({"op": result["op"], "case": result["case"], "impl": impl, "peer": peer, "target": goal, "speedup": speedup, "met": speedup >= goal})
    return out
