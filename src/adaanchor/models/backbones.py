"""Backbones. Each returns ``(dense, deep)``: a dense map at the output stride for the anchor/heatmap heads
and the deepest map, pooled by the regression head. timm models are built with ``features_only=True`` and
``pretrained=False``; weights are loaded afterwards from ``model.weights`` (``timm:NAME`` through timm's
pretrained mechanism, :mod:`adaanchor.models.pretrained`, or a local file).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..errors import unknown_name_error
from ..option_tables import merge_tables
from ..ranges import Checker, Text, at_least, between, choice, flag
from .deconv import FoldConvTranspose2d

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
HRNETS = {"hrnet_w18": "hrnet_w18", "hrnet_w32": "hrnet_w32"}


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def deconv_stack(cin: int, width: int, layers: int) -> tuple[nn.Sequential, int]:
    """SimpleBaseline neck: ``layers`` x (4x4 transposed conv, stride 2, BN, ReLU); the transposed convolutions
    are :class:`~adaanchor.models.deconv.FoldConvTranspose2d` (faster on a CPU from a deep map)."""
    mods: list[nn.Module] = []
    for _ in range(layers):
        mods += [FoldConvTranspose2d(cin, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        cin = width
    return nn.Sequential(*mods), cin


#: ``model.channels_last``: null lets each backbone take the layout measured faster (:meth:`ChannelsLast.auto`);
#: true or false force NHWC or NCHW. The layout changes speed, not results (tested), so a resume may change it.
LAYOUT_DEFAULTS: dict[str, Any] = {"channels_last": None}
LAYOUT_RANGES: dict[str, Checker] = {"channels_last": flag()}


class ChannelsLast(nn.Module):
    """Runs the body in the channels-last (NHWC) memory format when ``channels_last`` is set.

    On CPU (oneDNN) and on GPUs with tensor cores, convolutions are often faster on NHWC tensors: a ResNet-50
    training step at 256x192, batch 8, took 0.84-0.92 of its time on this project's 2-core machine, an HRNet-W18
    step 0.87 (``benchmarks/speed.py``, rows ``channels_last``). Narrow convolutions are slower in it: the tiny
    CNN's step took 0.93 of its time at widths 32-64 but 1.03-1.35 at widths 8-24. The dense and deep maps leave
    the backbone contiguous again, so the heads and the strategies' reshapes see the usual layout (the dense map's
    gradient goes back in NHWC, :class:`_ToNCHW`). Results match the default layout to float rounding (tested)."""

    channels_last: bool = False

    def auto(self) -> bool:
        """The layout when ``model.channels_last`` is null: NHWC (subclasses decide by their widths)."""
        return True

    def _use_channels_last(self, on: bool | None) -> None:
        self.channels_last = self.auto() if on is None else bool(on)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def _in(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _out(self, dense: Tensor, deep: Tensor) -> tuple[Tensor, Tensor]:
        if self.channels_last and dense.requires_grad:
            return _ToNCHW.apply(dense), deep.contiguous()
        return dense.contiguous(), deep.contiguous()


class _ToNCHW(torch.autograd.Function):
    """``x.contiguous()`` (NCHW) whose gradient goes back in the channels-last layout the backbone's last layers
    computed in: handed an NCHW gradient, their backward (ReLU, BatchNorm) works across two layouts, and the tiny
    CNN's last ReLU backward alone took 2 ms of a 50 ms step. With this the demo's heatmap training step took 0.97
    of its time (median of 60 interleaved pairs, twice); a ResNet-50 step was unchanged (1.00)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.contiguous()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad.contiguous(memory_format=torch.channels_last)


class TinyBackbone(ChannelsLast):
    """A small SimpleBaseline-shaped CNN for tests and CPU benchmarks: stride 16 encoder, 2 deconvs to stride 4.

    The encoder reaches stride 16 so the receptive field covers a whole small crop, as anchors far from
    their keypoint need.
    """

    stride = 4
    input_multiple = 1  # the net keeps the first ceil(size / stride) cells: any size works
    DEFAULTS: ClassVar[dict[str, Any]] = {"tiny_width": 32, **LAYOUT_DEFAULTS}  # tiny_width: its channel width
    RANGES: ClassVar[dict[str, Checker]] = {"tiny_width": at_least(2), **LAYOUT_RANGES}  # first layer: width // 2
    #: The narrowest width at which NHWC was faster here (0.93 of the step at 32-64, 1.03-1.35 at 8-24).
    NHWC_MIN_WIDTH = 32

    @classmethod
    def from_config(cls, name: str, section: Mapping[str, Any]) -> TinyBackbone:
        return cls(int(section.get("tiny_width", cls.DEFAULTS["tiny_width"])),
                   channels_last=section.get("channels_last", cls.DEFAULTS["channels_last"]))

    def __init__(self, width: int = DEFAULTS["tiny_width"], channels_last: bool | None = DEFAULTS["channels_last"]):
        super().__init__()
        w = self.width = width
        self.enc = nn.Sequential(
            _conv(3, w // 2, 2), _conv(w // 2, w), _conv(w, w, 2), _conv(w, w),
            _conv(w, 2 * w, 2), _conv(2 * w, 2 * w), _conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w),
        )  # fmt: skip
        self.neck, self.out_channels = deconv_stack(4 * w, 2 * w, 2)
        self.deep_channels = 4 * w
        self._use_channels_last(channels_last)

    def auto(self) -> bool:
        return self.width >= self.NHWC_MIN_WIDTH

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        deep = self.enc(self._in(x))
        return self._out(self.neck(deep), deep)


class ResNetBackbone(ChannelsLast):
    """SimpleBaseline: timm ResNet (stride 32) + 3 deconvolutions to stride 4."""

    stride = 4
    input_multiple = 1
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "deconv_channels": 256,  # SimpleBaseline deconvolution width
        "deconv_layers": 3,  # each doubles the resolution: output stride 32 / 2**layers
        **LAYOUT_DEFAULTS,
    }
    RANGES: ClassVar[dict[str, Checker]] = {"deconv_channels": at_least(1), "deconv_layers": between(0, 5),
                                            **LAYOUT_RANGES}

    @classmethod
    def from_config(cls, name: str, section: Mapping[str, Any]) -> ResNetBackbone:
        opts = {k: int(section.get(k, d)) for k, d in cls.DEFAULTS.items() if k != "channels_last"}
        return cls(name, **opts, channels_last=section.get("channels_last", cls.DEFAULTS["channels_last"]))

    def __init__(self, name: str, deconv_channels: int = DEFAULTS["deconv_channels"],
                 deconv_layers: int = DEFAULTS["deconv_layers"], channels_last: bool | None = DEFAULTS["channels_last"]):
        super().__init__()
        import timm  # imported here: it costs ~2 s at start-up, and the tiny backbone does not need it

        self.body = timm.create_model(name, pretrained=False, features_only=True, out_indices=(4,))
        cin = self.body.feature_info.channels()[-1]
        self.neck, self.out_channels = deconv_stack(cin, deconv_channels, deconv_layers)
        self.deep_channels = cin
        self.stride = 32 // (2**deconv_layers)
        self._use_channels_last(channels_last)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        deep = self.body(self._in(x))[-1]
        return self._out(self.neck(deep), deep)


class HRNetBackbone(ChannelsLast):
    """timm HRNet; the highest-resolution branch (stride 4) feeds the dense heads."""

    stride = 4
    input_multiple = 32  # its branches are fused by addition: every stage's maps must line up exactly
    DEFAULTS: ClassVar[dict[str, Any]] = dict(LAYOUT_DEFAULTS)
    RANGES: ClassVar[dict[str, Checker]] = dict(LAYOUT_RANGES)

    @classmethod
    def from_config(cls, name: str, section: Mapping[str, Any]) -> HRNetBackbone:
        return cls(name, channels_last=section.get("channels_last", cls.DEFAULTS["channels_last"]))

    def __init__(self, name: str, channels_last: bool | None = DEFAULTS["channels_last"]):
        super().__init__()
        import timm

        self.body = timm.create_model(
            HRNETS[name], pretrained=False, features_only=True, feature_location="", out_indices=(1, 4)
        )
        chans = self.body.feature_info.channels()
        self.out_channels, self.deep_channels = chans[0], chans[-1]
        self._use_channels_last(channels_last)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        hi, deep = self.body(self._in(x))
        return self._out(hi, deep)


#: backbone name (``model.backbone``) -> class; each class builds from the ``model`` section (``from_config``)
#: and declares the options it reads (``DEFAULTS``, ``RANGES``) and the input-size multiple it needs.
BACKBONES: dict[str, Any] = {
    "tiny": TinyBackbone,
    **{name: ResNetBackbone for name in RESNETS},
    **{name: HRNetBackbone for name in HRNETS},
}

#: The ``model`` section keys that are not a backbone's own.
_MODEL_KEYS: dict[str, Any] = {
    "backbone": "tiny",  # a name of BACKBONES
    "weights": None,  # timm:NAME (ImageNet weights via timm and the Hugging Face cache) or a local checkpoint file
}


def model_defaults() -> dict[str, Any]:
    """The ``model`` config section: ``backbone``, ``weights`` and every backbone class's ``DEFAULTS``."""
    return merge_tables(BACKBONES, "DEFAULTS", _MODEL_KEYS, "model")


def model_ranges() -> dict[str, Checker]:
    """``model.<key>`` -> range or choice, over every registered backbone."""
    return merge_tables(BACKBONES, "RANGES", {"backbone": choice(tuple(BACKBONES), kind="backbone"),
                                             "weights": Text("timm:NAME or a weights file path")}, "model")


def input_multiple(name: str) -> int:
    """The multiple the input width and height must be for backbone ``name``."""
    if name not in BACKBONES:
        raise unknown_name_error("backbone", name, BACKBONES)
    return int(getattr(BACKBONES[name], "input_multiple", 1))


def backbone_from_config(section: Mapping[str, Any]) -> nn.Module:
    """The backbone of a ``model`` config section."""
    name = str(section.get("backbone", _MODEL_KEYS["backbone"]))
    if name not in BACKBONES:
        raise unknown_name_error("backbone", name, BACKBONES)
    return BACKBONES[name].from_config(name, section)


def build_backbone(name: str, **options: Any) -> nn.Module:
    """Backbone by name (see :data:`BACKBONES`); ``options`` are ``model`` keys such as ``tiny_width``."""
    unknown = set(options) - set(model_defaults())
    if unknown:
        raise TypeError(f"build_backbone: unknown option(s) {sorted(unknown)}")
    return backbone_from_config({**options, "backbone": name})


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["build_backbone", "backbone_from_config", "BACKBONES", "count_params", "input_multiple", "model_defaults",
           "model_ranges"]
