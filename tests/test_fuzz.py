"""Every public operation on fuzzed inputs, on every host backend: the oracle's answer or a ValueError/TypeError.

FASTCONV_FUZZ_EXAMPLES sets the examples per operation and backend (40 in CI).
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_cases import CASES, check

import fastconv as fc
from fastconv import _samples

BACKENDS = [name for name, info in fc.backends().items() if info["available"]]
FUZZ = settings(max_examples=int(os.environ.get("FASTCONV_FUZZ_EXAMPLES", "40")), deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
@FUZZ
@given(data=st.data())
def test_fuzzed_inputs_match_the_oracle_or_raise_value_or_type_error(name, backend, data):
    args, kwargs = data.draw(CASES[name][0])
    check(name, args, kwargs, backend)


def test_the_fuzz_covers_exactly_the_table_of_operations():
    assert sorted(CASES) == sorted(_samples.OPERATIONS)
