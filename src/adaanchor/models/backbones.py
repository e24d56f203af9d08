"""Backbones. Each returns ``(dense, deep)``: a dense map at the output stride for the anchor/heatmap heads
and the deepest map, pooled by the regression head. timm models are built with ``features_only=True`` and
``pretrained=False``; weights are loaded afterwards from ``model.weights`` (``timm:NAME`` through timm's
pretrained mechanism, :mod:`adaanchor.models.pretrained`, or a local file).
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import unknown_name_error

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
HRNETS = {"hrnet_w18": "hrnet_w18", "hrnet_w32": "hrnet_w32"}
BACKBONES = ("tiny",) + RESNETS + tuple(HRNETS)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def deconv_stack(cin: int, width: int, layers: int) -> tuple[nn.Sequential, int]:
    """SimpleBaseline neck: ``layers`` x (4x4 transposed conv, stride 2, BN, ReLU)."""
    mods: list[nn.Module] = []
    for _ in range(layers):
        mods += [nn.ConvTranspose2d(cin, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        cin = width
    return nn.Sequential(*mods), cin


class TinyBackbone(nn.Module):
    """A small SimpleBaseline-shaped CNN for tests and CPU benchmarks: stride 16 encoder, 2 deconvs to stride 4.

    The encoder reaches stride 16 so the receptive field covers a whole small crop, as anchors far from
    their keypoint need.
    """

    stride = 4

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.enc = nn.Sequential(
            _conv(3, w // 2, 2), _conv(w // 2, w), _conv(w, w, 2), _conv(w, w),
            _conv(w, 2 * w, 2), _conv(2 * w, 2 * w), _conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w),
        )  # fmt: skip
        self.neck, self.out_channels = deconv_stack(4 * w, 2 * w, 2)
        self.deep_channels = 4 * w

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        deep = self.enc(x)
        return self.neck(deep), deep


class ResNetBackbone(nn.Module):
    """SimpleBaseline: timm ResNet (stride 32) + 3 deconvolutions to stride 4."""

    stride = 4

    def __init__(self, name: str, deconv_channels: int = 256, deconv_layers: int = 3):
        super().__init__()
        import timm  # imported here: it costs ~2 s at start-up, and the tiny backbone does not need it

        self.body = timm.create_model(name, pretrained=False, features_only=True, out_indices=(4,))
        cin = self.body.feature_info.channels()[-1]
        self.neck, self.out_channels = deconv_stack(cin, deconv_channels, deconv_layers)
        self.deep_channels = cin
        self.stride = 32 // (2**deconv_layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        deep = self.body(x)[-1]
        return self.neck(deep), deep


class HRNetBackbone(nn.Module):
    """timm HRNet; the highest-resolution branch (stride 4) feeds the dense heads."""

    stride = 4
    input_multiple = 32  # its branches are fused by addition: every stage's maps must line up exactly

    def __init__(self, name: str):
        super().__init__()
        import timm

        self.body = timm.create_model(
            HRNETS[name], pretrained=False, features_only=True, feature_location="", out_indices=(1, 4)
        )
        chans = self.body.feature_info.channels()
        self.out_channels, self.deep_channels = chans[0], chans[-1]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        hi, deep = self.body(x)
        return hi, deep


def build_backbone(name: str, tiny_width: int = 32, deconv_channels: int = 256, deconv_layers: int = 3) -> nn.Module:
    """Backbone by name; see :data:`BACKBONES`."""
    if name == "tiny":
        return TinyBackbone(tiny_width)
    if name in RESNETS:
        return ResNetBackbone(name, deconv_channels, deconv_layers)
    if name in HRNETS:
        return HRNetBackbone(name)
    raise unknown_name_error("backbone", name, BACKBONES)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["build_backbone", "BACKBONES", "count_params"]
