"""fastconv: convolution and pooling with the semantics of torch, scipy and numpy.

Every operation takes ``backend=``: "numpy" (the vectorized reference) or
"auto"; see :func:`backends` for what this machine can run.

Examples
--------
>>> import fastconv as fc
>>> fc.convolve([1, 2, 3], [1, 1]).tolist()
[1, 3, 5, 3]
"""

from . import _runtime

_runtime.configure()  # before numba starts: make the tbb threading layer findable, the JIT cache writable

from ._api import (  # noqa: E402
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    conv1d,
    conv2d,
    convolve,
    convolve2d,
    correlate2d,
    filter2d,
    max_pool2d,
)
from ._dispatch import backends, use_backend  # noqa: E402
from ._hardware import hardware  # noqa: E402
from ._methods import choose_conv_method  # noqa: E402
from . import kernels  # noqa: E402
from .filters import gaussian_blur, sobel  # noqa: E402

__version__ = _runtime.VERSION

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "backends",
    "choose_conv_method",
    "conv1d",
    "conv2d",
    "convolve",
    "convolve2d",
    "correlate2d",
    "filter2d",
    "gaussian_blur",
    "hardware",
    "kernels",
    "max_pool2d",
    "sobel",
    "use_backend",
]
