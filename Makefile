# Two entry points, each bootstrapping its own virtualenv from a bare python3:
#   make bench   compare every operation with torch / scipy / numpy / OpenCV on this machine
#   make test    compile the cpu kernels (warmup), run the test suite, then the cuda backend's tests in the CUDA simulator
#   make lint    ruff, as configured in pyproject.toml (CI runs it before the tests)
#   make asv     the asv suite, once, on the installed fastconv
#   make gpu-check   on a machine with a GPU: the cuda tests without the simulator, a quick GPU benchmark
#                    and the cache=True probe, into $(GPU_CHECK_OUT) (benchmarks/gpu_check.sh; the image's python3, no venv)
PYTHON ?= python3
TEST_VENV := .venv-test
BENCH_VENV := .venv-bench
BENCH_OUT ?= bench-out
GPU_CHECK_OUT ?= $(if $(OUT),$(OUT),gpu-check-out)

.PHONY: test lint bench asv gpu-check clean

$(TEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $@

$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[bench]"
	touch $@

# warmup first: it compiles the kernels every operation runs on all cores at once; then the suite runs
# on every core (pytest-xdist), as the rest of its time is single-threaded compiling of the variants the
# tests add (the cold-compile path stays tested: test_first_use, test_reliability and test_bench_report
# compile into empty caches of their own).
test: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/python -m fastconv warmup --jobs 0
	$(TEST_VENV)/bin/python -m pytest -n auto --dist worksteal
	NUMBA_ENABLE_CUDASIM=1 $(TEST_VENV)/bin/python -m pytest -n auto --dist worksteal tests_cuda

lint: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/ruff check src tests tests_cuda benchmarks

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m fastconv bench --quick --out $(BENCH_OUT) $(BENCH_ARGS)

asv: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/asv machine --yes
	$(BENCH_VENV)/bin/asv run --python=same --quick --show-stderr $(ASV_ARGS)

gpu-check:
	PYTHON=$(PYTHON) PYTHONPATH=src$${PYTHONPATH:+:$$PYTHONPATH} bash benchmarks/gpu_check.sh $(GPU_CHECK_OUT)

clean:
	rm -rf $(TEST_VENV) $(BENCH_VENV) $(BENCH_OUT) gpu-check-out .asv
