"""The backends, and the contract every one of them keeps.

A backend is a module (or package) with one function per kernel entry point.
Each takes a checked and normalized call record from ``_calls`` (built once by
``_validate``) and returns arrays in the call's compute dtype, leaving the
result dtype and the unbatched shape to the public layer:

- ``conv2d(call: ConvCall) -> (N, O, Ho, Wo)``
- ``conv_transpose2d(call: ConvTransposeCall) -> (N, O, Ho, Wo)``
- ``correlate_planes(call: PlaneCall) -> (B, Ho, Wo)``
- ``correlate_separable(call: PlaneCall, planes, us, vs) -> (B, Ho, Wo)``: the
  correlation with ``sum_q outer(us[q], vs[q])``, on ``planes`` (the call's
  planes, possibly cast); host backends only
- ``filter_image(call: ImageCall, method, us, vs) -> (B, Ho, Wo, C)``: images
  in their own dtype and interleaved layout, by "box", "separable" or
  "direct", stored in ``call.out_dtype`` (or the compute dtype, which the
  public layer casts); optional: ``_methods.filter_image`` runs a backend
  without it on ``call.planes()``
- ``max_pool2d(call: PoolCall, return_indices) -> values[, int64 indices]``
- ``avg_pool2d(call: PoolCall, count_include_pad, divisor_override)``
- ``adaptive_avg_pool2d(call: AdaptiveCall)``
- ``adaptive_max_pool2d(call: AdaptiveCall, return_indices)``
- ``interpolate(call: InterpolateCall) -> (N, C, Ho, Wo)``

The backends are ``numpy`` (the vectorized reference, ``_backends/numpy.py``),
``cpu`` (Numba kernels, ``_backends/cpu/``) and ``cuda`` (``numba.cuda``
kernels, ``_backends/cuda/``).  The compiled ones split along the same seams:
``conv`` (conv2d, conv_transpose2d), ``planes`` (correlate_planes and the
separable passes), ``pool``, ``interpolate``, and ``common`` for what those
share.  ``_dispatch`` imports a backend by name the first time a call needs it.
"""

ENTRIES = (
    "conv2d",
    "conv_transpose2d",
    "correlate_planes",
    "correlate_separable",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "interpolate",
)
