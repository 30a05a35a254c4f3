"""The cuda backend's plane correlations: ``correlate_planes`` runs the convolution kernel with one channel."""

from __future__ import annotations

import numpy as np

from ..._calls import PlaneCall
from ..._device import DeviceArray
from .conv import _conv


def correlate_planes(call: PlaneCall):
    planes, kernel = call.planes[:, None], call.kernel
    if not isinstance(kernel, DeviceArray):
        kernel = np.ascontiguousarray(kernel)
    out = _conv(planes, kernel[None, None], None, call.pads, call.boundary, (1, 1), (1, 1), 1, call.fillvalue, call)
    return out[:, 0]
