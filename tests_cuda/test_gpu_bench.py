"""benchmarks/gpu_bench.py runs end to end, so that it works the first time a GPU is lent.

torch.cuda is faked (tensors stay on the host, events read the wall clock)
and the cuda backend runs in the simulator, on tiny cases.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import fastconv as fc
from fastconv.bench import Case

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_bench


class _Event:
    def __init__(self, enable_timing):
        self.at = None

    def record(self):
        self.at = time.perf_counter()

    def synchronize(self):
        pass

    def elapsed_time(self, end):
        return (end.at - self.at) * 1e3


TINY = [
    Case("conv2d", "dense", lambda rng: dict(
        input=rng.standard_normal((1, 3, 9, 9), np.float32), weight=rng.standard_normal((4, 3, 3, 3), np.float32), padding=1)),
    Case("max_pool2d", "pool", lambda rng: dict(input=rng.standard_normal((1, 2, 9, 9), np.float32), kernel_size=3, stride=2, padding=1)),
    Case("filter2d", "filter", lambda rng: dict(
        image=rng.standard_normal((9, 9), np.float32), kernel=rng.standard_normal((5, 5), np.float32), boundary="fill")),
]


@pytest.fixture
def fake_gpu(monkeypatch):
    empty, ones = torch.empty, torch.ones
    monkeypatch.setattr(torch.cuda, "Event", _Event)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self: self)
    monkeypatch.setattr(torch, "empty", lambda *shape, device=None, **kw: empty(1024, **kw))
    monkeypatch.setattr(torch, "randn", lambda *shape, device=None: ones(32, 32))
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 0)
    monkeypatch.setattr(fc._hardware, "_gpu", lambda: {"available": True, "name": "simulated GPU"})
    monkeypatch.setattr(gpu_bench, "CASES", TINY)
    monkeypatch.setattr(gpu_bench, "TARGETS", [])


def test_gpu_bench_times_every_implementation_and_writes_its_record(fake_gpu, tmp_path, monkeypatch):
    out = tmp_path / "gpu.json"
    monkeypatch.setattr(sys, "argv", ["gpu_bench", "--rounds", "3", "--budget", "1", "--out", str(out)])
    gpu_bench.main()
    record = json.loads(out.read_text())
    assert set(record["peaks"]) == {"copy_GBps", "gemm_fp32_GFLOPs"}
    assert [row["case"] for row in record["rows"]] == [case.label for case in TINY]
    for row in record["rows"]:
        assert set(row["seconds"]) == {"fastconv-cuda", "fastconv-cpu", "torch-cudnn-fp32", "torch-cudnn-tf32"}
        assert all(t > 0 for t in row["seconds"].values())
        assert row["cuda_GBps"] > 0 and row["speedup_vs_torch-cudnn-fp32"] > 0
