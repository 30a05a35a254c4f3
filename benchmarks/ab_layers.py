"""Old code against new on a few network layers: fastconv.conv2d (cpu backend) in alternating processes.

    python benchmarks/ab_layers.py --against /tmp/wt-old [--rounds 6]

``--against`` is a checkout of the other commit (``git worktree add /tmp/wt-old <commit>``).  Each round
runs this file's ``--time`` mode once under each checkout's ``src``; a run times every layer, interleaved,
medians of 15 calls, each after an untimed one.  Prints the medians over rounds and the per-round ratios
new / old: the host's speed drifts, so only ratios from the same round are compared.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (input shape, weight shape, padding, stride, groups)
LAYERS = {
    "1x1 16->96 112^2": ((1, 16, 112, 112), (96, 16, 1, 1), 0, 1, 1),
    "1x1 320->1280 7^2": ((1, 320, 7, 7), (1280, 320, 1, 1), 0, 1, 1),
    "1x1 96->24 56^2": ((1, 96, 56, 56), (24, 96, 1, 1), 0, 1, 1),
    "3x3 64->64 56^2 N=1": ((1, 64, 56, 56), (64, 64, 3, 3), 1, 1, 1),
    "3x3 64->64 56^2 N=8": ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1, 1),
    "3x3 256->256 14^2": ((1, 256, 14, 14), (256, 256, 3, 3), 1, 1, 1),
    "depthwise 3x3 C=144 56^2": ((1, 144, 56, 56), (144, 1, 3, 3), 1, 1, 144),
    "stem 7x7/2 3->64 224^2": ((1, 3, 224, 224), (64, 3, 7, 7), 3, 2, 1),
}


def time_layers(calls: int = 15) -> list[float]:
    """Median ms of each layer of LAYERS, interleaved."""
    import fastconv

    rng = np.random.default_rng(0)
    runs = []
    for xs, ws, pad, stride, groups in LAYERS.values():
        x, w = rng.standard_normal(xs, np.float32), rng.standard_normal(ws, np.float32)
        runs.append(lambda x=x, w=w, p=pad, s=stride, g=groups: fastconv.conv2d(x, w, None, stride=s, padding=p, groups=g, backend="cpu"))
        runs[-1]()
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(calls):
        for run, t in zip(runs, times):
            time.sleep(0.002)
            run()
            start = time.perf_counter()
            run()
            t.append(time.perf_counter() - start)
    return [float(np.median(t)) * 1e3 for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="a checkout of the old commit")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--time", action="store_true", help="time the layers once, on the fastconv importable here")
    args = parser.parse_args()
    if args.time:
        print(" ".join(f"{v:.4f}" for v in time_layers()))
        return
    if not args.against:
        parser.error("--against is required (a checkout of the old commit)")
    results: dict[str, list[list[float]]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name, root in (("old", args.against), ("new", ROOT)):
            env = dict(os.environ, PYTHONPATH=os.path.join(root, "src"))
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--time"], env=env, capture_output=True, text=True, check=True)
            results[name].append([float(v) for v in out.stdout.split()])
    old, new = np.array(results["old"]), np.array(results["new"])
    print(f"{'layer':28s} {'old ms':>8s} {'new ms':>8s} {'new/old':>8s}")
    for i, name in enumerate(LAYERS):
        print(f"{name:28s} {np.median(old[:, i]):8.3f} {np.median(new[:, i]):8.3f} {np.median(new[:, i] / old[:, i]):8.2f}")


if __name__ == "__main__":
    main()
