"""Flip testing (``eval.flip_test``): a top-down input predicted as it is and mirrored, the two averaged.

The paper tests without it (single scale, no flip), and so does every table here; pose libraries commonly
offer it for a little accuracy at twice the inference cost. The mirrored pass's keypoints are mirrored back
(``x -> W - 1 - x``, about the crop's centre as the training flip mirrors, pixel centres at integers) and their
left / right labels swapped (the spec's flip pairs). Then:

- keypoints: the mean of the two passes' points, the regression-style flip test (the anchor strategies decode to
  points, so their maps are not averaged as a heatmap flip test averages heatmaps; the strategies' cells are
  symmetric about the crop's centre, so no half-cell shift is needed);
- confidences: the mean of the two;
- anchors: the unmirrored pass's (an averaged point has no single anchor cell).

The same function serves torch tensors (``adaanchor eval``) and numpy arrays (the predictor's backends, the ONNX
graph included).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .base import Decoded


def mirror_back(xy: Any, flip_index: Any, width: int) -> Any:
    """``(B, K, 2)`` points of a mirrored ``width``-pixel input as points of the input itself: labels swapped by
    ``flip_index (K,)`` (after a flip keypoint ``k`` takes the label of ``flip_index[k]``) and ``x -> W - 1 - x``."""
    out = xy[:, flip_index] * 1.0  # a copy, float, for numpy and torch alike
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def average_flipped(plain: Mapping[str, Any], mirrored: Mapping[str, Any], flip_index: Any, width: int) -> dict[str, Any]:
    """The flip test's outputs from two passes' ``keypoints (B, K, 2)``, ``scores (B, K)`` (optional) and
    ``anchors (B, K, 2)`` (optional; kept from ``plain``): see the module docstring."""
    out = dict(plain)
    out["keypoints"] = (plain["keypoints"] + mirror_back(mirrored["keypoints"], flip_index, width)) / 2
    if plain.get("scores") is not None:
        out["scores"] = (plain["scores"] + mirrored["scores"][:, flip_index]) / 2
    return out


def predict_flip(predict: Callable[[Tensor], Decoded], x: Tensor, flip_index: np.ndarray) -> Decoded:
    """``predict`` (a strategy's decoding of a batch ``x (B, 3, H, W)``) with the flip test."""
    a, b = predict(x), predict(torch.flip(x, dims=(-1,)))
    idx = torch.as_tensor(np.asarray(flip_index), dtype=torch.long, device=a.xy.device)
    avg = average_flipped({"keypoints": a.xy, "scores": a.score}, {"keypoints": b.xy, "scores": b.score}, idx,
                          int(x.shape[-1]))
    return Decoded(avg["keypoints"], avg["scores"], a.anchor)


class FlipBackend:
    """A predictor backend (``(B, 3, H, W)`` float32 array -> ``keypoints``, ``scores``, ``anchors`` arrays) run on
    each batch as it is and mirrored, averaged by :func:`average_flipped`."""

    def __init__(self, backend: Any, flip_index: np.ndarray):
        self.backend, self.flip_index = backend, np.asarray(flip_index, dtype=np.int64)
        self.name = getattr(backend, "name", "?")

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        plain = self.backend(x)
        mirrored = self.backend(np.ascontiguousarray(x[..., ::-1]))
        return average_flipped(plain, mirrored, self.flip_index, int(x.shape[-1]))


__all__ = ["FlipBackend", "average_flipped", "mirror_back", "predict_flip"]
