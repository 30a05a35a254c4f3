"""The photo section of ``python -m fastconv bench --photo``: filters on photos as they come, against cv2 and scipy.ndimage.

Grey (H, W) and colour (H, W, 3) images, uint8 and float32, at 1080p and 4K;
box filters of 3, 5 and 15, Gaussian blurs of sigma 1, 2 and 5 (sizes
``2 * round(4 * sigma) + 1`` for every implementation) and the Sobel x
derivative.  uint8 images give uint8 for the blurs (cv2's ``ddepth=-1``)
and float32 for Sobel (``CV_32F``); float32 images stay float32.  cv2 runs
with ``cv2.setNumThreads(2)``; the borders are cv2's default
``BORDER_REFLECT_101`` (fastconv "reflect", ndimage "mirror").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import kernels

SIZES = {"1080p": (1080, 1920), "4K": (2160, 3840)}
FILTERS = ("box 3", "box 5", "box 15", "gaussian 1", "gaussian 2", "gaussian 5", "sobel")
KINDS = (("grey", np.uint8), ("grey", np.float32), ("RGB", np.uint8), ("RGB", np.float32))
TARGETS = {"cv2": 1.0, "scipy.ndimage": 5.0}  # fastconv's speed-up over each peer that issue 19 asks for
CV2_THREADS = 2


class PhotoCase(NamedTuple):
    colour: str
    dtype: type
    size: str
    filter: str

    @property
    def name(self) -> str:
        return f"{self.colour} {np.dtype(self.dtype).name} {self.size} {self.filter}"

    def image(self) -> np.ndarray:
        h, w = SIZES[self.size]
        shape = (h, w, 3) if self.colour == "RGB" else (h, w)
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        return pixels if self.dtype == np.uint8 else pixels.astype(np.float32) / 255


CASES = [PhotoCase(c, d, s, f) for s in SIZES for c, d in KINDS for f in FILTERS]


def _gauss_size(sigma: float) -> int:
    return 2 * int(4 * sigma + 0.5) + 1


def implementations(case: PhotoCase) -> dict[str, Callable[[], Any]]:
    """``{name: call}`` of fastconv, cv2 and scipy.ndimage on ``case``'s image."""
    import cv2
    import scipy.ndimage as ndi

    import fastconv as fc

    x = case.image()
    axis = -1 if x.ndim == 3 else None
    kind, _, arg = case.filter.partition(" ")
    sobel = kernels.sobel_x().astype(np.float32)
    if kind == "box":
        k = int(arg)
        size = (k, k, 1)[: x.ndim]
        return {
            "fastconv": lambda: fc.box_filter(x, k, channel_axis=axis, dtype=x.dtype),
            "cv2": lambda: cv2.blur(x, (k, k)),
            "scipy.ndimage": lambda: ndi.uniform_filter(x, size, mode="mirror"),
        }
    if kind == "gaussian":
        sigma = float(arg)
        n = _gauss_size(sigma)
        return {
            "fastconv": lambda: fc.gaussian_blur(x, sigma, n, channel_axis=axis, dtype=x.dtype),
            "cv2": lambda: cv2.GaussianBlur(x, (n, n), sigma),
            "scipy.ndimage": lambda: ndi.gaussian_filter(x, (sigma, sigma, 0)[: x.ndim], mode="mirror"),
        }
    weights = sobel.reshape(3, 3, *(1,) * (x.ndim - 2))
    return {
        "fastconv": lambda: fc.filter2d(x, "sobel_x", channel_axis=axis, dtype=np.float32),
        "cv2": lambda: cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3),
        "scipy.ndimage": lambda: ndi.correlate(x, weights, output=np.float32, mode="mirror"),
    }


def time_case(case: PhotoCase, rounds: int, budget_s: float) -> dict[str, Any]:
    """Median ms of each implementation, interleaved, and fastconv's speed-up over each peer."""
    import cv2

    from .bench import interleaved_medians

    cv2.setNumThreads(CV2_THREADS)
    seconds = interleaved_medians(implementations(case), rounds, budget_s)
    ms = {name: s * 1e3 for name, s in seconds.items()}
    speedups = {peer: ms[peer] / ms["fastconv"] for peer in TARGETS}
    return {"case": case.name, "ms": ms, "speedup": speedups, "met": {p: speedups[p] >= t for p, t in TARGETS.items()}}


def run(rounds: int = 15, budget_s: float = 3.0, progress: Callable[..., None] = lambda line, total=None: None, cases=None) -> list[dict[str, Any]]:
    """Every photo case (or ``cases``), timed."""
    cases = CASES if cases is None else cases
    rows = []
    for i, case in enumerate(cases):
        progress(f"photo {case.name}", total=len(cases) if i == 0 else None)
        rows.append(time_case(case, rounds, budget_s))
    return rows


def table(rows: list[dict[str, Any]]) -> tuple[str, list[str], list[list[str]]]:
    """The photo section as (title, header, rows) of strings."""
    targets = ", ".join(f"{t:g}x {p}" for p, t in TARGETS.items())
    body = []
    for r in rows:
        ms, up, met = r["ms"], r["speedup"], r["met"]
        body.append([
            r["case"], f"{ms['fastconv']:.3f}", f"{ms['cv2']:.3f}", f"{ms['scipy.ndimage']:.3f}",
            *(f"{up[p]:.2f}x" + ("" if met[p] else " (missed)") for p in TARGETS),
        ])
    title = (
        f"Photos: median ms per call, interleaved in shuffled order, each timed call after untimed ones (two, and 5 ms at least); speed-up = peer's time / fastconv's (targets: {targets}); "
        f"cv2 with setNumThreads({CV2_THREADS}), fastconv on every core"
    )
    return title, ["case", "fastconv ms", "cv2 ms", "scipy.ndimage ms", *(f"vs {p}" for p in TARGETS)], body
