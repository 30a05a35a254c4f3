"""Image filters built on :func:`fastconv.filter2d`: Gaussian blur and the Sobel gradient magnitude.

Both take what ``filter2d`` takes: an (..., H, W) stack, or colour images
with ``channel_axis``, and its ``boundary``, ``method`` and ``backend``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as check
from . import kernels
from ._api import Backend, Method, filter2d


def gaussian_blur(
    image: ArrayLike,
    sigma: float | tuple[float, float],
    size: int | tuple[int, int] | None = None,
    boundary: str = "reflect",
    *,
    channel_axis: int | None = None,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` (one value, or (sigma_y, sigma_x)).

    The default ``size`` is ``2 * round(4 * sigma) + 1`` per axis, as
    ``scipy.ndimage.gaussian_filter`` truncates at 4 sigma; with
    ``boundary="reflect"`` this equals ``gaussian_filter(image, sigma,
    mode="mirror")`` on each plane.  ``auto`` runs it as two 1-D passes.
    Floating images keep their dtype.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> float(fc.gaussian_blur(np.ones((8, 8)), 1.5).mean().round(12))
    1.0
    """
    sy, sx = kernels.positive_pair(sigma, "sigma", "gaussian_blur")
    if size is None:
        size = tuple(2 * int(4 * s + 0.5) + 1 for s in (sy, sx))
    image = check.as_array(image, "image", "gaussian_blur")
    kernel = kernels.for_image(kernels.gaussian(size, (sy, sx)), image)
    return filter2d(image, kernel, boundary, channel_axis=channel_axis, method=method, backend=backend)


def sobel(
    image: ArrayLike,
    boundary: str = "reflect",
    *,
    channel_axis: int | None = None,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """Gradient magnitude ``hypot(filter2d(image, "sobel_x"), filter2d(image, "sobel_y"))``.

    Floating images keep their dtype.  ``skimage.filters.sobel`` scales its
    kernels by 1/4 and its magnitude by 1/sqrt(2): it equals
    ``sobel(image, "symm") / (4 * sqrt(2))``.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.sobel(np.tile(np.arange(4.0), (3, 1))).tolist()[1]
    [0.0, 8.0, 8.0, 0.0]
    """
    options = dict(channel_axis=channel_axis, method=method, backend=backend)
    gx = filter2d(image, "sobel_x", boundary, **options)
    gy = filter2d(image, "sobel_y", boundary, **options)
    return np.hypot(gx, gy, out=gx)
