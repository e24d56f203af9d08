"""SimpleBaseline heatmap anchor: MSRA Gaussian targets, MSE loss, argmax + quarter-pixel shift.

Target (as in SimpleBaseline): for keypoint ``x`` (input pixels), the Gaussian of sigma ``heatmap_sigma``
cells is centred at the *rounded* cell coordinate ``round(input_to_cell(x))`` and cut to the
``(6 sigma + 1)`` window around it. Keypoints whose window lies entirely off the map (keypoints well
outside the crop) get target weight 0 for that image, as in SimpleBaseline: the heatmap cannot represent
them, and the anchor strategies can (see docs/method.md). Several instances of one type take the
pixelwise maximum.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ..coords import cell_centers, input_to_cell
from ..ranges import positive
from .base import Decoded, Encoded, Strategy, Target
from .flip_test import mean_maps


class HeatmapStrategy(Strategy):
    name = "heatmap"
    DEFAULTS = {"heatmap_sigma": 2.0}  # MSRA Gaussian sigma, in heatmap cells
    RANGES = {"heatmap_sigma": positive()}

    @classmethod
    def from_config(cls, section: Mapping[str, Any], num_keypoints: int, stride: int,
                    input_size: tuple[int, int]) -> HeatmapStrategy:
        """``strategy.heatmap_sigma`` is the constructor's ``sigma``."""
        return cls(num_keypoints, stride, input_size, sigma=cls.options(section)["heatmap_sigma"])

    def __init__(self, num_keypoints: int, stride: int, input_size: tuple[int, int],
                 sigma: float = DEFAULTS["heatmap_sigma"]):
        super().__init__(num_keypoints, stride, input_size)
        self.sigma = float(sigma)
        self.heads = {"heatmap": num_keypoints}
        self.losses = {"heatmap": ("mse", 1.0)}

    @torch.no_grad()
    def encode(self, outputs: dict[str, Tensor], keypoints: Tensor, visibility: Tensor, step: int = 0) -> Encoded:
        hm = outputs["heatmap"]
        b, k, h, w = hm.shape
        keypoints = self.labelled(keypoints, visibility)
        mu = torch.round(input_to_cell(keypoints, self.stride))  # (B, N, K, 2)
        ys, xs = torch.meshgrid(
            torch.arange(h, device=hm.device, dtype=torch.float32),
            torch.arange(w, device=hm.device, dtype=torch.float32),
            indexing="ij",
        )
        dx = xs.view(1, 1, 1, h, w) - mu[..., 0, None, None]
        dy = ys.view(1, 1, 1, h, w) - mu[..., 1, None, None]
        r = int(3 * self.sigma)
        g = torch.exp(-(dx**2 + dy**2) / (2 * self.sigma**2)) * ((dx.abs() <= r) & (dy.abs() <= r))
        # Weight 0 where the (2r+1) window misses the map entirely, as SimpleBaseline does.
        inside = (mu[..., 0] + r >= 0) & (mu[..., 0] - r <= w - 1) & (mu[..., 1] + r >= 0) & (mu[..., 1] - r <= h - 1)
        use = (visibility > 0) & inside  # (B, N, K)
        g = g * use[..., None, None]
        target = g.amax(dim=1)  # (B, K, h, w)
        weight = use.any(dim=1).float().view(b, k, 1, 1).expand(b, k, h, w).contiguous()
        kept = float(use.sum() / (visibility > 0).sum().clamp(min=1))
        return Encoded({"heatmap": Target(target, weight)}, {"kept_frac": kept})

    def flip_merge(self, plain: Mapping[str, Tensor], mirrored: Mapping[str, Tensor], flip_index: Any) -> dict[str, Tensor]:
        """The heatmaps' mean, the mirrored pass's mirrored back with its types permuted (:mod:`.flip_test`)."""
        return {"heatmap": mean_maps(plain["heatmap"], mirrored["heatmap"], flip_index)}

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor]) -> Decoded:
        """Argmax, then a quarter-cell shift towards the higher neighbour; score = heatmap maximum."""
        hm = outputs["heatmap"].float()
        b, k, h, w = hm.shape
        flat = hm.reshape(b, k, h * w)
        best, idx = flat.max(dim=-1)
        px = (idx % w).long()
        py = (idx // w).long()

        def at(yy: Tensor, xx: Tensor) -> Tensor:
            lin = yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)
            return torch.gather(flat, 2, lin.unsqueeze(-1))[..., 0]

        sx = torch.sign(at(py, px + 1) - at(py, px - 1)) * ((px > 0) & (px < w - 1))
        sy = torch.sign(at(py + 1, px) - at(py - 1, px)) * ((py > 0) & (py < h - 1))
        uv = torch.stack([px.float() + 0.25 * sx, py.float() + 0.25 * sy], dim=-1)
        xy = uv * self.stride + (self.stride - 1) / 2.0
        anchor = cell_centers(h, w, self.stride, hm.device)[idx]
        return Decoded(xy=xy, score=best.clamp(0, 1), anchor=anchor)
