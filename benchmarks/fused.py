"""The fused-activation target: conv2d(..., activation="relu") against conv2d followed by a separate ReLU.

    PYTHONPATH=src python benchmarks/fused.py [--rounds 31] [--budget 20]

Fusing saves one pass over the output (``relu pass only``), so the speedup
cannot exceed (conv + that pass) / conv, reported as ``upper_bound_speedup``.

The case is ResNet-18's 3x3 layer (N=1, 64 -> 64 channels, 56 x 56, padding 1,
bias, float32).  "unfused" is ``np.maximum(fc.conv2d(...), 0)``: the conv
with its bias, then one more pass over the output.  Each is timed as
interleaved medians; torch's conv + relu is timed apart, for scale.  Writes
benchmarks/results/fused.json with the machine, threads and versions.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import fastconv as fc
from fastconv.bench import interleaved_medians, machine_info, thread_counts

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of timing at most")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, 56, 56), dtype=np.float32)
    w = rng.standard_normal((64, 64, 3, 3), dtype=np.float32) * 0.05
    b = rng.standard_normal(64, dtype=np.float32)
    xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
    y = fc.conv2d(x, w, b, padding=1, backend="cpu")
    funcs = {
        "fused": lambda: fc.conv2d(x, w, b, padding=1, activation="relu", backend="cpu"),
        "unfused": lambda: np.maximum(fc.conv2d(x, w, b, padding=1, backend="cpu"), 0),
        "conv only": lambda: fc.conv2d(x, w, b, padding=1, backend="cpu"),
        "relu pass only": lambda: np.maximum(y, 0),
    }
    np.testing.assert_array_equal(funcs["fused"](), funcs["unfused"]())
    medians = interleaved_medians(funcs, args.rounds, args.budget)
    # timed apart: torch's OpenMP threads keep spinning after a call and would slow whichever call came next
    with torch.no_grad():
        medians.update(interleaved_medians({"torch conv + relu": lambda: F.relu(F.conv2d(xt, wt, bt, padding=1))}, args.rounds, args.budget / 4))
    ratio = medians["unfused"] / medians["fused"]
    result = {
        "case": "ResNet-18 3x3 layer: N=1, 64->64, 56x56, padding 1, bias, float32, backend='cpu'",
        "median_ms": {k: round(v * 1e3, 4) for k, v in medians.items()},
        "fused_speedup_over_unfused": round(ratio, 3),
        # the most fusing the ReLU can save: its own pass over the output
        "upper_bound_speedup": round((medians["conv only"] + medians["relu pass only"]) / medians["conv only"], 3),
        "target": 1.2,
        "rounds": args.rounds,
        "load_average_1_5_15": os.getloadavg(),
        "threads": thread_counts(),
        "machine": machine_info(),
    }
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "fused.json"), "w") as f:
        json.dump(result, f, indent=2, default=str)
    for name, ms in result["median_ms"].items():
        print(f"{name:>20}: {ms:8.3f} ms")
    print(f"fused speedup over unfused: {ratio:.3f}x (target 1.2x)")


if __name__ == "__main__":
    main()
