"""fastconv: convolution and pooling with the semantics of torch, scipy and numpy.

Every operation takes ``backend=``: "numpy" (the vectorized reference) or
"auto"; see :func:`backends` for what this machine can run.

Examples
--------
>>> import fastconv as fc
>>> fc.convolve([1, 2, 3], [1, 1]).tolist()
[1, 3, 5, 3]
"""

from . import _runtime, kernels, nn
from ._api import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    choose_conv_method,
    conv1d,
    conv2d,
    conv_output_size,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose_output_size,
    convolve,
    convolve2d,
    correlate2d,
    filter2d,
    interpolate,
    max_pool2d,
    pool_output_size,
    upsample,
)
from ._dispatch import backends, use_backend
from ._hardware import hardware
from ._validate import ChannelAxisWarning
from .filters import box_filter, gaussian_blur, sobel

# Before numba starts its threads: make the tbb threading layer findable, the JIT cache writable.
# (After numpy's import, which has loaded libtbb's own dependencies: ~1 ms instead of ~18.)
_runtime.configure()

__version__ = _runtime.VERSION

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "ChannelAxisWarning",
    "backends",
    "box_filter",
    "choose_conv_method",
    "conv1d",
    "conv2d",
    "conv_output_size",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose_output_size",
    "convolve",
    "convolve2d",
    "correlate2d",
    "filter2d",
    "gaussian_blur",
    "hardware",
    "interpolate",
    "kernels",
    "max_pool2d",
    "nn",
    "pool_output_size",
    "sobel",
    "upsample",
    "use_backend",
]
