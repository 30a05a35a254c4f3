"""The benchmark's outputs: text table, Markdown (for the README), JSON, PNG plot, and the progress bar.

Every output is rendered from the dictionary that ``bench.run`` returns (and
``write_json`` stores), so a committed JSON file regenerates the same tables.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from ._bench_photo import table as photo_table
from .bench import backend_of, compiled

Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


def _ms(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _x(ratio: float) -> str:
    return f"{ratio:.2f}x" if ratio < 100 else f"{ratio:.0f}x"


def _load(avg: list[float] | None) -> str:
    return "n/a" if avg is None else " ".join(f"{x:.2f}" for x in avg)


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.2f}"


def _impls(data: dict[str, Any]) -> list[str]:
    """The fastconv backends that the speed-ups are taken for: the compiled ones, or the reference when it runs alone."""
    every = dict.fromkeys(r["impl"] for res in data["results"] for r in res["rows"])
    return compiled(every) or [i for i in every if backend_of(i)]


def summary(data: dict[str, Any]) -> list[str]:
    """Lines naming the machine, threads, peaks, versions and the command."""
    m, p = data["machine"], data.get("peaks")
    threads = ", ".join([f"{k} {v}" for k, v in m["threads"].items()] + [f"{k}={v}" for k, v in m.get("thread_env", {}).items()])
    cpu, gpu = m["hardware"]["cpu"], m["hardware"]["gpu"]
    gpu = f"{gpu['name']} ({gpu['memory_bytes'] / 2**30:.0f} GiB)" if gpu["available"] else f"none ({gpu['reason']})"
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        f"command: {data.get('command', '?')}   date: {data.get('date', '?')}",
        f"machine: {m['cpu']} ({m['llvm_cpu']}, {cpu['simd']}), {m['cores']} cores ({m['machine']}); GPU: {gpu}",
        f"threads: {threads}; numba threading layer: {m['threading_layer']}",
        f"load average (1, 5, 15 min) before the run: {_load(data.get('loadavg_start'))}, after: {_load(m.get('loadavg'))}",
        f"versions: {versions}",
    ]
    start = data.get("loadavg_start")
    if start and start[0] >= 0.5:
        lines.append(f"note: other processes were running (load {start[0]:.2f} before the run), so these numbers are noisy")
    if p:
        gemm = f"GEMM {p.get('gemm_gflops', p['gflops']):.0f} GFLOP/s (float32 np.matmul {p['gemm_n']}x{p['gemm_n']})"
        kind = p.get("peak_kind", "gemm")
        compute = gemm if kind == "gemm" else f"FMA {p['gflops']:.0f} GFLOP/s (float32, {kind[3:]}-bit vectors, the compute peak), {gemm}"
        lines.insert(4, f"peaks measured in this run: {compute}, copy {p['gbps']:.1f} GB/s (np.copyto {p['copy_mib']} MiB, read + write)")
    return lines


def tables(data: dict[str, Any]) -> Iterator[Table]:
    """Every section of the report as (title, header, rows) of strings."""
    impls = _impls(data)
    rows = []
    for res in data["results"]:
        ms = {r["impl"]: r["median_ms"] for r in res["rows"] if "median_ms" in r}
        for r in res["rows"]:
            if "skipped" in r:
                rows.append([res["op"], res["case"], r["impl"], "skipped", "", "", *[""] * len(impls)])
                continue
            rate = f"{r['rate']:.1f} {r['unit']}"
            speedups = ["" if i == r["impl"] or i not in ms else _x(r["median_ms"] / ms[i]) for i in impls]
            rows.append([res["op"], res["case"], r["impl"], _ms(r["median_ms"]), rate, f"{r['pct_peak']:.0f}%", *speedups])
    if rows:
        yield (
            "Median time per call (interleaved rounds in shuffled order, each timed call after untimed ones: two, and 5 ms at least); speed-up = this row's time / the fastconv backend's time; "
            "% peak = rate / the measured compute peak (the FMA peak of the vector type, or GEMM without one) or copy bandwidth (memory-bound); "
            "FLOPs are the direct method's, so separable or FFT methods can pass 100%",
            ["op", "case", "implementation", "ms", "rate", "% peak", *[f"speed-up of {i}" for i in impls]],
            rows,
        )
    if data.get("targets"):
        yield (
            "Targets (speed-up of fastconv[cpu] over the peer)",
            ["op", "case", "peer", "target", "speed-up", "met"],
            [[t["op"], t["case"], t["peer"], f">= {t['target']:g}x", _x(t["speedup"]), "yes" if t["met"] else "MISSED"] for t in data["targets"]],
        )
    if len(impls) > 1:
        base, others = impls[0], impls[1:]
        rows = []
        for res in data["results"]:
            ms = {r["impl"]: r["median_ms"] for r in res["rows"] if "median_ms" in r}
            if base in ms:
                rows.append([res["op"], res["case"], _ms(ms[base]), *[_ms(ms[o]) if o in ms else "" for o in others], *[_x(ms[base] / ms[o]) if o in ms else "" for o in others]])
        yield (f"fastconv backends compared (ms; speed-up over {base})", ["op", "case", base, *others, *[f"{o} speed-up" for o in others]], rows)
    if data.get("scaling"):
        yield (
            "Thread scaling on compute-bound shapes: median ms with every thread pool of the implementation "
            "(fastconv: Numba and NumPy's BLAS; torch; OpenCV) at 1 and at 2 threads",
            ["op", "case", "implementation", "1 thread", "2 threads", "speed-up"],
            [[s["op"], s["case"], s["impl"], _ms(s["ms"][0]), _ms(s["ms"][1]), _x(s["speedup"])] for s in data["scaling"]],
        )
    if data.get("memory"):
        yield (
            "conv2d peak temporary memory of one call, less its result: the larger of the resident-set high-water mark "
            "(every allocator) and tracemalloc (NumPy's and Numba's allocations)",
            ["case", "implementation", "temporary MiB", "RSS MiB", "tracemalloc MiB", "input + output MiB", "temporary / (input + output)"],
            [[m["case"], m["impl"], _mib(m["temp_bytes"]), _mib(m.get("rss_bytes")), _mib(m.get("traced_bytes")), _mib(m["io_bytes"]), f"{m['ratio']:.2f}"] for m in data["memory"]],
        )
    if data.get("photo"):
        yield photo_table(data["photo"])
    lat = data.get("latency")
    if lat:
        yield (
            f"Latency: `import fastconv` takes {lat['import_s'] * 1e3:.0f} ms in a fresh process (numba imported: {'yes' if lat['numba_imported'] else 'no'}); "
            "first call of each op on small float32 input in a fresh process, with an empty Numba cache (cold) and the cache it left (warm)",
            ["op", "implementation", "cold first call s", "its CPU s", "variants compiled", "warm first call s", "later calls ms"],
            [
                [r["op"], r["impl"], f"{r['cold_s']:.2f}", f"{r['cold_cpu_s']:.2f}" if "cold_cpu_s" in r else "",
                 str(r.get("variants", "")), f"{r['warm_s']:.3f}", _ms(r["steady_s"] * 1e3)]
                for r in lat["first_call"]
            ],
        )


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    left = {"op", "case", "implementation", "peer", "met"}

    def line(cells):
        return "  ".join(c.ljust(w) if h in left else c.rjust(w) for c, w, h in zip(cells, widths, header)).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]


def format_text(data: dict[str, Any]) -> str:
    lines = summary(data)
    for title, header, rows in tables(data):
        lines += ["", title, *_text_table(header, rows)]
    return "\n".join(lines)


def format_markdown(data: dict[str, Any]) -> str:
    lines = [f"- {line}" for line in summary(data)]
    for title, header, rows in tables(data):
        lines += ["", f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(data: dict[str, Any], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def plot(data: dict[str, Any], path: str) -> bool:
    """Bar chart of each compiled backend's speed-up over every other implementation, per case; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    impls = _impls(data)
    if not impls:
        return False
    every = list(dict.fromkeys(r["impl"] for res in data["results"] for r in res["rows"] if "median_ms" in r))
    colours = {p: plt.get_cmap("tab10")(i % 10) for i, p in enumerate(every)}
    bars = {impl: [] for impl in impls}  # impl -> [(y, peer, speed-up)], and the case labels at their centres
    ticks: dict[str, list[tuple[float, str]]] = {impl: [] for impl in impls}
    for impl in impls:
        y = 0.0
        for res in data["results"]:
            ms = {r["impl"]: r["median_ms"] for r in res["rows"] if "median_ms" in r}
            peers = [p for p in ms if p != impl] if impl in ms else []
            for k, peer in enumerate(peers):
                bars[impl].append((y + k, peer, ms[peer] / ms[impl]))
            if peers:
                ticks[impl].append((y + (len(peers) - 1) / 2, f"{res['op']} {res['case']}"))
                y += len(peers) + 0.8
    n = max((len(b) for b in bars.values()), default=1)
    fig, axes = plt.subplots(1, len(impls), figsize=(9 * len(impls), 0.24 * n + 1.8), squeeze=False)
    for ax, impl in zip(axes[0], impls):
        for peer in every:
            mine = [(y, x) for y, p, x in bars[impl] if p == peer]
            if mine:
                ax.barh([y for y, _ in mine], [x for _, x in mine], height=0.9, color=colours[peer], label=peer)
                for y, x in mine:
                    ax.text(x, y, f" {_x(x)}", va="center", fontsize=6)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        xs = [x for _, _, x in bars[impl]] + [1.0]
        ax.set_xlim(min(xs) / 1.5, max(xs) * 2.5)
        ax.set_yticks([y for y, _ in ticks[impl]], [label for _, label in ticks[impl]], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"speed-up of {impl}: peer time / {impl} time (log scale)", fontsize=8)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="x", which="both", alpha=0.3)
    fig.suptitle(f"fastconv bench: {data['machine']['cpu']}, {data['machine']['cores']} cores", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


class Progress:
    """A progress bar on stderr: rich if installed, else tqdm, else one plain line per step."""

    def __init__(self, total: int | None = None):
        self.total, self.done, self._bar, self._rich = total, 0, None, None
        self.start = time.perf_counter()
        if not sys.stderr.isatty():
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(TextColumn("{task.description:<60}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._rich.start()
            self._task = self._rich.add_task("", total=total)
            return
        except ImportError:
            pass
        try:
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=sys.stderr, leave=False)
        except ImportError:
            pass

    def __call__(self, line: str, total: int | None = None) -> None:
        """Start the step ``line``; ``total`` revises the number of steps."""
        if self._rich is not None:
            self._rich.update(self._task, total=total or self.total, completed=self.done, description=line)
        elif self._bar is not None:
            self._bar.total = total or self._bar.total
            self._bar.set_description(line)
            self._bar.n = self.done
            self._bar.refresh()
        else:
            steps = f"{self.done + 1}/{total or self.total or '?'}"
            print(f"[{time.perf_counter() - self.start:6.1f} s] {steps:>7} {line}", file=sys.stderr, flush=True)
        self.total = total or self.total
        self.done += 1

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
        if self._bar is not None:
            self._bar.close()
