"""The cuda backend under numba's CUDA simulator: run as ``NUMBA_ENABLE_CUDASIM=1 pytest tests_cuda``.

The variable must be set before numba is imported, so it comes from the
environment (the Makefile sets it), not from here.  Blocks are made tiny so
that every test runs partial tiles and several blocks.
"""

import os

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    raise pytest.UsageError("tests_cuda must run with NUMBA_ENABLE_CUDASIM=1 in the environment (see the Makefile)")

from fastconv._backends.cuda import common

assert common.SIMULATED


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(common, "CONV_BLOCK", (4, 3))
    monkeypatch.setattr(common, "CONV_ROWS", 2)
    monkeypatch.setattr(common, "OC_BLOCK", 2)
    monkeypatch.setattr(common, "CHANNEL_STAGE", 2)
    monkeypatch.setattr(common, "THREADS", 8)
