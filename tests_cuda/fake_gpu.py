"""torch.cuda faked on a machine without a GPU, for the dry runs of ``benchmarks/gpu_bench.py``.

Tensors stay on the host, events read the wall clock, and fastconv's cuda
backend runs in numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) on tiny
cases.  ``tests_cuda/test_gpu_bench.py`` installs the fakes with pytest's
monkeypatch; ``benchmarks/gpu_check.sh``'s dry run runs the benchmark through
this file as a program::

    NUMBA_ENABLE_CUDASIM=1 python tests_cuda/fake_gpu.py benchmarks/gpu_bench.py --quick --out ...
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from fastconv.bench import Case

TINY = [
    Case("conv2d", "dense", lambda rng: dict(
        input=rng.standard_normal((1, 3, 9, 9), np.float32), weight=rng.standard_normal((4, 3, 3, 3), np.float32), padding=1)),
    Case("max_pool2d", "pool", lambda rng: dict(input=rng.standard_normal((1, 2, 9, 9), np.float32), kernel_size=3, stride=2, padding=1)),
    Case("filter2d", "filter", lambda rng: dict(
        image=rng.standard_normal((9, 9), np.float32), kernel=rng.standard_normal((5, 5), np.float32), boundary="fill")),
]


class _Event:
    def __init__(self, enable_timing):
        self.at = None

    def record(self):
        self.at = time.perf_counter()

    def synchronize(self):
        pass

    def elapsed_time(self, end):
        return (end.at - self.at) * 1e3


def install(setattr, gpu_bench=None) -> None:
    """Fake torch.cuda (and fastconv's GPU report) through ``setattr`` (``monkeypatch.setattr``, or the builtin)."""
    import torch

    import fastconv as fc

    empty, ones = torch.empty, torch.ones
    setattr(torch.cuda, "Event", _Event)
    setattr(torch.cuda, "is_available", lambda: True)
    setattr(torch.cuda, "synchronize", lambda: None)
    setattr(torch.Tensor, "cuda", lambda self: self)
    setattr(torch, "empty", lambda *shape, device=None, **kw: empty(1024, **kw))
    setattr(torch, "randn", lambda *shape, device=None: ones(32, 32))
    setattr(torch.backends.cudnn, "version", lambda: 0)
    setattr(fc._hardware, "_gpu", lambda: {"available": True, "name": "simulated GPU"})
    if gpu_bench is not None:
        setattr(gpu_bench, "CASES", TINY)
        setattr(gpu_bench, "TARGETS", [])


def main(argv: list[str]) -> None:
    """``fake_gpu.py SCRIPT ARGS...``: run SCRIPT's ``main()`` with the fakes installed, as ``python SCRIPT ARGS...`` would."""
    script = Path(argv[0]).resolve()
    sys.path.insert(0, str(script.parent))
    module = __import__(script.stem)
    install(setattr, module)
    sys.argv = [str(script), *argv[1:]]
    module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
