"""Fit the cost-model constants of ``fastconv._methods`` on this machine.

    PYTHONPATH=src python benchmarks/calibrate_methods.py [--backend cpu]

Times each method on float32 images (each timed call after two untimed ones
of the same method, see ``fastconv.bench.settled``) and prints, per method,
the non-negative least-squares ns per feature of ``_methods.work`` (the last
feature is the call itself) and how far the fit is from the measurements.  Copy the printed tuples into
``_methods.COST_NS`` by hand.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from scipy.optimize import nnls

import fastconv as fc
from fastconv import _methods
from fastconv._validate import filter2d as check_filter2d
from fastconv.bench import interleaved_times, settled

SHAPES = [(1, 64), (1, 128), (1, 256), (1, 512), (1, 1024), (1, 2048), (16, 256)]
KERNELS = [3, 5, 9, 15, 31, 63]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    samples: dict[str, list[tuple[tuple[float, ...], float]]] = {"direct": [], "separable": [], "fft": []}
    for n, size in SHAPES:
        image = rng.standard_normal((n, size, size), dtype=np.float32)
        for k in KERNELS:
            for rank in (1, 3):
                kernel = sum(np.outer(rng.standard_normal(k), rng.standard_normal(k)) for _ in range(rank)).astype(np.float32)
                call = check_filter2d("calibrate", image, kernel, "reflect", 0)[0]
                work = _methods.work(call, rank)
                funcs = {
                    method: (lambda method=method: fc.filter2d(image, kernel, method=method, backend=args.backend))
                    for method in samples
                    if method != "direct" or work["direct"][0] <= 2e9
                }
                for f in funcs.values():
                    f()
                times = interleaved_times(funcs, rounds=5, budget_s=5.0, prepare=settled(funcs), shuffle=True)
                for method, t in times.items():
                    seconds = statistics.median(t)
                    samples[method].append((work[method], seconds * 1e9))
                    print(f"{n}x{size}^2 k={k:2d} rank={rank} {method:<9} {seconds * 1e3:9.2f} ms", flush=True)
    print("\n# fitted COST_NS (ns per feature of _methods.work; the last is per call)")
    for method, rows in samples.items():
        features = np.array([f for f, _ in rows], dtype=float)
        ns = np.array([t for _, t in rows])
        # Relative non-negative least squares: every sample counts by its ratio, not its absolute time.
        coefficients, _ = nnls(features / ns[:, None], np.ones_like(ns))
        ratio = features @ coefficients / ns
        print(f"{method:<9} ({', '.join(f'{c:.4g}' for c in coefficients)})  "
              f"model/measured: median {np.median(ratio):.2f}, range {ratio.min():.2f}-{ratio.max():.2f}")


if __name__ == "__main__":
    main()
