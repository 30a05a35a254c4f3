"""Another checkout's depthwise band kernels against this one's, in one process: interleaved medians per layer.

    PYTHONPATH=src python benchmarks/ab_depthwise.py --against /tmp/wt-old [--rounds 31]

The other checkout's ``bands.py`` (the generator) is imported under another name, so its kernels compile into a
module of their own beside this one's, and both run on the same arrays and plans; their outputs must be equal.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import numpy as np

from fastconv._backends.cpu import bands, depthwise, parallel
from fastconv.bench import interleaved_medians

# (channels, plane side, kernel side, stride): MobileNetV2 / V3 layers, batch 1
LAYERS = [(960, 7, 3, 1), (576, 14, 3, 1), (672, 14, 5, 1), (192, 28, 3, 1), (576, 14, 3, 2), (144, 56, 3, 2), (96, 112, 3, 2)]


def other_bands(root: str):
    """``bands.py`` of the checkout at ``root``, imported beside this one's."""
    spec = importlib.util.spec_from_file_location("fastconv._backends.cpu.bands_other", os.path.join(root, "src/fastconv/_backends/cpu/bands.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="a checkout of the old commit")
    parser.add_argument("--rounds", type=int, default=31)
    args = parser.parse_args()
    modules = {"old": other_bands(args.against).kernel_module(np.float32), "new": bands.kernel_module(np.float32)}
    rng = np.random.default_rng(0)
    for c, h, k, s in LAYERS:
        p = k // 2
        x, w, b = rng.random((1, c, h, h), np.float32), rng.random((c, 1, k, k), np.float32), rng.random(c, np.float32)
        rows, cols, slots, toff, ho, wo, wq, ext_h, band_rows, per_job = depthwise._plan(
            (x.shape, (k, k), (s, s), (p, p, p, p), (1, 1), "constant", x.itemsize, None))
        jobs = bands.jobs(c * -(-ho // band_rows), per_job)
        outs = {name: np.empty((1, c, ho, wo), np.float32) for name in modules}
        funcs = {
            name: lambda mod=mod, out=outs[name]: parallel.run(
                mod.depthwise_job, jobs, x.reshape(-1), w.reshape(-1), b, rows, cols, slots, toff, c, c, h, h, ho, wo, wq,
                ext_h, s, p, band_rows, per_job, 0, out.reshape(-1))
            for name, mod in modules.items()
        }
        medians = interleaved_medians(funcs, args.rounds, budget_s=3.0)
        assert np.array_equal(outs["old"], outs["new"]), "the two kernels' outputs differ"
        print(f"dw {k}x{k} C={c} {h}^2 s{s}: old {medians['old'] * 1e6:.1f} us, new {medians['new'] * 1e6:.1f} us, "
              f"new/old {medians['new'] / medians['old']:.2f}", flush=True)


if __name__ == "__main__":
    main()
