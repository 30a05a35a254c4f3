"""Old code against new on a few network layers: fastconv.conv2d (cpu backend) in alternating processes.

    PYTHONPATH=src python benchmarks/ab_layers.py --against /tmp/wt-old [--rounds 6] [--networks]

``--networks`` times the whole networks of ``nn_bench.py`` instead (``fastconv.nn.from_torch``, batch 1 and 8;
run it with ``OPENBLAS_CORETYPE`` unset, as ``nn_bench.py`` is).

``--against`` is a checkout of the other commit (``git worktree add /tmp/wt-old <commit>``).  Each round
times every layer once in a fresh process per checkout (its ``src``), as the bench times its rows: 15
interleaved rounds in a shuffled order, each timed call after untimed ones.  Prints the medians over rounds and the per-round ratios
new / old: the host's speed drifts, so only ratios from the same round are compared.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from fastconv._bench_machine import _python

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# (input shape, weight shape, padding, stride, groups)
LAYERS = {
    "1x1 16->96 112^2": ((1, 16, 112, 112), (96, 16, 1, 1), 0, 1, 1),
    "1x1 320->1280 7^2": ((1, 320, 7, 7), (1280, 320, 1, 1), 0, 1, 1),
    "1x1 96->24 56^2": ((1, 96, 56, 56), (24, 96, 1, 1), 0, 1, 1),
    "1x1 960->160 7^2": ((1, 960, 7, 7), (160, 960, 1, 1), 0, 1, 1),
    "1x1 576->96 14^2": ((1, 576, 14, 14), (96, 576, 1, 1), 0, 1, 1),
    "1x1 96->576 14^2": ((1, 96, 14, 14), (576, 96, 1, 1), 0, 1, 1),
    "3x3 64->64 56^2 N=1": ((1, 64, 56, 56), (64, 64, 3, 3), 1, 1, 1),
    "3x3 64->64 56^2 N=8": ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1, 1),
    "3x3 256->256 14^2": ((1, 256, 14, 14), (256, 256, 3, 3), 1, 1, 1),
    "depthwise 3x3 C=144 56^2": ((1, 144, 56, 56), (144, 1, 3, 3), 1, 1, 144),
    "depthwise 3x3 C=192 28^2": ((1, 192, 28, 28), (192, 1, 3, 3), 1, 1, 192),
    "depthwise 3x3 C=576 14^2": ((1, 576, 14, 14), (576, 1, 3, 3), 1, 1, 576),
    "depthwise 5x5 C=672 14^2": ((1, 672, 14, 14), (672, 1, 5, 5), 2, 1, 672),
    "depthwise 3x3 C=960 7^2": ((1, 960, 7, 7), (960, 1, 3, 3), 1, 1, 960),
    "stem 7x7/2 3->64 224^2": ((1, 3, 224, 224), (64, 3, 7, 7), 3, 2, 1),
}


def time_layers(rounds: int = 15) -> list[float]:
    """Median ms of each layer of LAYERS, as the bench times its rows (``bench.interleaved_medians``)."""
    import fastconv
    from fastconv.bench import interleaved_medians

    rng = np.random.default_rng(0)
    funcs = {}
    for name, (xs, ws, pad, stride, groups) in LAYERS.items():
        x, w = rng.standard_normal(xs, np.float32), rng.standard_normal(ws, np.float32)
        funcs[name] = lambda x=x, w=w, p=pad, s=stride, g=groups: fastconv.conv2d(x, w, None, stride=s, padding=p, groups=g, backend="cpu")
    medians = interleaved_medians(funcs, rounds, budget_s=10.0)
    return [medians[name] * 1e3 for name in LAYERS]


NETWORKS = [(name, batch) for name in ("resnet18", "mobilenet_v2", "mobilenet_v3") for batch in (1, 8)]


def time_networks(rounds: int = 7) -> list[float]:
    """Median ms of each of NETWORKS through ``nn.from_torch`` on the cpu backend, interleaved as the layers are."""
    import torch_models  # tests/torch_models.py, as nn_bench.py imports it

    from fastconv import nn
    from fastconv.bench import interleaved_medians

    funcs, models = {}, {}
    for name, batch in NETWORKS:
        if name not in models:
            models[name] = nn.from_torch(torch_models.build(name, seed=0).eval(), backend="cpu")
        x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
        funcs[(name, batch)] = lambda m=models[name], x=x: m(x)
    medians = interleaved_medians(funcs, rounds, budget_s=30.0)
    return [medians[key] * 1e3 for key in NETWORKS]


# run in a fresh process whose fastconv is one checkout's: this file's time_layers (or time_networks), imported from here
_TIME = (f"import json, sys; sys.path[:0] = [{HERE!r}, {os.path.join(ROOT, 'tests')!r}]; import ab_layers; "
         "print(json.dumps(ab_layers.time_{}()))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="a checkout of the old commit")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--networks", action="store_true", help="whole networks (nn_bench.py's) rather than layers")
    args = parser.parse_args()
    code = _TIME.format("networks" if args.networks else "layers")
    names = [f"{name} b{batch}" for name, batch in NETWORKS] if args.networks else list(LAYERS)
    results: dict[str, list[list[float]]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name, root in (("old", args.against), ("new", ROOT)):
            results[name].append(_python(code, src=os.path.join(root, "src")))
    old, new = np.array(results["old"]), np.array(results["new"])
    print(f"{'layer':28s} {'old ms':>8s} {'new ms':>8s} {'new/old':>8s}")
    for i, name in enumerate(names):
        print(f"{name:28s} {np.median(old[:, i]):8.3f} {np.median(new[:, i]):8.3f} {np.median(new[:, i] / old[:, i]):8.2f}")


if __name__ == "__main__":
    main()
