"""The ``cpu`` backend: Numba ``parallel=True`` kernels.

The entry points (the contract in ``fastconv._backends``) allocate the output and
call a private ``_*_kernel`` that fills it.  Kernels do no validation: the
public layer has checked every argument once.  They live by operation:
``conv`` (conv2d, conv_transpose2d), ``planes`` (correlate_planes,
correlate_separable), ``pool`` and ``interpolate``, with what they share in
``common``.
"""

from .conv import conv2d, conv_transpose2d
from .interpolate import interpolate
from .photo import filter_image
from .planes import correlate_planes, correlate_separable
from .pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "conv2d",
    "conv_transpose2d",
    "correlate_planes",
    "correlate_separable",
    "filter_image",
    "interpolate",
    "max_pool2d",
]
