"""Out-of-core filtering of a 16384 x 16384 float32 image: fastconv on Dask against dask-image.

The image is a ``.npy`` file on disk (1 GiB), read in (2048, 2048) chunks and
written back to another ``.npy`` file with ``da.store``; each chunk is read and
written through ``np.lib.format.open_memmap`` inside the task, so workers get
a file name, never the data.  Every variant correlates with the same kernel
and boundary: ``fastconv.dask.filter2d(boundary="symm")`` and
``dask_image.ndfilters.correlate(mode="reflect")`` both extend the image as
``d c b a | a b c d`` (checked on a crop before timing).

Variants, each timed read + filter + write, interleaved, median of the rounds:

- the threaded scheduler (one process, a thread per core; fastconv's Numba
  kernels share one TBB pool);
- a ``distributed.LocalCluster`` on loopback with 1 and with 2 worker
  processes of one thread each (``NUMBA_NUM_THREADS=1`` in the workers, so
  n workers use n cores, as scipy.ndimage does);
- in-memory ``fastconv.filter2d`` on the whole loaded array (filter only; the
  load and the write are timed apart).

    python benchmarks/dask_bench.py [--size 16384] [--chunk 2048] [--rounds 3] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import distributed
import numpy as np
from dask_image import ndfilters

import fastconv as fc
import fastconv.dask as fcd
from fastconv.bench import interleaved_times, machine_info


class NpyFile:
    """A ``.npy`` file as an array Dask can read from and store into, by name (cheap to send to workers)."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.shape, self.dtype, self.ndim = path, shape, np.dtype(dtype), len(shape)

    def __getitem__(self, index):
        return np.array(np.lib.format.open_memmap(self.path, mode="r")[index])

    def __setitem__(self, index, value):
        target = np.lib.format.open_memmap(self.path, mode="r+")
        target[index] = value
        target.flush()


def make_image(folder: Path, size: int, rows: int = 1024) -> NpyFile:
    path = str(folder / "image.npy")
    image = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(size, size))
    rng = np.random.default_rng(0)
    for top in range(0, size, rows):
        image[top : top + rows] = rng.random((min(rows, size - top), size), np.float32)
    image.flush()
    del image
    return NpyFile(path, (size, size), np.float32)


def output(folder: Path, name: str, size: int) -> NpyFile:
    path = str(folder / f"{name}.npy")
    np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(size, size)).flush()
    return NpyFile(path, (size, size), np.float32)


def filtered(source: NpyFile, kernel: np.ndarray, chunk: int, library: str) -> da.Array:
    image = da.from_array(source, chunks=(chunk, chunk), asarray=False, lock=False)
    if library == "fastconv":
        return fcd.filter2d(image, kernel, boundary="symm")
    return ndfilters.correlate(image, kernel, mode="reflect")


def check_crop(source: NpyFile, kernel: np.ndarray, chunk: int) -> float:
    """Largest relative difference of fastconv and dask-image on a crop across four chunks."""
    crop = (slice(chunk - 300, chunk + 300), slice(chunk - 300, chunk + 300))
    a = filtered(source, kernel, chunk, "fastconv")[crop].compute(scheduler="threads")
    b = filtered(source, kernel, chunk, "dask-image")[crop].compute(scheduler="threads")
    edge = filtered(source, kernel, chunk, "fastconv")[:64, :64].compute(scheduler="threads")
    edge_ref = filtered(source, kernel, chunk, "dask-image")[:64, :64].compute(scheduler="threads")
    return float(max(np.abs(a - b).max() / np.abs(b).max(), np.abs(edge - edge_ref).max() / np.abs(edge_ref).max()))


def gaussian(size: int, sigma: float) -> np.ndarray:
    return fc.kernels.gaussian((size, size), (sigma, sigma)).astype(np.float32)


def run(args) -> dict:
    """Make the image, time every variant for each kernel, and remove the files."""
    folder = Path(tempfile.mkdtemp(prefix="fastconv-dask-", dir=args.tmp))
    started = time.perf_counter()
    source = make_image(folder, args.size)
    made_s = time.perf_counter() - started
    rng = np.random.default_rng(1)
    kernels = {"random 5x5": rng.standard_normal((5, 5)).astype(np.float32)}
    if args.gaussian:
        kernels["gaussian 15x15"] = gaussian(15, 2.5)
    results = {
        "image": f"{args.size}x{args.size} float32 .npy on disk ({args.size**2 * 4 / 2**30:.2f} GiB)",
        "chunks": f"({args.chunk}, {args.chunk})",
        "boundary": "fastconv symm == scipy.ndimage reflect",
        "make_image_s": made_s,
        "cases": {},
    }
    clusters = {
        f"{n} worker{'s' * (n > 1)}": distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        )
        for n in args.workers
    }
    try:
        clients = {name: distributed.Client(cluster, set_as_default=False) for name, cluster in clusters.items()}
        for label, kernel in kernels.items():
            results["cases"][label] = case(source, kernel, folder, clients, args)
            print(json.dumps({label: results["cases"][label]}, indent=1), flush=True)
        for client in clients.values():
            client.close()
    finally:
        for cluster in clusters.values():
            cluster.close()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    results["total_s"] = time.perf_counter() - started
    return results


def case(source: NpyFile, kernel: np.ndarray, folder: Path, clients: dict, args) -> dict:
    size, chunk = args.size, args.chunk
    difference = check_crop(source, kernel, chunk)
    target = output(folder, "out", size)

    def stored(library, scheduler=None, client=None):
        def go():
            result = filtered(source, kernel, chunk, library)
            if client is None:
                da.store(result, target, lock=False, scheduler=scheduler)
            else:
                client.compute(da.store(result, target, lock=False, compute=False), sync=True)

        return go

    funcs, warm = {}, []
    libraries = ["fastconv", "dask-image"]
    corner = (slice(0, 2 * chunk), slice(0, 2 * chunk))
    for library in libraries:
        funcs[f"{library} threads"] = stored(library, scheduler="threads")
        for name, client in clients.items():
            funcs[f"{library} {name}"] = stored(library, client=client)
            warm.append(lambda library=library, client=client: client.compute(filtered(source, kernel, chunk, library)[corner], sync=True))
    loaded = {}

    def in_memory():
        loaded["out"] = fc.filter2d(loaded["image"], kernel, boundary="symm")

    def load():
        loaded["image"] = np.load(source.path)

    load()
    funcs["fastconv in memory (filter only)"] = in_memory
    in_memory()
    for f in warm:  # workers import fastconv and load its compiled kernels, on a corner of the image
        f()
    rounds = args.rounds if kernel.shape[0] <= 5 else args.large_rounds
    times = interleaved_times(funcs, rounds, args.budget, min_rounds=rounds)
    start = time.perf_counter()
    load()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    np.save(str(folder / "in_memory.npy"), loaded["out"])
    save_s = time.perf_counter() - start
    loaded.clear()
    medians = {name: statistics.median(t) for name, t in times.items()}
    ratios = {
        f"dask-image / fastconv, {where}": medians[f"dask-image {where}"] / medians[f"fastconv {where}"]
        for where in ["threads", *clients]
    }
    scaling = {
        library: {name: medians[f"{library} {list(clients)[0]}"] / medians[f"{library} {name}"] for name in clients}
        for library in libraries
    }
    return {
        "max_relative_difference_on_crop": difference,
        "median_s": medians,
        "times_s": times,
        "in_memory_load_s": load_s,
        "in_memory_save_s": save_s,
        "ratio": ratios,
        "speedup_over_first_cluster": scaling,
    }


def report(results: dict) -> str:
    lines = [
        f"fastconv.dask vs dask_image.ndfilters.correlate: {results['image']}, chunks {results['chunks']}, "
        f"boundary {results['boundary']}",
        "read from .npy + filter + da.store into .npy; medians of interleaved rounds",
        "",
    ]
    for label, case in results["cases"].items():
        lines.append(f"kernel {label} (fastconv and dask-image agree to {case['max_relative_difference_on_crop']:.1e} relative)")
        for name, seconds in case["median_s"].items():
            lines.append(f"  {name:<36} {seconds:8.2f} s   ({len(case['times_s'][name])} rounds)")
        lines.append(
            f"  in-memory load {case['in_memory_load_s']:.2f} s and save {case['in_memory_save_s']:.2f} s come on top of the filter"
        )
        for name, ratio in case["ratio"].items():
            lines.append(f"  {name:<36} {ratio:8.2f}x")
        for library, speedups in case["speedup_over_first_cluster"].items():
            lines.append(f"  {library} speed-up from workers: " + ", ".join(f"{n} {s:.2f}x" for n, s in speedups.items()))
        lines.append("")
    info = results["machine"]
    lines.append(
        f"machine: {info.get('cpu')} ({info.get('cores')} cores), numba threads {info['threads'].get('numba')}, "
        f"layer {info.get('threading_layer')}, load average {info.get('loadavg')}"
    )
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()))
    lines.append(f"total run {results['total_s']:.0f} s")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--chunk", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=300.0, help="stop after the round that passes this many seconds")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--gaussian", action="store_true", help="also a 15x15 Gaussian")
    parser.add_argument("--large-rounds", type=int, default=1, help="rounds for the 15x15 Gaussian")
    parser.add_argument("--tmp", default=None, help="folder for the .npy files (default: the system's temporary folder)")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    results = run(args)
    results["machine"] = machine_info()
    results["versions"] = {
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "dask-image": _version("dask-image"),
        "fastconv": fc.__version__,
    }
    results["command"] = "python benchmarks/dask_bench.py " + " ".join(_flag(k, v) for k, v in vars(args).items() if v not in (None, False))
    text = report(results)
    print(text)
    if args.out:
        stem = Path(args.out) / f"dask-{datetime.date.today().isoformat()}"
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str) + "\n")
        stem.with_suffix(".txt").write_text(text)
        print(f"wrote {stem}.json and {stem}.txt")


def _flag(name: str, value) -> str:
    flag = "--" + name.replace("_", "-")
    if value is True:
        return flag
    return f"{flag} {' '.join(map(str, value)) if isinstance(value, list) else value}"


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    main()
