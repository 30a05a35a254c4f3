"""Image filters built on :func:`fastconv.filter2d`: Gaussian blur and the Sobel gradient magnitude.

Both take what ``filter2d`` takes: an (..., H, W) stack, or colour images
with ``channel_axis``, and its ``boundary``, ``method`` and ``backend``; and
both warn, as ``filter2d`` does, when a 3-D image given without
``channel_axis`` looks like a cv2 (H, W, 3) or (H, W, 4) photo.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as check
from . import kernels
from ._api import Backend, Method, _filter2d


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

    Dtypes: a floating image keeps its dtype (the kernel is built in it);
    integer and bool images give float64.  For an (H, W, 3) colour image pass
    ``channel_axis=-1``: without it such an image is blurred as H planes of
    W x 3 and a :class:`fastconv.ChannelAxisWarning` says so.

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
    check.warn_channels_last("gaussian_blur", image, channel_axis)
    kernel = kernels.for_image(kernels.gaussian(size, (sy, sx)), image)
    return _filter2d(image, kernel, boundary, 0, channel_axis, method, backend, "gaussian_blur")


def sobel(
    image: ArrayLike,
    boundary: str = "reflect",
    *,
    channel_axis: int | None = None,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """Gradient magnitude ``hypot(filter2d(image, "sobel_x"), filter2d(image, "sobel_y"))``.

    Dtypes: a floating image keeps its dtype; integer and bool images give
    float64.  For an (H, W, 3) colour image pass ``channel_axis=-1`` (see
    :func:`gaussian_blur`).  ``skimage.filters.sobel`` scales its
    kernels by 1/4 and its magnitude by 1/sqrt(2): it equals
    ``sobel(image, "symm") / (4 * sqrt(2))``.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.sobel(np.tile(np.arange(4.0), (3, 1))).tolist()[1]
    [0.0, 8.0, 8.0, 0.0]
    """
    check.warn_channels_last("sobel", image, channel_axis)
    gx = _filter2d(image, "sobel_x", boundary, 0, channel_axis, method, backend, "sobel")
    gy = _filter2d(image, "sobel_y", boundary, 0, channel_axis, method, backend, "sobel")
    return np.hypot(gx, gy, out=gx)
