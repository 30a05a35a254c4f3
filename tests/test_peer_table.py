"""The shared ``{op: {implementation: setup}}`` table, as a pytest-benchmark suite.

Every implementation must agree with the reference, on small float64
arguments and on every benchmark shape.  Each test runs under
pytest-benchmark in the group ``{op}|{shape}``; the run is disabled by
default (``--benchmark-disable`` in pyproject), so each entry runs once as a
smoke test.  To compare them::

    pytest tests/test_peer_table.py -k "shape" --benchmark-enable
"""

import functools

import numpy as np
import pytest
from naive import FLOAT32_PATHS_RTOL, RTOL

from fastconv import _samples, bench

PAIRS = [(op, impl) for op, impls in bench.IMPLEMENTATIONS.items() for impl in impls]
CASES = {case.name: case for case in bench.select_cases(tiers=("public", "extra"))}


@functools.cache
def _args(name):
    return CASES[name].args()


def _applies(name, impl):
    """Whether the implementation computes this case (cv2.filter2D takes one plane, scipy.signal no "reflect")."""
    try:
        bench.IMPLEMENTATIONS[CASES[name].op][impl](_args(name))
    except NotImplementedError:
        return False
    return True


CASE_PAIRS = [(name, impl) for name, case in CASES.items() for impl in bench.IMPLEMENTATIONS[case.op] if _applies(name, impl)]


def test_every_benchmarked_op_has_sample_args_and_a_benchmark_case():
    assert set(bench.OPS) <= set(_samples.OPERATIONS)
    assert {case.op for case in bench.CASES} == set(bench.OPS)
    assert len({case.name for case in bench.CASES}) == len(bench.CASES)
    for name in CASES:  # every timed shape has a peer to compare with
        assert any(bench.backend_of(impl) is None for n, impl in CASE_PAIRS if n == name), name


@pytest.mark.parametrize("op, impl", PAIRS, ids=[f"{op}|{impl}" for op, impl in PAIRS])
def test_implementation_matches_reference(op, impl, benchmark):
    args = _samples.sample_args(op, np.float64)
    expected = bench.IMPLEMENTATIONS[op]["fastconv[numpy]"](args)()
    benchmark.group = f"{op}|smoke"
    got = benchmark(bench.IMPLEMENTATIONS[op][impl](args))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL[np.dtype(np.float64)], atol=RTOL[np.dtype(np.float64)])


@functools.cache
def _reference(name):
    return bench.IMPLEMENTATIONS[CASES[name].op]["fastconv[numpy]"](_args(name))()


@pytest.mark.parametrize("name, impl", CASE_PAIRS, ids=[f"{name}|{impl}" for name, impl in CASE_PAIRS])
def test_shape(name, impl, benchmark):
    """Every implementation on every benchmark shape (float32), grouped by shape."""
    case = CASES[name]
    call = bench.IMPLEMENTATIONS[case.op][impl](_args(name))
    if not benchmark.disabled:
        call()  # compile outside the timing
    benchmark.group = name
    got = np.asarray(benchmark(call))
    expected = _reference(name)
    np.testing.assert_allclose(got, expected, rtol=FLOAT32_PATHS_RTOL, atol=FLOAT32_PATHS_RTOL * float(np.abs(expected).max()))


def test_benchmark_cases_are_float32_unless_named_and_every_tier_is_known():
    for case in bench.CASES:
        args = case.args()
        dtype = np.float64 if case.label.endswith("float64") else np.float32
        assert all(a.dtype == dtype for a in args.values() if isinstance(a, np.ndarray)), case.label
        assert case.tier in bench.TIERS, case.label
        assert set(case.targets) <= set(bench.IMPLEMENTATIONS[case.op]), case.label
