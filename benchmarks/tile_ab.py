"""The direct conv2d's register tiles against each other on real layers: interleaved medians, every thread.

    PYTHONPATH=src python benchmarks/tile_ab.py [--layers r18 r18n8 n32 stem pw16x96 ...] [--tiles auto 4x6 8x3 ...]

Each round calls every tile's ``direct.conv2d_direct`` (into a preallocated output) twice untimed and once timed, in
turn; ``auto`` is the tile ``choose_tile`` takes.  Speed-ups are against the first tile listed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from direct_parts import LAYERS

from fastconv._backends.cpu import direct, simd
from fastconv._bench_machine import machine_info


def _tile(text: str):
    return None if text == "auto" else tuple(int(v) for v in text.split("x"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", nargs="+", choices=list(LAYERS), default=list(LAYERS))
    parser.add_argument("--tiles", nargs="+", default=["auto", *(f"{o}x{p}" for o, p in direct.TILE_CHOICES[simd.VECTOR_BITS])])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    info = machine_info()
    print(f"machine: {info['cpu']} ({info['llvm_cpu']}), {info['cores']} cores; tile family {direct.TILE_FAMILY}, "
          f"choices {direct.TILE_CHOICES[simd.VECTOR_BITS]}")
    rng = np.random.default_rng(0)
    tiles = [_tile(t) for t in args.tiles]
    for name in args.layers:
        xs, ws, p, s = LAYERS[name]
        x, w = rng.standard_normal(xs, np.float32), rng.standard_normal(ws, np.float32)
        geometry = ((s, s), (p,) * 4, (1, 1), "constant", 0)
        calls, chosen = {}, None
        for tile in tiles:
            g = direct._setup(xs, ws, (s, s), (p,) * 4, (1, 1), "constant", x.dtype.str, tile, None, None, None, direct.threads())
            chosen = g["tile"] if tile is None else chosen
            out = np.empty((xs[0], ws[0], g["ho"], g["wo"]), np.float32)
            calls[tile] = lambda tile=tile, out=out: direct.conv2d_direct(x, w, None, *geometry, out, tile=tile)
            calls[tile]()
        times = {tile: [] for tile in tiles}
        for _ in range(args.rounds):
            for tile, f in calls.items():
                f()
                f()
                start = time.perf_counter()
                f()
                times[tile].append(time.perf_counter() - start)
        med = {tile: float(np.median(v)) for tile, v in times.items()}
        base = med[tiles[0]]
        cells = [f"{'auto ' + str(chosen) if t is None else t}: {m * 1e3:.3f} ms {base / m:.2f}x" for t, m in med.items()]
        print(f"{name:10s} " + "   ".join(cells), flush=True)


if __name__ == "__main__":
    main()
