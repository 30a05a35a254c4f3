"""``cpu.parallel.run``: the one parallel loop, calling its task through the task's native address."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from fastconv._backends.cpu import parallel
from fastconv._backends.cpu.common import native


@njit(cache=True, nogil=True)
def _scaled_sum(i, x, out, scale):
    s = x.dtype.type(0)
    for k in range(x.shape[1]):
        s += x[i, k]
    out[i] = s * scale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 2, 37])
@pytest.mark.parametrize("chunk", [0, 1, 5])
def test_every_index_runs_once_with_the_argument_types(dtype, n, chunk):
    x = np.arange(n * 3, dtype=dtype).reshape(n, 3)
    x.setflags(write=False)  # a read-only argument is another numba type: its own compiled task
    out = np.full(n, -1, dtype)
    parallel.run(_scaled_sum, n, x, out, 2.0, chunk=chunk)
    np.testing.assert_array_equal(out, x.sum(axis=1) * 2)
    assert out.dtype == dtype


def test_the_chunk_size_is_restored():
    import numba

    before = numba.get_parallel_chunksize()
    parallel.run(_scaled_sum, 8, np.ones((8, 2)), np.zeros(8), 1.0, chunk=3)
    assert numba.get_parallel_chunksize() == before


def test_only_arrays_and_scalars_are_taken():
    with pytest.raises(TypeError, match="arrays and scalars, got tuple"):
        parallel.run(_scaled_sum, 2, np.ones((2, 2)), np.zeros(2), (1, 2))


@njit(cache=True, nogil=True)
def _pick(i, flag, a, b, out):
    out[i] = a[i] if flag else b[i]


def test_booleans_and_mixed_scalars_pass_through():
    a, b, out = np.arange(6.0), -np.arange(6.0), np.zeros(6)
    for flag in (True, False, np.bool_(True)):
        parallel.run(_pick, 6, flag, a, b, out)
        np.testing.assert_array_equal(out, a if flag else b)


@native(cache=True, nogil=True)
def _native_scaled_sum(i, x, out, scale):
    _scaled_sum(i, x, out, scale)


@pytest.mark.parametrize("n", [1, 5])
def test_a_native_task_runs_and_refuses_a_python_call(n):
    """A kernel compiled without numba's Python entry (``common.native``) runs as a task, and a call from Python
    raises TypeError instead of jumping to a wrapper that does not exist."""
    x, out = np.arange(2.0 * n).reshape(n, 2), np.zeros(n)
    parallel.run(_native_scaled_sum, n, x, out, 3.0)
    np.testing.assert_array_equal(out, x.sum(axis=1) * 3)
    with pytest.raises(TypeError, match="_native_scaled_sum is compiled without a Python entry"):
        _native_scaled_sum(0, x, out, 3.0)
