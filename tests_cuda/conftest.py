"""The cuda backend's tests: in numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1 pytest tests_cuda``), or on a GPU.

CI runs them in the simulator (the Makefile sets the variable, which must be
set before numba is imported, so it comes from the environment, not from
here).  ``benchmarks/gpu_check.sh`` runs them without it on a machine with a
GPU; tests marked ``simulator_only`` (they read the simulator's fake device
memory) are skipped there.  Blocks are made tiny so that every test runs
partial tiles and several blocks.
"""

import os

import pytest

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
if not SIMULATED:
    from numba import cuda

    if not cuda.is_available():
        raise pytest.UsageError(
            "tests_cuda runs in the CUDA simulator (NUMBA_ENABLE_CUDASIM=1 in the environment, see the Makefile) "
            "or on a machine with a usable GPU; this one has none"
        )

from fastconv._backends.cuda import common  # noqa: E402  (after the check that numba.cuda can run here)

assert common.SIMULATED == SIMULATED


def pytest_configure(config):
    config.addinivalue_line("markers", "simulator_only: needs numba's CUDA simulator; skipped on a real GPU")


def pytest_collection_modifyitems(config, items):
    if not SIMULATED:
        skip = pytest.mark.skip(reason="reads the CUDA simulator's fake device memory; this run is on a GPU")
        for item in items:
            if "simulator_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(common, "CONV_BLOCK", (4, 3))
    monkeypatch.setattr(common, "CONV_ROWS", 2)
    monkeypatch.setattr(common, "OC_BLOCK", 2)
    monkeypatch.setattr(common, "CHANNEL_STAGE", 2)
    monkeypatch.setattr(common, "THREADS", 8)
