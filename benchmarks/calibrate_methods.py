"""Fit the cost-model constants of ``fastconv._methods`` on this machine.

    PYTHONPATH=src python benchmarks/calibrate_methods.py [--backend cpu]

Times each method on float32 images and prints, per method, the least-squares
ns per unit of the work the model counts (``_methods.work``) and the fixed
cost per call.  Copy the printed values into ``_methods`` by hand.
"""

from __future__ import annotations

import argparse
import numpy as np

import fastconv as fc
from fastconv import _methods
from fastconv._validate import filter2d as check_filter2d
from fastconv.bench import interleaved_medians

SHAPES = [(1, 64), (1, 128), (1, 256), (1, 512), (1, 1024), (1, 2048), (16, 256)]
KERNELS = [3, 5, 9, 15, 31, 63]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    samples: dict[str, list[tuple[float, float]]] = {"direct": [], "separable": [], "fft": []}
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
                    if method != "direct" or work["direct"] <= 2e9
                }
                for method, seconds in interleaved_medians(funcs, rounds=5, budget_s=5.0).items():
                    samples[method].append((work[method], seconds * 1e9))
                    print(f"{n}x{size}^2 k={k:2d} rank={rank} {method:<9} {seconds * 1e3:9.2f} ms", flush=True)
    print("\n# fitted: ns = per_unit * work + per_call")
    for method, rows in samples.items():
        work, ns = np.array(rows).T
        # Relative least squares: every sample counts by its ratio, not its absolute time.
        design = np.stack([work / ns, 1 / ns], axis=1)
        (per_unit, per_call), *_ = np.linalg.lstsq(design, np.ones_like(ns), rcond=None)
        print(f"{method:<9} per_unit={per_unit:.4g} ns  per_call={max(per_call, 0):.3g} ns")


if __name__ == "__main__":
    main()
