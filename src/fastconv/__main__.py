"""Command line: ``python -m fastconv bench``, ``warmup`` and ``demo`` (also installed as the ``fastconv`` script)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time


def _parser() -> argparse.ArgumentParser:
    from ._samples import OPERATIONS
    from ._warmup import DTYPES
    from .bench import OPS, TIERS

    parser = argparse.ArgumentParser(prog="fastconv", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser(
        "bench",
        help="compare every operation with its peers on this machine",
        description="Time every fastconv backend and its peers (torch, scipy, numpy, OpenCV) on the shape set; "
        "print a table and write it, a JSON record and a PNG plot to --out.",
    )
    bench.add_argument("--ops", nargs="+", metavar="OP", choices=OPS, help=f"operations to run (default: all of {', '.join(OPS)})")
    bench.add_argument("--backends", nargs="+", metavar="NAME", help="fastconv backends (default: every available one)")
    bench.add_argument("--sizes", nargs="+", choices=TIERS, default=["public", "extra"], help="shape tiers (default: public extra)")
    bench.add_argument("--full", action="store_true", help="every shape tier")
    bench.add_argument("--quick", action="store_true", help="fewer rounds, a 1 s budget per case, and first-call latency for one op per kernel (what `make bench` runs)")
    bench.add_argument("--rounds", type=int, help="interleaved rounds per case (default: 15, or 5 with --quick)")
    bench.add_argument("--budget", type=float, metavar="SECONDS", help="stop a case after this long, once 3 rounds are done (default: 3, or 1 with --quick)")
    bench.add_argument("--photo", action="store_true", help="only the photo section: grey and RGB, uint8 and float32, 1080p and 4K, box, Gaussian and Sobel against cv2 and scipy.ndimage")
    bench.add_argument("--latency", action="store_true", help="only measure import time and first-call latency")
    bench.add_argument("--no-latency", action="store_true", help="skip the import and first-call latency measurement")
    bench.add_argument("--no-scaling", action="store_true", help="skip the 1- vs 2-thread comparison")
    bench.add_argument("--no-memory", action="store_true", help="skip conv2d's temporary memory measurement")
    bench.add_argument("--out", default="bench-out", metavar="DIR", help="where to write bench.txt, bench.json and bench.png (default: bench-out)")
    warm = commands.add_parser(
        "warmup",
        help="compile the cpu kernels of every operation for this machine, once, into the JIT cache",
        description="Compile the cpu kernels of every operation (or --ops) for --dtypes into numba's cache, "
        "with a progress bar, and say where the cache is; later processes then load them in milliseconds.",
    )
    warm.add_argument("--ops", nargs="+", metavar="OP", choices=list(OPERATIONS), help=f"operations (default: all of {', '.join(OPERATIONS)})")
    warm.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES), help=f"dtypes (default: {' '.join(DTYPES)})")
    warm.add_argument("--jobs", type=int, default=1, metavar="N",
                      help="compile N operations at a time, in worker processes; 0: one per core (default: 1)")
    demo = commands.add_parser(
        "demo",
        help="filter scikit-image's cat with the filter bank; write a gallery PNG and time fastconv, scipy and cv2",
        description="Filter scikit-image's cat (skimage.data.chelsea(), in grey) with every kernel of fastconv.kernels, "
        "box and Gaussian blurs at several sizes, and the Sobel magnitude; write a gallery PNG with one panel per filter "
        "(titled with the kernel and its size; signed outputs on a colour bar), and print fastconv's, scipy.ndimage's and "
        "OpenCV's time for each filter, measured on the cat tiled to --time-size pixels square. "
        "Needs scikit-image and matplotlib; OpenCV is timed when installed.",
    )
    demo.add_argument("--out", default="fastconv-demo.png", help="gallery PNG to write (default: fastconv-demo.png)")
    demo.add_argument("--sizes", nargs="+", type=int, default=[5, 15, 31], metavar="N",
                      help="sizes of the box and Gaussian kernels, one panel each (default: 5 15 31)")
    demo.add_argument("--time-size", type=int, default=2048, metavar="PIXELS",
                      help="time on the cat tiled to this many pixels square; 0 times the 300 x 451 picture itself, "
                      "where per-call overheads decide and OpenCV wins (default: 2048)")
    demo.add_argument("--repeat", type=int, default=7, help="interleaved timing rounds per filter (default: 7)")
    return parser


# Idle OpenMP threads that spin (libgomp's default) steal the cores from the next call, of the same library
# or another one interleaved with it: on a busy 2-core machine that made both torch and the cpu backend 5-30x
# slower.  Set before numba's or torch's OpenMP runtime loads; OMP_WAIT_POLICY=active in the environment wins.
WAIT_POLICY = "PASSIVE"


def bench(args: argparse.Namespace, command: str) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    from . import _bench_machine as machine
    from . import _bench_report as report
    from . import bench as b

    available = b.available_backends()
    unknown = sorted(set(args.backends or ()) - set(available))
    if unknown:
        raise SystemExit(f"fastconv bench: --backends {unknown} not available here; available: {', '.join(available)}")
    backends = args.backends or available
    progress = report.Progress()
    started, load = time.perf_counter(), machine.loadavg()
    try:
        if args.photo:
            from . import _bench_photo as photo

            rows = photo.run(args.rounds or 15, args.budget or 3.0, progress)
            data = {"machine": machine.machine_info(), "results": [], "photo": rows}
        elif args.latency:
            lat = machine.latency(args.ops or list(b.OPS), [x for x in backends if x != "numpy"], progress)
            data = {"machine": machine.machine_info(), "results": [], "latency": lat}
        else:
            quick = b.QUICK if args.quick else {}
            settings = b.Settings(
                rounds=args.rounds or quick.get("rounds", 15),
                budget_s=args.budget or quick.get("budget_s", 3.0),
                tiers=tuple(b.TIERS) if args.full else tuple(args.sizes),
                scaling=not args.no_scaling,
                memory=not args.no_memory,
                latency=not args.no_latency,
                latency_ops=quick.get("latency_ops"),
            )
            data = b.run(args.ops, backends, settings, progress)
    finally:
        progress.close()
    data.update(command=command, date=time.strftime("%Y-%m-%dT%H:%M:%S%z"), wall_s=time.perf_counter() - started, loadavg_start=load)
    text = report.format_text(data)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    paths = [os.path.join(args.out, name) for name in ("bench.txt", "bench.json", "bench.png")]
    with open(paths[0], "w") as f:
        f.write(text + "\n")
    report.write_json(data, paths[1])
    written = paths[:2] + (paths[2:] if data["results"] and report.plot(data, paths[2]) else [])
    print(f"\n{data['wall_s']:.0f} s; wrote {', '.join(written)}")
    return 0


def warmup(ops: list[str] | None, dtypes: tuple[str, ...], jobs: int) -> int:
    from . import _dispatch
    from ._warmup import warmup

    reason = _dispatch._unavailable_reason("cpu")
    if reason:
        raise SystemExit(f"fastconv warmup: the cpu backend is not available here: {reason}")
    done = warmup(ops, dtypes, jobs if jobs > 0 else os.cpu_count() or 1)
    n = sum(done["variants"].values())
    print(f"{done['seconds']:.1f} s; compiled {n} kernel variants{' (all were in the cache)' if n == 0 else ''}; cache: {done['cache']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.command == "warmup":
        return warmup(args.ops, tuple(args.dtypes), args.jobs)
    if args.command == "demo":
        from .demo import run

        return run(args.out, repeat=args.repeat, sizes=tuple(args.sizes), time_size=args.time_size)
    return bench(args, "python -m fastconv " + shlex.join(argv))


# OpenBLAS's idle threads spin for about 2**28 cycles after each call (np.matmul, the numpy backend's
# einsum), so in interleaved rounds they take a core from whichever call is timed next.  OpenBLAS reads
# the variable when numpy loads it, before this module runs: the bench sets it and starts again.
BLAS_SPIN = ("OPENBLAS_THREAD_TIMEOUT", "4")


def restart_env(argv: list[str], environ: dict[str, str]) -> dict[str, str] | None:
    """The environment to start ``python -m fastconv`` again in, or None to go on as it is."""
    if argv[:1] != ["bench"] or BLAS_SPIN[0] in environ:
        return None
    return {**environ, BLAS_SPIN[0]: BLAS_SPIN[1]}


if __name__ == "__main__":
    env = restart_env(sys.argv[1:], dict(os.environ))
    if env is not None:
        os.execve(sys.executable, [sys.executable, "-m", "fastconv", *sys.argv[1:]], env)
    sys.exit(main())
