"""ResNet-18, MobileNetV2 and MobileNetV3-Large converted by ``fastconv.nn.from_torch`` give torch's outputs,
and fastconv.nn's layers are built as torch's are (arguments, defaults, initialisation, errors, repr).

The models are defined in plain torch (``torch_models.py``, written as
torchvision writes them), with random weights under ``torch.manual_seed(0)``
and random BatchNorm running statistics and affine parameters, in eval mode.
They run on 224 x 224 float32 input at batch 1 and batch 8 on the ``cpu``
backend.  "1e-4 relative" is read as: every logit within
``1e-4 * |torch's| + 1e-4 * max |torch's logits|`` of torch's
(``assert_allclose(rtol=1e-4, atol=1e-4 * max|torch output|)``): elementwise
relative error would be meaningless for the logits near zero, which are
differences of large sums.  The numpy backend runs one cheap check: ResNet-18
on a 32 x 32 image.  The constructors are checked against torch.nn's: the
same repr, parameter shapes and start values, the distribution of the random
initialisation, and errors raised when the layer is built, by message text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch_models
from naive import NETWORK_RTOL

from fastconv import nn

RTOL = NETWORK_RTOL


def assert_matches_torch(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape and actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * float(np.abs(expected).max()))


@pytest.fixture(scope="module", params=sorted(torch_models.MODELS))
def models(request: pytest.FixtureRequest) -> tuple[torch.nn.Module, nn.Module]:
    net = torch_models.build(request.param, seed=0)
    return net, nn.from_torch(net, backend="cpu")


def test_every_batchnorm_is_folded(models: tuple[torch.nn.Module, nn.Module]) -> None:
    net, model = models
    kinds = [type(layer).__name__ for layer in model.modules()]
    assert "BatchNorm2d" not in kinds and "ReLU" not in kinds and "ReLU6" not in kinds
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    assert kinds.count("Conv2d") == n_convs


@pytest.mark.parametrize("batch", [1, 8])
def test_model_matches_torch(models: tuple[torch.nn.Module, nn.Module], batch: int) -> None:
    net, model = models
    torch.manual_seed(batch)
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        expected = net(x).numpy()
    assert_matches_torch(model(x.numpy()), expected)


def test_resnet18_on_the_numpy_backend() -> None:
    net = torch_models.build("resnet18", seed=1)
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        expected = net(x).numpy()
    assert_matches_torch(nn.from_torch(net, backend="numpy")(x.numpy()), expected)


# --- the torch-shaped constructors ---------------------------------------------------

# (layer name, args, kwargs): each built by fastconv.nn and by torch.nn with the same arguments.
LAYERS = [
    ("Conv2d", (3, 8, 3), {"padding": 1}),
    ("Conv2d", (16, 32, (3, 5)), {"stride": 2, "dilation": (1, 2), "groups": 4, "bias": False, "padding_mode": "reflect"}),
    ("Conv2d", (4, 4, 3), {"padding": "same"}),
    ("Conv2d", (4, 4, 1), {"padding": "valid"}),
    ("ConvTranspose2d", (8, 4), {"kernel_size": 4, "stride": 2, "padding": 1}),
    ("ConvTranspose2d", (8, 4, 3), {"stride": 2, "output_padding": 1, "groups": 2, "bias": False, "dilation": 2}),
    ("Linear", (16, 10), {}),
    ("Linear", (16, 10), {"bias": False}),
    ("BatchNorm2d", (16,), {}),
    ("BatchNorm2d", (16,), {"eps": 1e-3, "momentum": None, "affine": False, "track_running_stats": False}),
    ("BatchNorm2d", (16,), {"bias": False}),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}),
    ("MaxPool2d", ((2, 3),), {"ceil_mode": True}),
    ("AvgPool2d", (3, 2, 1), {}),
    ("AdaptiveAvgPool2d", ((1, 1),), {}),
    ("AdaptiveMaxPool2d", (7,), {}),
    ("Upsample", (), {"scale_factor": 2, "mode": "bilinear"}),
    ("Upsample", (), {"size": (7, 9)}),
    ("Flatten", (), {}),
    ("ReLU", (), {"inplace": True}),
    ("ReLU6", (), {}),
    ("SiLU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
    ("LeakyReLU", (0.2,), {}),
    ("Sigmoid", (), {}),
    ("Hardsigmoid", (), {}),
    ("Hardswish", (), {"inplace": True}),
    ("Softmax", (), {"dim": 1}),
    ("Dropout", (0.2,), {}),
    ("Identity", (), {}),
]


@pytest.mark.parametrize("name, args, kwargs", LAYERS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(LAYERS)])
def test_layer_prints_as_torch_does(name: str, args: tuple, kwargs: dict) -> None:
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_sequential_prints_as_torch_does() -> None:
    ours = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    assert repr(ours) == repr(theirs)
    assert repr(nn.Conv2d(3, 8, 3, activation="relu6")) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), activation='relu6')"


@pytest.mark.parametrize("name, args, kwargs", [case for case in LAYERS if case[0] in ("Conv2d", "ConvTranspose2d", "Linear", "BatchNorm2d")])
def test_parameters_have_torch_shapes_and_dtypes(name: str, args: tuple, kwargs: dict) -> None:
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    for attr in ("weight", "bias", "running_mean", "running_var"):
        expected = getattr(theirs, attr, None)
        actual = getattr(ours, attr, None)
        if expected is None:
            assert actual is None, attr
        else:
            assert actual.shape == tuple(expected.shape) and actual.dtype == np.float32, attr
    if name == "BatchNorm2d":  # torch's start: weight and var 1, bias and mean 0
        for attr, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            if getattr(theirs, attr) is not None:
                assert getattr(ours, attr).tolist() == [value] * 16 == getattr(theirs, attr).tolist()


@pytest.mark.parametrize(
    "ours, theirs, fan_in",
    [
        (lambda: nn.Conv2d(64, 128, 3, seed=0), lambda: torch.nn.Conv2d(64, 128, 3), 64 * 9),
        (lambda: nn.Conv2d(64, 64, 3, groups=8, seed=0), lambda: torch.nn.Conv2d(64, 64, 3, groups=8), 8 * 9),
        (lambda: nn.ConvTranspose2d(64, 32, 4, seed=0), lambda: torch.nn.ConvTranspose2d(64, 32, 4), 32 * 16),
        (lambda: nn.Linear(512, 1000, seed=0), lambda: torch.nn.Linear(512, 1000), 512),
    ],
    ids=["conv", "conv-groups", "conv-transpose", "linear"],
)
def test_initialisation_has_torchs_distribution(ours: Any, theirs: Any, fan_in: int) -> None:
    """torch's default: weight and bias uniform in +-1/sqrt(fan_in); same bound, same spread, new values."""
    torch.manual_seed(0)
    layer, reference = ours(), theirs()
    bound = 1 / np.sqrt(fan_in)
    for attr in ("weight", "bias"):
        w, t = getattr(layer, attr), getattr(reference, attr).detach().numpy()
        n = w.size
        assert np.abs(w).max() <= bound and np.abs(t).max() <= bound * (1 + 1e-6)
        # a uniform's largest |value|, mean and standard deviation (bound/sqrt(3)), within sampling error
        assert np.abs(w).max() > bound * (1 - 5 / n) and abs(w.mean()) < 4 * bound / np.sqrt(3 * n)
        assert abs(w.std() * np.sqrt(3) / bound - 1) < 2 / np.sqrt(n) and abs(w.std() / t.std() - 1) < 3 / np.sqrt(n)
    assert not np.array_equal(layer.weight, reference.weight.detach().numpy())


def test_initialisation_follows_seed_and_rng() -> None:
    assert np.array_equal(nn.Conv2d(3, 8, 3, seed=5).weight, nn.Conv2d(3, 8, 3, seed=5).weight)
    assert not np.array_equal(nn.Conv2d(3, 8, 3, seed=5).weight, nn.Conv2d(3, 8, 3, seed=6).weight)
    rng = np.random.default_rng(1)
    a, b = nn.Linear(4, 4, rng=rng), nn.Linear(4, 4, rng=rng)
    assert not np.array_equal(a.weight, b.weight)  # one generator, drawn on
    assert nn.Conv2d(3, 8, 3, dtype=np.float64).weight.dtype == np.float64


def test_a_model_built_by_constructors_computes_as_torch_with_its_weights() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False, seed=0), nn.BatchNorm2d(8), nn.Hardswish(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, seed=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4, seed=2),
    )
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), torch.nn.BatchNorm2d(8), torch.nn.Hardswish(),
        torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4),
    ).eval()
    with torch.no_grad():
        for ours, theirs in zip(model, net):
            for attr in ("weight", "bias", "running_mean", "running_var"):
                if getattr(theirs, attr, None) is not None:
                    getattr(theirs, attr).copy_(torch.from_numpy(getattr(ours, attr)))
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16), dtype=np.float32)
    with torch.inference_mode():
        expected = net(torch.from_numpy(x)).numpy()
    for backend in ("cpu", "numpy", "cpu"):  # to_backend round trip
        assert_matches_torch(model.to_backend(backend)(x), expected)


def test_to_backend_round_trip_of_a_converted_model() -> None:
    net = torch_models.build("mobilenet_v3", seed=2)
    model = nn.from_torch(net, backend="cpu")
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64), dtype=np.float32)
    with torch.inference_mode():
        expected = net(torch.from_numpy(x)).numpy()
    first = model(x)
    assert {m.backend for m in model.to_backend("numpy").modules()} == {"numpy"}
    assert_matches_torch(model(x), expected)
    np.testing.assert_array_equal(model.to_backend("cpu")(x), first)


ERRORS = [
    (lambda: nn.Conv2d(3, 8), TypeError, "missing 1 required positional argument: 'kernel_size'"),
    (lambda: nn.Conv2d(0, 8, 3), ValueError, "Conv2d: in_channels must be a positive int, got 0"),
    (lambda: nn.Conv2d(3.0, 8, 3), TypeError, "Conv2d: in_channels must be a positive int, got 3.0"),
    (lambda: nn.Conv2d(3, 8, 3, groups=2), ValueError, "Conv2d: groups=2 must divide in_channels, got in_channels=3"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, "Conv2d: groups=4 must divide out_channels, got out_channels=6"),
    (lambda: nn.Conv2d(3, 8, (3, 3, 3)), ValueError, "Conv2d: kernel_size must be a positive int or a tuple of 2 of them, got (3, 3, 3)"),
    (lambda: nn.Conv2d(3, 8, 3, stride=0), ValueError, "Conv2d: stride must be a positive int or a tuple of 2 of them, got 0"),
    (lambda: nn.Conv2d(3, 8, 3, padding=-1), ValueError, "Conv2d: padding must be a non-negative int or a tuple of 2 of them, got -1"),
    (lambda: nn.Conv2d(3, 8, 3, padding="full"), ValueError, "Conv2d: padding must be one of 'same', 'valid'; got 'full'"),
    (lambda: nn.Conv2d(3, 8, 3, stride=2, padding="same"), ValueError, "Conv2d: padding='same' needs stride=1, got stride=(2, 2)"),
    (lambda: nn.Conv2d(3, 8, 3, padding_mode="mirror"), ValueError, "Conv2d: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular'; got 'mirror'"),
    (lambda: nn.Conv2d(3, 8, 3, bias=None), TypeError, "Conv2d: bias must be True or False, got None"),
    (lambda: nn.Conv2d(3, 8, 3, activation="tanh"), ValueError, "Conv2d: activation must be None or one of 'relu', 'relu6', 'silu', 'gelu', 'hardswish', 'hardsigmoid', got 'tanh'"),
    (lambda: nn.Conv2d(3, 8, 3, seed=1, rng=np.random.default_rng()), ValueError, "Conv2d: give seed or rng, not both (got seed=1)"),
    (lambda: nn.Conv2d(3, 8, 3, rng=0), TypeError, "Conv2d: rng must be a numpy.random.Generator, got int"),
    (lambda: nn.Conv2d(3, 8, 3, dtype=np.int32), TypeError, "Conv2d: dtype must be float32 or float64, got int32"),
    (lambda: nn.Conv2d.from_weights(np.ones((8, 3, 3))), ValueError, "Conv2d.from_weights: weight must be 4-d (out_channels, in_channels/groups, kH, kW), got shape (8, 3, 3)"),
    (lambda: nn.Conv2d.from_weights(np.ones((8, 3, 3, 3)), np.ones(4)), ValueError, "Conv2d.from_weights: bias must have shape (8,) to match weight, got shape (4,)"),
    (lambda: nn.Conv2d.from_weights(np.ones((6, 3, 3, 3)), groups=4), ValueError, "Conv2d.from_weights: groups=4 must divide out_channels, got out_channels=6"),
    (lambda: nn.Conv2d.from_weights("w"), TypeError, "Conv2d.from_weights: weight must be an array, got 'w'"),
    (lambda: nn.ConvTranspose2d(8, 4, 4, stride=2, output_padding=2), ValueError, "ConvTranspose2d: output_padding must be smaller than stride or dilation on each axis, got output_padding=(2, 2)"),
    (lambda: nn.ConvTranspose2d(8, 4, 4, padding_mode="reflect"), ValueError, "ConvTranspose2d: padding_mode must be 'zeros' (the only one torch allows here), got 'reflect'"),
    (lambda: nn.ConvTranspose2d(8, 4, 4, padding="same"), TypeError, "ConvTranspose2d: padding must be a non-negative int or a tuple of 2 of them, got 'same'"),
    (lambda: nn.Linear(16), TypeError, "missing 1 required positional argument: 'out_features'"),
    (lambda: nn.Linear(16, -10), ValueError, "Linear: out_features must be a positive int, got -10"),
    (lambda: nn.Linear.from_weights(np.ones(3)), ValueError, "Linear.from_weights: weight must be 2-d (out_features, in_features), got shape (3,)"),
    (lambda: nn.BatchNorm2d(16, eps=-1), ValueError, "BatchNorm2d: eps must be a non-negative float, got -1"),
    (lambda: nn.BatchNorm2d(16, eps="1e-5"), TypeError, "BatchNorm2d: eps must be a non-negative float, got '1e-5'"),
    (lambda: nn.BatchNorm2d(16, affine=1), TypeError, "BatchNorm2d: affine must be True or False, got 1"),
    (lambda: nn.BatchNorm2d([16]), TypeError, "BatchNorm2d: num_features must be a positive int, got [16]"),
    (lambda: nn.BatchNorm2d.from_weights([0.0, 0.0], None), TypeError, "BatchNorm2d.from_weights: running_var is None while running_mean is given"),
    (lambda: nn.BatchNorm2d.from_weights([0.0, 0.0], [1.0]), ValueError, "BatchNorm2d.from_weights: running_var must have shape (2,) like running_mean, got shape (1,)"),
    (lambda: nn.MaxPool2d(0), ValueError, "MaxPool2d: kernel_size must be a positive int or a tuple of 2 of them, got 0"),
    (lambda: nn.MaxPool2d(3, padding=2), ValueError, "MaxPool2d: padding must be at most half of kernel_size (3, 3), got padding=2"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), ValueError, "AvgPool2d: divisor_override must be a positive int, got 0"),
    (lambda: nn.LeakyReLU("0.1"), TypeError, "LeakyReLU: negative_slope must be a float, got '0.1'"),
    (lambda: nn.Softmax(), TypeError, "Softmax: dim must be an int (the axis to normalize), got None"),
    (lambda: nn.Dropout(1.5), ValueError, "Dropout: p must be a probability in [0, 1], got 1.5"),
    (lambda: nn.ReLU(inplace="yes"), TypeError, "ReLU: inplace must be True or False, got 'yes'"),
    (lambda: nn.Upsample(scale_factor="2"), TypeError, "Upsample: scale_factor must be a float or a tuple of floats, got '2'"),
]


@pytest.mark.parametrize("build, exc, message", ERRORS, ids=[m.split(":")[0] + f"-{i}" for i, (_, _, m) in enumerate(ERRORS)])
def test_bad_arguments_raise_when_the_layer_is_built(build: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc) as info:
        build()
    assert message in str(info.value), str(info.value)
