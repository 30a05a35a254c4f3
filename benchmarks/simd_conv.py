"""The explicit-SIMD direct convolution (``fastconv._backends.cpu.direct``) against torch, NCHW, both threads.

Interleaved rounds: each round times torch (min of ``reps`` calls) and then ours, with a short sleep
between the two runtimes (torch's and numba's thread pools fight when they switch back to back); the
ratio is the median over rounds of torch time / our time.  Before each shape the script waits (up to a
few seconds) for the machine to go quiet, since it is shared.  Also: the FMA peak of the vector type
(24 independent accumulators per thread), and, with ``--compile``, cold compile times per kernel.

    PYTHONPATH=src python benchmarks/simd_conv.py [--rounds 9] [--only NAME] [--compile] [--save]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


from fastconv._backends.cpu import direct, simd  # noqa: E402
from fastconv._backends.cpu.peak import fma_peak  # noqa: E402

# name, (N, C, H, W), (O, kh, kw), stride, pad, groups, dtype
SHAPES = [
    ("r18 64->64 56² 3x3", (1, 64, 56, 56), (64, 3, 3), 1, 1, 1, np.float32),
    ("r18 128->128 28² 3x3", (1, 128, 28, 28), (128, 3, 3), 1, 1, 1, np.float32),
    ("r18 256->256 14² 3x3", (1, 256, 14, 14), (256, 3, 3), 1, 1, 1, np.float32),
    ("r18 512->512 7² 3x3", (1, 512, 7, 7), (512, 3, 3), 1, 1, 1, np.float32),
    ("r18 64->128 56² 3x3 s2", (1, 64, 56, 56), (128, 3, 3), 2, 1, 1, np.float32),
    ("r18 64->128 56² 1x1 s2", (1, 64, 56, 56), (128, 1, 1), 2, 0, 1, np.float32),
    ("r18 stem 3->64 224² 7x7 s2", (1, 3, 224, 224), (64, 7, 7), 2, 3, 1, np.float32),
    ("1x1 256->64 56²", (1, 256, 56, 56), (64, 1, 1), 1, 0, 1, np.float32),
    ("1x1 64->256 56²", (1, 64, 56, 56), (256, 1, 1), 1, 0, 1, np.float32),
    (
        "resnext g32 128->128 56² 3x3",
        (1, 128, 56, 56),
        (128, 3, 3),
        1,
        1,
        32,
        np.float32,
    ),
    ("batch 8 128->128 28² 3x3", (8, 128, 28, 28), (128, 3, 3), 1, 1, 1, np.float32),
    ("float64 64->64 56² 3x3", (1, 64, 56, 56), (64, 3, 3), 1, 1, 1, np.float64),
]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _busy() -> float:
    """Fraction of the CPUs busy over 0.2 s (from /proc/stat; 0 where it is not available)."""
    try:

        def snap():
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
            return sum(v), v[3] + v[4]

        t0, i0 = snap()
        time.sleep(0.2)
        t1, i1 = snap()
        return 1 - (i1 - i0) / max(1, t1 - t0)
    except OSError:
        return 0.0


def wait_quiet(limit=30.0, busy=0.1):
    t = time.time()
    b = _busy()
    while b > busy and time.time() - t < limit:
        b = _busy()
    return b


def _min_time(f, reps, warm=2, warm_s=0.005):
    # after the pause, caches, TLBs, clocks and the other thread take a few ms to come back (measured on the
    # 2-vCPU VMs: the first call after 0.1 s idle runs at half speed): warm up for 2 calls and 5 ms
    t = time.perf_counter()
    n = 0
    while n < warm or time.perf_counter() - t < warm_s:
        f()
        n += 1
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def bench_shape(spec, rounds, reps, gap=0.05, wait=30.0):
    name, (n, c, h, w), (o, kh, kw), s, p, g, dt = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dt)
    wt = rng.standard_normal((o, c // g, kh, kw)).astype(dt)
    b = rng.standard_normal(o).astype(dt)
    tx, tw, tb = map(torch.from_numpy, (x, wt, b))
    ref = F.conv2d(tx, tw, tb, s, p, 1, g).numpy()
    out = np.empty_like(ref)

    def ours():
        direct.conv2d_direct(x, wt, b, (s, s), (p, p, p, p), (1, 1), "constant", 0, out)

    def theirs():
        F.conv2d(tx, tw, tb, s, p, 1, g)

    ours()
    err = np.abs(out - ref).max() / np.abs(ref).max()
    assert err < (1e-5 if dt == np.float32 else 1e-12), (name, err)
    for f in (theirs, ours, theirs, ours):
        f()
    busy = wait_quiet(wait)
    ts, us = [], []
    for _ in range(rounds):
        time.sleep(gap)
        ts.append(_min_time(theirs, reps))
        time.sleep(gap)
        us.append(_min_time(ours, reps))
    ts, us = np.array(ts), np.array(us)
    flops = 2 * n * o * (c // g) * kh * kw * ref.shape[2] * ref.shape[3]
    return dict(
        name=name,
        ms=np.median(us) * 1e3,
        torch_ms=np.median(ts) * 1e3,
        ratio=float(np.median(ts / us)),
        gflops=flops / np.median(us) / 1e9,
        torch_gflops=flops / np.median(ts) / 1e9,
        best_gflops=flops / us.min() / 1e9,
        busy=busy,
        dtype=np.dtype(dt).name,
    )


COMPILE_SCRIPT = r"""
import time, numpy as np, numba
from numba import types as T
from fastconv._backends.cpu import direct, simd  # noqa: E402
from fastconv._backends.cpu.peak import fma_peak  # noqa: E402
for dt in (np.dtype(np.float32), np.dtype(np.float64)):
    mod = direct.kernel_module(dt)
    A = T.Array(numba.from_dtype(dt), 1, "C"); I = T.int64; IA = T.Array(T.int64, 1, "C"); I2 = T.Array(T.int64, 2, "C"); F = numba.from_dtype(dt)
    sigs = {f"uk{i} {tile}": (f"uk{i}", direct.microkernel_signature(dt)) for i, tile in enumerate(mod.TILES)}
    sigs.update(
        fill_phase=("fill_phase", (A, A, I, I, I, I, IA, IA, I2, I, I, I, I, F)),
        copy_out=("copy_out", (A, I, A, I, I, I, I, I)),
        run_task=("run_task", (I, A, I, I, IA, I, A, A, I, A) + (I,) * 9),
        activate_plane=("activate_plane", (A, I, I, I)),
        fill_unit=("fill_unit", (I, A, A, I, I, I, IA, IA, I2, I, I, I, I, F)),
    )
    times = {}
    for label, (name, sig) in sigs.items():
        t = time.perf_counter(); getattr(mod, name).compile(sig); times[label] = time.perf_counter() - t
    print(f"  {dt.name} (one module, {len(mod.TILES)} micro-kernels): " + ", ".join(f"{k} {v:.2f}" for k, v in times.items()) + f"  = {sum(times.values()):.2f} s")
"""


def compile_times() -> str:
    """Cold compile times, in a subprocess with an empty numba cache; then the cached load."""
    lines = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold (empty cache)", "warm (cache filled)"):
            r = subprocess.run(
                [sys.executable, "-c", COMPILE_SCRIPT],
                check=False,
                env=env,
                capture_output=True,
                text=True,
            )
            lines.append(
                f"compile, {label}:\n"
                + r.stdout
                + (r.stderr[-2000:] if r.returncode else "")
            )
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument(
        "--wait",
        type=float,
        default=30.0,
        help="seconds to wait for a quiet machine before each shape",
    )
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default=None, help="substring of the shape names to run")
    ap.add_argument(
        "--compile", action="store_true", help="also measure cold compile times"
    )
    ap.add_argument(
        "--save",
        action="store_true",
        help="write benchmarks/results/simd-conv-<date>.txt",
    )
    ap.add_argument(
        "--threads", type=int, default=2, help="threads for both torch and numba"
    )
    ap.add_argument("--tag", default="", help="suffix of the saved file's name")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    out = []

    def say(s=""):
        print(s, flush=True)
        out.append(s)

    say(
        f"fastconv explicit-SIMD direct conv vs torch {torch.__version__} ({datetime.datetime.now():%Y-%m-%d %H:%M})"
    )
    say(
        f"CPU: {cpu_model()}, LLVM target {simd.target_name()}, VECTOR_BITS {simd.VECTOR_BITS}, tiles (OT, PT) {direct.TILE_CHOICES.get(simd.VECTOR_BITS)}, "
        f"numba {numba.__version__} threads {numba.get_num_threads()} ({numba.threading_layer() if hasattr(numba, 'threading_layer') else '?'}), torch threads {torch.get_num_threads()}"
    )
    wait_quiet()
    peak32, peak64 = (
        fma_peak(np.float32, threads=args.threads),
        fma_peak(np.float64, threads=args.threads),
    )
    say(
        f"FMA peak (vector type, 24 accumulators/thread, {args.threads} threads): float32 {peak32:.0f} GFLOP/s, float64 {peak64:.0f} GFLOP/s"
    )
    say(
        f"rounds {args.rounds} x min of {args.reps}; ratio = median over rounds of torch time / our time; load avg {os.getloadavg()[0]:.2f}"
    )
    say("")
    say(
        f"{'shape':32s} {'ours ms':>8s} {'torch ms':>9s} {'ratio':>6s} {'GFLOP/s':>8s} {'best':>6s} {'torch':>6s} {'% peak':>7s} {'busy':>5s}"
    )
    for spec in SHAPES:
        if args.only and args.only not in spec[0]:
            continue
        r = bench_shape(spec, args.rounds, args.reps, wait=args.wait)
        peak = peak32 if r["dtype"] == "float32" else peak64
        say(
            f"{r['name']:32s} {r['ms']:8.3f} {r['torch_ms']:9.3f} {r['ratio']:6.2f} {r['gflops']:8.0f} {r['best_gflops']:6.0f} {r['torch_gflops']:6.0f} {100 * r['gflops'] / peak:6.0f}% {r['busy']:5.2f}"
        )
    say("")
    say("(busy: fraction of the CPUs other work used just before the shape's rounds)")
    if args.compile:
        say(compile_times())
    peak_after = fma_peak(np.float32, threads=args.threads)
    say(f"FMA peak float32 after the run: {peak_after:.0f} GFLOP/s")
    if args.save:
        path = (
            HERE
            / "results"
            / f"simd-conv-{datetime.date.today():%Y-%m-%d}{args.tag}.txt"
        )  # --tag: e.g. -1t, -run2
        path.write_text("\n".join(out) + "\n")
        print("saved", path)


if __name__ == "__main__":
    main()
