"""Every public operation with small valid arguments: the one table of operations.

The tests (reliability, fuzz and error coverage, the peer table), the latency
probe and the benchmarks all iterate :data:`OPERATIONS`, so a new operation
is exercised everywhere once it is added here.  The arguments exercise
strides, padding, groups and uneven shapes, and stay small enough to run in
every backend, the CUDA simulator included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Array = Callable[..., np.ndarray]

OPERATIONS: dict[str, Callable[[Array], dict[str, Any]]] = {
    "conv2d": lambda a: dict(input=a(2, 4, 9, 8), weight=a(6, 2, 3, 2), stride=(1, 2), padding=1, groups=2),
    "conv1d": lambda a: dict(input=a(2, 3, 11), weight=a(4, 3, 3), dilation=2),
    "conv_transpose2d": lambda a: dict(input=a(2, 4, 5, 6), weight=a(4, 3, 3, 2), stride=2, padding=1, output_padding=1, groups=2),
    "conv_transpose1d": lambda a: dict(input=a(2, 3, 7), weight=a(3, 2, 3), stride=2),
    "max_pool2d": lambda a: dict(input=a(2, 3, 9, 7), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    "avg_pool2d": lambda a: dict(input=a(2, 3, 9, 7), kernel_size=(3, 2), padding=1, count_include_pad=False),
    "adaptive_avg_pool2d": lambda a: dict(input=a(2, 3, 9, 7), output_size=(4, 3)),
    "adaptive_max_pool2d": lambda a: dict(input=a(2, 3, 9, 7), output_size=(5, 2)),
    "interpolate": lambda a: dict(input=a(2, 3, 5, 4), scale_factor=1.5, mode="bilinear"),
    "convolve2d": lambda a: dict(in1=a(9, 7), in2=a(4, 3), mode="same", boundary="symm"),
    "correlate2d": lambda a: dict(in1=a(9, 7), in2=a(4, 3), mode="full", boundary="wrap"),
    "convolve": lambda a: dict(a=a(20), v=a(6), mode="same"),
    "filter2d": lambda a: dict(image=a(13, 11), kernel=a(5, 3), boundary="symm"),
    "gaussian_blur": lambda a: dict(image=a(13, 11), sigma=1.5),
    "sobel": lambda a: dict(image=a(13, 11)),
    "box_filter": lambda a: dict(image=a(13, 11), size=(3, 4)),
}


def sample_args(op: str, dtype: Any = np.float32, seed: int = 7) -> dict[str, Any]:
    """Fresh small valid arguments of ``op``, with arrays of ``dtype``.

    Examples
    --------
    >>> sorted(sample_args("convolve"))
    ['a', 'mode', 'v']
    """
    rng = np.random.default_rng(seed)
    return OPERATIONS[op](lambda *shape: rng.standard_normal(shape).astype(dtype))
