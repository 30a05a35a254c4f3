#!/usr/bin/env bash
# One prepared call that verifies the cuda backend on a lent GPU (issue 18).
#
#   PYTHONPATH=src benchmarks/gpu_check.sh OUTDIR        (or: make gpu-check OUT=OUTDIR)
#
# Run from the repo root.  Parts, each bounded by `timeout`, so a hang still
# leaves the earlier parts' files; the caps add up to under 8 minutes:
#   1. info.txt            nvidia-smi, versions, fc.backends(), fc.hardware()
#   2. junit-cuda.xml      tests_cuda/ WITHOUT the simulator
#      junit-dispatch.xml  tests/test_cuda_dispatch.py and tests/test_cuda_cache_keys.py
#      tests.log           both pytest logs (pytest --timeout per test when pytest-timeout is installed)
#   3. cache.json          benchmarks/cuda_cache_probe.py: does cache=True let a second process skip compilation?
#   4. gpu-bench.json      benchmarks/gpu_bench.py --quick (about 3 minutes), rewritten after every case
#      gpu-bench.txt       its text table
#   5. summary.txt         each part's exit status and seconds, and the benchmark's and probe's logs
# Eight files at most (the device machine returns no more).  Needs only the
# image's packages; never changes GPU settings (nvidia-smi is only read).
#
# Dry run (CI, tests_cuda/test_gpu_check.py): GPU_CHECK_SIMULATE=1 keeps
# NUMBA_ENABLE_CUDASIM=1 for the cuda parts and runs the benchmark through
# GPU_CHECK_BENCH_RUNNER (tests_cuda/fake_gpu.py, which fakes torch.cuda).
# GPU_CHECK_TESTS_CUDA / GPU_CHECK_TESTS_DISPATCH pick the test paths,
# GPU_CHECK_NVIDIA_SMI the nvidia-smi program, GPU_CHECK_T_* the time caps.
set -u
OUT=${1:?usage: benchmarks/gpu_check.sh OUTDIR}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
SIMULATE=${GPU_CHECK_SIMULATE:-0}
TESTS_CUDA=${GPU_CHECK_TESTS_CUDA:-tests_cuda}
TESTS_DISPATCH=${GPU_CHECK_TESTS_DISPATCH:-tests/test_cuda_dispatch.py tests/test_cuda_cache_keys.py}
BENCH_RUNNER=${GPU_CHECK_BENCH_RUNNER:-}
SMI=${GPU_CHECK_NVIDIA_SMI:-nvidia-smi}
# seconds per part: info 68 at most (below), then 120 + 40 + 2 * 30 + 155, plus 5 s of kill grace each: 468 s, under 8 minutes
T_CUDA=${GPU_CHECK_T_CUDA:-120} T_DISPATCH=${GPU_CHECK_T_DISPATCH:-40}
T_CACHE=${GPU_CHECK_T_CACHE:-30} T_BENCH=${GPU_CHECK_T_BENCH:-155}
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
START=$(date +%s)

if [ "$SIMULATE" = 1 ]; then CUDA_ENV=(env NUMBA_ENABLE_CUDASIM=1); else CUDA_ENV=(env -u NUMBA_ENABLE_CUDASIM); fi
HOST_ENV=(env -u NUMBA_ENABLE_CUDASIM)

# part NAME SECONDS CMD...: run CMD under `timeout`, log its status and duration
part() {
  local name=$1 cap=$2; shift 2
  local t0=$(date +%s) rc
  timeout -s INT -k 5 "$cap" "$@"  # SIGINT first: pytest still writes its junit file, python its traceback
  rc=$?
  local note=""
  case $rc in 124|137) note=" (timed out after ${cap}s)";; esac
  echo "part $name: rc=$rc$note, $(( $(date +%s) - t0 )) s" >>"$SUMMARY"
  return 0
}

echo "gpu_check: $(date -u +%FT%TZ), simulate=$SIMULATE, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >>"$SUMMARY"

# 1. the machine
info() {
  {
    echo "== nvidia-smi"
    if command -v "$SMI" >/dev/null; then
      timeout 10 "$SMI"; timeout 10 "$SMI" --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit,persistence_mode,compute_mode --format=csv
    else
      echo "$SMI: not found"
    fi
    echo "== versions"
    "$PY" --version 2>&1
    "${CUDA_ENV[@]}" timeout -k 3 45 "$PY" - <<'PYEOF' 2>&1
import importlib, json, platform
for name in ("numpy", "scipy", "numba", "numba_cuda", "llvmlite", "torch", "cupy", "pytest", "pytest_timeout"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '?')}")
    except Exception as exc:
        print(f"{name}: not importable ({type(exc).__name__}: {exc})")
try:
    import torch
    print("torch.cuda", torch.cuda.is_available(), torch.version.cuda, torch.backends.cudnn.version())
except Exception as exc:
    print("torch.cuda: ", exc)
import fastconv as fc
print("fastconv", fc.__version__, platform.platform())
print("== fc.backends()")
print(json.dumps(fc.backends(), indent=1, default=str))
print("== fc.hardware()")
print(json.dumps(fc.hardware(), indent=1, default=str))
PYEOF
  } >"$OUT/info.txt" 2>&1
}
t0=$(date +%s); info; echo "part info: rc=$?, $(( $(date +%s) - t0 )) s (nvidia-smi 2 * 10 s and python 48 s at most)" >>"$SUMMARY"

# 2. the tests, without the simulator (unless this is the dry run)
TIMEOUT_ARGS=()
if "$PY" -c "import pytest_timeout" 2>/dev/null; then TIMEOUT_ARGS=(--timeout=60); fi
echo "pytest per-test timeout: ${TIMEOUT_ARGS[*]:-none, pytest-timeout is not installed: only the timeout of each part}" >>"$SUMMARY"
: >"$OUT/tests.log"
# shellcheck disable=SC2086
part tests_cuda "$T_CUDA" "${CUDA_ENV[@]}" "$PY" -m pytest $TESTS_CUDA -v -rfEs --durations=10 -p no:cacheprovider "${TIMEOUT_ARGS[@]}" \
  --junitxml="$OUT/junit-cuda.xml" >>"$OUT/tests.log" 2>&1
# shellcheck disable=SC2086
part tests_dispatch "$T_DISPATCH" "${HOST_ENV[@]}" "$PY" -m pytest $TESTS_DISPATCH -v -rfEs --durations=10 -p no:cacheprovider "${TIMEOUT_ARGS[@]}" \
  --junitxml="$OUT/junit-dispatch.xml" >>"$OUT/tests.log" 2>&1

# 3. cache=True: a cold process compiles and saves, a second one should load every kernel
CACHE_DIR=$(mktemp -d)
rm -f "$OUT/cache.json"
for phase in cold warm; do
  echo "== cuda_cache_probe $phase" >>"$SUMMARY"
  part "cache_$phase" "$T_CACHE" "${CUDA_ENV[@]}" NUMBA_CACHE_DIR="$CACHE_DIR" "$PY" benchmarks/cuda_cache_probe.py --phase $phase --out "$OUT/cache.json" >>"$SUMMARY" 2>&1
done
rm -rf "$CACHE_DIR"

# 4. the quick benchmark
echo "== gpu_bench --quick" >>"$SUMMARY"
# shellcheck disable=SC2086
part bench "$T_BENCH" "${CUDA_ENV[@]}" "$PY" $BENCH_RUNNER benchmarks/gpu_bench.py --quick --out "$OUT/gpu-bench.json" --table "$OUT/gpu-bench.txt" >>"$SUMMARY" 2>&1

echo "gpu_check: done in $(( $(date +%s) - START )) s" >>"$SUMMARY"
grep -E "^part |^gpu_check" "$SUMMARY"
[ -f "$OUT/gpu-bench.txt" ] && cat "$OUT/gpu-bench.txt"
exit 0
