"""Depthwise conv2d and pooling on the SIMD band kernels against torch, NCHW in and out, per call.

Interleaved rounds in one process: each round times torch (NCHW), then ours (and torch channels_last
for depthwise, as a note), each the min of ``reps`` calls after a warm-up, with a short sleep between
runtimes; the figures are medians over rounds, the ratio the median of per-round ratios (torch / ours).
GB/s counts the input read and the output written once; "% copy" compares it with np.copyto of a
large array (read + write) measured in the same run.

    PYTHONPATH=src python benchmarks/simd_dw_pool.py [--rounds 7] [--out benchmarks/results/...txt] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from fastconv._backends.cpu import depthwise, pool_simd, simd

PAUSE = 0.05


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def best_of(fn, reps):
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def reps_for(fn):
    t = best_of(fn, 1)
    return int(min(200, max(3, 0.02 / max(t, 1e-6))))


def copy_bandwidth(nbytes=512 << 20):
    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    t = best_of(lambda: np.copyto(b, a), 5)
    return 2 * nbytes / t / 1e9


def measure(ours, theirs, extra, rounds):
    r_ours, r_theirs = reps_for(ours), reps_for(theirs)
    rows = []
    for _ in range(rounds):
        time.sleep(PAUSE)
        t_t = best_of(theirs, r_theirs)
        time.sleep(PAUSE)
        t_o = best_of(ours, r_ours)
        t_x = None
        if extra is not None:
            time.sleep(PAUSE)
            t_x = best_of(extra, r_theirs)
        rows.append((t_o, t_t, t_x))
    med = lambda xs: statistics.median(xs)
    return dict(
        ours=med([r[0] for r in rows]), torch=med([r[1] for r in rows]),
        ratio=med([r[1] / r[0] for r in rows]),
        cl=med([r[2] for r in rows]) if extra is not None else None,
        cl_ratio=med([r[2] / r[0] for r in rows]) if extra is not None else None,
    )


MBV2 = [  # (C, H, stride, k)
    (32, 112, 1, 3), (96, 112, 2, 3), (144, 56, 1, 3), (144, 56, 2, 3), (192, 28, 1, 3),
    (384, 14, 1, 3), (576, 14, 1, 3), (960, 7, 1, 3), (144, 56, 1, 5), (192, 28, 1, 7),
]


def bench_dw(c, h, s, k, nb, rounds, lines, bw):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((nb, c, h, h)).astype(np.float32)
    w = rng.standard_normal((c, 1, k, k)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    p = k // 2
    xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
    xcl = xt.contiguous(memory_format=torch.channels_last)
    ref = F.conv2d(xt, wt, bt, s, p, 1, c)
    out = np.empty(ref.shape, np.float32)
    ours = lambda: depthwise.conv2d_depthwise(x, w, b, (s, s), (p, p, p, p), (1, 1), "constant", 2, out)
    ours()
    assert np.allclose(out, F.relu6(ref).numpy(), rtol=1e-4, atol=1e-4)
    theirs = lambda: F.relu6(F.conv2d(xt, wt, bt, s, p, 1, c))
    cl = lambda: F.relu6(F.conv2d(xcl, wt, bt, s, p, 1, c))
    with torch.no_grad():
        r = measure(ours, theirs, cl, rounds)
    nbytes = x.nbytes + out.nbytes
    flops = 2 * out.size * k * k
    name = f"dw {k}x{k} C={c} {h}^2 s{s} N={nb}"
    lines.append(f"| {name} | {r['ours']*1e3:.3f} | {r['torch']*1e3:.3f} | **{r['ratio']:.2f}** | {r['cl']*1e3:.3f} ({r['cl_ratio']:.2f}) "
                 f"| {nbytes/r['ours']/1e9:.1f} | {100*nbytes/r['ours']/1e9/bw:.0f}% | {flops/r['ours']/1e9:.1f} |")
    print(lines[-1], flush=True)


def bench_pool(kind, c, h, nb, rounds, lines, bw, indices=False):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((nb, c, h, h)).astype(np.float32)
    xt = torch.from_numpy(x)
    xcl = xt.contiguous(memory_format=torch.channels_last)
    if kind == "max":
        args = ((3, 3), (2, 2), (1, 1), (1, 1))
        ref = F.max_pool2d(xt, *args)
        out = np.empty(ref.shape, np.float32)
        idx = np.empty(ref.shape, np.int64) if indices else None
        ours = lambda: pool_simd.max_pool2d(x, *args, ref.shape[2:], out, idx)
        theirs = lambda: F.max_pool2d(xt, *args, return_indices=indices)
        cl = lambda: F.max_pool2d(xcl, *args, return_indices=indices)
        name = f"max 3x3/s2/p1{' +indices' if indices else ''} C={c} {h}^2 N={nb}"
    elif kind == "avg":
        ref = F.avg_pool2d(xt, 2, 2)
        out = np.empty(ref.shape, np.float32)
        idx = None
        ours = lambda: pool_simd.avg_pool2d(x, (2, 2), (2, 2), (0, 0), ref.shape[2:], True, None, out)
        theirs = lambda: F.avg_pool2d(xt, 2, 2)
        cl = lambda: F.avg_pool2d(xcl, 2, 2)
        name = f"avg 2x2/s2 C={c} {h}^2 N={nb}"
    else:
        ref = F.adaptive_avg_pool2d(xt, 1)
        out = np.empty(ref.shape, np.float32)
        idx = None
        ours = lambda: pool_simd.global_avg_pool2d(x, out)
        theirs = lambda: F.adaptive_avg_pool2d(xt, 1)
        cl = lambda: F.adaptive_avg_pool2d(xcl, 1)
        name = f"global avg C={c} {h}^2 N={nb}"
    ours()
    assert np.allclose(out, ref.numpy(), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        r = measure(ours, theirs, cl, rounds)
    nbytes = x.nbytes + out.nbytes + (idx.nbytes if idx is not None else 0)
    lines.append(f"| {name} | {r['ours']*1e3:.3f} | {r['torch']*1e3:.3f} | **{r['ratio']:.2f}** | {r['cl']*1e3:.3f} ({r['cl_ratio']:.2f}) "
                 f"| {nbytes/r['ours']/1e9:.1f} | {100*nbytes/r['ours']/1e9/bw:.0f}% | - |")
    print(lines[-1], flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    import numba

    bw = copy_bandwidth()
    head = [
        f"# simd depthwise / pooling vs torch, {datetime.date.today()}",
        f"CPU: {cpu_model()}, {numba.get_num_threads()} numba threads, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"vector bits {simd.VECTOR_BITS}, float32, NCHW in and out, per call incl. every copy",
        f"copy bandwidth (np.copyto 512 MiB, read+write): {bw:.1f} GB/s; {a.rounds} interleaved rounds, medians",
        "",
        "| case | ours ms | torch NCHW ms | ratio | torch channels_last ms (ratio) | ours GB/s | % copy | GFLOP/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(head), flush=True)
    lines = list(head)
    for nb in (1, 8):
        for c, h, s, k in MBV2[: 3 if a.quick else None]:
            bench_dw(c, h, s, k, nb, a.rounds, lines, bw)
    for nb, c, h in ((1, 64, 112), (8, 64, 112), (8, 64, 224)):
        bench_pool("max", c, h, nb, a.rounds, lines, bw)
    for nb, c, h in ((1, 64, 112), (8, 64, 112)):
        bench_pool("max", c, h, nb, a.rounds, lines, bw, indices=True)
    bench_pool("avg", 256, 56, 1, a.rounds, lines, bw)
    bench_pool("avg", 256, 56, 8, a.rounds, lines, bw)
    bench_pool("gap", 2048, 7, 8, a.rounds, lines, bw)
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
