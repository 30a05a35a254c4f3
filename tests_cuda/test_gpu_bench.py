"""benchmarks/gpu_bench.py runs end to end, so that it works the first time a GPU is lent.

torch.cuda is faked (tensors stay on the host, events read the wall clock)
and the cuda backend runs in the simulator, on tiny cases.
"""

import json
import sys
from pathlib import Path

import pytest
from fake_gpu import TINY, install

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_bench


@pytest.fixture
def fake_gpu(monkeypatch):
    install(monkeypatch.setattr, gpu_bench)


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
