"""asv benchmarks, generated from the shared table in ``fastconv.bench``.

One class per operation (``conv2d``, ``max_pool2d``, ...) times every
fastconv backend available here on that operation's public and extra shapes,
with its peak memory (``peakmem_``, the process's) and the temporary memory
of one call (``track_temporary_bytes``: NumPy's and Numba's allocations
seen by tracemalloc, less the result).  ``setup`` makes the first call, so Numba
compilation is never timed; ``compile`` measures it on its own, in fresh
processes with an empty and then a warm Numba cache.

    asv machine --yes && asv run --python=same --quick
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `python -m fastconv bench` does; see fastconv/__main__.py
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # read when numpy loads OpenBLAS: in effect where asv imports this first

from fastconv import _bench_machine, bench

BACKENDS = bench.available_backends()
COMPILED = [b for b in BACKENDS if b != "numpy"]


class _Op:
    op = ""
    param_names = ["shape", "backend"]
    timeout = 600

    def setup(self, shape, backend):
        case = next(c for c in bench.CASES if c.op == self.op and c.label == shape)
        self.call = bench.IMPLEMENTATIONS[self.op][f"fastconv[{backend}]"](case.args())
        self.call()

    def time_op(self, shape, backend):
        self.call()

    def peakmem_op(self, shape, backend):
        self.call()

    def track_temporary_bytes(self, shape, backend):
        peak, result = bench.temporary_bytes(self.call)
        return max(peak - result, 0)

    track_temporary_bytes.unit = "bytes"


def _op_class(op: str) -> type:
    shapes = [c.label for c in bench.select_cases([op], ("public", "extra"))]
    return type(op, (_Op,), {"op": op, "params": [shapes, BACKENDS], "__module__": __name__, "__doc__": f"fastconv.{op} on {len(shapes)} shapes."})


for _name in bench.OPS:
    globals()[_name] = _op_class(_name)


class Compile:
    """First call of each op on small float32 input, in a fresh process with an empty (cold) or warm Numba cache."""

    params = [list(bench.OPS), COMPILED]
    param_names = ["op", "backend"]
    timeout = 1800

    def setup_cache(self):
        return {(op, b): _bench_machine.first_call(op, b) for op in bench.OPS for b in COMPILED}

    def track_cold_first_call(self, latencies, op, backend):
        return latencies[(op, backend)]["cold_s"]

    def track_warm_first_call(self, latencies, op, backend):
        return latencies[(op, backend)]["warm_s"]

    def track_cold_first_call_cpu(self, latencies, op, backend):
        """The cold call's CPU seconds: compiling is single-threaded, so on a loaded machine nearer than wall time to an idle one's."""
        return latencies[(op, backend)]["cold_cpu_s"]

    def track_cold_variants(self, latencies, op, backend):
        """Kernel variants the cold call compiled."""
        return latencies[(op, backend)]["variants"]

    track_cold_first_call.unit = track_warm_first_call.unit = track_cold_first_call_cpu.unit = "seconds"
    track_cold_variants.unit = "variants"


def track_import_seconds():
    """``import fastconv`` in a fresh process."""
    return _bench_machine.probe()["import_s"]


track_import_seconds.unit = "seconds"
