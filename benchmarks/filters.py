"""The filtering targets and the auto-versus-best-method grid, as interleaved medians.

    PYTHONPATH=src python benchmarks/filters.py targets [--rounds 15]
    PYTHONPATH=src python benchmarks/filters.py grid [--sizes 64 256 1024 2048 4096] [--kernels 3 5 7 15 31 63]
    PYTHONPATH=src python benchmarks/filters.py readme     # README tables from the newest targets and grid JSON

``targets`` times fastconv (method="auto") against the best peer for each
acceptance target.  ``grid`` times every method and ``auto`` for random
(full-rank) and Gaussian (rank-1) kernels and reports auto / best: the median
over rounds of auto's time over the best method's time in the same round
(the ratio of their medians is kept too).  Each round runs the functions in a
new order, and in both each timed call follows two untimed calls of the same function
(``fastconv.bench.settled``): the FFT frees large temporaries, and the two
calls after it pay the page faults of fresh memory, which would otherwise
bill whichever method comes next.  Both write JSON with the machine
description under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import time

import cv2
import numpy as np
import scipy.signal as signal

import fastconv as fc
from fastconv import _methods
from fastconv._validate import filter2d as check_filter2d
from fastconv.bench import interleaved_times, machine_info, settled

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
ROOT = os.path.dirname(HERE)
START, END = "<!-- filters:start -->", "<!-- filters:end -->"
sys.path.insert(0, HERE)

from readme_results import regenerate  # noqa: E402

REFLECT_101 = cv2.BORDER_REFLECT_101


def _targets(rng):
    f32 = lambda *s: rng.standard_normal(s, dtype=np.float32)
    image, batch, image64 = f32(2048, 2048), f32(64, 256, 256), rng.standard_normal((2048, 2048))
    k3, k5, k31 = f32(3, 3), f32(5, 5), f32(31, 31)
    g15 = fc.kernels.gaussian(15, 2.5).astype(np.float32)
    k3_64 = rng.standard_normal((3, 3))
    same = dict(mode="same")
    return [
        ("3x3 random 2048^2", 1.0, lambda: fc.filter2d(image, k3), {"cv2.filter2D": lambda: cv2.filter2D(image, -1, k3, borderType=REFLECT_101)}),
        ("5x5 random 2048^2", 1.0, lambda: fc.filter2d(image, k5), {"cv2.filter2D": lambda: cv2.filter2D(image, -1, k5, borderType=REFLECT_101)}),
        ("15x15 gaussian 2048^2", 2.0, lambda: fc.filter2d(image, g15), {"cv2.filter2D": lambda: cv2.filter2D(image, -1, g15, borderType=REFLECT_101)}),
        ("15x15 gaussian 2048^2 vs fftconvolve", 5.0, lambda: fc.filter2d(image, g15), {"scipy.signal.fftconvolve": lambda: signal.fftconvolve(image, g15, **same)}),
        ("31x31 random 2048^2", 1.0, lambda: fc.filter2d(image, k31), {
            "cv2.filter2D": lambda: cv2.filter2D(image, -1, k31, borderType=REFLECT_101),
            "scipy.signal.oaconvolve": lambda: signal.oaconvolve(image, k31, **same),
        }),
        ("64 x 256^2, 5x5 random", 1.0, lambda: fc.filter2d(batch, k5), {"cv2.filter2D loop": lambda: [cv2.filter2D(im, -1, k5, borderType=REFLECT_101) for im in batch]}),
        ("float64 3x3 full convolve2d 2048^2", 30.0, lambda: fc.convolve2d(image64, k3_64), {"scipy.signal.convolve2d": lambda: signal.convolve2d(image64, k3_64)}),
    ]


def targets(rounds: int) -> dict:
    rows = []
    for label, goal, ours, peers in _targets(np.random.default_rng(0)):
        funcs = {"fastconv": ours, **peers}
        for f in funcs.values():
            f()
        times = interleaved_times(funcs, rounds, budget_s=20.0, prepare=settled(funcs), shuffle=True)
        medians = {name: statistics.median(t) for name, t in times.items()}
        best_peer = min(peers, key=medians.get)
        ratio = medians[best_peer] / medians["fastconv"]
        rows.append({"case": label, "fastconv_ms": medians["fastconv"] * 1e3, "peer": best_peer, "peer_ms": medians[best_peer] * 1e3, "speedup": ratio, "target": goal})
        print(f"{label:<38} fastconv {medians['fastconv'] * 1e3:9.2f} ms  {best_peer:<26} {medians[best_peer] * 1e3:9.2f} ms  "
              f"speed-up {ratio:6.2f}x (target {goal}x) {'ok' if ratio >= goal else 'MISSED'}", flush=True)
    return {"targets": rows}


def grid(sizes: list[int], ks: list[int], rounds: int, skip_s: float) -> dict:
    rng = np.random.default_rng(1)
    rows = []
    for size in sizes:
        image = rng.standard_normal((size, size), dtype=np.float32)
        for k in ks:
            for kind in ("random", "gaussian"):
                kernel = (rng.standard_normal((k, k)) if kind == "random" else fc.kernels.gaussian(k, k / 6)).astype(np.float32)
                call = check_filter2d("grid", image, kernel, "reflect", 0)[0]
                rank = len(_methods.factor(call.kernel, call.planes.dtype)[0])
                estimate = _methods.estimate(call, "cpu", rank)
                chosen = _methods.plan(call, "auto", "cpu").method
                funcs = {m: (lambda m=m: fc.filter2d(image, kernel, method=m)) for m in ("direct", "separable", "fft") if estimate[m] < skip_s * 1e9}
                funcs["auto"] = lambda: fc.filter2d(image, kernel)
                for f in funcs.values():
                    f()
                times = interleaved_times(funcs, rounds, budget_s=10.0, prepare=settled(funcs), shuffle=True)
                medians = {m: statistics.median(t) for m, t in times.items()}
                best = min((m for m in funcs if m != "auto"), key=medians.get)
                paired = statistics.median(a / b for a, b in zip(times["auto"], times[best]))
                row = {"size": size, "k": k, "kind": kind, "rank": rank, "auto_picks": chosen, "best": best,
                       "ms": {m: t * 1e3 for m, t in medians.items()}, "rounds": len(times["auto"]),
                       "skipped": sorted(set(("direct", "separable", "fft")) - set(funcs)),
                       "auto_over_best_medians": medians["auto"] / medians[best], "auto_over_best": paired}
                rows.append(row)
                print(f"{size:5d}^2 k={k:2d} {kind:<8} rank={rank:2d} auto={chosen:<9} "
                      + " ".join(f"{m}={t * 1e3:9.2f}" for m, t in medians.items())
                      + f"  auto/best={paired:.2f} (of medians {row['auto_over_best_medians']:.2f})", flush=True)
    within = sum(r["auto_over_best"] <= 1.10 for r in rows)
    print(f"auto within 10% of the best method at {within}/{len(rows)} grid points")
    return {"grid": rows, "within_10_percent": within, "points": len(rows)}


def _newest(what: str) -> tuple[str, dict]:
    path = sorted(glob.glob(os.path.join(RESULTS, f"filters-{what}-*.json")))[-1]
    with open(path) as f:
        return os.path.relpath(path, ROOT), json.load(f)


def readme_section() -> str:
    """The README's filtering speed tables, from the newest committed targets and grid records."""
    (tpath, targets_record), (gpath, grid_record) = _newest("targets"), _newest("grid")
    machine = targets_record["machine"]
    lines = [
        f"Generated by `python benchmarks/filters.py readme` from [`{tpath}`]({tpath}) and [`{gpath}`]({gpath}); "
        f"{machine['cpu']}, {targets_record['numba_threads']} threads, load average {machine['loadavg'][0]:.2f} at the start. "
        "Medians of interleaved rounds; float32 and 2048² unless stated.",
        "",
        "| case | fastconv (auto) | best peer | peer | speed-up | target |",
        "|---|---|---|---|---|---|",
    ]
    for r in targets_record["targets"]:
        mark = "" if r["speedup"] >= r["target"] else " (missed)"
        lines.append(f"| {r['case']} | {r['fastconv_ms']:.2f} ms | {r['peer']} | {r['peer_ms']:.2f} ms | {r['speedup']:.2f}×{mark} | {r['target']:g}× |")
    rows = grid_record["grid"]
    worst = max(rows, key=lambda r: r["auto_over_best"])
    sizes = sorted({r["size"] for r in rows})
    ks = sorted({r["k"] for r in rows})
    lines += [
        "",
        f"`auto` against the best method: within 10% at {grid_record['within_10_percent']} of {grid_record['points']} grid points "
        f"(images {sizes[0]}² to {sizes[-1]}², kernels {ks[0]} to {ks[-1]}, random and Gaussian); the worst is "
        f"{worst['auto_over_best']:.2f}× at {worst['size']}², k={worst['k']} {worst['kind']}. What `auto` picks, in ms of the best method:",
        "",
        "| image | " + " | ".join(f"k={k}" for k in ks) + " |",
        "|---|" + "---|" * len(ks),
    ]
    for size in sizes:
        for kind in ("random", "gaussian"):
            cells = []
            for k in ks:
                r = next(r for r in rows if (r["size"], r["k"], r["kind"]) == (size, k, kind))
                cells.append(f"{r['auto_picks']} {r['ms'][r['best']]:.3g}")
            lines.append(f"| {size}² {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def update_readme(readme: str) -> None:
    with open(readme) as f:
        text = f.read()
    with open(readme, "w") as f:
        f.write(regenerate(text, readme_section(), START, END))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("targets", "grid", "readme"))
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024, 2048, 4096])
    parser.add_argument("--kernels", type=int, nargs="+", default=[3, 5, 7, 15, 31, 63])
    parser.add_argument("--skip-s", type=float, default=4.0, help="skip methods the cost model puts above this many seconds")
    args = parser.parse_args()
    if args.what == "readme":
        update_readme(os.path.join(ROOT, "README.md"))
        return
    result = targets(args.rounds) if args.what == "targets" else grid(args.sizes, args.kernels, args.rounds, args.skip_s)
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"filters-{args.what}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump({"machine": machine_info(), "numba_threads": __import__("numba").get_num_threads(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **result}, f, indent=2)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
