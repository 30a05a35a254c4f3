"""Reliability of the cuda backend in the simulator: fuzzed inputs against the oracles, and concurrent threads."""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reliability_cases import CASES, check, run_threads

import fastconv as fc

FUZZ = settings(max_examples=int(os.environ.get("FASTCONV_FUZZ_EXAMPLES", "8")), deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", sorted(CASES))
@FUZZ
@given(data=st.data())
def test_fuzzed_inputs_match_the_oracle_or_raise_value_or_type_error(name, data):
    args, kwargs = data.draw(CASES[name][0])
    if kwargs.get("method") in ("separable", "fft"):  # host-only methods: a documented ValueError on cuda
        kwargs["method"] = "direct"
    check(name, args, kwargs, "cuda")


def test_eight_threads_calling_every_operation_at_once_get_the_reference_results():
    import numpy as np

    x = np.random.default_rng(3).standard_normal((1, 2, 6, 5)).astype(np.float32)
    w = np.random.default_rng(4).standard_normal((2, 2, 2, 2)).astype(np.float32)
    operations = {
        "conv2d": lambda b: fc.conv2d(x, w, padding=1, backend=b),
        "max_pool2d": lambda b: fc.max_pool2d(x, 2, return_indices=True, backend=b)[1],
        "avg_pool2d": lambda b: fc.avg_pool2d(x, 2, backend=b),
        "adaptive_avg_pool2d": lambda b: fc.adaptive_avg_pool2d(x, 2, backend=b),
        "filter2d": lambda b: fc.filter2d(x[0, 0], w[0, 0], backend=b),
        "convolve": lambda b: fc.convolve(x.ravel(), w.ravel(), backend=b),
    }
    expected = {name: op("numpy") for name, op in operations.items()}

    def work(_):
        for name, op in operations.items():
            np.testing.assert_allclose(op("cuda"), expected[name], rtol=1e-5, atol=1e-5, err_msg=name)

    run_threads(work)
