"""ResNet-18 and MobileNetV2 converted by ``fastconv.nn.from_torch`` give torch's outputs.

The models are defined in plain torch (``torch_models.py``, written as
torchvision writes them), with random weights under ``torch.manual_seed(0)``
and random BatchNorm running statistics and affine parameters, in eval mode.
They run on 224 x 224 float32 input at batch 1 and batch 8 on the ``cpu``
backend.  "1e-4 relative" is read as: every logit within
``1e-4 * |torch's| + 1e-4 * max |torch's logits|`` of torch's
(``assert_allclose(rtol=1e-4, atol=1e-4 * max|torch output|)``): elementwise
relative error would be meaningless for the logits near zero, which are
differences of large sums.  The numpy backend runs one cheap check: ResNet-18
on a 32 x 32 image.
"""

from __future__ import annotations

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
