"""Kernel builders for :func:`fastconv.filter2d`.

Every builder returns a new float64 (kH, kW) array, oriented for
correlation as ``cv2.filter2D`` and ``filter2d`` apply it: ``sobel_x``
responds positively where the image grows to the right, ``sobel_y`` where it
grows downwards.  :data:`NAMES` maps the names that ``filter2d(image,
"sobel_x")`` accepts to builders called with their defaults.

The Laplacian variants, by name:

* ``"laplacian"`` (= ``"laplacian4"``): ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``,
  the discrete Laplacian of ``scipy.ndimage.laplace`` and ``cv2.Laplacian``;
* ``"laplacian8"``: ``[[1, 1, 1], [1, -8, 1], [1, 1, 1]]``, over 8 neighbours;
* ``"laplacian_tutorial"`` (= ``"outline"``): ``[[-1, -1, -1], [-1, 8, -1],
  [-1, -1, -1]]``, the tutorials' "Laplacian" edge detector, ``-laplacian(8)``.

Examples
--------
>>> from fastconv import kernels
>>> kernels.sobel_x().tolist()
[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from ._validate import fail, int_tuple

_SMOOTH = np.array([1.0, 2.0, 1.0])
_DIFF = np.array([-1.0, 0.0, 1.0])


def positive_pair(value, name: str, func: str) -> tuple[float, float]:
    """A positive finite number or a pair of them, as (y, x)."""
    pair = value if isinstance(value, tuple) and len(value) == 2 else (value, value)
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in pair):
        y, x = float(pair[0]), float(pair[1])  # the common cases, without NumPy's array machinery (a tenth of a small blur)
        if math.isfinite(y) and math.isfinite(x) and y > 0 and x > 0:
            return y, x
    try:
        values = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        values = np.empty(0)
    if values.size not in (1, 2) or not (np.isfinite(values).all() and (values > 0).all()):
        raise fail(func, f"{name} must be a positive number or a pair of them, got {value!r}")
    y, x = np.broadcast_to(values, (2,))
    return float(y), float(x)


def box(size: int | tuple[int, int] = 3) -> np.ndarray:
    """Mean filter: ``ones(size) / prod(size)``.

    Examples
    --------
    >>> from fastconv import kernels
    >>> kernels.box(2).tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """
    h, w = int_tuple(size, "size", "box", 2, 1)
    return np.full((h, w), 1.0 / (h * w))


def gaussian_1d(size: int, sigma: float | None = None) -> np.ndarray:
    """Normalized 1-D Gaussian of ``size`` taps, as ``cv2.getGaussianKernel(size, sigma)``.

    ``sigma=None`` uses OpenCV's default ``0.3 * ((size - 1) / 2 - 1) + 0.8``
    (OpenCV itself switches to fixed binomial tables for sizes up to 9).

    Examples
    --------
    >>> from fastconv import kernels
    >>> kernels.gaussian_1d(3, 1.0).round(4).tolist()
    [0.2741, 0.4519, 0.2741]
    """
    (n,) = int_tuple(size, "size", "gaussian", 1, 1)
    if sigma is None:
        sigma = 0.3 * ((n - 1) * 0.5 - 1) + 0.8
    return _gaussian_1d(n, positive_pair(sigma, "sigma", "gaussian")[0]).copy()


@functools.lru_cache(maxsize=64)
def _gaussian_1d(n: int, sigma: float) -> np.ndarray:
    """:func:`gaussian_1d`'s taps, kept (read-only): a blur's call builds them each time."""
    x = np.arange(n) - (n - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    g.flags.writeable = False
    return g


def gaussian(size: int | tuple[int, int] = 5, sigma: float | tuple[float, float] | None = None) -> np.ndarray:
    """Normalized 2-D Gaussian, ``outer(gaussian_1d(kH, sigma_y), gaussian_1d(kW, sigma_x))``.

    Examples
    --------
    >>> from fastconv import kernels
    >>> round(float(kernels.gaussian(5, 1.0).sum()), 12)
    1.0
    """
    h, w = int_tuple(size, "size", "gaussian", 2, 1)
    sy, sx = (None, None) if sigma is None else positive_pair(sigma, "sigma", "gaussian")
    return _gaussian_2d(h, w, sy, sx).copy()


@functools.lru_cache(maxsize=64)
def _gaussian_2d(h: int, w: int, sy: float | None, sx: float | None) -> np.ndarray:
    g = np.outer(gaussian_1d(h, sy), gaussian_1d(w, sx))
    g.flags.writeable = False
    return g


def sobel_x() -> np.ndarray:
    """Sobel derivative along x (columns): ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``."""
    return np.outer(_SMOOTH, _DIFF)


def sobel_y() -> np.ndarray:
    """Sobel derivative along y (rows), the transpose of :func:`sobel_x`."""
    return sobel_x().T.copy()


def scharr_x() -> np.ndarray:
    """Scharr derivative along x: ``[[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]``."""
    return np.outer([3.0, 10.0, 3.0], _DIFF)


def scharr_y() -> np.ndarray:
    """Scharr derivative along y, the transpose of :func:`scharr_x`."""
    return scharr_x().T.copy()


def prewitt_x() -> np.ndarray:
    """Prewitt derivative along x: ``[[-1, 0, 1]] * 3``."""
    return np.outer(np.ones(3), _DIFF)


def prewitt_y() -> np.ndarray:
    """Prewitt derivative along y, the transpose of :func:`prewitt_x`."""
    return prewitt_x().T.copy()


def laplacian(neighbours: int = 4) -> np.ndarray:
    """Discrete Laplacian over the 4 or the 8 nearest neighbours, centre negative.

    The sign is the mathematical one (``scipy.ndimage.laplace``,
    ``cv2.Laplacian``); the tutorials' edge detector with a positive centre
    is :func:`laplacian_tutorial`, ``-laplacian(8)``.

    Examples
    --------
    >>> from fastconv import kernels
    >>> kernels.laplacian(4).tolist()
    [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]
    """
    if neighbours == 4:
        return np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])
    if neighbours == 8:
        return np.array([[1.0, 1, 1], [1, -8, 1], [1, 1, 1]])
    raise fail("laplacian", f"neighbours must be 4 or 8, got {neighbours!r}")


def laplacian_tutorial() -> np.ndarray:
    """The tutorials' Laplacian (or "outline") edge detector, ``-laplacian(8)``: centre 8, every neighbour -1.

    Examples
    --------
    >>> from fastconv import kernels
    >>> kernels.laplacian_tutorial().tolist()
    [[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]]
    """
    return -laplacian(8)


def sharpen() -> np.ndarray:
    """Sharpening: the image plus its negative 4-neighbour Laplacian."""
    return np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]])


def emboss() -> np.ndarray:
    """Emboss, lit from the bottom right: ``[[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]``."""
    return np.array([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]])


def vertical_edge() -> np.ndarray:
    """The classic vertical-edge detector ``[[1, 0, -1]] * 3`` (bright on the left is positive)."""
    return np.outer(np.ones(3), _DIFF[::-1])


def horizontal_edge() -> np.ndarray:
    """The classic horizontal-edge detector, the transpose of :func:`vertical_edge`."""
    return vertical_edge().T.copy()


NAMES: dict[str, Callable[[], np.ndarray]] = {
    "box": box,
    "gaussian": gaussian,
    "sobel_x": sobel_x,
    "sobel_y": sobel_y,
    "scharr_x": scharr_x,
    "scharr_y": scharr_y,
    "prewitt_x": prewitt_x,
    "prewitt_y": prewitt_y,
    "laplacian": laplacian,
    "laplacian4": laplacian,
    "laplacian8": lambda: laplacian(8),
    "laplacian_tutorial": laplacian_tutorial,
    "outline": laplacian_tutorial,
    "sharpen": sharpen,
    "emboss": emboss,
    "vertical": vertical_edge,
    "horizontal": horizontal_edge,
}


def for_image(kernel: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``kernel`` in ``image``'s dtype when that is floating, so float32 images stay float32."""
    return kernel.astype(image.dtype) if image.dtype.kind == "f" else kernel


def named(name: str, func: str = "named") -> np.ndarray:
    """The kernel :data:`NAMES` gives ``name``, built with its defaults.

    Examples
    --------
    >>> from fastconv import kernels
    >>> kernels.named("vertical").tolist()
    [[1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [1.0, 0.0, -1.0]]
    """
    if name not in NAMES:
        raise fail(func, f"kernel name must be one of {', '.join(repr(n) for n in NAMES)}; got {name!r}")
    return NAMES[name]()
