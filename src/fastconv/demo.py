"""``python -m fastconv demo``: the filter bank on scikit-image's cat, timed against scipy and OpenCV.

Each panel of the gallery is titled with its kernel and size; the smoothing
kernels come in several sizes (``--sizes``) so that their effect shows, and
signed outputs (derivatives, Laplacians) are drawn on a diverging colour map
with a colour bar.  The timings run on the cat tiled to ``--time-size``
pixels square (2048 by default): on the 300 x 451 picture itself a 3 x 3
filter takes a few microseconds, where each library's fixed cost per call,
not the filter, decides, and OpenCV's is the lowest.

Needs scikit-image (the picture) and matplotlib (the gallery); OpenCV is
timed when installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import numpy as np

import fastconv as fc
from fastconv.bench import interleaved_medians

DEFAULT_SIZES = (5, 15, 31)
DEFAULT_TIME_SIZE = 2048
SIGNED = {"sobel_x", "sobel_y", "scharr_x", "scharr_y", "prewitt_x", "prewitt_y", "laplacian", "laplacian8",
          "laplacian_tutorial", "vertical", "horizontal"}
# one panel per kernel: aliases ("laplacian4" = "laplacian", "outline" = "laplacian_tutorial") and the size-swept ones are left out
FIXED = [name for name in fc.kernels.NAMES if name not in ("box", "gaussian", "laplacian4", "outline")]


def _fixed_kernel(name: str) -> np.ndarray:
    return fc.kernels.named(name)


def gallery(sizes=DEFAULT_SIZES) -> list[tuple[str, np.ndarray | None, Callable[[np.ndarray], np.ndarray]]]:
    """(title, kernel or None, fastconv call on the grey image) for every panel but the original."""
    panels: list[tuple[str, np.ndarray | None, Callable[[np.ndarray], np.ndarray]]] = []
    for n in sizes:
        k = fc.kernels.box(n)
        panels.append((f"box {n}x{n}", k, lambda img, k=k: fc.filter2d(img, k)))
    for n in sizes:
        sigma = n / 6
        k = fc.kernels.gaussian(n, sigma)
        panels.append((f"gaussian {n}x{n} s={sigma:.1f}", k, lambda img, k=k: fc.filter2d(img, k)))
    for name in FIXED:
        k = _fixed_kernel(name)
        panels.append((f"{name} {k.shape[0]}x{k.shape[1]}", k, lambda img, k=k: fc.filter2d(img, k)))
    panels.append(("sobel magnitude 3x3", None, fc.sobel))
    return panels


GALLERY = [("original", None, lambda img: img), *gallery()]
MISSING = (
    "The demo needs scikit-image (for the picture) and matplotlib (for the gallery): {}.\n"
    "Install them with:  pip install scikit-image matplotlib   (or: pip install 'fastconv[test,bench]')"
)


def _signed(title: str) -> bool:
    return title.split()[0] in SIGNED


def run(out: str = "fastconv-demo.png", repeat: int = 7, sizes=DEFAULT_SIZES, time_size: int = DEFAULT_TIME_SIZE) -> int:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import skimage.color
        import skimage.data
    except ImportError as exc:
        print(MISSING.format(exc), file=sys.stderr)
        return 1
    import scipy.ndimage as ndimage

    try:
        import cv2
    except ImportError:
        cv2 = None

    image = skimage.color.rgb2gray(skimage.data.chelsea()).astype(np.float32)
    panels = gallery(sizes)
    big = image
    if time_size:
        reps = (-(-time_size // image.shape[0]), -(-time_size // image.shape[1]))
        big = np.ascontiguousarray(np.tile(image, reps)[:time_size, :time_size])
    print(f"skimage.data.chelsea() in grey, {image.shape[0]}x{image.shape[1]}, timed tiled to {big.shape[0]}x{big.shape[1]} float32; "
          f"median ms of {repeat} interleaved rounds (boundary 'reflect' = ndimage 'mirror' = cv2 BORDER_REFLECT_101)")
    print(f"{'filter':<24} {'fastconv':>9} {'scipy.ndimage':>14} {'cv2':>9}")
    results = [("original", image)]
    for title, kernel, call in panels:
        results.append((title, call(image)))
        if kernel is None:  # the gradient magnitude: two filters and a hypot everywhere
            sx, sy = fc.kernels.sobel_x().astype(np.float32), fc.kernels.sobel_y().astype(np.float32)
            peers = {"scipy": lambda: np.hypot(ndimage.correlate(big, sx, mode="mirror"), ndimage.correlate(big, sy, mode="mirror"))}
            if cv2:
                peers["cv2"] = lambda: np.hypot(cv2.filter2D(big, -1, sx), cv2.filter2D(big, -1, sy))
        else:
            k = kernel.astype(np.float32)
            peers = {"scipy": lambda k=k: ndimage.correlate(big, k, mode="mirror")}
            if cv2:
                peers["cv2"] = lambda k=k: cv2.filter2D(big, -1, k, borderType=cv2.BORDER_REFLECT_101)
        ms = {n: t * 1e3 for n, t in interleaved_medians({"fastconv": lambda: call(big), **peers}, repeat, budget_s=5.0).items()}
        cv2_ms = f"{ms['cv2']:9.3f}" if cv2 else f"{'n/a':>9}"
        print(f"{title:<24} {ms['fastconv']:9.3f} {ms['scipy']:14.3f} {cv2_ms}", flush=True)
    if big.size < 1024 * 1024:
        print(f"note: on a {big.shape[0]}x{big.shape[1]} image a 3x3 filter takes microseconds, and each library's fixed cost "
              "per call (argument checks, dispatch, thread start) decides; OpenCV's is the lowest. Time larger images "
              f"(--time-size, default {DEFAULT_TIME_SIZE}) to compare the filters themselves.")

    cols = 4
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.1 * rows))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, result) in zip(axes.flat, results):
        if _signed(title):
            limit = float(np.percentile(np.abs(result), 99.5)) or 1.0  # a few strong edges would wash out the rest
            shown = ax.imshow(result, cmap="RdBu_r", vmin=-limit, vmax=limit)
            fig.colorbar(shown, ax=ax, fraction=0.035, pad=0.02)
        else:
            ax.imshow(result, cmap="gray")
        ax.set_title(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=60)
    print(f"wrote {out}")
    return 0
