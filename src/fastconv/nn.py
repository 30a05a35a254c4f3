"""Network layers for inference on fastconv's kernels alone, with numpy arrays in and out.

Each layer holds its parameters as numpy arrays and is called on a batch:
``layer(x)``.  Convolutions and pooling run the public fastconv functions
with the layer's ``backend`` (set at construction or for a whole model with
:meth:`Module.to_backend`); :class:`Linear` is a BLAS GEMM, :class:`Add`,
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
...     nn.Conv2d(rng.standard_normal((8, 3, 3, 3), dtype=np.float32), padding=1, activation="relu"),
...     nn.AdaptiveAvgPool2d(1),
...     nn.Flatten(),
...     nn.Linear(rng.standard_normal((10, 8), dtype=np.float32)),
... )
>>> model(np.ones((2, 3, 32, 32), np.float32)).shape
(2, 10)
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _api, _calls
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
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "Upsample",
    "Flatten",
    "Linear",
    "Identity",
    "Add",
    "Concat",
    "Sequential",
    "Graph",
    "fold_batchnorm",
    "from_torch",
]


def _array(value: ArrayLike | None) -> np.ndarray | None:
    return None if value is None else np.ascontiguousarray(value)


def _gelu_tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    inner = np.tanh(x.dtype.type(np.sqrt(2 / np.pi)) * (x + x.dtype.type(0.044715) * x * x * x)) + 1
    return np.multiply(x * x.dtype.type(0.5), inner, out=out)


# torch's activations that a convolution can apply in its own pass (``fastconv.conv2d(activation=...)``).
ACTIVATIONS = tuple(name for name in _calls.ACTIVATIONS if name is not None)


def _activate(name: str | None, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x`` through the named activation (the numpy backend's, as the conv kernels fuse it), written into ``out``."""
    if name is None:
        return x
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


class Conv2d(Module):
    """2-D convolution with the parameters of ``torch.nn.Conv2d``, and an optional fused activation.

    ``weight`` is (out_channels, in_channels // groups, kH, kW).  The bias and
    ``activation`` (None, "relu", "relu6", "silu" or "gelu") are applied in the
    convolution's own pass over the output.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> conv = nn.Conv2d(np.ones((4, 3, 3, 3), np.float32), np.zeros(4, np.float32), padding=1, activation="relu")
    >>> conv(np.ones((1, 3, 8, 8), np.float32)).shape
    (1, 4, 8, 8)
    """

    def __init__(
        self,
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
    ) -> None:
        self.weight, self.bias = _array(weight), _array(bias)
        self.stride, self.padding, self.dilation, self.groups = _pair(stride), _pair(padding), _pair(dilation), groups
        self.padding_mode, self.activation, self.backend = padding_mode, activation, backend

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    def forward(self, x: ArrayLike) -> np.ndarray:
        return _api.conv2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            padding_mode=self.padding_mode,
            activation=self.activation,
            backend=self.backend,
        )

    def _settings(self) -> str:
        out, inner, kh, kw = self.weight.shape
        text = f"{inner * self.groups}, {out}, kernel_size={(kh, kw)}, " + _settings(
            stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups
        )
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text + (f", activation={self.activation!r}" if self.activation else "")


class ConvTranspose2d(Module):
    """Transposed 2-D convolution with the parameters of ``torch.nn.ConvTranspose2d``.

    ``weight`` is (in_channels, out_channels // groups, kH, kW).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> up = nn.ConvTranspose2d(np.ones((3, 2, 2, 2), np.float32), stride=2)
    >>> up(np.ones((1, 3, 4, 4), np.float32)).shape
    (1, 2, 8, 8)
    """

    def __init__(
        self,
        weight: ArrayLike,
        bias: ArrayLike | None = None,
        stride: IntPair = 1,
        padding: IntPair = 0,
        output_padding: IntPair = 0,
        groups: int = 1,
        dilation: IntPair = 1,
        *,
        backend: str = "auto",
    ) -> None:
        self.weight, self.bias = _array(weight), _array(bias)
        self.stride, self.padding, self.output_padding = _pair(stride), _pair(padding), _pair(output_padding)
        self.groups, self.dilation, self.backend = groups, _pair(dilation), backend

    @property
    def out_channels(self) -> int:
        return self.weight.shape[1] * self.groups

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

    def _settings(self) -> str:
        inner, out, kh, kw = self.weight.shape
        return f"{inner}, {out * self.groups}, kernel_size={(kh, kw)}, " + _settings(
            stride=self.stride, padding=self.padding, output_padding=self.output_padding, groups=self.groups, dilation=self.dilation
        )


class BatchNorm2d(Module):
    """Inference-mode batch normalization over the channels of (N, C, H, W) input, as ``torch.nn.BatchNorm2d`` in eval mode.

    ``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias``,
    computed as one scale and shift per channel.  After a convolution,
    :func:`fold_batchnorm` removes it altogether.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> bn = nn.BatchNorm2d(running_mean=[1.0], running_var=[4.0], eps=0.0)
    >>> bn(np.full((1, 1, 1, 2), 5.0)).tolist()
    [[[[2.0, 2.0]]]]
    """

    def __init__(
        self,
        running_mean: ArrayLike,
        running_var: ArrayLike,
        weight: ArrayLike | None = None,
        bias: ArrayLike | None = None,
        eps: float = 1e-5,
    ) -> None:
        self.running_mean, self.running_var = np.asarray(running_mean), np.asarray(running_var)
        channels = self.running_mean.shape
        self.weight = np.ones(channels, self.running_mean.dtype) if weight is None else np.asarray(weight)
        self.bias = np.zeros(channels, self.running_mean.dtype) if bias is None else np.asarray(bias)
        self.eps = float(eps)

    def scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """The per-channel float64 ``(scale, shift)`` with ``y = x * scale + shift``."""
        scale = self.weight.astype(np.float64) / np.sqrt(self.running_var.astype(np.float64) + self.eps)
        return scale, self.bias.astype(np.float64) - self.running_mean.astype(np.float64) * scale

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        scale, shift = (v.astype(dtype)[:, None, None] for v in self.scale_shift())
        out = np.multiply(x, scale, dtype=dtype)
        out += shift
        return out

    def _settings(self) -> str:
        return f"{self.running_mean.shape[0]}, eps={self.eps}"


def fold_batchnorm(conv: Conv2d | ConvTranspose2d, bn: BatchNorm2d) -> Conv2d | ConvTranspose2d:
    """The convolution that computes ``bn(conv(x))`` in one pass: ``bn``'s scale and shift folded into its weight and bias.

    The fold runs in float64 and the result is cast to the weight's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> conv = nn.Conv2d(np.ones((1, 1, 1, 1)))
    >>> nn.fold_batchnorm(conv, nn.BatchNorm2d([1.0], [4.0], eps=0.0)).bias.tolist()
    [-0.5]
    """
    if getattr(conv, "activation", None):
        raise ValueError(f"fold_batchnorm: the convolution already applies activation={conv.activation!r}")
    if bn.running_mean.shape != (conv.out_channels,):
        raise ValueError(
            f"fold_batchnorm: the convolution has {conv.out_channels} output channels, the batch norm {bn.running_mean.shape[0]}"
        )
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
    name = ""

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x)
        keeps_ints = self.name in ("relu", "relu6") and x.dtype.kind in "iu"
        return _activate(self.name, x if x.dtype.kind == "f" or keeps_ints else x.astype(np.float64))


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
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: ArrayLike) -> np.ndarray:
        if self.approximate == "none":
            return super().forward(x)
        x = np.asarray(x)
        x = x if x.dtype.kind == "f" else x.astype(np.float64)
        return _gelu_tanh(x, np.empty_like(x))

    def _settings(self) -> str:
        return "" if self.approximate == "none" else "approximate='tanh'"


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
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self.dilation, self.ceil_mode, self.backend = _pair(dilation), ceil_mode, backend

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
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override
        self.backend = backend

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
        return _settings(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode)


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
        return repr(self.output_size)


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
        self.size, self.scale_factor, self.mode = _pair(size), _pair(scale_factor), mode
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
        return _settings(size=self.size, scale_factor=self.scale_factor, mode=self.mode, align_corners=self.align_corners)


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
    """``x @ weight.T + bias`` over the last axis, as ``torch.nn.Linear``; one BLAS GEMM.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.Linear([[1.0, 2.0]], [0.5])(np.ones((3, 2))).tolist()
    [[3.5], [3.5], [3.5]]
    """

    def __init__(self, weight: ArrayLike, bias: ArrayLike | None = None) -> None:
        self.weight, self.bias = _array(weight), _array(bias)

    def forward(self, x: ArrayLike) -> np.ndarray:
        out = np.matmul(x, self.weight.T)
        if self.bias is not None:
            out += self.bias
        return out

    def _settings(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, bias={self.bias is not None}"


class Identity(Module):
    """Its input, unchanged (what ``torch.nn.Identity`` and eval-mode ``Dropout`` do).

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Identity()([1, 2])
    [1, 2]
    """

    def forward(self, x: ArrayLike) -> ArrayLike:
        return x


class Add(Module):
    """The residual add ``a + b``, then an optional activation, in one fresh buffer.

    Examples
    --------
    >>> from fastconv import nn
    >>> nn.Add(activation="relu")([1.0, -2.0], [1.0, 1.0]).tolist()
    [2.0, 0.0]
    """

    def __init__(self, activation: str | None = None) -> None:
        if activation is not None and activation not in ACTIVATIONS:
            raise ValueError(f"Add: activation must be None or one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation

    def forward(self, a: ArrayLike, b: ArrayLike) -> np.ndarray:
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
    >>> model = nn.Sequential(nn.Linear([[2.0]]), nn.ReLU())
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
    >>> block = nn.Graph(["x"], [("h", nn.Linear([[2.0]]), ("x",)), ("y", nn.Add(), ("h", "x"))], "y")
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
    convert too.  Each BatchNorm2d whose convolution feeds only it is folded
    into that convolution (in float64, cast back), and a ReLU, ReLU6, SiLU or
    GELU after a convolution or a residual add runs in that layer's pass.
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
      (0): Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, activation='relu')
    )
    >>> x = np.random.rand(1, 3, 8, 8).astype(np.float32)
    >>> np.allclose(model(x), net(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    True
    """
    from ._from_torch import convert

    return convert(module, backend)
