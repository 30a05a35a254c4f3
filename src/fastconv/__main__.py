"""Command line: ``python -m fastconv bench`` and ``python -m fastconv demo`` (also installed as the ``fastconv`` script)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastconv", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("bench", help="compare every operation with its peers on this machine")
    bench.add_argument("--ops", nargs="+", metavar="OP", help="operations to run (default: all)")
    bench.add_argument("--backends", nargs="+", metavar="NAME", help="fastconv backends (default: every available one)")
    bench.add_argument("--full", action="store_true", help="also run the larger shapes")
    bench.add_argument("--rounds", type=int, default=15, help="interleaved rounds per case (default: 15)")
    bench.add_argument("--json", metavar="PATH", help="also write the results and the machine description as JSON")
    demo = commands.add_parser("demo", help="filter scikit-image's cat with the filter bank; write a gallery PNG and time fastconv, scipy and cv2")
    demo.add_argument("--out", default="fastconv-demo.png", help="gallery PNG to write (default: fastconv-demo.png)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        return run(args.out)

    from . import bench as b

    unknown = sorted(set(args.ops or ()) - set(b.OPS))
    if unknown:
        parser.error(f"unknown --ops {unknown}; choose from {', '.join(b.OPS)}")
    rows = b.run(args.ops, args.backends, quick=not args.full, rounds=args.rounds,
                 progress=lambda line: print(f"  timed {line}", file=sys.stderr, flush=True))
    print(b.format_table(rows))
    if args.json:
        b.write_json(rows, args.json)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
