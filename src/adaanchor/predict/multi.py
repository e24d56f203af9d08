"""Prediction with a multi-person run (``task=bottomup`` or ``centre``): every person of an image from one forward pass.

The test-time geometry is the evaluation's (:class:`adaanchor.data.bottomup.BottomUpDataset` with
``train=False``): the short side resized to the input's short side, the aspect kept, the input padded right
and bottom to the backbone's multiple. The strategy's grouped poses return to original-image pixels through
the exact inverse of that affine (:func:`adaanchor.data.bottomup.to_image_coords`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.bottomup import eval_affine, to_image_coords
from ..data.transforms import warp_image
from ..data.types import to_tensor_image
from ..strategies.grouping import Poses
from .result import Prediction


def keypoint_boxes(xy: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``(P, 4)`` ``[x, y, w, h]`` around each pose's present keypoints (``xy (P, K, 2)``, ``present (P, K)``);
    zeros for a pose without any."""
    boxes = np.zeros((len(xy), 4))
    for i, (pts, ok) in enumerate(zip(xy, present)):
        if ok.any():
            lo, hi = pts[ok].min(axis=0), pts[ok].max(axis=0)
            boxes[i] = [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]
    return boxes


def poses_to_prediction(poses: Poses, affine: np.ndarray, image_hw: tuple[int, int]) -> Prediction:
    """A :class:`Prediction` of grouped poses (``poses.keypoints (P, K, 3)`` in input pixels), best pose first,
    keypoints in original-image pixels; a missing keypoint stays ``(0, 0)`` with score 0."""
    order = np.argsort(-poses.score, kind="stable")
    kp = poses.keypoints[order]
    scores = kp[..., 2].astype(np.float32)
    present = scores > 0
    xy = np.where(present[..., None], to_image_coords(kp[..., :2].astype(np.float64), affine), 0.0)
    n = len(order)
    return Prediction(keypoints=xy, scores=scores, anchors=None, boxes=keypoint_boxes(xy, present),
                      box_scores=np.ones(n), affines=np.repeat(affine[None], n, axis=0), image_hw=image_hw,
                      pose_scores=poses.score[order].astype(np.float64))


class TorchHeads:
    """The PyTorch network of a multi-person run: ``(1, 3, H, W)`` -> its head maps by name (inference mode)."""

    name = "torch"

    def __init__(self, model: nn.Module, device: torch.device):
        self.model, self.device = model.eval(), device

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            return dict(self.model(x.to(self.device, non_blocking=True)))


class MultiPersonRunner:
    """The network (:class:`TorchHeads`, or the exported graph in onnxruntime:
    :class:`adaanchor.predict.backends.OnnxHeads`) and its strategy's pose decoding, one image at a time.

    Args:
        heads: ``(1, 3, H, W)`` input -> head maps by name.
        short_side: the test-time short side (the input's short side).
        multiple: the padded input's width and height are multiples of it.
    """

    def __init__(self, heads: Callable[[torch.Tensor], dict[str, torch.Tensor]], strategy: Any, short_side: int,
                 multiple: int):
        self.heads, self.strategy = heads, strategy
        self.short_side, self.multiple = int(short_side), int(multiple)

    def __call__(self, img: np.ndarray) -> Prediction:
        """Every person of ``img (H, W, 3)`` uint8 RGB. Head maps with NaN or infinite values (a diverged model) are
        counted in ``meta["nonfinite_outputs"]``: no peak is found in a NaN map, and 0 people came back unsaid."""
        h, w = img.shape[:2]
        a, size = eval_affine((h, w), self.short_side, self.multiple)
        x = to_tensor_image(warp_image(img, a, size))[None]  # (1, 3, H', W')
        out = self.heads(x)
        with torch.inference_mode():
            maps = {k: v.float() for k, v in out.items()}
            bad = sum(int((~torch.isfinite(v)).sum()) for v in maps.values())
            poses = self.strategy.decode_poses(maps)[0]
        pred = poses_to_prediction(poses, a, (h, w))
        if bad:
            pred.meta["nonfinite_outputs"] = bad
        return pred


__all__ = ["MultiPersonRunner", "TorchHeads", "keypoint_boxes", "poses_to_prediction"]
