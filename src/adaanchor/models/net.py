"""KeypointNet: backbone + one 1x1 conv per dense head (or a pooled linear head for ``coords``); a head named in
``branches`` is instead a set of separate per-group conv branches (DEKR's per-keypoint regression).

The 1x1 conv heads are computed together, as one matrix product with their weights stacked (see
:meth:`KeypointNet.dense_heads`): the anchor strategies have three such heads, and three small convolutions
cost about twice one stacked product on a CPU, forward and backward. The parameters stay one ``Conv2d`` per
head, so checkpoints and exported graphs keep their names."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import AdaAnchorError


class GroupedBranches(nn.Module):
    """``groups`` separate small conv branches, one per keypoint type (DEKR's per-keypoint regression branches,
    with plain 3x3 convolutions where DEKR has adaptive ones), computed at once with grouped convolutions.

    ``(B, C_in, h, w)`` -> 1x1 conv to ``groups * width`` (BN, ReLU) -> grouped 3x3 conv (BN, ReLU) -> grouped
    1x1 conv -> ``(B, out_channels, h, w)``; group ``g`` sees only its own ``width`` features and writes output
    channels ``[g * out / groups, (g + 1) * out / groups)`` (``2k, 2k + 1`` = x, y of keypoint ``k``).
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int, width: int):
        super().__init__()
        if out_channels % groups:
            raise ValueError(f"{out_channels} output channels do not split into {groups} groups")
        mid = groups * width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, groups=groups, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
        )
        self.out = nn.Conv2d(mid, out_channels, 1, groups=groups)
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x))


class KeypointNet(nn.Module):
    """Outputs a dict of heads: dense heads ``(B, C, ceil(H/stride), ceil(W/stride))``, ``coords`` ``(B, C)``.

    Args:
        heads: head name -> channels, from the strategy.
        conf_prior: initial sigmoid probability of ``conf`` (bias init, as in CenterNet/RetinaNet), so the
            focal loss does not start from a flood of confident negatives.
        branches: head name -> ``(groups, width)``: that head is a :class:`GroupedBranches` (default none).
    """

    def __init__(self, backbone: nn.Module, heads: Mapping[str, int], conf_prior: float = 0.1,
                 branches: Mapping[str, tuple[int, int]] | None = None):
        super().__init__()
        self.backbone = backbone
        self.stride = int(backbone.stride)
        self.head_names = list(heads)
        self.heads = nn.ModuleDict()
        for name, ch in heads.items():
            if name == "coords":
                self.heads[name] = nn.Linear(backbone.deep_channels, ch)
            elif branches and name in branches:
                self.heads[name] = GroupedBranches(backbone.out_channels, ch, *branches[name])
            else:
                self.heads[name] = nn.Conv2d(backbone.out_channels, ch, 1)
        if "conf" in self.heads:
            nn.init.constant_(self.heads["conf"].bias, -math.log((1 - conf_prior) / conf_prior))
        for name in ("offset", "local"):
            if name in self.heads:
                nn.init.normal_(self.heads[name].weight, std=1e-3)
                nn.init.zeros_(self.heads[name].bias)
        if "coords" in self.heads:  # start near the crop centre (normalised 0.5: x = W / 2, half a pixel right of it)
            nn.init.normal_(self.heads["coords"].weight, std=1e-3)
            nn.init.constant_(self.heads["coords"].bias, 0.5)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.heads_from(*self._backbone(x))

    def heads_from(self, dense: Tensor, deep: Tensor) -> dict[str, Tensor]:
        """Every head from the backbone's ``dense (B, C, h, w)`` and ``deep`` features (:meth:`forward` after the
        backbone; :class:`adaanchor.models.precision.Bf16Backbone` runs the backbone apart)."""
        out = self.dense_heads(dense)
        for name in self.head_names:
            if name == "coords":
                out[name] = self.heads[name](deep.mean(dim=(2, 3)))
            elif name not in out:
                out[name] = self.heads[name](dense)
        return {name: out[name] for name in self.head_names}

    def _backbone(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.on_grid(*self.backbone(x), x)

    def on_grid(self, dense: Tensor, deep: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """The backbone's outputs on the grid of input ``x``'s size. Inputs not divisible by the encoder's stride
        (72 px at stride 16/32) give a few extra cells past the right/bottom edge; cell j stays centred at
        stride*j + (stride-1)/2, so keeping the first ceil(size / stride) cells gives exactly the grid of
        docs/conventions.md."""
        h, w = -(-x.shape[-2] // self.stride), -(-x.shape[-1] // self.stride)
        return dense[..., :h, :w], deep

    def features(self, x: Tensor) -> Tensor:
        """The dense features the 1x1 heads read, ``(B, C, ceil(H/stride), ceil(W/stride))``."""
        return self._backbone(x)[0]

    def head_matrix(self, name: str) -> tuple[Tensor, Tensor] | None:
        """A 1x1 conv head as ``(weight (C_out, C), bias (C_out,))``; None for another kind of head."""
        m = self.heads[name] if name in self.heads else None
        if not isinstance(m, nn.Conv2d) or m.kernel_size != (1, 1) or m.bias is None or m.groups != 1:
            return None
        return m.weight.view(m.out_channels, -1), m.bias

    def dense_heads(self, dense: Tensor) -> dict[str, Tensor]:
        """The 1x1 conv heads on ``dense (B, C, h, w)``, as one product of their stacked weights.

        Returns head -> ``(B, C_head, h, w)``, views into one ``(B, sum C_head, h*w)`` tensor (channel slices;
        ``view`` works on them). The backbones hand the dense map back in the NCHW layout (also when their body
        runs channels-last), so the product reads it without a copy.
        """
        names = [n for n in self.head_names if isinstance(self.heads[n], nn.Conv2d)]
        if not names:
            return {}
        b, c, h, w = dense.shape
        convs = [self.heads[n] for n in names]
        weight = torch.cat([m.weight.view(m.out_channels, c) for m in convs])  # (sum C_head, C)
        bias = torch.cat([m.bias for m in convs])
        # One batched product with the bias fused: a broadcast ``matmul`` folds the batch into the rows and
        # copies the result back to (B, C_out, hw), about twice the time forward and backward on a CPU.
        y = torch.baddbmm(bias.view(1, -1, 1), weight.expand(b, -1, -1), dense.reshape(b, c, h * w))  # (B, sum C_head, hw)
        parts = y.split([m.out_channels for m in convs], dim=1)
        return {n: t.view(b, -1, h, w) for n, t in zip(names, parts, strict=True)}


def load_weights(net: KeypointNet, path: str | Path) -> dict[str, int]:
    """Load weights into ``net``: ``timm:NAME`` (ImageNet weights through timm's pretrained mechanism and the
    Hugging Face cache, see :mod:`adaanchor.models.pretrained`), or a local file: an adaanchor checkpoint
    (``{"model": state}``), a full state dict, or a backbone state dict (e.g. ImageNet weights saved from
    timm: keys matched under ``backbone.body.``).

    Only tensors whose names and shapes match are loaded; weights that match less than half of their tensors
    (another architecture) are an error. Returns counts of loaded and skipped tensors.
    """
    from .pretrained import is_timm_name, timm_state_dict

    if is_timm_name(path):
        state = timm_state_dict(str(path))
        # Pretrained weights of a backbone's own architecture cover all of it: anything less is another model
        # whose BatchNorm vectors happen to have the same shapes.
        return load_state(net, state, f"model.weights={path}", cover="backbone.body.")
    from ..safe_torch import safe_load

    state = safe_load(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise AdaAnchorError(f"{path}: not a weights file (holds a {type(state).__name__}, not a state dict)")
    return load_state(net, state, str(path))


def load_state(net: KeypointNet, state: Mapping[str, object], source: str, cover: str | None = None) -> dict[str, int]:
    """Copy the tensors of ``state`` whose names (as given, or under ``backbone.body.`` / ``backbone.``) and
    shapes match ``net``'s; ``source`` names the weights in errors. ``cover``: every tensor of ``net`` under
    this prefix must be among them."""
    own = net.state_dict()
    loaded, skipped = {}, 0
    for key, val in state.items():
        for cand in (key, f"backbone.body.{key}", f"backbone.{key}"):
            if cand in own and isinstance(val, Tensor) and own[cand].shape == val.shape:
                loaded[cand] = val
                break
        else:
            skipped += 1
    # Counters (num_batches_tracked) match any architecture: they say nothing about compatibility.
    real = [k for k in loaded if not k.endswith("num_batches_tracked")]
    total = sum(1 for k, v in state.items() if isinstance(v, Tensor) and not k.endswith("num_batches_tracked"))
    if not real or len(real) < 0.5 * total:
        raise AdaAnchorError(f"{source}: only {len(real)} of {total} tensors match this model's architecture "
                             f"(wrong backbone or width?)")
    if cover is not None:
        missing = [k for k in own if k.startswith(cover) and k not in loaded]
        if missing:
            raise AdaAnchorError(f"{source}: {len(missing)} of {sum(k.startswith(cover) for k in own)} tensors of the "
                                 f"backbone are not in these weights (e.g. {missing[0].removeprefix(cover)}): "
                                 f"they are another architecture than model.backbone")
    net.load_state_dict(loaded, strict=False)
    return {"loaded": len(loaded), "skipped": skipped}


__all__ = ["GroupedBranches", "KeypointNet", "load_state", "load_weights"]
