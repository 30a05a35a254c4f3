"""Network layers for inference on fastconv's kernels alone, with numpy arrays in and out.

Each layer is built with torch's arguments and torch's default initialisation
(``nn.Conv2d(3, 8, 3, padding=1, seed=0)``), or from given arrays
(``nn.Conv2d.from_weights(weight, bias, padding=1)``), holds its parameters
as numpy arrays and is called on a batch: ``layer(x)``.  Convolutions and pooling run the public fastconv functions
with the layer's ``backend`` (set at construction or for a whole model with
:meth:`Module.to_backend`); :class:`Linear` runs as a 1 x 1 convolution of
1 x 1 planes, :class:`Add` as one pass on the cpu backend's threads, and
:class:`Flatten` and the activations are numpy.  Nothing here imports torch:
:func:`from_torch` does, when it is called, to convert an eval-mode torch
model, folding each BatchNorm2d into the convolution before it and fusing
the activation after a convolution into its pass.

Examples
--------
>>> import numpy as np
>>> from fastconv import nn
>>> rng = np.random.default_rng(0)
>>> model = nn.Sequential(
...     nn.Conv2d(3, 8, 3, padding=1, activation="relu", rng=rng),
...     nn.AdaptiveAvgPool2d(1),
...     nn.Flatten(),
...     nn.Linear(8, 10, rng=rng),
... )
>>> model(np.ones((2, 3, 32, 32), np.float32)).shape
(2, 10)
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _api, _calls, _validate
from ._api import IntPair
from ._backends.numpy import activate

__all__ = [
    "ACTIVATIONS",
    "Module",
    "Conv2d",
    "ConvTranspose2d",
    "BatchNorm2d",
    "ReLU",
    "ReLU6",
    "SiLU",
    "GELU",
    "LeakyReLU",
    "Sigmoid",
    "Hardsigmoid",
    "Hardswish",
    "Softmax",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "Upsample",
    "Flatten",
    "Linear",
    "Identity",
    "Dropout",
    "Add",
    "Mul",
    "Mean",
    "Concat",
    "Sequential",
    "Graph",
    "fold_batchnorm",
    "from_torch",
]


def _gelu_tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    inner = np.tanh(x.dtype.type(np.sqrt(2 / np.pi)) * (x + x.dtype.type(0.044715) * x * x * x)) + 1
    return np.multiply(x * x.dtype.type(0.5), inner, out=out)


# torch's activations that a convolution can apply in its own pass (``fastconv.conv2d(activation=...)``).
ACTIVATIONS = tuple(name for name in _calls.ACTIVATIONS if name is not None)


def _activate(name: str | None, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x`` through the named activation, as the conv kernels fuse it, written into ``out`` (a new array without).

    relu and relu6 are one numpy pass each (NaN stays NaN); the others are
    the numpy backend's.
    """
    if name is None:
        return x
    if name == "relu":
        return np.maximum(x, x.dtype.type(0), out=out)
    if name == "relu6":
        return np.clip(x, x.dtype.type(0), x.dtype.type(6), out=out)
    y = activate(x, _calls.ACTIVATIONS.index(name))
    if out is None:
        return y if y is not x else y.copy()
    np.copyto(out, y)
    return out


def _pair(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


class Module:
    """Base of every layer: ``layer(*inputs)`` runs :meth:`forward` on the layer's ``backend``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.ReLU()([-1.0, 2.0]).tolist()
    [0.0, 2.0]
    """

    backend: str = "auto"

    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, *inputs: ArrayLike) -> np.ndarray:
        return self.forward(*inputs)

    def children(self) -> Iterator[Module]:
        """The layers directly inside this one (none for a plain layer)."""
        return iter(())

    def modules(self) -> Iterator[Module]:
        """This layer and every layer inside it, depth first."""
        yield self
        for child in self.children():
            yield from child.modules()

    def to_backend(self, backend: str) -> Module:
        """Run this layer and every layer inside it on ``backend``; returns ``self``."""
        for module in self.modules():
            module.backend = backend
        return self

    def _settings(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._settings()})"


def _settings(**values: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


# --- construction: torch's arguments, checked once, and torch's default initialisation -----


def _count(value: Any, name: str, layer: str) -> int:
    """A positive int argument (channels, features, groups)."""
    if not _validate._is_int(value):
        raise _validate.fail(layer, f"{name} must be a positive int, got {value!r}", TypeError)
    if operator.index(value) < 1:
        raise _validate.fail(layer, f"{name} must be a positive int, got {value!r}")
    return operator.index(value)


def _flag(value: Any, name: str, layer: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _validate.fail(layer, f"{name} must be True or False, got {value!r}", TypeError)
    return bool(value)


def _fused(value: Any, layer: str) -> str | None:
    if value is not None and value not in ACTIVATIONS:
        raise _validate.fail(layer, f"activation must be None or one of {', '.join(map(repr, ACTIVATIONS))}, got {value!r}")
    return value


def _real(value: Any, name: str, layer: str) -> float:
    """A non-negative real argument (eps, momentum, a slope...)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _validate.fail(layer, f"{name} must be a non-negative float, got {value!r}", TypeError)
    if not value >= 0:
        raise _validate.fail(layer, f"{name} must be a non-negative float, got {value!r}")
    return float(value)


def _float_dtype(value: Any, layer: str) -> np.dtype:
    dtype = np.dtype(value)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise _validate.fail(layer, f"dtype must be float32 or float64, got {dtype}", TypeError)
    return dtype


def _generator(seed: Any, rng: Any, layer: str) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng(seed)
    if seed is not None:
        raise _validate.fail(layer, f"give seed or rng, not both (got seed={seed!r})")
    if not isinstance(rng, np.random.Generator):
        raise _validate.fail(layer, f"rng must be a numpy.random.Generator, got {type(rng).__name__}", TypeError)
    return rng


def _torch_init(rng: np.random.Generator, shape: tuple[int, ...], bias_size: int | None, dtype: np.dtype):
    """torch's defaults for a weight of ``shape`` and a bias of ``bias_size`` (None: no bias).

    ``kaiming_uniform_(a=sqrt(5))`` and torch's bias rule both come to
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with torch's ``fan_in``: the weight's
    size over all axes but the first.
    """
    bound = 1 / np.sqrt(np.prod(shape[1:]))
    weight = rng.uniform(-bound, bound, shape).astype(dtype)
    return weight, None if bias_size is None else rng.uniform(-bound, bound, bias_size).astype(dtype)


def _given(value: ArrayLike, name: str, layer: str, ndim: int, what: str) -> np.ndarray:
    array = np.ascontiguousarray(_validate.as_array(value, name, layer))
    if array.ndim != ndim:
        raise _validate.fail(layer, f"{name} must be {ndim}-d ({what}), got shape {array.shape}")
    return array


def _given_bias(bias: ArrayLike | None, size: int, layer: str) -> np.ndarray | None:
    if bias is None:
        return None
    bias = np.ascontiguousarray(_validate.as_array(bias, "bias", layer))
    if bias.shape != (size,):
        raise _validate.fail(layer, f"bias must have shape ({size},) to match weight, got shape {bias.shape}")
    return bias


class _Conv(Module):
    """What Conv2d and ConvTranspose2d share: torch's geometry arguments, checked, and torch's ``extra_repr``."""

    output_padding: tuple[int, int] = (0, 0)

    def _configure(self, layer, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                   padding_mode, backend) -> None:
        self.in_channels = _count(in_channels, "in_channels", layer)
        self.out_channels = _count(out_channels, "out_channels", layer)
        self.groups = _count(groups, "groups", layer)
        for name in ("in_channels", "out_channels"):
            if getattr(self, name) % self.groups:
                raise _validate.fail(layer, f"groups={self.groups} must divide {name}, got {name}={getattr(self, name)}")
        self.kernel_size = _validate.int_tuple(kernel_size, "kernel_size", layer, 2, 1)
        self.stride = _validate.int_tuple(stride, "stride", layer, 2, 1)
        self.dilation = _validate.int_tuple(dilation, "dilation", layer, 2, 1)
        self.padding = _validate.int_tuple(padding, "padding", layer, 2, 0)
        _flag(bias, "bias", layer)
        self.padding_mode = _validate.choice(padding_mode, "padding_mode", layer, tuple(_validate.PADDING_MODES))
        self.backend = backend

    def _settings(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text + (f", activation={self.activation!r}" if getattr(self, "activation", None) else "")


class Conv2d(_Conv):
    """2-D convolution built as ``torch.nn.Conv2d`` is, with an optional fused activation.

    The weight (out_channels, in_channels // groups, kH, kW) and the bias
    start as torch's do: uniform in ``±1/sqrt(fan_in)``, ``fan_in =
    in_channels // groups * kH * kW``, drawn from ``rng`` or
    ``numpy.random.default_rng(seed)``.  :meth:`from_weights` takes them as
    arrays instead.  ``activation`` (None, "relu", "relu6", "silu" or
    "gelu") is applied in the convolution's own pass over the output, after
    the bias.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> conv = nn.Conv2d(3, 8, 3, padding=1, activation="relu", seed=0)
    >>> conv
    Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), activation='relu')
    >>> conv(np.ones((1, 3, 16, 16), np.float32)).shape
    (1, 8, 16, 16)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair | str = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        activation: str | None = None,
        backend: str = "auto",
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        self._configure_conv(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, activation, backend)
        generator, dtype = _generator(seed, rng, "Conv2d"), _float_dtype(dtype, "Conv2d")
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight, self.bias = _torch_init(generator, shape, self.out_channels if bias else None, dtype)

    def _configure_conv(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                        padding_mode, activation, backend, layer="Conv2d") -> None:
        same_or_valid = isinstance(padding, str)
        self._configure(layer, in_channels, out_channels, kernel_size, stride, 0 if same_or_valid else padding,
                        dilation, groups, bias, padding_mode, backend)
        if same_or_valid:
            self.padding = _validate.choice(padding, "padding", layer, ("same", "valid"))
            if padding == "same" and self.stride != (1, 1):
                raise _validate.fail(layer, f"padding='same' needs stride=1, got stride={self.stride}")
        self.activation = _fused(activation, layer)

    @classmethod
    def from_weights(
        cls,
        weight: ArrayLike,
        bias: ArrayLike | None = None,
        stride: IntPair = 1,
        padding: IntPair | str = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        *,
        padding_mode: str = "zeros",
        activation: str | None = None,
        backend: str = "auto",
    ) -> Conv2d:
        """The convolution with the given ``weight`` (out_channels, in_channels // groups, kH, kW) and ``bias`` (out_channels,).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv import nn
        >>> nn.Conv2d.from_weights(np.ones((4, 3, 3, 3), np.float32), padding=1)
        Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
        """
        layer = "Conv2d.from_weights"
        weight = _given(weight, "weight", layer, 4, "out_channels, in_channels/groups, kH, kW")
        self = cls.__new__(cls)
        g = _count(groups, "groups", layer)
        self._configure_conv(weight.shape[1] * g, weight.shape[0], weight.shape[2:], stride, padding, dilation, g,
                             bias is not None, padding_mode, activation, backend, layer)
        self.weight, self.bias = weight, _given_bias(bias, weight.shape[0], layer)
        return self

    def _arguments(self) -> tuple:
        return (self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, self.padding_mode, self.activation, self.backend)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """The convolution of ``x``; checked once per input shape and dtype, then run straight on the kernel."""
        args = self._arguments()
        if type(x) is not np.ndarray:
            return _api.conv2d(x, *args[:6], padding_mode=args[6], activation=args[7], backend=args[8])
        plan = getattr(self, "_plan", None)
        if (
            plan is not None
            and plan[0] == (x.shape, x.dtype)
            and x.flags.c_contiguous
            and all(a is b for a, b in zip(plan[1], args))
        ):
            return plan[2](x)
        out, again = _api.conv2d_repeatable(x, *args)
        self._plan = None if again is None else ((x.shape, x.dtype), args, again)
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()  # the plan holds a closure over a kernel: made again after a copy or a pickle
        state.pop("_plan", None)
        return state


class ConvTranspose2d(_Conv):
    """Transposed 2-D convolution built as ``torch.nn.ConvTranspose2d`` is.

    The weight is (in_channels, out_channels // groups, kH, kW); it and the
    bias start as torch's do, uniform in ``±1/sqrt(fan_in)`` with torch's
    ``fan_in = out_channels // groups * kH * kW``.  :meth:`from_weights`
    takes them as arrays instead.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> up = nn.ConvTranspose2d(3, 2, kernel_size=4, stride=2, padding=1, seed=0)
    >>> up
    ConvTranspose2d(3, 2, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))
    >>> up(np.ones((1, 3, 4, 4), np.float32)).shape
    (1, 2, 8, 8)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        output_padding: IntPair = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntPair = 1,
        padding_mode: str = "zeros",
        *,
        backend: str = "auto",
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        self._configure_transpose(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                                  dilation, padding_mode, backend)
        generator, dtype = _generator(seed, rng, "ConvTranspose2d"), _float_dtype(dtype, "ConvTranspose2d")
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self.weight, self.bias = _torch_init(generator, shape, self.out_channels if bias else None, dtype)

    def _configure_transpose(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                             dilation, padding_mode, backend, layer="ConvTranspose2d") -> None:
        self._configure(layer, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                        padding_mode, backend)
        if self.padding_mode != "zeros":
            raise _validate.fail(layer, f"padding_mode must be 'zeros' (the only one torch allows here), got {padding_mode!r}")
        self.output_padding = _validate.int_tuple(output_padding, "output_padding", layer, 2, 0)
        if any(op >= s and op >= d for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise _validate.fail(
                layer,
                f"output_padding must be smaller than stride or dilation on each axis, got output_padding={self.output_padding} "
                f"with stride={self.stride}, dilation={self.dilation}",
            )

    @classmethod
    def from_weights(
        cls,
        weight: ArrayLike,
        bias: ArrayLike | None = None,
        stride: IntPair = 1,
        padding: IntPair = 0,
        output_padding: IntPair = 0,
        groups: int = 1,
        dilation: IntPair = 1,
        *,
        backend: str = "auto",
    ) -> ConvTranspose2d:
        """The transposed convolution with the given ``weight`` (in_channels, out_channels // groups, kH, kW) and ``bias``.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv import nn
        >>> up = nn.ConvTranspose2d.from_weights(np.ones((3, 2, 2, 2), np.float32), stride=2)
        >>> up(np.ones((1, 3, 4, 4), np.float32)).shape
        (1, 2, 8, 8)
        """
        layer = "ConvTranspose2d.from_weights"
        weight = _given(weight, "weight", layer, 4, "in_channels, out_channels/groups, kH, kW")
        self = cls.__new__(cls)
        g = _count(groups, "groups", layer)
        self._configure_transpose(weight.shape[0], weight.shape[1] * g, weight.shape[2:], stride, padding, output_padding,
                                  g, bias is not None, dilation, "zeros", backend, layer)
        self.weight, self.bias = weight, _given_bias(bias, weight.shape[1] * g, layer)
        return self

    def forward(self, x: ArrayLike) -> np.ndarray:
        return _api.conv_transpose2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
            backend=self.backend,
        )


class BatchNorm2d(Module):
    """Inference-mode batch normalization over the channels of (N, C, H, W) input, built as ``torch.nn.BatchNorm2d`` is.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel, with the
    running statistics (torch's start: mean 0, var 1, weight 1, bias 0), or,
    with ``track_running_stats=False``, each batch's own mean and biased
    variance (what torch computes then, in eval mode too).  ``affine=False``
    leaves out the weight and bias (``bias=False`` the bias); ``momentum`` is kept for the repr (there is
    no training).  After a convolution, :func:`fold_batchnorm` removes it
    altogether.  :meth:`from_weights` takes the statistics as arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.BatchNorm2d(16)
    BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> nn.BatchNorm2d(2)(np.ones((1, 2, 3, 3), np.float32)).shape
    (1, 2, 3, 3)
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self._configure(num_features, eps, momentum, affine, track_running_stats, "BatchNorm2d")
        dtype, n = _float_dtype(dtype, "BatchNorm2d"), self.num_features
        self.weight = np.ones(n, dtype) if self.affine else None
        self.bias = np.zeros(n, dtype) if self.affine and _flag(bias, "bias", "BatchNorm2d") else None
        self.running_mean, self.running_var = (np.zeros(n, dtype), np.ones(n, dtype)) if self.track_running_stats else (None, None)

    def _configure(self, num_features, eps, momentum, affine, track_running_stats, layer) -> None:
        self.num_features = _count(num_features, "num_features", layer)
        self.eps = _real(eps, "eps", layer)
        self.momentum = None if momentum is None else _real(momentum, "momentum", layer)
        self.affine = _flag(affine, "affine", layer)
        self.track_running_stats = _flag(track_running_stats, "track_running_stats", layer)

    @classmethod
    def from_weights(
        cls,
        running_mean: ArrayLike | None,
        running_var: ArrayLike | None,
        weight: ArrayLike | None = None,
        bias: ArrayLike | None = None,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
    ) -> BatchNorm2d:
        """The batch norm with the given running statistics (None for both: batch statistics) and affine ``weight`` and ``bias``.

        Examples
        --------
        >>> from fastconv import nn
        >>> bn = nn.BatchNorm2d.from_weights(running_mean=[1.0], running_var=[4.0], eps=0.0)
        >>> bn([[[[5.0, 5.0]]]]).tolist()
        [[[[2.0, 2.0]]]]
        """
        layer = "BatchNorm2d.from_weights"
        if (running_mean is None) != (running_var is None):
            missing, given = ("running_mean", "running_var") if running_mean is None else ("running_var", "running_mean")
            raise _validate.fail(layer, f"{missing} is None while {given} is given: give both or neither", TypeError)
        arrays = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
        given = {k: _given(v, k, layer, 1, "num_features") for k, v in arrays.items() if v is not None}
        if not given:
            raise _validate.fail(layer, "give running_mean and running_var, or weight and bias", TypeError)
        first, n = next(iter(given)), next(iter(given.values())).shape[0]
        for name, value in given.items():
            if value.shape != (n,):
                raise _validate.fail(layer, f"{name} must have shape ({n},) like {first}, got shape {value.shape}")
        affine = weight is not None or bias is not None
        dtype = given[first].dtype if given[first].dtype.kind == "f" else np.dtype(np.float64)
        self = cls.__new__(cls)
        self._configure(n, eps, momentum, affine, running_mean is not None, layer)
        self.running_mean, self.running_var = given.get("running_mean"), given.get("running_var")
        self.weight = given.get("weight", np.ones(n, dtype) if affine else None)
        self.bias = given.get("bias")
        return self

    def scale_shift(self, x: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The per-channel float64 ``(scale, shift)`` with ``y = x * scale + shift`` (batch statistics from ``x`` without running ones)."""
        if self.running_mean is None:
            if x is None:
                raise ValueError("BatchNorm2d: with track_running_stats=False the statistics come from each batch; pass x")
            mean, var = x.mean((0, 2, 3), dtype=np.float64), x.var((0, 2, 3), dtype=np.float64)
        else:
            mean, var = self.running_mean.astype(np.float64), self.running_var.astype(np.float64)
        scale = 1 / np.sqrt(var + self.eps)
        if self.weight is not None:
            scale *= self.weight
        shift = -mean * scale
        return scale, shift if self.bias is None else shift + self.bias

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        scale, shift = (v.astype(dtype)[:, None, None] for v in self.scale_shift(x))
        out = np.multiply(x, scale, dtype=dtype)
        out += shift
        return out

    def _settings(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


def fold_batchnorm(conv: Conv2d | ConvTranspose2d, bn: BatchNorm2d) -> Conv2d | ConvTranspose2d:
    """The convolution that computes ``bn(conv(x))`` in one pass: ``bn``'s scale and shift folded into its weight and bias.

    The fold runs in float64 and the result is cast to the weight's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> conv = nn.Conv2d.from_weights(np.ones((1, 1, 1, 1)))
    >>> nn.fold_batchnorm(conv, nn.BatchNorm2d.from_weights([1.0], [4.0], eps=0.0)).bias.tolist()
    [-0.5]
    """
    if getattr(conv, "activation", None):
        raise ValueError(f"fold_batchnorm: the convolution already applies activation={conv.activation!r}")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"fold_batchnorm: the convolution has {conv.out_channels} output channels, the batch norm {bn.num_features}")
    if bn.running_mean is None:
        raise ValueError("fold_batchnorm: the batch norm has track_running_stats=False: its statistics come from each batch")
    scale, shift = bn.scale_shift()
    weight = conv.weight.astype(np.float64)
    if isinstance(conv, Conv2d):
        weight *= scale[:, None, None, None]
    else:
        groups = conv.groups
        weight = weight.reshape(groups, -1, *weight.shape[1:]) * scale.reshape(groups, 1, -1, 1, 1)
        weight = weight.reshape(conv.weight.shape)
    bias = shift if conv.bias is None else conv.bias.astype(np.float64) * scale + shift
    dtype = conv.weight.dtype if conv.weight.dtype.kind == "f" else np.dtype(np.float64)
    folded = copy.copy(conv)
    folded.weight, folded.bias = weight.astype(dtype), bias.astype(dtype)
    return folded


class _Activation(Module):
    """An elementwise layer; ``inplace`` is torch's argument, kept for the repr: the input is never modified."""

    name = ""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = _flag(inplace, "inplace", type(self).__name__)

    def _floating(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        return x if x.dtype.kind == "f" else x.astype(np.float64)

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        keeps_ints = self.name in ("relu", "relu6") and x.dtype.kind in "iu"
        return _activate(self.name, x if keeps_ints else self._floating(x))

    def _settings(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Activation):
    """``max(x, 0)``, as ``torch.nn.ReLU``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.ReLU()([-1.0, 3.0]).tolist()
    [0.0, 3.0]
    """

    name = "relu"


class ReLU6(_Activation):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.ReLU6()([-1.0, 3.0, 8.0]).tolist()
    [0.0, 3.0, 6.0]
    """

    name = "relu6"


class SiLU(_Activation):
    """``x * sigmoid(x)``, as ``torch.nn.SiLU``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.SiLU()([0.0]).tolist()
    [0.0]
    """

    name = "silu"


class GELU(_Activation):
    """``x * Phi(x)``, as ``torch.nn.GELU``; ``approximate="tanh"`` is torch's tanh form.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.GELU()([0.0]).tolist()
    [0.0]
    """

    name = "gelu"

    def __init__(self, approximate: str = "none") -> None:
        self.inplace = False
        self.approximate = _validate.choice(approximate, "approximate", "GELU", ("none", "tanh"))

    def forward(self, x: ArrayLike) -> np.ndarray:
        if self.approximate == "none":
            return super().forward(x)
        x = self._floating(x)
        return _gelu_tanh(x, np.empty_like(x))

    def _settings(self) -> str:
        return f"approximate={self.approximate!r}"


class LeakyReLU(_Activation):
    """``x`` where ``x >= 0``, else ``negative_slope * x``, as ``torch.nn.LeakyReLU``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.LeakyReLU(0.1)([-2.0, 3.0]).tolist()
    [-0.2, 3.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(inplace)
        if isinstance(negative_slope, (bool, np.bool_)) or not isinstance(negative_slope, (int, float, np.integer, np.floating)):
            raise _validate.fail("LeakyReLU", f"negative_slope must be a float, got {negative_slope!r}", TypeError)
        self.negative_slope = float(negative_slope)

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = self._floating(x)
        return np.where(x < 0, x * x.dtype.type(self.negative_slope), x)

    def _settings(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow warnings: exp of a non-positive number only."""
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    return np.where(x >= 0, one / (one + e), e / (one + e))


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))``, as ``torch.nn.Sigmoid``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Sigmoid()([0.0]).tolist()
    [0.5]
    """

    def __init__(self) -> None:
        self.inplace = False

    def forward(self, x: ArrayLike) -> np.ndarray:
        return _sigmoid(self._floating(x))


class Hardsigmoid(_Activation):
    """``relu6(x + 3) / 6``, as ``torch.nn.Hardsigmoid``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Hardsigmoid()([-4.0, 0.0, 4.0]).tolist()
    [0.0, 0.5, 1.0]
    """

    name = "hardsigmoid"

    def _settings(self) -> str:
        return ""


class Hardswish(_Activation):
    """``x * relu6(x + 3) / 6``, as ``torch.nn.Hardswish``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Hardswish()([-4.0, 0.0, 4.0]).tolist()
    [-0.0, 0.0, 4.0]
    """

    name = "hardswish"

    def _settings(self) -> str:
        return ""


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along axis ``dim``, as ``torch.nn.Softmax``.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Softmax(dim=1)([[0.0, 0.0]]).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim: int | None = None) -> None:
        if not _validate._is_int(dim):
            raise _validate.fail("Softmax", f"dim must be an int (the axis to normalize), got {dim!r}", TypeError)
        self.dim = operator.index(dim)

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        x = x if x.dtype.kind == "f" else x.astype(np.float64)
        if not -x.ndim <= self.dim < max(x.ndim, 1):
            raise _validate.fail("Softmax", f"dim={self.dim} is not an axis of a {x.ndim}-d input")
        e = np.exp(x - x.max(axis=self.dim, keepdims=True))
        return e / e.sum(axis=self.dim, keepdims=True)

    def _settings(self) -> str:
        return f"dim={self.dim}"


def _pool_args(layer: str, kernel_size: Any, stride: Any, padding: Any) -> tuple[Any, Any, Any]:
    """kernel_size, stride (kernel_size when None, as torch stores it) and padding, checked, as given."""
    kernel = _validate.int_tuple(kernel_size, "kernel_size", layer, 2, 1)
    if stride is None or stride == [] or stride == ():
        stride = kernel_size
    _validate.int_tuple(stride, "stride", layer, 2, 1)
    pads = _validate.int_tuple(padding, "padding", layer, 2, 0)
    if any(p > k // 2 for p, k in zip(pads, kernel)):
        raise _validate.fail(layer, f"padding must be at most half of kernel_size {kernel}, got padding={padding!r}")
    return _pair(kernel_size), _pair(stride), _pair(padding)


class MaxPool2d(Module):
    """Max pooling, as ``torch.nn.MaxPool2d`` (without ``return_indices``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.MaxPool2d(3, stride=2, padding=1)(np.ones((1, 2, 8, 8))).shape
    (1, 2, 4, 4)
    """

    def __init__(
        self,
        kernel_size: IntPair,
        stride: IntPair | None = None,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        ceil_mode: bool = False,
        *,
        backend: str = "auto",
    ) -> None:
        self.kernel_size, self.stride, self.padding = _pool_args("MaxPool2d", kernel_size, stride, padding)
        _validate.int_tuple(dilation, "dilation", "MaxPool2d", 2, 1)
        self.dilation, self.ceil_mode, self.backend = _pair(dilation), _flag(ceil_mode, "ceil_mode", "MaxPool2d"), backend

    def forward(self, x: ArrayLike) -> np.ndarray:
        return _api.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, backend=self.backend
        )

    def _settings(self) -> str:
        return _settings(
            kernel_size=self.kernel_size, stride=self.stride, padding=self.padding, dilation=self.dilation, ceil_mode=self.ceil_mode
        )


class AvgPool2d(Module):
    """Average pooling, as ``torch.nn.AvgPool2d``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """

    def __init__(
        self,
        kernel_size: IntPair,
        stride: IntPair | None = None,
        padding: IntPair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        *,
        backend: str = "auto",
    ) -> None:
        self.kernel_size, self.stride, self.padding = _pool_args("AvgPool2d", kernel_size, stride, padding)
        self.ceil_mode = _flag(ceil_mode, "ceil_mode", "AvgPool2d")
        self.count_include_pad = _flag(count_include_pad, "count_include_pad", "AvgPool2d")
        if divisor_override is not None:
            _count(divisor_override, "divisor_override", "AvgPool2d")
        self.divisor_override, self.backend = divisor_override, backend

    def forward(self, x: ArrayLike) -> np.ndarray:
        return _api.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
            backend=self.backend,
        )

    def _settings(self) -> str:
        return _settings(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding)


class AdaptiveAvgPool2d(Module):
    """Adaptive average pooling to ``output_size``, as ``torch.nn.AdaptiveAvgPool2d``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.AdaptiveAvgPool2d(1)(np.ones((2, 5, 7, 7))).shape
    (2, 5, 1, 1)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None], *, backend: str = "auto") -> None:
        self.output_size, self.backend = _pair(output_size), backend

    def forward(self, x: ArrayLike) -> np.ndarray:
        return _api.adaptive_avg_pool2d(x, self.output_size, backend=self.backend)

    def _settings(self) -> str:
        return f"output_size={self.output_size!r}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Adaptive max pooling to ``output_size``, as ``torch.nn.AdaptiveMaxPool2d`` (without ``return_indices``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.AdaptiveMaxPool2d(1)(np.arange(4.0).reshape(1, 1, 2, 2)).tolist()
    [[[[3.0]]]]
    """

    def forward(self, x: ArrayLike) -> np.ndarray:
        return _api.adaptive_max_pool2d(x, self.output_size, backend=self.backend)


class Upsample(Module):
    """Resizing by ``fastconv.interpolate``, as ``torch.nn.Upsample``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.Upsample(scale_factor=2)(np.ones((1, 1, 3, 3))).shape
    (1, 1, 6, 6)
    """

    def __init__(
        self,
        size: IntPair | None = None,
        scale_factor: float | tuple[float, float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
        *,
        backend: str = "auto",
    ) -> None:
        if scale_factor is not None:  # torch stores the factors as floats
            factors = scale_factor if isinstance(scale_factor, (list, tuple)) else (scale_factor,)
            if not all(isinstance(f, (int, float, np.integer, np.floating)) and not isinstance(f, bool) for f in factors):
                raise _validate.fail("Upsample", f"scale_factor must be a float or a tuple of floats, got {scale_factor!r}", TypeError)
            scale_factor = tuple(map(float, factors)) if isinstance(scale_factor, (list, tuple)) else float(scale_factor)
        self.size, self.scale_factor, self.mode = _pair(size), scale_factor, mode
        self.align_corners, self.recompute_scale_factor, self.backend = align_corners, recompute_scale_factor, backend

    def forward(self, x: ArrayLike) -> np.ndarray:
        return _api.interpolate(
            x,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
            backend=self.backend,
        )

    def _settings(self) -> str:
        if self.scale_factor is not None:
            return _settings(scale_factor=self.scale_factor, mode=self.mode)
        return _settings(size=self.size, mode=self.mode)


class Flatten(Module):
    """Axes ``start_dim..end_dim`` merged into one, as ``torch.nn.Flatten`` (a view when possible).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.Flatten()(np.ones((2, 3, 4, 5))).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 0:
            return x.reshape(1)
        start, end = (d % x.ndim if -x.ndim <= d < x.ndim else None for d in (self.start_dim, self.end_dim))
        if start is None or end is None or start > end:
            raise ValueError(
                f"Flatten: start_dim={self.start_dim} and end_dim={self.end_dim} do not select axes of a {x.ndim}-d input"
            )
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])

    def _settings(self) -> str:
        return _settings(start_dim=self.start_dim, end_dim=self.end_dim)


class Linear(Module):
    """``x @ weight.T + bias`` over the last axis, built as ``torch.nn.Linear`` is.

    A float batch (N, in_features) runs as a 1 x 1 convolution on the
    layer's backend; other inputs are one numpy matmul.

    The weight (out_features, in_features) and bias start as torch's do,
    uniform in ``±1/sqrt(in_features)``, drawn from ``rng`` or
    ``numpy.random.default_rng(seed)``; :meth:`from_weights` takes them as arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> fc = nn.Linear(16, 10, seed=0)
    >>> fc
    Linear(in_features=16, out_features=10, bias=True)
    >>> fc(np.ones((2, 16), np.float32)).shape
    (2, 10)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        self.in_features = _count(in_features, "in_features", "Linear")
        self.out_features = _count(out_features, "out_features", "Linear")
        bias = _flag(bias, "bias", "Linear")
        generator, dtype = _generator(seed, rng, "Linear"), _float_dtype(dtype, "Linear")
        self.weight, self.bias = _torch_init(generator, (self.out_features, self.in_features), self.out_features if bias else None, dtype)

    @classmethod
    def from_weights(cls, weight: ArrayLike, bias: ArrayLike | None = None) -> Linear:
        """The layer with the given ``weight`` (out_features, in_features) and ``bias`` (out_features,).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv import nn
        >>> nn.Linear.from_weights([[1.0, 2.0]], [0.5])(np.ones((3, 2))).tolist()
        [[3.5], [3.5], [3.5]]
        """
        weight = _given(weight, "weight", "Linear.from_weights", 2, "out_features, in_features")
        self = cls.__new__(cls)
        self.out_features, self.in_features = weight.shape
        self.weight, self.bias = weight, _given_bias(bias, weight.shape[0], "Linear.from_weights")
        return self

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 2 and x.dtype.kind == "f" and self.weight.dtype.kind == "f":
            # a 1x1 convolution of 1x1 planes: the backend's kernel (on the cpu, one core's dot products for a
            # small batch, where BLAS's threads, woken between numba's parallel kernels, took up to 100x longer)
            w = self.weight[:, :, None, None]
            return _api.conv2d(x[:, :, None, None], w, self.bias, backend=self.backend)[:, :, 0, 0]
        out = np.matmul(x, self.weight.T)
        if self.bias is not None:
            out += self.bias
        return out

    def _settings(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Its input, unchanged, as ``torch.nn.Identity`` (which takes and ignores any arguments).

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Identity()([1, 2])
    [1, 2]
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def forward(self, x: ArrayLike) -> ArrayLike:
        return x


class Dropout(Identity):
    """``torch.nn.Dropout`` in eval mode, the only mode here: its input, unchanged.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Dropout(0.2)
    Dropout(p=0.2, inplace=False)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        p = _real(p, "p", "Dropout")
        if p > 1:
            raise _validate.fail("Dropout", f"p must be a probability in [0, 1], got {p!r}")
        self.p, self.inplace = p, _flag(inplace, "inplace", "Dropout")

    def _settings(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Mul(Module):
    """The product ``a * b``, broadcast (the channel scaling of squeeze-and-excitation), in one fresh buffer.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.Mul()(np.ones((1, 2, 3, 3)), np.array([2.0, 3.0]).reshape(1, 2, 1, 1))[0, :, 0, 0].tolist()
    [2.0, 3.0]
    """

    def forward(self, a: ArrayLike, b: ArrayLike) -> np.ndarray:
        return np.multiply(a, b)


class Mean(Module):
    """The mean over axes ``dim``, as ``x.mean(dim, keepdim)`` in torch (``x.mean((2, 3))``: a global average pool).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.Mean((2, 3))(np.ones((2, 5, 7, 7), np.float32)).shape
    (2, 5)
    """

    def __init__(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> None:
        if dim is not None and not _validate._is_int(dim) and not (isinstance(dim, (tuple, list)) and all(map(_validate._is_int, dim))):
            raise _validate.fail("Mean", f"dim must be an int, a tuple of ints or None, got {dim!r}", TypeError)
        self.dim = tuple(dim) if isinstance(dim, (tuple, list)) else dim
        self.keepdim = _flag(keepdim, "keepdim", "Mean")

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return np.asarray(x.mean(axis=self.dim, dtype=dtype, keepdims=self.keepdim))

    def _settings(self) -> str:
        return _settings(dim=self.dim, keepdim=self.keepdim)


class Add(Module):
    """The residual add ``a + b``, then an optional activation, in one fresh buffer: on the cpu backend (or "auto")
    one pass over large float arrays on numba's threads, else numpy.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Add(activation="relu")([1.0, -2.0], [1.0, 1.0]).tolist()
    [2.0, 0.0]
    """

    def __init__(self, activation: str | None = None) -> None:
        self.activation = _fused(activation, "Add")

    def forward(self, a: ArrayLike, b: ArrayLike) -> np.ndarray:
        if getattr(self, "backend", "auto") in ("auto", "cpu"):
            from ._backends.cpu import elementwise  # loaded on first use, as the dispatcher loads a backend

            if elementwise.suits(a, b):  # one pass on numba's threads (numpy's add, then its activation: two on one core)
                return elementwise.add(a, b, _calls.ACTIVATIONS.index(self.activation), np.empty_like(a))
        out = np.add(a, b)
        return _activate(self.activation, out, out)

    def _settings(self) -> str:
        return f"activation={self.activation!r}" if self.activation else ""


class Concat(Module):
    """Its inputs joined along axis ``dim``, as ``torch.cat`` (the skip connections of U-Nets).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.Concat(dim=1)(np.ones((2, 3, 4, 4)), np.zeros((2, 5, 4, 4))).shape
    (2, 8, 4, 4)
    """

    def __init__(self, dim: int = 0) -> None:
        self.dim = dim

    def forward(self, *inputs: ArrayLike) -> np.ndarray:
        return np.concatenate(inputs, axis=self.dim)

    def _settings(self) -> str:
        return f"dim={self.dim}"


class Sequential(Module):
    """Layers applied one after the other, as ``torch.nn.Sequential``.

    Examples
    --------
    >>> from fastconv import nn
    >>> model = nn.Sequential(nn.Linear.from_weights([[2.0]]), nn.ReLU())
    >>> model([[-1.0], [1.0]]).tolist()
    [[0.0], [2.0]]
    >>> len(model), type(model[1]).__name__
    (2, 'ReLU')
    """

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: ArrayLike) -> np.ndarray:
        for layer in self.layers:
            x = layer(x)
        return x

    def children(self) -> Iterator[Module]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        lines = [f"  ({i}): {layer!r}".replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"


class Graph(Module):
    """A network whose layers take the outputs of any earlier layers: residual blocks, skips.

    ``steps`` are ``(name, layer, argument names)`` in order of execution;
    each argument is an input name or the name of an earlier step.  Every
    value is dropped after its last use, so memory holds only the live
    activations.

    Examples
    --------
    >>> from fastconv import nn
    >>> block = nn.Graph(["x"], [("h", nn.Linear.from_weights([[2.0]]), ("x",)), ("y", nn.Add(), ("h", "x"))], "y")
    >>> block([[1.0]]).tolist()
    [[3.0]]
    """

    def __init__(self, inputs: Sequence[str], steps: Sequence[tuple[str, Module, Sequence[str]]], output: str) -> None:
        self.inputs, self.output = list(inputs), output
        self.steps = [(name, layer, tuple(args)) for name, layer, args in steps]
        known = set(self.inputs)
        for name, _, args in self.steps:
            missing = [a for a in args if a not in known]
            if missing:
                raise ValueError(f"Graph: step {name!r} reads {missing[0]!r} before any step or input defines it")
            known.add(name)
        if output not in known:
            raise ValueError(f"Graph: output {output!r} is not an input or a step")
        last_use: dict[str, int] = {}
        for i, (_, _, args) in enumerate(self.steps):
            for a in args:
                last_use[a] = i
        last_use.pop(output, None)
        self._drop = [[a for a in dict.fromkeys(args) if last_use.get(a) == i] for i, (_, _, args) in enumerate(self.steps)]

    def forward(self, *inputs: ArrayLike) -> np.ndarray:
        if len(inputs) != len(self.inputs):
            raise TypeError(f"Graph: takes {len(self.inputs)} input(s) ({', '.join(self.inputs)}), got {len(inputs)}")
        values: dict[str, Any] = dict(zip(self.inputs, inputs))
        for (name, layer, args), drop in zip(self.steps, self._drop):
            values[name] = layer(*(values[a] for a in args))
            for a in drop:
                del values[a]
        return values[self.output]

    def children(self) -> Iterator[Module]:
        return (layer for _, layer, _ in self.steps)

    def __repr__(self) -> str:
        lines = [f"  {name} = {layer!r}({', '.join(args)})".replace("\n", "\n  ") for name, layer, args in self.steps]
        return f"Graph(inputs={self.inputs}, output={self.output!r},\n" + "\n".join(lines) + "\n)"


def from_torch(module: Any, *, backend: str = "auto") -> Module:
    """Convert an eval-mode ``torch.nn.Module`` into fastconv layers that run on numpy arrays.

    The module tree is traced with ``torch.fx.symbolic_trace``, so custom
    blocks (residual ``out += identity``, ``torch.flatten``, ``F.relu``...)
    convert too, and so do torchvision's blocks built of the layers here
    (squeeze-and-excitation: a pool, two 1x1 convolutions, a gate and a
    multiply; ``x.mean((2, 3))``).  Each BatchNorm2d whose convolution feeds
    only it is folded into that convolution (in float64, cast back), and a
    ReLU, ReLU6, SiLU or GELU after a convolution or a residual add runs in
    that layer's pass.
    Anything else raises ``TypeError`` naming the layer or operation and its
    qualified name; BatchNorm or Dropout in training mode raises
    ``ValueError`` (call ``module.eval()`` first).  torch is needed only for
    the conversion, never to run the result.

    Parameters
    ----------
    module : torch.nn.Module
    backend : str
        The backend every converted layer runs on (see :meth:`Module.to_backend`).

    Returns
    -------
    Module
        A :class:`Sequential` when the network is a chain, a :class:`Graph` otherwise.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from fastconv import nn
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU()).eval()
    >>> model = nn.from_torch(net)
    >>> model
    Sequential(
      (0): Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), activation='relu')
    )
    >>> x = np.random.rand(1, 3, 8, 8).astype(np.float32)
    >>> np.allclose(model(x), net(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    True
    """
    from ._from_torch import convert

    return convert(module, backend)
