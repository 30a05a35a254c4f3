"""Where a direct conv2d's time goes: the phase-plane fill, the tasks, the whole call, and the micro-kernel alone.

    PYTHONPATH=src python benchmarks/direct_parts.py [--threads 1 2] [--layers r18 r18n8 n32 stem pw16x96 ...]

For each layer, ``direct.conv2d_direct``'s two parallel passes are timed on their own (``fill``: the padded
phase planes; ``tasks``: the micro-kernels and the copies to the output) and together (``call``, into a
preallocated output), medians of 200 calls.  ``ideal`` is the layer's FLOPs at the FMA peak per thread
(``peak.fma_peak``) and ``lanes`` the same with the flat positions the kernel computes and drops (``wq - wo``
columns per row, the last block of a plane).  ``hot`` is the micro-kernel alone in a loop over one image's
blocks and tiles, as ``run_task`` calls it, one thread: its share of the peak is the ceiling of the rest.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from fastconv._backends.cpu import direct, parallel
from fastconv._backends.cpu.common import threads
from fastconv._backends.cpu.peak import fma_peak
from fastconv._bench_machine import machine_info

LAYERS = {  # input shape, weight shape, padding, stride
    "r18": ((1, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    "r18n8": ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    "n32": ((32, 128, 28, 28), (128, 128, 3, 3), 1, 1),
    "stem": ((1, 3, 224, 224), (64, 3, 7, 7), 3, 2),
    # MobileNetV2's 1 x 1 layers
    "pw16x96": ((1, 16, 112, 112), (96, 16, 1, 1), 0, 1),
    "pw96x24": ((1, 96, 56, 56), (24, 96, 1, 1), 0, 1),
    "pw96x576": ((1, 96, 14, 14), (576, 96, 1, 1), 0, 1),
    "pw960x160": ((1, 960, 7, 7), (160, 960, 1, 1), 0, 1),
    "pw64x384": ((1, 64, 14, 14), (384, 64, 1, 1), 0, 1),
    "pw160x960": ((1, 160, 7, 7), (960, 160, 1, 1), 0, 1),
    "pw320x1280": ((1, 320, 7, 7), (1280, 320, 1, 1), 0, 1),
}


def _median_ms(f, reps=200) -> float:
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3


def _hot(mod, g, planes, wf, bias, K):
    """GFLOP/s of the micro-kernel over image 0's blocks and tiles, one call per block (one thread)."""
    uk, OT, BLK, TAB = mod.uk0, g["tile"][0], g["blk"], direct.TAB  # layers whose outputs fill every tile
    nt, nblk = -(-g["og"] // OT), -(-g["mpos"] // BLK)
    scratch = np.zeros(nt * OT * BLK + BLK, planes.dtype)

    @numba.njit(nogil=True)
    def loop(P, xoff, w, dst, bias, tab):
        for b in range(nblk):
            p = min(b * BLK, g_mpos - BLK)
            for t in range(nt):  # run_task's table rows: input, weight and dst offsets, rows, dst stride, bias offset
                r = TAB * t
                tab[r], tab[r + 1], tab[r + 2] = p, t * OT * K, OT
                tab[r + 3], tab[r + 4], tab[r + 5] = t * OT * BLK, BLK, t * OT
            uk(P, xoff, 0, K, w, K, dst, False, True, bias, 0, tab, 0, nt)

    g_mpos = g["mpos"]
    tab = np.zeros(TAB * nt, np.int64)
    run = lambda: loop(planes, g["xoff"], wf, scratch, bias, tab)
    ms = _median_ms(run, 30)
    return 2 * nblk * nt * OT * BLK * K / (ms * 1e-3) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--layers", nargs="+", choices=list(LAYERS), default=list(LAYERS))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    info = machine_info()
    v = info["versions"]
    print(f"machine: {info['cpu']} ({info['llvm_cpu']}), {info['cores']} cores; numba {v.get('numba')}, numpy {v.get('numpy')}")
    per_thread = fma_peak(np.float32, threads=1)
    print(f"FMA peak, one thread: {per_thread:.1f} GFLOP/s")
    print(f"{'layer':6s} {'thr':>3s} {'fill':>7s} {'tasks':>7s} {'call':>7s} {'ideal':>7s} {'lanes':>7s} {'% peak':>6s}  (ms)")
    for name in args.layers:
        xs, ws, p, s = LAYERS[name]
        x, w = rng.standard_normal(xs, np.float32), rng.standard_normal(ws, np.float32)
        nb, C, H, W = xs
        pads = (p,) * 4
        for nt in args.threads:
            numba.set_num_threads(nt)
            g = direct._setup(xs, ws, (s, s), pads, (1, 1), "constant", x.dtype.str, None, None, None, None, threads())
            mod, plane_len, ho, wo = g["mod"], g["plane_len"], g["ho"], g["wo"]
            out = np.empty((nb, ws[0], ho, wo), np.float32)
            flat, wf, bias = out.reshape(-1), w.reshape(-1), np.zeros(ws[0], np.float32)
            planes = np.zeros(nb * C * plane_len + g["blk"], np.float32)
            ns = g["slots"].shape[0]

            def fill():
                parallel.run(mod.fill_unit, nb * C * ns, planes, x.reshape(-1), ns, H, W, g["rows"], g["cols"], g["slots"],
                             g["hq"], g["wq"], plane_len, p, np.float32(0), chunk=g["fill_chunk"])

            def tasks():
                parallel.run(mod.run_task, g["tasks"], planes, plane_len, C, g["xoff"], g["kc"], wf, bias, 0, flat, 1, ws[0],
                             ho, wo, g["wq"], g["mpos"], 1, g["tgsize"], g["which"], chunk=1)

            def call():
                direct.conv2d_direct(x, w, None, (s, s), pads, (1, 1), "constant", 0, out)

            t_fill, t_tasks, t_call = _median_ms(fill), _median_ms(tasks), _median_ms(call)
            flops = 2 * out.size * np.prod(ws[1:])
            ideal = flops / (per_thread * 1e9 * nt) * 1e3
            computed = -(-g["mpos"] // g["blk"]) * g["blk"] / (ho * wo)  # flat positions computed per output
            print(f"{name:6s} {nt:3d} {t_fill:7.3f} {t_tasks:7.3f} {t_call:7.3f} {ideal:7.3f} {ideal * computed:7.3f} {100 * ideal / t_call:5.0f}%")
        hot = _hot(mod, g, planes, wf, bias, g["xoff"].shape[0])
        print(f"{name:6s} hot micro-kernel, one thread: {hot:.1f} GFLOP/s = {100 * hot / per_thread:.0f}% of the peak")


if __name__ == "__main__":
    main()
