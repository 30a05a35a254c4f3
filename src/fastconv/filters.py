"""Image filters built on :func:`fastconv.filter2d`: Gaussian blur, box filter and the Sobel gradient magnitude.

All take what ``filter2d`` takes: an (..., H, W) stack, or colour images
with ``channel_axis`` (a last channel axis is filtered interleaved, where it
lies), its ``boundary``, ``dtype``, ``method`` and ``backend``; and all warn,
as ``filter2d`` does, when a 3-D image given without ``channel_axis`` looks
like a cv2 (H, W, 3) or (H, W, 4) photo.  Dtypes are ``filter2d``'s: a
floating image keeps its dtype, a uint8 or uint16 image gives float32, and
``dtype=np.uint8`` rounds and saturates as cv2 does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _validate as check
from . import kernels
from ._api import Backend, Method, _filter2d
from ._calls import saturate


def gaussian_blur(
    image: ArrayLike,
    sigma: float | tuple[float, float],
    size: int | tuple[int, int] | None = None,
    boundary: str = "reflect",
    *,
    channel_axis: int | None = None,
    dtype: DTypeLike | None = None,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` (one value, or (sigma_y, sigma_x)).

    The default ``size`` is ``2 * round(4 * sigma) + 1`` per axis, as
    ``scipy.ndimage.gaussian_filter`` truncates at 4 sigma; with
    ``boundary="reflect"`` this equals ``gaussian_filter(image, sigma,
    mode="mirror")`` on each plane, and with ``size`` given it is
    ``cv2.GaussianBlur(image, (size, size), sigma)``.  ``auto`` runs it as
    two 1-D passes.

    Dtypes as in :func:`fastconv.filter2d`.  For an (H, W, 3) colour image pass
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
    return _filter2d(image, kernel, boundary, 0, channel_axis, method, backend, "gaussian_blur", dtype)


def box_filter(
    image: ArrayLike,
    size: int | tuple[int, int],
    normalize: bool = True,
    boundary: str = "reflect",
    *,
    channel_axis: int | None = None,
    dtype: DTypeLike | None = None,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """The sum over each ``size`` window, divided by its area when ``normalize``: ``cv2.boxFilter`` (``cv2.blur``).

    ``size`` is (height, width), where cv2's ``ksize`` is (width, height);
    the window is anchored at ``size // 2``, cv2's default anchor.  Under
    ``method="auto"`` it runs as running sums, O(1) work per pixel, which are
    exact on integer images (the sums are integers).  ``cv2.blur(img, (w, h))``
    on a uint8 image is ``box_filter(img, (h, w), dtype=np.uint8)``; dtypes
    are otherwise :func:`fastconv.filter2d`'s.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.box_filter(np.arange(4.0).reshape(1, 4), (1, 3), normalize=False).tolist()
    [[2.0, 3.0, 6.0, 7.0]]
    """
    h, w = check.int_tuple(size, "size", "box_filter", 2, 1)
    image = check.as_array(image, "image", "box_filter")
    check.warn_channels_last("box_filter", image, channel_axis)
    kernel = np.full((h, w), 1.0 / (h * w) if normalize else 1.0)
    return _filter2d(image, kernel, boundary, 0, channel_axis, method, backend, "box_filter", dtype)


def sobel(
    image: ArrayLike,
    boundary: str = "reflect",
    *,
    channel_axis: int | None = None,
    dtype: DTypeLike | None = None,
    method: Method = "auto",
    backend: Backend = "auto",
) -> np.ndarray:
    """Gradient magnitude ``hypot(filter2d(image, "sobel_x"), filter2d(image, "sobel_y"))``.

    Dtypes as in :func:`fastconv.filter2d` (the magnitude is computed in the
    compute dtype, then rounded into an integer ``dtype``).  For an (H, W, 3)
    colour image pass ``channel_axis=-1`` (see :func:`gaussian_blur`).
    ``skimage.filters.sobel`` scales its kernels by 1/4 and its magnitude by
    1/sqrt(2): it equals ``sobel(image, "symm") / (4 * sqrt(2))``.

    Examples
    --------
    >>> import numpy as np, fastconv as fc
    >>> fc.sobel(np.tile(np.arange(4.0), (3, 1))).tolist()[1]
    [0.0, 8.0, 8.0, 0.0]
    """
    image = check.as_array(image, "image", "sobel")
    check.warn_channels_last("sobel", image, channel_axis)
    dtypes = check.image_dtypes(image, dtype, "sobel")
    gx = _filter2d(image, "sobel_x", boundary, 0, channel_axis, method, backend, "sobel", dtypes.compute)
    gy = _filter2d(image, "sobel_y", boundary, 0, channel_axis, method, backend, "sobel", dtypes.compute)
    return saturate(np.hypot(gx, gy, out=gx), dtypes.out)
