"""``fastconv.nn.from_torch``: an eval-mode torch module tree as fastconv layers.

The tree is traced with ``torch.fx``; every node becomes one step of an
``nn.Graph`` (or the graph is refused, naming the node), then BatchNorm2d is
folded into the convolution before it and activations fused into the layer
before them.  This is the only module of fastconv that imports torch.
"""

from __future__ import annotations

import copy
import operator
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx
from torch import nn as tnn

from . import nn

FUNC = "from_torch"
Step = tuple[str, nn.Module, tuple[str, ...]]


def _numpy(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()


def _refuse(message: str, exc: type[Exception] = TypeError) -> Exception:
    return exc(f"{FUNC}: {message}")


# --- torch layers ------------------------------------------------------------------


def _conv2d(m: tnn.Conv2d) -> nn.Module:
    return nn.Conv2d.from_weights(
        _numpy(m.weight), _numpy(m.bias), m.stride, m.padding, m.dilation, m.groups, padding_mode=m.padding_mode
    )


def _conv_transpose2d(m: tnn.ConvTranspose2d) -> nn.Module:
    return nn.ConvTranspose2d.from_weights(
        _numpy(m.weight), _numpy(m.bias), m.stride, m.padding, m.output_padding, m.groups, m.dilation
    )


def _batch_norm2d(m: tnn.BatchNorm2d) -> nn.Module:
    bn = nn.BatchNorm2d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, bias=m.bias is not None)
    bn.running_mean, bn.running_var = _numpy(m.running_mean), _numpy(m.running_var)
    bn.weight, bn.bias = _numpy(m.weight), _numpy(m.bias)
    return bn


def _no_indices(m: Any, name: str) -> None:
    if m.return_indices:
        raise _refuse(f"cannot convert {name!r} ({type(m).__name__} with return_indices=True): only the values are supported")


def _max_pool2d(m: tnn.MaxPool2d, name: str) -> nn.Module:
    _no_indices(m, name)
    return nn.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)


def _adaptive_max_pool2d(m: tnn.AdaptiveMaxPool2d, name: str) -> nn.Module:
    _no_indices(m, name)
    return nn.AdaptiveMaxPool2d(m.output_size)


def _upsample(m: tnn.Upsample) -> nn.Module:
    return nn.Upsample(m.size, m.scale_factor, m.mode, m.align_corners, m.recompute_scale_factor)


def _named(convert: Callable[..., nn.Module]) -> Callable[[Any, str], nn.Module]:
    return lambda m, name: convert(m)


MODULES: dict[type, Callable[[Any, str], nn.Module]] = {
    tnn.Conv2d: _named(_conv2d),
    tnn.ConvTranspose2d: _named(_conv_transpose2d),
    tnn.BatchNorm2d: _named(_batch_norm2d),
    tnn.ReLU: _named(lambda m: nn.ReLU()),
    tnn.ReLU6: _named(lambda m: nn.ReLU6()),
    tnn.SiLU: _named(lambda m: nn.SiLU()),
    tnn.GELU: _named(lambda m: nn.GELU(m.approximate)),
    tnn.LeakyReLU: _named(lambda m: nn.LeakyReLU(m.negative_slope)),
    tnn.Sigmoid: _named(lambda m: nn.Sigmoid()),
    tnn.Hardsigmoid: _named(lambda m: nn.Hardsigmoid()),
    tnn.Hardswish: _named(lambda m: nn.Hardswish()),
    tnn.Softmax: _named(lambda m: nn.Softmax(m.dim)),
    tnn.MaxPool2d: _max_pool2d,
    tnn.AvgPool2d: _named(
        lambda m: nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override)
    ),
    tnn.AdaptiveAvgPool2d: _named(lambda m: nn.AdaptiveAvgPool2d(m.output_size)),
    tnn.AdaptiveMaxPool2d: _adaptive_max_pool2d,
    tnn.Upsample: _named(_upsample),
    tnn.UpsamplingNearest2d: _named(_upsample),
    tnn.UpsamplingBilinear2d: _named(_upsample),
    tnn.Flatten: _named(lambda m: nn.Flatten(m.start_dim, m.end_dim)),
    tnn.Linear: _named(lambda m: nn.Linear.from_weights(_numpy(m.weight), _numpy(m.bias))),
    tnn.Identity: _named(lambda m: nn.Identity()),
    tnn.Dropout: _named(lambda m: nn.Identity()),
    tnn.Dropout1d: _named(lambda m: nn.Identity()),
    tnn.Dropout2d: _named(lambda m: nn.Identity()),
}

# Layers whose training mode computes something else than their eval mode.
TRAINING_DIFFERS = {
    tnn.BatchNorm1d: "it normalizes by the batch's statistics",
    tnn.BatchNorm2d: "it normalizes by the batch's statistics",
    tnn.BatchNorm3d: "it normalizes by the batch's statistics",
    tnn.SyncBatchNorm: "it normalizes by the batch's statistics",
    tnn.Dropout: "it zeroes activations at random",
    tnn.Dropout1d: "it zeroes activations at random",
    tnn.Dropout2d: "it zeroes activations at random",
    tnn.Dropout3d: "it zeroes activations at random",
    tnn.AlphaDropout: "it zeroes activations at random",
}


def _supported() -> str:
    return ", ".join(sorted({t.__name__ for t in MODULES}))


def _check_eval(module: tnn.Module) -> None:
    for name, m in module.named_modules():
        if m.training and type(m) in TRAINING_DIFFERS:
            where = repr(name) if name else "the module"
            raise _refuse(
                f"{where} ({type(m).__name__}) is in training mode, where {TRAINING_DIFFERS[type(m)]}; "
                "call module.eval() before converting",
                ValueError,
            )


def _module_layer(m: tnn.Module, name: str) -> nn.Module:
    convert = MODULES.get(type(m))
    if convert is None:
        raise _refuse(
            f"cannot convert layer {name!r} of type {type(m).__module__}.{type(m).__qualname__}; "
            f"fastconv.nn converts {_supported()}"
        )
    return convert(m, name)


# --- functions and methods called in forward -----------------------------------------

# For each function: its parameters after the tensor input(s), with their defaults.
REQUIRED = object()


def _bind(what: str, node: fx.Node, n_inputs: int, params: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The constant arguments of ``node`` after its first ``n_inputs`` tensor arguments, by name."""
    args, kwargs = list(node.args), dict(node.kwargs)
    names = [f"input{i}" for i in range(n_inputs)] + [p for p, _ in params]
    if len(args) > len(names):
        raise _refuse(f"{what} got {len(args)} positional arguments, expected at most {len(names)}")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key in ("input", "self", "other") and n_inputs:
            key = "input0" if key in ("input", "self") else "input1"
        if key not in names or key in bound:
            raise _refuse(f"{what} got an unexpected argument {key}={value!r}")
        bound[key] = value
    for p, default in params:
        bound.setdefault(p, default)
        if bound[p] is REQUIRED:
            raise _refuse(f"{what} is missing the argument {p!r}")
        if isinstance(bound[p], fx.Node):
            raise _refuse(f"{what}: argument {p!r} is computed at run time ({bound[p].name}); only constants convert")
    for i in range(n_inputs):
        if not isinstance(bound.get(f"input{i}"), fx.Node):
            raise _refuse(f"{what}: argument {i + 1} must be a tensor computed by the network, got {bound.get(f'input{i}')!r}")
    return bound


def _activation(layer: type[nn.Module]) -> tuple[int, tuple, Callable[[dict], nn.Module]]:
    return 1, (("inplace", False),), lambda a: layer()


def _no_alpha(a: dict) -> nn.Module:
    if a["alpha"] != 1:
        raise _refuse(f"add with alpha={a['alpha']!r} is not supported (only a + b)")
    return nn.Add()


def _not_training(a: dict) -> nn.Module:
    if a["training"]:
        raise _refuse("F.dropout with training=True zeroes activations at random; pass training=self.training and call module.eval()", ValueError)
    return nn.Identity()


def _interpolate(a: dict) -> nn.Module:
    if a["antialias"]:
        raise _refuse("interpolate with antialias=True is not supported")
    return nn.Upsample(a["size"], a["scale_factor"], a["mode"], a["align_corners"], a["recompute_scale_factor"])


def _pool_indices(a: dict) -> None:
    if a["return_indices"]:
        raise _refuse("max pooling with return_indices=True is not supported: only the values are")


def _max_pool(a: dict) -> nn.Module:
    _pool_indices(a)
    return nn.MaxPool2d(a["kernel_size"], a["stride"] or None, a["padding"], a["dilation"], a["ceil_mode"])


def _adaptive_max(a: dict) -> nn.Module:
    _pool_indices(a)
    return nn.AdaptiveMaxPool2d(a["output_size"])


def _softmax(a: dict) -> nn.Module:
    if a["dtype"] is not None:
        raise _refuse(f"softmax with dtype={a['dtype']!r} is not supported (the input's dtype is kept)")
    return nn.Softmax(a["dim"])


def _mean(a: dict) -> nn.Module:
    if a["dtype"] is not None:
        raise _refuse(f"mean with dtype={a['dtype']!r} is not supported (the input's dtype is kept)")
    return nn.Mean(a["dim"], a["keepdim"])


ADD = (2, (("alpha", 1),), _no_alpha)
MUL = (2, (), lambda a: nn.Mul())
SIGMOID = (1, (), lambda a: nn.Sigmoid())
SOFTMAX = (1, (("dim", None), ("dtype", None)), _softmax)
MEAN = (1, (("dim", None), ("keepdim", False), ("dtype", None)), _mean)
FLATTEN = (1, (("start_dim", 0), ("end_dim", -1)), lambda a: nn.Flatten(a["start_dim"], a["end_dim"]))
RELU = (1, (), lambda a: nn.ReLU())

FUNCTIONS: dict[Any, tuple[int, tuple, Callable[[dict], nn.Module]]] = {
    operator.add: (2, (), lambda a: nn.Add()),
    operator.iadd: (2, (), lambda a: nn.Add()),
    torch.add: ADD,
    torch.flatten: FLATTEN,
    torch.relu: RELU,
    torch.relu_: RELU,
    operator.mul: MUL,
    torch.mul: MUL,
    torch.sigmoid: SIGMOID,
    F.sigmoid: SIGMOID,
    torch.softmax: SOFTMAX,
    F.softmax: (1, (("dim", None), ("_stacklevel", 3), ("dtype", None)), _softmax),
    torch.mean: MEAN,
    F.hardsigmoid: _activation(nn.Hardsigmoid),
    F.hardswish: _activation(nn.Hardswish),
    F.leaky_relu: (1, (("negative_slope", 0.01), ("inplace", False)), lambda a: nn.LeakyReLU(a["negative_slope"])),
    F.relu: _activation(nn.ReLU),
    F.relu6: _activation(nn.ReLU6),
    F.silu: _activation(nn.SiLU),
    F.gelu: (1, (("approximate", "none"),), lambda a: nn.GELU(a["approximate"])),
    F.dropout: (1, (("p", 0.5), ("training", True), ("inplace", False)), _not_training),
    F.adaptive_avg_pool2d: (1, (("output_size", REQUIRED),), lambda a: nn.AdaptiveAvgPool2d(a["output_size"])),
    F.adaptive_max_pool2d: (1, (("output_size", REQUIRED), ("return_indices", False)), _adaptive_max),
    F.max_pool2d: (
        1,
        (("kernel_size", REQUIRED), ("stride", None), ("padding", 0), ("dilation", 1), ("ceil_mode", False), ("return_indices", False)),
        _max_pool,
    ),
    F.avg_pool2d: (
        1,
        (("kernel_size", REQUIRED), ("stride", None), ("padding", 0), ("ceil_mode", False), ("count_include_pad", True), ("divisor_override", None)),
        lambda a: nn.AvgPool2d(a["kernel_size"], a["stride"] or None, a["padding"], a["ceil_mode"], a["count_include_pad"], a["divisor_override"]),
    ),
    F.interpolate: (
        1,
        (("size", None), ("scale_factor", None), ("mode", "nearest"), ("align_corners", None), ("recompute_scale_factor", None), ("antialias", False)),
        _interpolate,
    ),
}

METHODS: dict[str, tuple[int, tuple, Callable[[dict], nn.Module]]] = {
    "add": ADD,
    "add_": ADD,
    "relu": RELU,
    "relu_": RELU,
    "flatten": FLATTEN,
    "mul": MUL,
    "sigmoid": SIGMOID,
    "softmax": SOFTMAX,
    "mean": MEAN,
    "contiguous": (1, (), lambda a: nn.Identity()),
}


# What to write instead, for the methods that flatten by hand.
HINTS = {m: "to flatten, write torch.flatten(x, 1) or nn.Flatten()" for m in ("size", "view", "reshape", "shape")}


def _function_name(target: Any) -> str:
    name = getattr(target, "__name__", None) or repr(target)
    for namespace, path in ((operator, "operator"), (torch, "torch"), (F, "torch.nn.functional")):
        if getattr(namespace, name, None) is target:
            return f"{path}.{name}"
    module = getattr(target, "__module__", None)
    return f"{module}.{getattr(target, '__qualname__', name)}" if module else name


def _where(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    path = next(reversed(stack), "") if stack else ""
    return f"node {node.name!r}" + (f" in {path!r}" if path else "")


def _call_layer(node: fx.Node, table: dict, key: Any, what: str) -> tuple[nn.Module, tuple[str, ...]]:
    entry = table.get(key)
    if entry is None:
        hint = HINTS.get(key, "see fastconv.nn.from_torch for what converts")
        raise _refuse(f"cannot convert {what} ({_where(node)}); {hint}")
    n_inputs, params, build = entry
    bound = _bind(f"{what} ({_where(node)})", node, n_inputs, params)
    return build(bound), tuple(bound[f"input{i}"].name for i in range(n_inputs))


CONCATENATE = (torch.cat, torch.concat, torch.concatenate)


def _concat(node: fx.Node) -> tuple[nn.Module, tuple[str, ...]]:
    what = f"the call of {_function_name(node.target)} ({_where(node)})"
    tensors = node.args[0] if node.args else node.kwargs.get("tensors", node.kwargs.get("inputs"))
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", node.kwargs.get("axis", 0))
    if not isinstance(tensors, (list, tuple)) or not tensors or not all(isinstance(t, fx.Node) for t in tensors):
        raise _refuse(f"{what}: only a list of tensors computed by the network converts")
    if not isinstance(dim, int):
        raise _refuse(f"{what}: dim must be a constant int, got {dim!r}")
    return nn.Concat(dim), tuple(t.name for t in tensors)


def _trace(module: tnn.Module) -> tuple[list[str], list[Step], str]:
    try:
        graph = fx.symbolic_trace(module).graph
    except Exception as exc:
        raise _refuse(f"torch.fx could not trace {type(module).__name__}: {type(exc).__name__}: {exc}") from exc
    inputs: list[str] = []
    steps: list[Step] = []
    output = ""
    for node in graph.nodes:
        if node.op == "placeholder":
            inputs.append(node.name)
        elif node.op == "output":
            result = node.args[0]
            if not isinstance(result, fx.Node):
                raise _refuse(f"the forward returns {type(result).__name__}; only a single tensor output converts")
            output = result.name
        elif node.op == "call_module":
            layer = _module_layer(module.get_submodule(node.target), node.target)
            if len(node.args) != 1 or node.kwargs or not isinstance(node.args[0], fx.Node):
                raise _refuse(f"layer {node.target!r} is called with arguments other than one tensor")
            steps.append((node.name, layer, (node.args[0].name,)))
        elif node.op == "call_function" and node.target in CONCATENATE:
            steps.append((node.name, *_concat(node)))
        elif node.op == "call_function":
            what = f"the call of {_function_name(node.target)}"
            steps.append((node.name, *_call_layer(node, FUNCTIONS, node.target, what)))
        elif node.op == "call_method":
            what = f"the tensor method .{node.target}()"
            steps.append((node.name, *_call_layer(node, METHODS, node.target, what)))
        else:  # get_attr
            raise _refuse(f"cannot convert the read of tensor attribute {node.target!r} ({_where(node)}): only layers' own parameters convert")
    return inputs, steps, output


# --- folding and fusion ------------------------------------------------------------


def _merged(first: nn.Module, then: nn.Module) -> nn.Module | None:
    """One layer that computes ``then(first(x))``, or None."""
    if isinstance(first, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(then, nn.BatchNorm2d):
        if getattr(first, "activation", None) is None and then.running_mean is not None and then.num_features == first.out_channels:
            return nn.fold_batchnorm(first, then)
    activation = _fusable_activation(then)
    if activation and isinstance(first, (nn.Conv2d, nn.Add)) and first.activation is None:
        fused = copy.copy(first)
        fused.activation = activation
        return fused
    return None


def _fusable_activation(layer: nn.Module) -> str | None:
    if isinstance(layer, nn.GELU) and layer.approximate != "none":
        return None
    if isinstance(layer, (nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish, nn.Hardsigmoid)):
        return layer.name
    return None


def _optimize(steps: list[Step], output: str) -> tuple[list[Step], str]:
    """Fold and fuse each layer into the one before it when that one's output feeds it alone; drop identities."""
    uses = Counter(a for _, _, args in steps for a in args)
    uses[output] += 1
    kept: list[Step] = []
    position: dict[str, int] = {}
    rename: dict[str, str] = {}
    for name, layer, args in steps:
        args = tuple(rename.get(a, a) for a in args)
        if isinstance(layer, nn.Identity):
            rename[name] = args[0]
            uses[args[0]] += uses[name] - 1
            continue
        source = position.get(args[0]) if len(args) == 1 and uses[args[0]] == 1 else None
        if source is not None:
            first_name, first, first_args = kept[source]
            merged = _merged(first, layer)
            if merged is not None:
                kept[source] = (first_name, merged, first_args)
                rename[name] = first_name
                uses[first_name] = uses[name]
                continue
        position[name] = len(kept)
        kept.append((name, layer, args))
    return kept, rename.get(output, output)


def _as_chain(inputs: list[str], steps: list[Step], output: str) -> nn.Module:
    previous = inputs[0] if len(inputs) == 1 else None
    for name, _, args in steps:
        if previous is None or args != (previous,):
            return nn.Graph(inputs, steps, output)
        previous = name
    if previous != output:
        return nn.Graph(inputs, steps, output)
    return nn.Sequential(*(layer for _, layer, _ in steps))


def convert(module: Any, backend: str) -> nn.Module:
    if not isinstance(module, tnn.Module):
        raise _refuse(f"module must be a torch.nn.Module, got {type(module).__name__}")
    _check_eval(module)
    if type(module) in MODULES or fx.Tracer().is_leaf_module(module, ""):
        inputs, steps, output = ["x"], [("y", _module_layer(module, type(module).__name__), ("x",))], "y"
    else:
        inputs, steps, output = _trace(module)
    steps, output = _optimize(steps, output)
    return _as_chain(inputs, steps, output).to_backend(backend)
