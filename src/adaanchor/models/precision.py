"""Inference with the backbone in bfloat16 and the heads in float32 (``Predictor(precision="bf16")``,
``adaanchor predict --precision bf16``).

On a CPU with bfloat16 matrix units (Intel AMX, AVX512-BF16) or a GPU the backbone's convolutions run several times
faster in bfloat16 (docs/predict.md has the measurements). The heads stay in float32, a precaution that costs
little: bfloat16 keeps 8 bits of mantissa, so a long offset (20 cells) would be read to 0.16 cells; on the pose
benchmark's trained runs the heads in bfloat16 too gave the same errors to 0.01 px. Models trained in float32 are
used as they are (no retraining).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import AdaAnchorError

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: Any, device: torch.device) -> str:
    """``precision`` when it is one of :data:`PRECISIONS` and ``device`` computes bfloat16 natively (a CPU without
    it would emulate it, slower than float32), else an AdaAnchorError saying which."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise AdaAnchorError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bf16" and not bf16_native(device):
        where = "this CPU has no bfloat16 units (AMX or AVX512-BF16)" if device.type == "cpu" else \
            f"device {device} does not support bfloat16"
        raise AdaAnchorError(f"precision bf16: {where}, so it would run slower than fp32; use fp32")
    return precision


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


def with_precision(model: nn.Module, precision: str) -> nn.Module:
    """``model`` to run in ``precision`` (checked by :func:`check_precision`): a :class:`Bf16Backbone` for
    ``"bf16"``, the model itself for ``"fp32"``."""
    return Bf16Backbone(model) if precision == "bf16" else model


class Bf16Backbone(nn.Module):
    """A :class:`~adaanchor.models.net.KeypointNet` whose backbone (and neck) runs in bfloat16 and whose heads run in
    float32 on the features cast back. Same interface for the strategies' decoding: ``forward`` (``(B, 3, H, W)`` ->
    head maps), ``features``, ``head_matrix``, ``head_names``, ``heads``, ``stride``.

    The backbone is a bfloat16 copy of ``net``'s, made once: under autocast every call cast every weight again,
    which took 62 % of a ResNet-50 forward on a CPU and made it slower than float32. ``net`` itself is unchanged.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.body = copy.deepcopy(net.backbone).to(torch.bfloat16)
        self.head_names, self.heads, self.stride = net.head_names, net.heads, net.stride

    def _backbone(self, x: Tensor) -> tuple[Tensor, Tensor]:
        dense, deep = self.net.on_grid(*self.body(x.to(torch.bfloat16)), x)
        return dense.float(), deep.float()

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.net.heads_from(*self._backbone(x))

    def features(self, x: Tensor) -> Tensor:
        """The dense features ``(B, C, h, w)``, float32."""
        return self._backbone(x)[0]

    def head_matrix(self, name: str) -> tuple[Tensor, Tensor] | None:
        return self.net.head_matrix(name)

    def dense_heads(self, dense: Tensor) -> dict[str, Tensor]:
        return self.net.dense_heads(dense)


__all__ = ["PRECISIONS", "Bf16Backbone", "bf16_native", "check_precision", "with_precision"]
