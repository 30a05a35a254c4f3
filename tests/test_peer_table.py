"""Every implementation in the shared ``{op: {implementation: setup}}`` table agrees with the reference.

The same table drives ``python -m fastconv bench``; here each entry also runs
once under pytest-benchmark (disabled by default, so it is a smoke test).
"""

import numpy as np
import pytest

from fastconv import bench

rng = np.random.default_rng(7)
SMALL = {
    "conv2d": dict(input=rng.standard_normal((2, 4, 9, 8)), weight=rng.standard_normal((6, 2, 3, 2)), stride=(1, 2), padding=1, groups=2),
    "conv1d": dict(input=rng.standard_normal((2, 3, 11)), weight=rng.standard_normal((4, 3, 3)), dilation=2),
    "max_pool2d": dict(input=rng.standard_normal((2, 3, 9, 7)), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    "avg_pool2d": dict(input=rng.standard_normal((2, 3, 9, 7)), kernel_size=(3, 2), padding=1, count_include_pad=False),
    "adaptive_avg_pool2d": dict(input=rng.standard_normal((2, 3, 9, 7)), output_size=(4, 3)),
    "adaptive_max_pool2d": dict(input=rng.standard_normal((2, 3, 9, 7)), output_size=(5, 2)),
    "convolve2d": dict(in1=rng.standard_normal((9, 7)), in2=rng.standard_normal((4, 3)), mode="same", boundary="symm"),
    "correlate2d": dict(in1=rng.standard_normal((9, 7)), in2=rng.standard_normal((4, 3)), mode="full", boundary="wrap"),
    "convolve": dict(a=rng.standard_normal(20), v=rng.standard_normal(6), mode="same"),
    "filter2d": dict(image=rng.standard_normal((13, 11)), kernel=rng.standard_normal((4, 3)), boundary="reflect"),
}
PAIRS = [(op, impl) for op, impls in bench.IMPLEMENTATIONS.items() for impl in impls]


def test_every_op_has_small_args_and_a_benchmark_case():
    assert set(SMALL) == set(bench.OPS)
    assert {case.op for case in bench.CASES} == set(bench.OPS)


@pytest.mark.parametrize("op, impl", PAIRS, ids=[f"{op}|{impl}" for op, impl in PAIRS])
def test_implementation_matches_reference(op, impl, benchmark):
    expected = bench.IMPLEMENTATIONS[op]["fastconv[numpy]"](SMALL[op])()
    benchmark.group = f"{op}|small"
    got = benchmark(bench.IMPLEMENTATIONS[op][impl](SMALL[op]))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-12)


def test_benchmark_cases_build_valid_arguments():
    for case in bench.CASES:
        args = case.args()
        assert all(a.dtype == np.float32 for a in args.values() if isinstance(a, np.ndarray)), case.label


def test_format_table_lists_every_row():
    rows = bench.run(ops=["convolve"], rounds=3, budget_s=0.1)
    text = bench.format_table(rows)
    assert {r["impl"] for r in rows} == set(bench.IMPLEMENTATIONS["convolve"])
    assert all(r["impl"] in text for r in rows)
