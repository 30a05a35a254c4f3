"""The CI dry run of ``benchmarks/gpu_check.sh``: the whole script, end to end, in the simulator.

nvidia-smi is absent, the cuda parts keep ``NUMBA_ENABLE_CUDASIM=1``, torch.cuda
is faked for the benchmark (``fake_gpu.py``), and only a fast selection of the
tests runs, so that the script's first run on a GPU does not crash on a typo.
Every file the script writes is checked.
"""

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = {"info.txt", "junit-cuda.xml", "junit-dispatch.xml", "tests.log", "cache.json", "gpu-bench.json", "gpu-bench.txt", "summary.txt"}
PARTS = ["info", "tests_cuda", "tests_dispatch", "cache_cold", "cache_warm", "bench"]


def _junit(path: Path) -> dict:
    suites = ET.parse(path).getroot()
    suite = suites if suites.tag == "testsuite" else suites[0]
    return {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}


@pytest.mark.simulator_only
def test_gpu_check_runs_end_to_end_in_the_simulator(tmp_path):
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "PYTHON": sys.executable,
        "GPU_CHECK_SIMULATE": "1",
        "GPU_CHECK_NVIDIA_SMI": "nvidia-smi-absent-in-the-dry-run",
        "GPU_CHECK_TESTS_CUDA": "tests_cuda/test_gpu_bench.py",
        "GPU_CHECK_TESTS_DISPATCH": "tests/test_cuda_dispatch.py tests/test_cuda_cache_keys.py",
        "GPU_CHECK_BENCH_RUNNER": "tests_cuda/fake_gpu.py",
    }
    started = time.perf_counter()
    run = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stderr
    assert not run.stderr.strip(), run.stderr  # no shell errors (a typo'd command, an unbound variable)
    assert {p.name for p in out.iterdir()} == FILES  # at most 8 files come back from the device machine
    assert all(p.is_file() and p.stat().st_size > 0 for p in out.iterdir())

    summary = (out / "summary.txt").read_text()
    for part in PARTS:
        assert f"part {part}: rc=0," in summary, summary
    assert "gpu_check: done in" in summary

    info = (out / "info.txt").read_text()
    assert "nvidia-smi-absent-in-the-dry-run: not found" in info
    assert '"cuda"' in info and "== fc.hardware()" in info and "Traceback" not in info

    for name in ("junit-cuda.xml", "junit-dispatch.xml"):
        counts = _junit(out / name)
        assert counts["tests"] > 0 and counts["failures"] == counts["errors"] == 0, (name, counts, (out / "tests.log").read_text())

    record = json.loads((out / "gpu-bench.json").read_text())
    assert record["complete"] and record["machine"]["options"]["quick"]
    assert [row["case"] for row in record["rows"]] == ["dense", "pool", "filter"]
    assert all(row["rel_err"] < 1e-5 for row in record["rows"])
    table = (out / "gpu-bench.txt").read_text().splitlines()
    assert len(table) == 2 + len(record["rows"]) and table[2].startswith("dense")

    cold, warm, verdict = json.loads((out / "cache.json").read_text())
    assert (cold["phase"], warm["phase"]) == ("cold", "warm") and cold["simulated"]
    assert not cold["errors"] and not warm["errors"] and cold["kernels"] > 0
    assert verdict["verdict"]["same_results"]
    assert seconds < 120, seconds
