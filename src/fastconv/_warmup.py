"""``python -m fastconv warmup``: compile the cpu kernels of every operation ahead, into the JIT cache.

Each case calls a public operation once on small arrays, so it compiles (or
loads from the cache) exactly the kernels that calls of its kind run: the
sample arguments of ``_samples`` and, where an operation has more kernel
families, one call per family (:data:`EXTRA`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._samples import OPERATIONS, sample_args

DTYPES = ("float32", "float64")

# Calls that reach kernels the sample arguments do not: (label, extra arguments that replace the sample's)
EXTRA: dict[str, list[tuple[str, Callable[[Callable[..., np.ndarray]], dict[str, Any]]]]] = {
    "conv2d": [
        ("depthwise", lambda a: dict(input=a(1, 8, 10, 10), weight=a(8, 1, 3, 3), groups=8, stride=1, padding=1)),
        ("depthwise, stride 2", lambda a: dict(input=a(1, 8, 10, 10), weight=a(8, 1, 3, 3), groups=8, stride=2, padding=1)),
        ("dense, 6 outputs", lambda a: dict(input=a(1, 4, 16, 16), weight=a(6, 4, 3, 3), groups=1, stride=1, padding=1)),
        ("1x1, 7x7 planes", lambda a: dict(input=a(1, 8, 7, 7), weight=a(20, 8, 1, 1), groups=1, stride=1, padding=0)),
    ],
    "max_pool2d": [("indices", lambda a: dict(return_indices=True))],
    "filter2d": [(f"{k}x{k}", lambda a, k=k: dict(kernel=a(k, k))) for k in (3, 5, 7)],
}


def cases(ops: list[str] | None = None, dtypes: tuple[str, ...] = DTYPES) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(op, label, dtype, arguments) of every warmup call.

    Examples
    --------
    >>> [(op, label) for op, label, _, _ in cases(["max_pool2d"], ("float32",))]
    [('max_pool2d', 'sample'), ('max_pool2d', 'indices')]
    """
    for op in ops or list(OPERATIONS):
        for dtype in dtypes:
            yield op, "sample", dtype, sample_args(op, dtype)
            for label, extra in EXTRA.get(op, ()):
                yield op, label, dtype, {**sample_args(op, dtype), **extra(_arrays(dtype))}


def _arrays(dtype: str) -> Callable[..., np.ndarray]:
    rng = np.random.default_rng(7)
    return lambda *shape: rng.standard_normal(shape).astype(dtype)


def cache_location() -> str:
    """Where the cpu kernels are cached: ``NUMBA_CACHE_DIR``, or the ``__pycache__`` folders beside the kernels."""
    from numba.core import config

    if config.CACHE_DIR:
        return config.CACHE_DIR
    from ._backends.cpu import conv

    return f"{conv._correlate_job._cache._cache_path} (and _gen/__pycache__ beside it)"


class _Bar:
    """rich's progress bar when rich is installed, else one plain line per case."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        try:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        except ImportError:
            self._rich = None
        else:
            self._rich = Progress(TextColumn("{task.description:<40}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
            self._rich.start()
            self._task = self._rich.add_task("warmup", total=total)

    def step(self, text: str, seconds: float | None = None) -> None:
        if seconds is None:
            if self._rich is not None:
                self._rich.update(self._task, description=text)
            return
        self.done += 1
        if self._rich is not None:
            self._rich.update(self._task, advance=1)
        else:
            print(f"[{self.done:>{len(str(self.total))}}/{self.total}] {text:<40} {seconds:6.1f} s", flush=True)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()


def _run_op(op: str, dtypes: tuple[str, ...]) -> list[tuple[str, float, int]]:
    """Run the cases of ``op``: (name, seconds, kernel variants compiled) of each."""
    import fastconv

    from ._jitcache import LOG, recording

    LOG.setLevel(logging.ERROR)  # the progress says what compiles
    done = []
    for _, label, dtype, args in cases([op], dtypes):
        t0 = time.perf_counter()
        with recording() as compiled:
            getattr(fastconv, op)(**args, backend="cpu")
        done.append((f"{op} {dtype}" + ("" if label == "sample" else f" ({label})"), time.perf_counter() - t0, len(compiled)))
    return done


def warmup(ops: list[str] | None = None, dtypes: tuple[str, ...] = DTYPES, jobs: int = 1) -> dict[str, Any]:
    """Compile the cpu kernels of ``ops`` (default: all) for ``dtypes`` into the cache, with a progress bar.

    ``jobs`` > 1 compiles that many operations at a time in worker processes
    (numba compiles on one core).  Returns the seconds, the kernel variants
    compiled per case and the cache folder; a second run loads them all and
    compiles nothing.
    """
    from ._jitcache import LOG

    ops = ops or list(OPERATIONS)
    bar, level = _Bar(sum(1 for _ in cases(ops, dtypes))), LOG.level
    started, variants = time.perf_counter(), {}

    def report(done: list[tuple[str, float, int]]) -> None:
        for name, seconds, count in done:
            variants[name] = count
            bar.step(name, seconds)

    try:
        if jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                for future in as_completed([pool.submit(_run_op, op, dtypes) for op in ops]):
                    report(future.result())
        else:
            for op in ops:
                bar.step(op)
                report(_run_op(op, dtypes))
    finally:
        LOG.setLevel(level)
        bar.close()
    return {"seconds": time.perf_counter() - started, "variants": variants, "cache": cache_location()}
