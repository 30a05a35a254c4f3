"""``python -m fastconv bench``: its run, outputs and the README generator, on a small selection."""

import importlib.util
import json
import os

import numpy as np
import pytest

from fastconv import __main__ as cli
from fastconv import _bench_machine as machine
from fastconv import _bench_report as report
from fastconv import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAKS = {"gflops": 100.0, "gbps": 10.0, "gemm_n": 64, "copy_mib": 1}
TINY = bench.Settings(rounds=3, budget_s=0.05, latency=False)


@pytest.fixture(scope="module")
def data():
    """A run over two ops (one compute-bound, one memory-bound) with made-up peaks, so it takes seconds."""
    return {**bench.run(["convolve", "max_pool2d"], settings=TINY, peaks=PEAKS), "command": "test", "date": "today"}


def test_run_times_every_implementation_of_every_case(data):
    cases = bench.select_cases(["convolve", "max_pool2d"])
    assert [(r["op"], r["case"]) for r in data["results"]] == [(c.op, c.label) for c in cases]
    for result in data["results"]:
        impls = {r["impl"] for r in result["rows"]}
        assert impls == set(bench.IMPLEMENTATIONS[result["op"]])
        assert all(r["median_ms"] > 0 and 3 <= r["rounds"] <= TINY.rounds for r in result["rows"])
    assert {r["bound"] for r in data["results"]} == {"compute", "memory"}


def test_scaling_and_targets_are_reported(data):
    compute = {r["case"] for r in data["results"] if r["bound"] == "compute"}
    if machine.cores() >= 2:
        assert {s["case"] for s in data["scaling"]} == compute
        assert all(s["threads"] == [1, 2] and s["speedup"] > 0 for s in data["scaling"])
    targets = {(t["case"], t["peer"]) for t in data["targets"]}
    assert targets == {(c.label, peer) for c in bench.select_cases(["convolve", "max_pool2d"]) for peer in c.targets}
    assert ("3x3/s2/p1 64x112x112 N=1", "torch") in targets


def test_text_markdown_and_json_name_every_row(data, tmp_path):
    text, markdown = report.format_text(data), report.format_markdown(data)
    for result in data["results"]:
        for row in result["rows"]:
            assert row["impl"] in text and row["impl"] in markdown
    assert "GFLOP/s" in text and "GB/s" in text and "speed-up of fastconv[cpu]" in text
    report.write_json(data, str(tmp_path / "b.json"))
    assert json.loads((tmp_path / "b.json").read_text())["results"] == data["results"]


def test_plot_writes_a_png(data, tmp_path):
    pytest.importorskip("matplotlib")
    assert report.plot(data, str(tmp_path / "b.png"))
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_work_model_counts_direct_multiply_adds():
    case = next(c for c in bench.CASES if c.label.startswith("resnet18 3x3 64->64 56x56 N=1"))
    args = case.args()
    flops, moved = bench.work("conv2d", args, np.empty((1, 64, 56, 56), np.float32))
    assert flops == 2 * 64 * 56 * 56 * 64 * 9
    assert moved == 4 * (64 * 56 * 56 * 2 + 64 * 64 * 9)


def test_temporary_bytes_sees_numpy_allocations():
    peak, result = bench.temporary_bytes(lambda: np.ones(1000) + np.ones(1000))
    assert result == 8000 and peak >= 3 * 8000


@pytest.mark.skipif(bench.peak_rss_bytes(lambda: None) is None, reason="needs Linux /proc/self/clear_refs")
def test_peak_rss_sees_freed_temporaries():
    assert bench.peak_rss_bytes(lambda: np.ones(10**7).sum()) >= 0.9 * 8 * 10**7


def test_memory_rows_compare_with_input_plus_output_in_a_fresh_process():
    case = next(c for c in bench.CASES if c.op == "conv2d" and c.tier == "public")
    (row,) = machine.isolated("memory_rows", [case.name], ["numpy"])
    assert row["impl"] == "fastconv[numpy]" and row["io_bytes"] == 4 * (64 * 56 * 56 * 2 + 64 * 64 * 9)
    assert row["temp_bytes"] >= row["traced_bytes"] > row["io_bytes"]  # the reference's window copies


def test_latency_probes_fresh_processes():
    lat = machine.latency(["avg_pool2d"], ["cpu"], imports=1)
    assert lat["import_s"] > 0
    (row,) = lat["first_call"]
    assert row["impl"] == "fastconv[cpu]" and min(row["cold_s"], row["warm_s"], row["steady_s"], row["cold_cpu_s"]) > 0
    assert row["variants"] >= 1 and row["slowest"][0][0].startswith("avg_pool")  # the cold call compiled its kernels


def test_cli_writes_table_json_and_png(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "")  # so that the end of the test removes what the run sets
    monkeypatch.delenv("OMP_WAIT_POLICY")
    out = tmp_path / "out"
    cli.main(["bench", "--quick", "--ops", "avg_pool2d", "--rounds", "3", "--budget", "0.05", "--no-latency", "--no-memory", "--out", str(out)])
    assert "avg_pool2d" in capsys.readouterr().out
    data = json.loads((out / "bench.json").read_text())
    assert data["command"].startswith("python -m fastconv bench --quick")
    assert data["machine"]["cores"] >= 1 and "numpy" in data["machine"]["versions"]
    assert {"numba", "torch", "cv2"} <= set(data["machine"]["threads"])
    assert data["machine"]["thread_env"]["OMP_WAIT_POLICY"] == "PASSIVE"
    assert (out / "bench.txt").exists()
    assert (out / "bench.png").exists() or importlib.util.find_spec("matplotlib") is None


def test_cli_rejects_unknown_backends_and_ops():
    with pytest.raises(SystemExit):
        cli.main(["bench", "--backends", "nonesuch"])
    with pytest.raises(SystemExit):
        cli.main(["bench", "--ops", "nonesuch"])


def _readme_results():
    spec = importlib.util.spec_from_file_location("readme_results", os.path.join(ROOT, "benchmarks", "readme_results.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_results_section_is_generated(data, tmp_path, monkeypatch):
    gen = _readme_results()
    assert gen.main(["--check"]) == 0, "README results section is out of date: run python benchmarks/readme_results.py"
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    report.write_json(data, str(tmp_path / "benchmarks" / "results" / "bench.json"))
    (tmp_path / "README.md").write_text(f"# x\n\n{gen.START}\nold\n{gen.END}\n\nafter\n")
    monkeypatch.setattr(gen, "ROOT", str(tmp_path))
    assert gen.main(["--readme", str(tmp_path / "README.md")]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "old" not in text and text.endswith(f"{gen.END}\n\nafter\n")
    assert "recorded by `test`" in text and "fastconv[cpu]" in text


def test_a_second_compiled_backend_gets_its_own_columns_and_comparison(data):
    """With a GPU the cuda backend joins the table; the report compares it with cpu (faked here by renaming rows)."""
    results = [{**res, "rows": res["rows"] + [{**r, "impl": "fastconv[cuda]", "median_ms": r["median_ms"] / 2} for r in res["rows"] if r["impl"] == "fastconv[cpu]"]}
               for res in data["results"]]
    text = report.format_text({**data, "results": results})
    assert "speed-up of fastconv[cuda]" in text and "fastconv backends compared" in text
    assert "2.00x" in text


def test_asv_suite_is_generated_from_the_table():
    spec = importlib.util.spec_from_file_location("asv_benchmarks", os.path.join(ROOT, "benchmarks", "benchmarks.py"))
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    for op in bench.OPS:
        cls = getattr(suite, op)
        assert cls.params == [[c.label for c in bench.select_cases([op])], bench.available_backends()]
        assert {"time_op", "peakmem_op", "track_temporary_bytes"} <= set(dir(cls))
    bench_case = suite.avg_pool2d()
    shape = suite.avg_pool2d.params[0][0]
    bench_case.setup(shape, "cpu")
    bench_case.time_op(shape, "cpu")
    assert bench_case.track_temporary_bytes(shape, "cpu") >= 0
    assert suite.Compile.params == [list(bench.OPS), [b for b in bench.available_backends() if b != "numpy"]]


def test_cli_latency_only(tmp_path, capsys):
    cli.main(["bench", "--latency", "--ops", "convolve", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["results"] == [] and [r["op"] for r in data["latency"]["first_call"]] == ["convolve"] * (len(bench.available_backends()) - 1)
    assert "first call" in capsys.readouterr().out


def test_bench_restarts_with_openblas_spin_off():
    env = cli.restart_env(["bench", "--quick"], {"PATH": "/bin"})
    assert env == {"PATH": "/bin", "OPENBLAS_THREAD_TIMEOUT": "4"}
    assert cli.restart_env(["bench"], {"OPENBLAS_THREAD_TIMEOUT": "30"}) is None  # the user's setting wins
    assert cli.restart_env(["demo"], {}) is None
