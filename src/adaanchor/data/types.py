"""Dataset item contract and batching (see docs/conventions.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def to_tensor_image(img: np.ndarray) -> Tensor:
    """``(H, W, 3)`` uint8 RGB to a normalised float tensor ``(3, H, W)``."""
    x = (img.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def from_tensor_image(x: Tensor) -> np.ndarray:
    """Inverse of :func:`to_tensor_image`, for drawing: ``(3, H, W)`` to ``(H, W, 3)`` uint8."""
    arr = x.detach().cpu().numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    return (arr.clip(0, 1) * 255).round().astype(np.uint8)


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack dataset items into a batch, padding the instance axis ``N`` with visibility 0.

    Returns ``image (B,3,H,W)``, ``keypoints (B,N,K,2)``, ``visibility (B,N,K)`` and ``meta`` (a list).
    """
    n = max(int(it["keypoints"].shape[0]) for it in items)
    k = int(items[0]["keypoints"].shape[1])
    kpts = torch.zeros(len(items), n, k, 2, dtype=torch.float32)
    vis = torch.zeros(len(items), n, k, dtype=torch.int64)
    for b, it in enumerate(items):
        m = it["keypoints"].shape[0]
        kpts[b, :m] = it["keypoints"]
        vis[b, :m] = it["visibility"]
    return {
        "image": torch.stack([it["image"] for it in items]),
        "keypoints": kpts,
        "visibility": vis,
        "meta": [it["meta"] for it in items],
    }
