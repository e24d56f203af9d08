"""DeepPose-style regression: coordinates from globally pooled features (a fixed anchor), L1 loss.

Coordinates are regressed normalised by the input size (``x / W``, ``y / H``), so the fixed anchor, normalised 0,
is the centre of the crop's top-left pixel (pixel-centre convention, docs/conventions.md). There is no confidence: scores are reported as None ("N/A" in the paper).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Decoded, Encoded, Strategy, Target


class RegressionStrategy(Strategy):
    name = "regression"
    multi_instance = False  # one coordinate vector per image

    def __init__(self, num_keypoints: int, stride: int, input_size: tuple[int, int]):
        super().__init__(num_keypoints, stride, input_size)
        self.heads = {"coords": 2 * num_keypoints}
        self.losses = {"coords": ("l1", 1.0)}
        self._scale = torch.tensor([float(input_size[0]), float(input_size[1])])

    @property
    def has_confidence(self) -> bool:
        return False

    @torch.no_grad()
    def encode(self, outputs: dict[str, Tensor], keypoints: Tensor, visibility: Tensor, step: int = 0) -> Encoded:
        keypoints = self.labelled(keypoints, visibility)
        if keypoints.shape[1] != 1:
            raise ValueError("regression is a single-instance strategy (N must be 1)")
        scale = self._scale.to(keypoints.device)
        target = (keypoints[:, 0].float() / scale).reshape(keypoints.shape[0], -1)  # (B, 2K)
        weight = (visibility[:, 0] > 0).float().repeat_interleave(2, dim=1)
        return Encoded({"coords": Target(target, weight)})

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor]) -> Decoded:
        c = outputs["coords"].float()
        xy = c.view(c.shape[0], self.num_keypoints, 2) * self._scale.to(c.device)
        return Decoded(xy=xy, score=None, anchor=None)
