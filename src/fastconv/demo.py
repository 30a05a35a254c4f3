"""``python -m fastconv demo``: the filter bank on scikit-image's cat, timed against scipy and OpenCV.

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

# (title, kernel name or None, fastconv call on the grey image)
GALLERY: list[tuple[str, str | None, Callable[[np.ndarray], np.ndarray]]] = [
    ("original", None, lambda img: img),
    *[(name, name, lambda img, name=name: fc.filter2d(img, name)) for name in fc.kernels.NAMES if name not in ("laplacian",)],
    ("gaussian 15x15 sigma 3", "g15", lambda img: fc.filter2d(img, fc.kernels.gaussian(15, 3.0).astype(img.dtype))),
    ("sobel magnitude", None, fc.sobel),
]
MISSING = (
    "The demo needs scikit-image (for the picture) and matplotlib (for the gallery): {}.\n"
    "Install them with:  pip install scikit-image matplotlib   (or: pip install 'fastconv[test,bench]')"
)


def _kernel(name: str, dtype) -> np.ndarray:
    return (fc.kernels.gaussian(15, 3.0) if name == "g15" else fc.kernels.named(name)).astype(dtype)


def run(out: str = "fastconv-demo.png", repeat: int = 7) -> int:
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
    print(f"skimage.data.chelsea() in grey, {image.shape[0]}x{image.shape[1]} float32; median ms of {repeat} interleaved rounds "
          f"(boundary 'reflect' = ndimage 'mirror' = cv2 BORDER_REFLECT_101)")
    print(f"{'filter':<24} {'fastconv':>9} {'scipy.ndimage':>14} {'cv2':>9}")
    results = []
    for title, name, call in GALLERY:
        result = call(image)
        results.append((title, result))
        if title == "original":
            continue
        if name is None:  # the gradient magnitude: two filters and a hypot everywhere
            sx, sy = fc.kernels.sobel_x().astype(np.float32), fc.kernels.sobel_y().astype(np.float32)
            peers = {"scipy": lambda: np.hypot(ndimage.correlate(image, sx, mode="mirror"), ndimage.correlate(image, sy, mode="mirror"))}
            if cv2:
                peers["cv2"] = lambda: np.hypot(cv2.filter2D(image, -1, sx), cv2.filter2D(image, -1, sy))
        else:
            k = _kernel(name, image.dtype)
            peers = {"scipy": lambda k=k: ndimage.correlate(image, k, mode="mirror")}
            if cv2:
                peers["cv2"] = lambda k=k: cv2.filter2D(image, -1, k, borderType=cv2.BORDER_REFLECT_101)
        ms = {n: t * 1e3 for n, t in interleaved_medians({"fastconv": lambda: call(image), **peers}, repeat, budget_s=5.0).items()}
        cv2_ms = f"{ms['cv2']:9.3f}" if cv2 else f"{'n/a':>9}"
        print(f"{title:<24} {ms['fastconv']:9.3f} {ms['scipy']:14.3f} {cv2_ms}", flush=True)

    cols = 4
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.9 * rows))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, result) in zip(axes.flat, results):
        ax.imshow(result, cmap="gray")
        ax.set_title(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=60)
    print(f"wrote {out}")
    return 0
