"""The cuda backend under numba's CUDA simulator: run as ``NUMBA_ENABLE_CUDASIM=1 pytest tests_cuda``.

The variable must be set before numba is imported, so it comes from the
environment (the Makefile sets it), not from here.  Blocks are made tiny so
that every test runs partial tiles and several blocks.
"""

import os

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    raise pytest.UsageError("tests_cuda must run with NUMBA_ENABLE_CUDASIM=1 in the environment (see the Makefile)")

from fastconv import _cuda  # noqa: E402

assert _cuda.SIMULATED


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(_cuda, "CONV_BLOCK", (4, 3))
    monkeypatch.setattr(_cuda, "CONV_ROWS", 2)
    monkeypatch.setattr(_cuda, "OC_BLOCK", 2)
    monkeypatch.setattr(_cuda, "CHANNEL_STAGE", 2)
    monkeypatch.setattr(_cuda, "THREADS", 8)
