"""Cold compile time of every public operation: the first call in a fresh process with an empty Numba cache.

For each operation of ``fastconv._samples`` (small arguments) and each dtype,
``_bench_machine.first_call`` runs one fresh process with an empty
``NUMBA_CACHE_DIR`` (cold) and one with the cache it left (warm), and records
the cold call's wall and CPU seconds, the kernel variants it compiled and the
slowest ones.  Compiling is single-threaded, so on a shared machine the CPU
seconds are nearer than the wall seconds to what an idle one takes; the load
average is recorded beside each row.  With ``--rounds R`` a row gives the
median of R cold calls; with ``--against DIR`` (another checkout, for example
``git worktree add /tmp/prev HEAD~3``) each round also runs that checkout's
fastconv, alternately first and second, so that the two are compared on the
same state of a shared, drifting host.  Writes
``results/compile-<date>.json`` and ``.txt``.

    python benchmarks/compile_times.py [--ops conv2d ...] [--dtypes float32 float64] [--rounds 3 --against /tmp/prev]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fastconv import _bench_machine as machine
from fastconv._samples import OPERATIONS

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S = 3.0  # issue 17: a cold first call of any operation in float32


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", nargs="+", choices=list(OPERATIONS), default=list(OPERATIONS))
    parser.add_argument("--dtypes", nargs="+", default=["float32"])
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--rounds", type=int, default=1, help="cold calls per op (a row gives their medians)")
    parser.add_argument("--against", type=Path, help="another checkout, whose fastconv runs alternately with this one")
    args = parser.parse_args(argv)
    against = str((args.against / "src").resolve()) if args.against else None
    rows = []
    for dtype in args.dtypes:
        for op in args.ops:
            load = machine.loadavg()
            runs, others = [], []
            pair = [(runs, None), (others, against)] if against else [(runs, None)]
            for r in range(args.rounds):
                for dest, src in pair if r % 2 == 0 else pair[::-1]:
                    dest.append(machine.first_call(op, args.backend, dtype, src))
            row = {"op": op, "dtype": dtype, **runs[0], "load_before": load, "load_after": machine.loadavg()}
            for key in ("cold_s", "cold_cpu_s", "warm_s", "steady_s"):
                row[key] = statistics.median(x[key] for x in runs)
            if others:
                row["against_cold_s"] = statistics.median(x["cold_s"] for x in others)
                row["against_cold_cpu_s"] = statistics.median(x["cold_cpu_s"] for x in others)
                row["against_variants"] = others[0]["variants"]
            rows.append(row)
            vs = f"; against {row['against_cold_s']:6.2f} s" if others else ""
            print(f"{op:20s} {dtype:8s} cold {row['cold_s']:6.2f} s (CPU {row['cold_cpu_s']:6.2f} s), {row['variants']:2d} variants, "
                  f"warm {row['warm_s']:.3f} s; load {load[0]:.1f}{vs}; slowest {row['slowest']}", flush=True)
    data = {"command": "python benchmarks/compile_times.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine.machine_info(), "backend": args.backend,
            "target_s": TARGET_S, "rounds": args.rounds, "rows": rows}
    if against:
        data["against"] = {"path": str(args.against), "commit": _commit(args.against)}
    data["commit"] = _commit(Path(__file__).resolve().parent.parent)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"compile-{time.strftime('%Y-%m-%d-%H%M')}"
    stem.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    m = data["machine"]
    simd = m.get("hardware", {}).get("cpu", {}).get("simd", "")
    lines = [f"{data['command']}  ({data['date']}, {m.get('cpu', '')} ({m.get('llvm_cpu', '')}, {simd}), {os.cpu_count()} cores, "
             f"numba {m.get('versions', {}).get('numba', '')})",
             (f"commit {data['commit']}" + (f"; against {data['against']['commit']} ({data['against']['path']}), alternately" if against else "")
              + f"; medians of {args.rounds} cold calls"),
             f"{'op':20s} {'dtype':8s} {'cold s':>7s} {'CPU s':>7s} {'variants':>8s} {'warm s':>7s} {'load':>5s}"
             + (f" {'against':>8s} {'ratio':>6s}" if against else "") + "  slowest kernels (s, with callees)"]
    lines += [f"{r['op']:20s} {r['dtype']:8s} {r['cold_s']:7.2f} {r['cold_cpu_s']:7.2f} {r['variants']:8d} {r['warm_s']:7.3f} {r['load_before'][0]:5.1f}"
              + (f" {r['against_cold_s']:8.2f} {r['cold_s'] / r['against_cold_s']:6.2f}" if against else "") + "  "
              + ", ".join(f"{name} {s}" for name, s in r["slowest"]) for r in rows]
    stem.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {stem}.json and .txt")
    return 0


def _commit(path: Path) -> str:
    """The short hash of the checkout at ``path`` (with a + where its tree has changes), or '' outside git."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
