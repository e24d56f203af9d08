"""fold_batchnorm: folds every BatchNorm that follows a convolution, keeps the outputs, and refuses what it
cannot fold correctly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from adaanchor.models.backbones import ResNetBackbone, TinyBackbone
from adaanchor.models.deconv import FoldConvTranspose2d
from adaanchor.models.fuse import fold_batchnorm
from adaanchor.models.net import KeypointNet


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """BatchNorm statistics and affine parameters away from their initial values (which fold to nearly nothing)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


def _bn_count(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("channels_last", [False, True])
def test_tiny_keypoint_net_folds_every_bn_with_the_same_outputs(channels_last):
    torch.manual_seed(0)
    net = _randomise_bn(KeypointNet(TinyBackbone(width=32, channels_last=channels_last), {"conf": 5, "offset": 10}))
    x = torch.randn(2, 3, 96, 72)
    folded, n = fold_batchnorm(net, x)
    assert n == _bn_count(net) > 0 and _bn_count(folded) == 0
    assert _bn_count(net) == n  # the model given is left as it was
    with torch.no_grad():
        a, b = net(x), folded(x)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
    # The transposed convolutions stay what they were (their faster CPU path included), now with a bias.
    assert any(isinstance(m, FoldConvTranspose2d) and m.bias is not None for m in folded.modules())


class _Branching(nn.Module):
    """A convolution whose output feeds its BatchNorm and a second branch: folding would change the branch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


class _Shared(nn.Module):
    """One convolution and BatchNorm run twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.bn(self.conv(x))))


@pytest.mark.parametrize("cls", [_Branching, _Shared])
def test_what_cannot_be_folded_is_left_alone(cls):
    torch.manual_seed(0)
    model = _randomise_bn(cls()).eval()
    x = torch.randn(1, 3, 8, 8)
    out, n = fold_batchnorm(model, x)
    assert out is model and n == 0 and _bn_count(model) == 1


def test_a_model_without_batchnorm_is_returned_as_it_is():
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU())
    assert fold_batchnorm(model, torch.randn(1, 3, 4, 4)) == (model, 0)


@pytest.mark.slow
def test_resnet50_folds_all_56_batchnorms():
    torch.manual_seed(0)
    net = _randomise_bn(KeypointNet(ResNetBackbone("resnet50"), {"conf": 3}))
    x = torch.randn(1, 3, 128, 96)
    folded, n = fold_batchnorm(net, x)
    assert n == 56 and _bn_count(folded) == 0
    with torch.no_grad():
        torch.testing.assert_close(folded(x)["conf"], net(x)["conf"], rtol=1e-3, atol=1e-4)
