"""fastconv.nn layers and from_torch against the torch layers they convert.

Every layer type is converted from a torch module (random float32 input,
small shapes) and compared on every available backend at float32's 1e-5
relative to the output's largest magnitude.  Then: BatchNorm folding and
activation fusion (what the converted model holds, and that it computes the
same), networks traced through custom blocks, refusals checked by the text
of their messages, and that the layers import and run without torch.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import naive
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torch_models
from torch import nn as tnn

from fastconv import nn

RTOL = naive.RTOL[np.dtype(np.float32)]


def torch_out(module: tnn.Module, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return module(torch.from_numpy(x)).numpy()


def assert_matches(actual: np.ndarray, expected: np.ndarray, rtol: float = RTOL) -> None:
    """``|actual - expected| <= rtol * (|expected| + max|expected|)``, shapes and dtypes equal."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, (actual.shape, actual.dtype, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * float(np.abs(expected).max(initial=0)))


def randomize_bn(module: tnn.Module, seed: int = 0) -> tnn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, tnn.BatchNorm2d):
                n = m.num_features
                if m.track_running_stats:
                    m.running_mean.copy_(torch.randn(n, generator=generator))
                    m.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                if m.affine:
                    m.weight.copy_(0.5 + torch.rand(n, generator=generator))
                    m.bias.copy_(torch.randn(n, generator=generator))
    return module.eval()


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)



# torch layer factory, input shape
LAYERS: list[Any] = [
    pytest.param(lambda: tnn.Conv2d(3, 5, 3), (2, 3, 9, 8), id="conv"),
    pytest.param(lambda: tnn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), bias=False), (2, 4, 9, 8), id="conv-stride-pad-nobias"),
    pytest.param(lambda: tnn.Conv2d(6, 4, 3, padding=2, dilation=2, groups=2), (1, 6, 10, 7), id="conv-groups-dilation"),
    pytest.param(lambda: tnn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), (2, 8, 9, 9), id="conv-depthwise"),
    pytest.param(lambda: tnn.Conv2d(3, 4, 3, padding="same", padding_mode="reflect"), (1, 3, 7, 6), id="conv-same-reflect"),
    pytest.param(lambda: tnn.Conv2d(32, 24, 1), (2, 32, 5, 5), id="conv-1x1"),
    pytest.param(lambda: randomize_bn(tnn.BatchNorm2d(3)), (2, 3, 4, 5), id="batchnorm"),
    pytest.param(lambda: randomize_bn(tnn.BatchNorm2d(3, affine=False)), (2, 3, 4, 5), id="batchnorm-noaffine"),
    pytest.param(lambda: randomize_bn(tnn.BatchNorm2d(3, track_running_stats=False)), (2, 3, 4, 5), id="batchnorm-batch-statistics"),
    pytest.param(tnn.ReLU, (2, 3, 4, 5), id="relu"),
    pytest.param(tnn.ReLU6, (2, 3, 4, 5), id="relu6"),
    pytest.param(tnn.SiLU, (2, 3, 4, 5), id="silu"),
    pytest.param(tnn.GELU, (2, 3, 4, 5), id="gelu"),
    pytest.param(lambda: tnn.GELU("tanh"), (2, 3, 4, 5), id="gelu-tanh"),
    pytest.param(tnn.LeakyReLU, (2, 3, 4, 5), id="leaky-relu"),
    pytest.param(lambda: tnn.LeakyReLU(0.2), (2, 3, 4, 5), id="leaky-relu-0.2"),
    pytest.param(tnn.Sigmoid, (2, 3, 4, 5), id="sigmoid"),
    pytest.param(tnn.Hardsigmoid, (2, 3, 4, 5), id="hardsigmoid"),
    pytest.param(tnn.Hardswish, (2, 3, 4, 5), id="hardswish"),
    pytest.param(lambda: tnn.Softmax(dim=1), (2, 3, 4, 5), id="softmax"),
    pytest.param(lambda: tnn.Softmax(dim=-1), (3, 7), id="softmax-last"),
    pytest.param(lambda: tnn.MaxPool2d(3, 2, 1), (2, 3, 9, 8), id="maxpool"),
    pytest.param(lambda: tnn.MaxPool2d(2, 2, dilation=2, ceil_mode=True), (1, 2, 9, 8), id="maxpool-ceil-dilation"),
    pytest.param(lambda: tnn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 9, 8), id="avgpool"),
    pytest.param(lambda: tnn.AvgPool2d(2, ceil_mode=True), (1, 3, 7, 7), id="avgpool-ceil"),
    pytest.param(lambda: tnn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5), id="adaptive-avg"),
    pytest.param(lambda: tnn.AdaptiveAvgPool2d(1), (2, 3, 7, 5), id="adaptive-avg-global"),
    pytest.param(lambda: tnn.AdaptiveMaxPool2d((2, 3)), (2, 3, 7, 5), id="adaptive-max"),
    pytest.param(tnn.Flatten, (2, 3, 4, 5), id="flatten"),
    pytest.param(lambda: tnn.Flatten(1, 2), (2, 3, 4, 5), id="flatten-middle"),
    pytest.param(lambda: tnn.Linear(20, 7), (3, 20), id="linear"),
    pytest.param(lambda: tnn.Linear(20, 7, bias=False), (2, 3, 20), id="linear-nobias-3d"),
    pytest.param(tnn.Identity, (2, 3), id="identity"),
    pytest.param(lambda: tnn.Dropout(0.5).eval(), (2, 3), id="dropout"),
    pytest.param(lambda: tnn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 6), id="conv-transpose"),
    pytest.param(lambda: tnn.ConvTranspose2d(4, 6, (2, 3), groups=2, dilation=(1, 2)), (1, 4, 5, 4), id="conv-transpose-groups"),
    pytest.param(lambda: tnn.Upsample(scale_factor=2), (2, 3, 4, 5), id="upsample-nearest"),
    pytest.param(lambda: tnn.Upsample(size=(7, 9), mode="bilinear", align_corners=False), (1, 3, 4, 5), id="upsample-bilinear"),
    pytest.param(lambda: tnn.UpsamplingBilinear2d(scale_factor=2), (1, 2, 3, 4), id="upsampling-bilinear2d"),
]


@pytest.mark.parametrize("factory, shape", LAYERS)
def test_layer_matches_torch(backend: str, factory: Any, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    module = factory().eval()
    x = rand(*shape)
    model = nn.from_torch(module, backend=backend)
    assert all(layer.backend == backend for layer in model.modules())
    assert_matches(np.asarray(model(x)), torch_out(module, x))


def test_layers_by_hand_match_torch() -> None:
    torch.manual_seed(1)
    conv, bn = tnn.Conv2d(3, 4, 3, padding=1), randomize_bn(tnn.BatchNorm2d(4))
    model = nn.Sequential(
        nn.Conv2d.from_weights(conv.weight.detach().numpy(), conv.bias.detach().numpy(), padding=1),
        nn.BatchNorm2d.from_weights(bn.running_mean.numpy(), bn.running_var.numpy(), bn.weight.detach().numpy(), bn.bias.detach().numpy()),
        nn.ReLU6(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    x = rand(2, 3, 6, 6)
    assert_matches(model(x), torch_out(tnn.Sequential(conv, bn, tnn.ReLU6(), tnn.MaxPool2d(2), tnn.Flatten()).eval(), x))


# --- folding and fusion -------------------------------------------------------------


@pytest.mark.parametrize(
    "act, fused",
    [(tnn.ReLU, "relu"), (tnn.ReLU6, "relu6"), (tnn.SiLU, "silu"), (tnn.GELU, "gelu"), (tnn.Hardswish, "hardswish"), (tnn.Hardsigmoid, "hardsigmoid"), (None, None)],
)
def test_batchnorm_folds_and_activation_fuses_into_conv(act: Any, fused: str | None) -> None:
    torch.manual_seed(2)
    layers = [tnn.Conv2d(3, 8, 3, padding=1, bias=False), tnn.BatchNorm2d(8)] + ([act()] if act else [])
    net = randomize_bn(tnn.Sequential(*layers))
    model = nn.from_torch(net, backend="cpu")
    assert isinstance(model, nn.Sequential) and len(model) == 1
    conv = model[0]
    assert isinstance(conv, nn.Conv2d) and conv.activation == fused and conv.bias is not None
    assert conv.weight.dtype == np.float32 and conv.bias.dtype == np.float32
    x = rand(2, 3, 10, 9)
    assert_matches(model(x), torch_out(net, x))


def test_fold_batchnorm_is_computed_in_float64() -> None:
    conv = nn.Conv2d.from_weights(np.full((1, 1, 1, 1), 3.0, np.float32), np.array([1.0], np.float32))
    bn = nn.BatchNorm2d.from_weights(np.array([0.1], np.float32), np.array([1e-3], np.float32), eps=1e-5)
    folded = nn.fold_batchnorm(conv, bn)
    scale = 1 / np.sqrt(np.float64(np.float32(1e-3)) + 1e-5)
    assert folded.weight[0, 0, 0, 0] == np.float32(3 * scale)
    assert folded.bias[0] == np.float32((1 - np.float64(np.float32(0.1))) * scale)
    assert conv.weight[0, 0, 0, 0] == 3 and conv.bias[0] == 1  # the original is untouched


def test_fold_batchnorm_refuses_mismatched_channels() -> None:
    with pytest.raises(ValueError, match="has 2 output channels, the batch norm 3"):
        nn.fold_batchnorm(nn.Conv2d.from_weights(np.ones((2, 1, 1, 1))), nn.BatchNorm2d(3))
    with pytest.raises(ValueError, match="track_running_stats=False: its statistics come from each batch"):
        nn.fold_batchnorm(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2, track_running_stats=False))


def test_batchnorm_folds_into_conv_transpose() -> None:
    torch.manual_seed(3)
    net = randomize_bn(tnn.Sequential(tnn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), tnn.BatchNorm2d(6), tnn.ReLU()))
    model = nn.from_torch(net, backend="cpu")
    assert [type(layer).__name__ for layer in model] == ["ConvTranspose2d", "ReLU"]
    x = rand(2, 4, 5, 5)
    assert_matches(model(x), torch_out(net, x))


class SharedConv(tnn.Module):
    """A convolution whose output feeds a BatchNorm and the residual: it must not fold."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = tnn.Conv2d(4, 4, 3, padding=1), tnn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


def test_batchnorm_does_not_fold_into_a_shared_conv() -> None:
    net = randomize_bn(SharedConv())
    model = nn.from_torch(net, backend="cpu")
    assert [type(layer).__name__ for layer in model.children()] == ["Conv2d", "BatchNorm2d", "Add"]
    x = rand(2, 4, 6, 6)
    assert_matches(model(x), torch_out(net, x))


# --- traced networks ----------------------------------------------------------------


class Block(tnn.Module):
    """The ways torch code writes a residual block, all in one."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(4)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(4, 4, 3, padding=1)
        self.down = tnn.Sequential(tnn.Conv2d(4, 4, 1, stride=2), tnn.BatchNorm2d(4))
        self.head = tnn.Sequential(tnn.Dropout(0.1), tnn.Linear(4 * 3 * 3, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        out += identity
        out = F.relu(out)
        out = torch.add(out, x.relu())
        out = F.max_pool2d(out, 2, ceil_mode=True)
        out = F.relu6(out + self.down(x))
        out = F.avg_pool2d(out, kernel_size=1)
        out = F.adaptive_avg_pool2d(out, (3, 3)).contiguous()
        return self.head(out.flatten(1))


def test_traced_block_matches_torch() -> None:
    torch.manual_seed(4)
    net = randomize_bn(Block())
    model = nn.from_torch(net, backend="cpu")
    assert isinstance(model, nn.Graph)
    kinds = [type(layer).__name__ for layer in model.children()]
    assert kinds.count("ReLU") == 1 and "BatchNorm2d" not in kinds and "Identity" not in kinds  # x.relu() reads x twice
    assert any(isinstance(layer, nn.Add) and layer.activation == "relu6" for layer in model.children())
    for batch in (1, 3):
        x = rand(batch, 4, 6, 6, seed=batch)
        assert_matches(model(x), torch_out(net, x))


class Decoder(tnn.Module):
    """A U-Net decoder step: upsampled features joined with a skip connection."""

    def __init__(self) -> None:
        super().__init__()
        self.up = tnn.ConvTranspose2d(4, 4, 2, stride=2)
        self.resize = tnn.Upsample(scale_factor=2, mode="bilinear")
        self.merge = tnn.Conv2d(12, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.merge(torch.cat([self.up(x), skip, self.resize(x)], dim=1))


class GatedHead(tnn.Module):
    """EfficientNet's SiLU-gated squeeze-and-excitation, then the functional forms of the other new layers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(6, 8, 3, padding=1)
        self.se = torch_models.SqueezeExcitation(8, 4, activation=tnn.SiLU, scale_activation=tnn.Sigmoid)
        self.fc = tnn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(F.hardswish(self.conv(x)))
        y = F.leaky_relu(y, 0.1) * torch.sigmoid(y) + F.hardsigmoid(y).mul(y.sigmoid())
        pooled = torch.flatten(F.dropout(y, 0.3, training=self.training), 2).mean(2) + y.mean((2, 3)) + torch.mean(y, dim=(2, 3))
        return F.softmax(self.fc(pooled), dim=1) + torch.softmax(pooled, -1).mean(1, keepdim=True)


def test_traced_gated_head_matches_torch() -> None:
    torch.manual_seed(6)
    net = GatedHead().eval()
    model = nn.from_torch(net, backend="cpu")
    kinds = [type(layer).__name__ for layer in model.children()]
    for kind in ("Mul", "Mean", "Sigmoid", "Hardsigmoid", "LeakyReLU", "Softmax"):
        assert kind in kinds, kind
    fused = [layer.activation for layer in model.children() if isinstance(layer, nn.Conv2d)]
    assert "hardswish" in fused and "silu" in fused  # the first conv's, the SE's fc1
    x = rand(2, 6, 7, 7)
    assert_matches(model(x), torch_out(net, x))


def test_traced_decoder_matches_torch() -> None:
    torch.manual_seed(5)
    net = Decoder().eval()
    x = rand(2, 4, 5, 6)
    model = nn.from_torch(net, backend="cpu")
    assert any(isinstance(layer, nn.Concat) and layer.dim == 1 for layer in model.children())
    assert_matches(model(x), torch_out(net, x))


class CatWithoutUpsampling(tnn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x.relu(), x), 1)


def test_concat_matches_torch() -> None:
    x = rand(2, 3, 4, 4)
    assert_matches(nn.from_torch(CatWithoutUpsampling())(x), torch_out(CatWithoutUpsampling(), x))


def test_graph_frees_values_after_last_use_and_checks_names() -> None:
    graph = nn.Graph(["x"], [("a", nn.ReLU(), ("x",)), ("b", nn.Add(), ("a", "x")), ("c", nn.Add(), ("b", "a"))], "c")
    assert graph._drop == [[], ["x"], ["b", "a"]]
    assert graph(np.array([-1.0, 2.0])).tolist() == [-1.0, 6.0]
    with pytest.raises(ValueError, match="step 'a' reads 'y' before any step or input defines it"):
        nn.Graph(["x"], [("a", nn.ReLU(), ("y",))], "a")
    with pytest.raises(TypeError, match=r"takes 1 input\(s\) \(x\), got 2"):
        graph(1.0, 2.0)


def test_to_backend_reaches_every_layer() -> None:
    net = randomize_bn(Block())
    model = nn.from_torch(net).to_backend("numpy")
    assert {layer.backend for layer in model.modules()} == {"numpy"}


# --- refusals ----------------------------------------------------------------------


class WithTanh(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = tnn.Sequential(tnn.Conv2d(3, 3, 1), tnn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class CallsTanh(tnn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


class ReadsParameter(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = tnn.Parameter(torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class TwoOutputs(tnn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.relu(), x


class DataDependent(tnn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x


class ViewsBySize(tnn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.size(0), -1)


class SoftmaxInFloat64(tnn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.softmax(1, dtype=torch.float64)


class ScaledAdd(tnn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, x, alpha=2)


REFUSALS = [
    (WithTanh(), TypeError, "cannot convert layer 'body.1' of type torch.nn.modules.activation.Tanh; fastconv.nn converts AdaptiveAvgPool2d"),
    (CallsTanh(), TypeError, "cannot convert the call of torch.tanh (node 'tanh')"),
    (ReadsParameter(), TypeError, "cannot convert the read of tensor attribute 'scale'"),
    (TwoOutputs(), TypeError, "the forward returns tuple; only a single tensor output converts"),
    (DataDependent(), TypeError, "torch.fx could not trace DataDependent: TraceError"),
    (ViewsBySize(), TypeError, "cannot convert the tensor method .size() (node 'size'); to flatten, write torch.flatten(x, 1) or nn.Flatten()"),
    (ScaledAdd(), TypeError, "add with alpha=2 is not supported"),
    (tnn.LSTM(3, 3), TypeError, "cannot convert layer 'LSTM' of type torch.nn.modules.rnn.LSTM"),
    (tnn.MaxPool2d(2, return_indices=True), TypeError, "(MaxPool2d with return_indices=True): only the values are supported"),
    (tnn.Sequential(tnn.Conv2d(3, 3, 1), tnn.BatchNorm2d(3)), ValueError, "'1' (BatchNorm2d) is in training mode, where it normalizes by the batch's statistics; call module.eval() before converting"),
    (tnn.Sequential(tnn.Dropout()), ValueError, "'0' (Dropout) is in training mode, where it zeroes activations at random"),
    (SoftmaxInFloat64(), TypeError, "softmax with dtype=torch.float64 is not supported"),
    ("conv", TypeError, "module must be a torch.nn.Module, got str"),
]


@pytest.mark.parametrize("module, exc, message", REFUSALS, ids=[type(m).__name__ for m, _, _ in REFUSALS])
def test_from_torch_refuses_clearly(module: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc) as info:
        nn.from_torch(module)
    assert str(info.value).startswith("from_torch: ") and message in str(info.value), str(info.value)


def test_layer_argument_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="Add: activation must be None or one of"):
        nn.Add(activation="tanh")
    with pytest.raises(ValueError, match="GELU: approximate must be one of 'none', 'tanh'; got 'erf'"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="Flatten: start_dim=2 and end_dim=1 do not select axes of a 3-d input"):
        nn.Flatten(2, 1)(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="Conv2d.from_weights: stride must be a positive int"):
        nn.Conv2d.from_weights(np.ones((1, 1, 1, 1)), stride=0)


def test_layers_import_and_run_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from fastconv import nn\n"
        "m = nn.Sequential(nn.Conv2d.from_weights(np.ones((2, 1, 3, 3), np.float32), padding=1, activation='relu'), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear.from_weights(np.ones((1, 2), np.float32)))\n"
        "print(m(np.ones((1, 1, 4, 4), np.float32)).tolist())\n"
        "try:\n    nn.from_torch(None)\nexcept ImportError as e:\n    print('ImportError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["[[12.5]]", "ImportError"]


def test_converted_model_runs_without_torch(tmp_path: Any) -> None:
    import pickle

    net = randomize_bn(Block())
    x = rand(2, 4, 6, 6)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps((nn.from_torch(net, backend="cpu"), x)))
    code = (
        "import sys, pickle; sys.modules['torch'] = None\n"
        f"model, x = pickle.load(open({str(tmp_path / 'model.pkl')!r}, 'rb'))\n"
        f"import numpy as np; np.save({str(tmp_path / 'out.npy')!r}, model(x))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert_matches(np.load(tmp_path / "out.npy"), torch_out(net, x))


def test_conv_is_checked_once_per_input_shape_and_follows_changes() -> None:
    import pickle

    conv = nn.Conv2d(3, 4, 3, padding=1, seed=0, backend="cpu")
    checked = nn.Conv2d.from_weights(conv.weight, conv.bias, padding=1, backend="numpy")
    x, y = rand(2, 3, 8, 8), rand(1, 3, 5, 6, seed=1)
    assert_matches(conv(x), checked(x))
    plan = conv._plan
    assert plan is not None
    assert_matches(conv(y), checked(y))  # another shape: checked and planned again
    assert conv._plan is not plan and conv._plan[0] == ((1, 3, 5, 6), np.dtype(np.float32))
    plan = conv._plan
    assert_matches(conv(y + 1), checked(y + 1))
    assert conv._plan is plan  # the same shape: the plan runs again
    conv.activation = "relu"  # a changed argument is checked again
    assert_matches(conv(y), np.maximum(checked(y), 0))
    conv.weight = -conv.weight
    checked.weight = conv.weight
    assert_matches(conv(y), np.maximum(checked(y), 0))
    strided = rand(1, 3, 5, 12, seed=2)[..., ::2]  # not C-contiguous: the checked path
    assert_matches(conv(strided), np.maximum(checked(strided), 0))
    with pytest.raises(ValueError, match="conv2d: input has 2 channels but weight shape"):
        conv(rand(1, 2, 5, 6))
    clone = pickle.loads(pickle.dumps(conv))
    assert not hasattr(clone, "_plan") and np.array_equal(clone(y), conv(y))


@pytest.mark.parametrize("activation", [None, "relu", "relu6", "silu", "hardswish"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_on_the_cpu_threads_matches_torch(activation: str | None, dtype: Any) -> None:
    """Large float inputs take the cpu backend's one-pass add (its chunks, a partial last one), with NaN and inf where
    torch puts them; relu and relu6 give numpy's path's values exactly."""
    from conftest import assert_close

    from fastconv._backends.cpu import elementwise

    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal((2, 7, 61, 53)).astype(dtype) * 8 for _ in range(2))
    a.flat[[5, 17, 9000]] = [np.nan, np.inf, -np.inf]
    assert elementwise.suits(a, b) and a.size % elementwise.CHUNK
    before = a.copy(), b.copy()
    layer = nn.Add(activation=activation)
    got = layer(a, b)
    want = torch.from_numpy(a) + torch.from_numpy(b)
    if activation:
        want = {"relu": F.relu, "relu6": F.relu6, "silu": F.silu, "hardswish": F.hardswish}[activation](want.double())
    assert_close(got, want.numpy().astype(dtype), dtype=dtype)
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_array_equal(b, before[1])
    if activation in (None, "relu", "relu6"):  # in the inputs' dtype: the values of numpy's path
        np.testing.assert_array_equal(layer.to_backend("numpy")(a, b), got)
