"""What can be checked of numba-cuda's ``cache=True`` for the cuda kernels without a GPU.

A cached CUDA kernel's index key is (signature, the device's compute
capability and CUDA version, numba-cuda's version, a hash of the bytecode, a
hash of the closure's cell contents).  Loading or saving an entry needs a GPU
(the key reads the current device), so here only the parts that decide
whether the kernels *can* be cached are checked: every kernel accepts
``cache=True``, the tiled conv kernels' closures pickle, closures made for
different dtypes or block shapes get different keys, and the same ones the
same key.  The key does not include ``cuda.jit``'s options, so the launch
bounds must follow from the closure's contents: they do, since they are
computed from the same (dtype, block) arguments.  ``benchmarks/gpu_check.sh``
checks the rest on a GPU (``benchmarks/cuda_cache_probe.py``: a second process
loads every kernel from the cache).
"""

import hashlib
import os

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
    pytest.skip("numba-cuda's cache needs the real numba.cuda target, not the simulator", allow_module_level=True)

from numba import cuda
from numba.cuda.dispatcher import CUDACache
from numba.cuda.serialize import dumps

from fastconv._backends import cuda as _cuda

DTYPES = ["float32", "float64", "int64"]


def _closure_hash(func) -> str:
    """The closure part of numba-cuda's index key (``CUDACache._index_key``)."""
    cells = func.__closure__
    return hashlib.sha256(dumps(tuple(c.cell_contents for c in cells)) if cells else b"").hexdigest()


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_kernel_accepts_cache_true(dtype, tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    for name, (func, _sig, *options) in _cuda.kernel_signatures(dtype).items():
        kernel = cuda.jit(cache=True, **(options[0] if options else {}))(func)
        assert isinstance(kernel._cache, CUDACache), name
        _closure_hash(func)  # the closure's contents pickle


def test_tiled_closures_are_keyed_by_dtype_and_block_shape():
    shapes = [(dt, bx, by, rh, ocb) for dt in DTYPES for bx, by, rh, ocb in [(32, 8, 4, 8), (32, 8, 4, 1), (4, 3, 2, 2), (4, 3, 2, 1)]]
    keys = {}
    for shape in shapes:
        first, again = _cuda._conv_tiled_source(np.dtype(shape[0]), *shape[1:]), _cuda._conv_tiled_source(np.dtype(shape[0]), *shape[1:])
        assert first is not again and _closure_hash(first) == _closure_hash(again), shape
        assert first.__code__.co_code == again.__code__.co_code
        keys[_closure_hash(first)] = shape
    assert len(keys) == len(shapes)  # no two shapes share a cache entry
    bounds = {key: _cuda._conv_tiled_bounds(np.dtype(s[0]), *s[1:]) for key, s in keys.items()}
    assert len(bounds) == len(keys)  # one launch bound per key: the options the key leaves out follow from it
